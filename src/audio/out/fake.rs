//! [`FakeDevice`]: a sound device that plays nothing and is pulled by a
//! test, so `AudioOut` can be tested step by step, on virtual time, without
//! a sound card or the `audio-out` feature.
//!
//! The test holds a [`FakeOutput`] and plays the role of the device's
//! callback: [`FakeOutput::pull`] takes frames from the ring exactly as a
//! real device would (silence for what is missing, underruns counted,
//! `AudioOut` woken when room frees), and keeps everything it pulled for
//! the test to compare.
//!
//! ```
//! use kamaelia::audio::out::{FakeDevice, StreamFormat};
//! let (device, output) = FakeDevice::new();
//! let device = device.with_rates(&[48_000]); // resampling from any other rate
//! assert!(!output.is_open());
//! # let _ = (device, StreamFormat { rate: 1, channels: 1 });
//! ```

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::device::{AudioDevice, AudioOutError, StreamFormat};
use super::ring::SampleRing;

#[derive(Default)]
struct State {
    ring: Option<Arc<SampleRing>>,
    format: Option<StreamFormat>,
    played: Vec<i16>,
    opened: u32,
    closed: u32,
}

/// The test's side of a [`FakeDevice`]; cheap to clone, `Send`.
#[derive(Clone, Default)]
pub struct FakeOutput(Arc<Mutex<State>>);

/// A device pulled by a test; see the module documentation.
pub struct FakeDevice {
    out: FakeOutput,
    rates: Option<Vec<u32>>,
    max_channels: u16,
    latency: Duration,
    missing: bool,
}

impl FakeDevice {
    /// A device taking any rate and up to 8 channels, with 20 ms of
    /// latency; and the test's handle to it.
    pub fn new() -> (FakeDevice, FakeOutput) {
        let out = FakeOutput::default();
        let dev = FakeDevice {
            out: out.clone(),
            rates: None,
            max_channels: 8,
            latency: Duration::from_millis(20),
            missing: false,
        };
        (dev, out)
    }

    /// Takes only these rates (`AudioOut` resamples to the nearest).
    pub fn with_rates(mut self, rates: &[u32]) -> Self {
        self.rates = Some(rates.to_vec());
        self
    }

    /// Takes at most `n` channels.
    pub fn with_max_channels(mut self, n: u16) -> Self {
        self.max_channels = n;
        self
    }

    /// The output latency it reports.
    pub fn with_latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// Behaves as a machine with no sound card: opening fails with
    /// [`AudioOutError::NoDevice`].
    pub fn missing(mut self) -> Self {
        self.missing = true;
        self
    }
}

struct FakeStream(FakeOutput);

impl Drop for FakeStream {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.ring = None;
        s.closed += 1;
    }
}

impl AudioDevice for FakeDevice {
    fn negotiate(&mut self, want: StreamFormat) -> Result<StreamFormat, AudioOutError> {
        if self.missing {
            return Err(AudioOutError::NoDevice("the fake device is missing".into()));
        }
        if want.channels == 0 || want.channels > self.max_channels {
            return Err(AudioOutError::UnsupportedChannels {
                channels: want.channels,
            });
        }
        let rate = match &self.rates {
            None => want.rate,
            Some(rates) => nearest_rate(rates, want.rate)
                .ok_or_else(|| AudioOutError::Device("the fake device has no rates".into()))?,
        };
        Ok(StreamFormat {
            rate,
            channels: want.channels,
        })
    }

    fn start(
        &mut self,
        format: StreamFormat,
        ring: Arc<SampleRing>,
    ) -> Result<Box<dyn Any>, AudioOutError> {
        ring.stats().set_latency(self.latency);
        let mut s = self.out.lock();
        s.ring = Some(ring);
        s.format = Some(format);
        s.opened += 1;
        drop(s);
        Ok(Box::new(FakeStream(self.out.clone())))
    }
}

/// The supported rate closest to `want` (the higher on a tie).
pub(crate) fn nearest_rate(rates: &[u32], want: u32) -> Option<u32> {
    rates
        .iter()
        .copied()
        .min_by_key(|r| (r.abs_diff(want), u32::MAX - r))
}

impl FakeOutput {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Plays `frames` frames as a device callback would: returns them
    /// (silence where the ring ran short), or `None` if no stream is open.
    pub fn pull(&self, frames: usize) -> Option<Vec<i16>> {
        let ring = self.lock().ring.clone()?;
        let mut buf = vec![0; frames * usize::from(ring.channels())];
        ring.pull(&mut buf);
        self.lock().played.extend_from_slice(&buf);
        Some(buf)
    }

    /// Whether a stream is open.
    pub fn is_open(&self) -> bool {
        self.lock().ring.is_some()
    }

    /// The format of the stream last opened.
    pub fn format(&self) -> Option<StreamFormat> {
        self.lock().format
    }

    /// Samples waiting in the open stream's ring.
    pub fn buffered(&self) -> usize {
        self.lock().ring.as_ref().map_or(0, |r| r.len())
    }

    /// Everything pulled so far, silence included.
    pub fn played(&self) -> Vec<i16> {
        self.lock().played.clone()
    }

    /// Streams opened and closed so far.
    pub fn opened_closed(&self) -> (u32, u32) {
        let s = self.lock();
        (s.opened, s.closed)
    }
}
