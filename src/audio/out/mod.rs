//! `AudioOut`: plays [`AudioChunk`]s on a sound device.
//!
//! The device runs on its own thread (cpal's callback thread, or the test
//! for [`FakeDevice`]) and pulls samples from a bounded lock-free ring
//! ([`SampleRing`]); `AudioOut`, on the scheduler's thread, pushes chunks
//! into it. When the ring is full `AudioOut` stops taking input and sleeps
//! until the device has made room (the callback wakes it through the
//! scheduler's `Remote`), and its inbox is bounded, so a decoder feeding it
//! is refused and paused in turn: the whole pipeline runs at the device's
//! pace, with at most `buffer` of audio queued in the ring plus
//! `inbox_limit` chunks in the inbox.
//!
//! | box     | carries      | meaning                                          |
//! |---------|--------------|--------------------------------------------------|
//! | inbox   | [`AudioChunk`] | audio to play, in order (bounded: `inbox_limit`, default 4 chunks) |
//! | control | `Signal`     | producer finished: play everything, wait for the device's latency to drain, close, forward it, stop; shutdown: close at once, forward it, stop |
//! | signal  | `Signal`     | the forwarded control signal; `Failed(AudioOutError)` if the device cannot be opened or a chunk is malformed (the component then ends) |
//!
//! # Formats
//!
//! The device is opened on the first chunk, at that chunk's rate and
//! channels. If the device cannot take the rate, it is opened at the
//! nearest rate it takes and the stream is resampled linearly
//! ([`LinearResampler`]); if it cannot take the channel count, `AudioOut`
//! fails with [`AudioOutError::UnsupportedChannels`] (channels are never
//! mixed down or duplicated behind the user's back). A chunk with a new
//! rate or channel count (a chained Ogg stream) ends the current device
//! stream the way the end of the stream does, then opens a new one.
//!
//! # Errors and counters
//!
//! No sound device is [`AudioOutError::NoDevice`] on `signal`, never a
//! panic. [`AudioOut::stats`] gives a live [`AudioOutStats`]: underruns
//! (device callbacks that found the ring short while the stream played),
//! overruns (times the ring was full and input waited), frames played,
//! device errors, streams opened, latency.
//!
//! # The start
//!
//! The device plays silence until the ring is half full (or the stream
//! has ended, for a stream shorter than that), so playback starts with a
//! cushion of `buffer / 2` instead of underrunning on the first chunks;
//! underruns are counted only from then on.
//!
//! # The tail
//!
//! At the end of a stream the last samples are still in the device's own
//! buffers when the ring empties: `AudioOut` keeps the stream open for the
//! device's reported latency after the ring is empty, then closes it, so
//! the tail is heard.
//!
//! ```
//! use kamaelia::audio::out::AudioOut;
//! use kamaelia::audio::pcm::AudioChunk;
//! use kamaelia::axon::{link, Outbox, Signal};
//! use kamaelia::testing::Harness;
//! let (out, device) = AudioOut::fake();
//! let (data, ctl) = (Outbox::outbox(), Outbox::outbox());
//! link(&data, &out.inbox).unwrap();
//! link(&ctl, &out.control).unwrap();
//! let mut h = Harness::new();
//! h.spawn(out);
//! data.send(AudioChunk { rate: 8000, channels: 1, samples: vec![1, 2, 3] }).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! h.run_until_idle();
//! assert_eq!(device.pull(4), Some(vec![1, 2, 3, 0]));
//! ```

mod device;
mod fake;
mod resample;
mod ring;

#[cfg(feature = "audio-out")]
mod cpal_device;

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audio::pcm::AudioChunk;
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

#[cfg(feature = "audio-out")]
pub use cpal_device::CpalDevice;
pub use device::{AudioDevice, AudioOutError, StreamFormat};
pub use fake::{FakeDevice, FakeOutput};
pub use resample::LinearResampler;
pub use ring::{AudioOutCounts, AudioOutStats, RoomWaker, SampleRing};

