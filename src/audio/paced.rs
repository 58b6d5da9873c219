//! `PacedSource`: audio chunks at the pace of the scheduler's clock, for
//! tests and demos.
//!
//! Chunk `k` (of `chunk_frames` frames) goes out when the scheduler's time
//! reaches `start + k * chunk_frames / rate`, so a second of audio takes a
//! second of real time on a real clock, and exactly a second of virtual
//! time under the test harness. The samples come from a generator
//! (a function of the frame number and channel): a sine tone, noise from a
//! seed, or given samples. `unpaced()` sends as fast as the consumer
//! takes them instead (a decoder's behaviour, for back-pressure tests).
//!
//! | box     | carries        | meaning                                      |
//! |---------|----------------|----------------------------------------------|
//! | control | `Signal`       | shutdown: stop at once, forward it           |
//! | outbox  | [`AudioChunk`] | the audio, in order                          |
//! | signal  | `Signal`       | producer finished after the last chunk; or the forwarded shutdown |
//!
//! A full consumer inbox holds the chunk back and pauses the source until
//! the consumer takes one; a late chunk is sent at once (the pace catches up
//! rather than drifting).
//!
//! ```
//! use std::time::Duration;
//! use kamaelia::audio::paced::PacedSource;
//! use kamaelia::audio::pcm::AudioChunk;
//! use kamaelia::testing::Harness;
//! let mut h = Harness::new();
//! let id = h.spawn(PacedSource::sine(8000, 1, 440.0, 1000, 8000).chunk_frames(800));
//! let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
//! h.run_for(Duration::from_millis(450));
//! assert_eq!(out.len(), 5); // at 0, 100, 200, 300 and 400 ms
//! ```

use std::time::{Duration, Instant};

use crate::audio::pcm::AudioChunk;
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// The most chunks sent in one step.
const BATCH: usize = 16;

type Generator = Box<dyn FnMut(u64, u16) -> i16>;

/// Sends generated audio at the clock's pace; see the module documentation.
pub struct PacedSource {
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// The audio.
    pub outbox: Outbox<AudioChunk>,
    /// Producer finished, or the forwarded shutdown.
    pub signal: Outbox<Signal>,
    rate: u32,
    channels: u16,
    total_frames: u64,
    chunk_frames: usize,
    paced: bool,
    generate: Generator,
    start: Option<Instant>,
    made_frames: u64,
    held: Option<AudioChunk>,
    timer_for: Option<Instant>,
}

impl PacedSource {
    /// `total_frames` frames of `channels` channels at `rate`, sample
    /// values from `generate(frame, channel)`; chunks of 20 ms.
    pub fn new(
        rate: u32,
        channels: u16,
        total_frames: u64,
        generate: impl FnMut(u64, u16) -> i16 + 'static,
    ) -> Self {
        PacedSource {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "audio chunks at the clock's pace"),
            signal: Outbox::signal(),
            rate: rate.max(1),
            channels: channels.max(1),
            total_frames,
            chunk_frames: (rate as usize / 50).max(1),
            paced: true,
            generate: Box::new(generate),
            start: None,
            made_frames: 0,
            held: None,
            timer_for: None,
        }
    }

    /// A sine tone of `freq` Hz and peak `amplitude`, the same on every
    /// channel.
    pub fn sine(rate: u32, channels: u16, freq: f64, amplitude: i16, frames: u64) -> Self {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate.max(1));
        Self::new(rate, channels, frames, move |n, _| {
            (f64::from(amplitude) * (w * n as f64).sin()).round() as i16
        })
    }

    /// White noise from a seed (xorshift): every sample differs, which
    /// makes recorded output easy to align with what was sent.
    pub fn noise(rate: u32, channels: u16, frames: u64, seed: u64) -> Self {
        let mut x = seed | 1;
        Self::new(rate, channels, frames, move |_, _| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 48) as i16
        })
    }

    /// The given interleaved samples (a partial last frame is dropped).
    pub fn from_samples(rate: u32, channels: u16, samples: Vec<i16>) -> Self {
        let ch = u64::from(channels.max(1));
        let frames = samples.len() as u64 / ch;
        Self::new(rate, channels, frames, move |n, c| {
            samples[(n * ch + u64::from(c)) as usize]
        })
    }

    /// Frames per chunk (default: 20 ms worth; at least 1).
    pub fn chunk_frames(mut self, n: usize) -> Self {
        self.chunk_frames = n.max(1);
        self
    }

    /// Sends as fast as the consumer takes chunks, ignoring the clock.
    pub fn unpaced(mut self) -> Self {
        self.paced = false;
        self
    }

    /// When the chunk starting at frame `frame` is due.
    fn due(&self, start: Instant, frame: u64) -> Instant {
        let nanos = u128::from(frame) * 1_000_000_000 / u128::from(self.rate);
        start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn make_chunk(&mut self) -> AudioChunk {
        let n = (self.total_frames - self.made_frames).min(self.chunk_frames as u64);
        let mut samples = Vec::with_capacity(n as usize * usize::from(self.channels));
        for f in self.made_frames..self.made_frames + n {
            for c in 0..self.channels {
                samples.push((self.generate)(f, c));
            }
        }
        self.made_frames += n;
        AudioChunk {
            rate: self.rate,
            channels: self.channels,
            samples,
        }
    }
}

impl Component for PacedSource {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        let start = *self.start.get_or_insert_with(|| cx.now());
        for _ in 0..BATCH {
            if let Some(chunk) = self.held.take() {
                if let Err(Full(chunk)) = self.outbox.send(chunk) {
                    self.held = Some(chunk);
                    return Step::Pause; // woken when the consumer takes one
                }
            }
            if self.made_frames >= self.total_frames {
                let _ = self.signal.send(Signal::ProducerFinished);
                return Step::Done;
            }
            let due = self.due(start, self.made_frames);
            if self.paced && cx.now() < due {
                if self.timer_for != Some(due) {
                    self.timer_for = Some(due);
                    cx.wake_at(due);
                }
                return Step::Pause;
            }
            self.held = Some(self.make_chunk());
        }
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }

    fn name(&self) -> &str {
        "PacedSource"
    }
}