/// The default ring size, as play time.
pub const DEFAULT_BUFFER: Duration = Duration::from_millis(200);
/// The default bound of `AudioOut`'s inbox, in chunks.
pub const DEFAULT_INBOX_LIMIT: usize = 4;

/// A 16-bit sample as a float in [-1, 1).
pub fn i16_to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

/// A float sample as 16 bits, clipped to [-1, 1].
pub fn f32_to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// The stream being played.
struct Playing {
    input: StreamFormat,
    ring: Arc<SampleRing>,
    resampler: Option<LinearResampler>,
    /// Stops the device's stream when dropped.
    _handle: Box<dyn Any>,
}

/// Where the end of a stream has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drain {
    /// Playing.
    No,
    /// Waiting for the device to take the last sample from the ring.
    Ring,
    /// Waiting for the device's own buffers to play out.
    Latency(Instant),
}

/// Plays audio chunks on a sound device; see the module documentation.
pub struct AudioOut {
    /// Audio to play.
    pub inbox: Inbox<AudioChunk>,
    /// Producer finished or shutdown.
    pub control: Inbox<Signal>,
    /// The forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    device: Box<dyn AudioDevice>,
    stats: AudioOutStats,
    buffer: Duration,
    playing: Option<Playing>,
    /// Samples in the device's format not yet in the ring, and how many of
    /// them already went.
    pending: Vec<i16>,
    pending_off: usize,
    /// A chunk of a new format, waiting for the current stream to end.
    next_format: Option<AudioChunk>,
    drain: Drain,
    finishing: Option<Signal>,
}

impl AudioOut {
    /// Plays on `device`.
    pub fn new(device: impl AudioDevice) -> Self {
        AudioOut {
            inbox: Inbox::bounded("inbox", "audio chunks to play", DEFAULT_INBOX_LIMIT),
            control: Inbox::control(),
            signal: Outbox::signal(),
            device: Box::new(device),
            stats: AudioOutStats::default(),
            buffer: DEFAULT_BUFFER,
            playing: None,
            pending: Vec::new(),
            pending_off: 0,
            next_format: None,
            drain: Drain::No,
            finishing: None,
        }
    }

    /// Plays on a [`FakeDevice`] that the returned [`FakeOutput`] pulls.
    pub fn fake() -> (Self, FakeOutput) {
        let (dev, out) = FakeDevice::new();
        (AudioOut::new(dev), out)
    }

    /// Plays on the system's default output device (through cpal).
    #[cfg(feature = "audio-out")]
    pub fn default_device() -> Self {
        AudioOut::new(CpalDevice::default_output())
    }

    /// Sets the ring's size as play time (default 200 ms).
    pub fn buffer(mut self, d: Duration) -> Self {
        self.buffer = d;
        self
    }

    /// Sets the bound of the inbox, in chunks (default 4, at least 1).
    pub fn inbox_limit(self, n: usize) -> Self {
        self.inbox.set_limit(Some(n.max(1)));
        self
    }

    /// A live view of the counters.
    pub fn stats(&self) -> AudioOutStats {
        self.stats.clone()
    }

    fn open(&mut self, want: StreamFormat, cx: &mut Cx) -> Result<(), AudioOutError> {
        let dev = self.device.negotiate(want)?;
        if dev.channels != want.channels {
            return Err(AudioOutError::UnsupportedChannels {
                channels: want.channels,
            });
        }
        let frames = (self.buffer.as_secs_f64() * f64::from(dev.rate)).ceil() as usize;
        let remote = cx.remote();
        let me = cx.id();
        let ring = Arc::new(SampleRing::new(
            frames.max(1) * usize::from(dev.channels),
            dev.channels,
            Box::new(move || remote.wake(me)),
            self.stats.clone(),
        ));
        let handle = self.device.start(dev, ring.clone())?;
        self.stats.0.streams_opened.fetch_add(1, Ordering::Relaxed);
        let resampler = (dev.rate != want.rate)
            .then(|| LinearResampler::new(want.rate, dev.rate, want.channels));
        self.playing = Some(Playing {
            input: want,
            ring,
            resampler,
            _handle: handle,
        });
        Ok(())
    }

    fn fail(&mut self, e: AudioOutError) -> Step {
        self.playing = None;
        let _ = self.signal.send(Signal::failed(e));
        Step::Done
    }

    /// Queues a chunk's samples, in the device's format, for the ring.
    fn queue(&mut self, chunk: AudioChunk) {
        let p = self.playing.as_mut().expect("opened before queueing");
        match &mut p.resampler {
            Some(r) => {
                self.pending.clear();
                self.pending_off = 0;
                r.process(&chunk.samples, &mut self.pending);
            }
            None => {
                self.pending = chunk.samples;
                self.pending_off = 0;
            }
        }
    }

    /// Starts the end of the current stream.
    fn begin_drain(&mut self) {
        if let Some(p) = &mut self.playing {
            if let Some(r) = &mut p.resampler {
                self.pending.drain(..self.pending_off);
                self.pending_off = 0;
                r.flush(&mut self.pending);
            }
            self.drain = Drain::Ring;
        }
    }
}

fn check(chunk: &AudioChunk) -> Result<StreamFormat, AudioOutError> {
    let ch = usize::from(chunk.channels);
    if chunk.rate == 0 || ch == 0 || chunk.samples.len() % ch != 0 {
        return Err(AudioOutError::BadChunk {
            rate: chunk.rate,
            channels: chunk.channels,
            samples: chunk.samples.len(),
        });
    }
    Ok(StreamFormat {
        rate: chunk.rate,
        channels: chunk.channels,
    })
}

impl Component for AudioOut {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.playing = None; // stops the device now
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        loop {
            // 1. Into the ring, as far as it has room.
            if self.pending_off < self.pending.len() {
                let p = self.playing.as_ref().expect("pending implies playing");
                self.pending_off += p.ring.push(&self.pending[self.pending_off..]);
                if p.ring.len() >= p.ring.capacity() / 2 {
                    p.ring.set_primed();
                }
                if self.pending_off < self.pending.len() {
                    let left = self.pending.len() - self.pending_off;
                    if p.ring.want_room(left.min(p.ring.capacity() / 2)) {
                        continue; // the device made room meanwhile
                    }
                    self.stats.0.overruns.fetch_add(1, Ordering::Relaxed);
                    cx.hold_input();
                    return Step::Pause;
                }
            }
            // 2. The end of a stream.
            match self.drain {
                Drain::No => {}
                Drain::Ring => {
                    let p = self.playing.as_ref().expect("draining implies playing");
                    p.ring.set_primed();
                    p.ring.set_ended();
                    if p.ring.is_empty() {
                        // Measured by the device while playing, so read now.
                        let at = cx.now() + self.stats.counts().latency;
                        self.drain = Drain::Latency(at);
                        cx.wake_at(at);
                    } else if !p.ring.want_room(p.ring.capacity()) {
                        cx.hold_input();
                        return Step::Pause;
                    }
                    continue;
                }
                Drain::Latency(at) => {
                    if cx.now() < at {
                        cx.hold_input();
                        return Step::Pause;
                    }
                    self.playing = None; // closes the device's stream
                    self.drain = Drain::No;
                }
            }
            // 3. The next chunk.
            let Some(chunk) = self.next_format.take().or_else(|| self.inbox.recv()) else {
                if self.finishing.is_some() && self.playing.is_some() {
                    self.begin_drain();
                    continue;
                }
                if let Some(sig) = self.finishing.take() {
                    let _ = self.signal.send(sig);
                    return Step::Done;
                }
                return Step::Pause;
            };
            let format = match check(&chunk) {
                Ok(f) => f,
                Err(e) => return self.fail(e),
            };
            if chunk.samples.is_empty() {
                continue;
            }
            match &self.playing {
                Some(p) if p.input != format => {
                    self.next_format = Some(chunk);
                    self.begin_drain();
                    continue;
                }
                Some(_) => {}
                None => {
                    if let Err(e) = self.open(format, cx) {
                        return self.fail(e);
                    }
                }
            }
            self.queue(chunk);
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.signal);
    }

    fn name(&self) -> &str {
        "AudioOut"
    }
}
