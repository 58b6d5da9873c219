//! `RawAudioMixer`: sums several audio streams into one, clipping at the
//! limits of 16 bits (Kamaelia's `RawAudioMixer`).
//!
//! Each message names its source: `(source id, chunk)`. A source is heard
//! of with its first chunk; an empty chunk says it has finished. The mixer
//! sends a block of `block_frames` frames (default 1024) whenever every
//! live source has that much buffered, so streams stay aligned sample for
//! sample; a finished source adds what it has left and then silence, and
//! is forgotten once played out. Sums are taken in 32 bits and clipped to
//! [-32768, 32767] (never wrapped).
//!
//! | box     | carries              | meaning                                 |
//! |---------|----------------------|-----------------------------------------|
//! | inbox   | `(u32, AudioChunk)`  | a source's next chunk; an empty chunk ends that source |
//! | control | `Signal`             | producer finished: every source is treated as finished, the rest is mixed and sent, then it is forwarded and the mixer stops; shutdown: forward it and stop at once |
//! | outbox  | [`AudioChunk`]       | the mix, in blocks                      |
//! | signal  | `Signal`             | the forwarded control signal            |
//!
//! All sources must share the first chunk's rate and channels (the mixer
//! does not resample); a chunk of another format is dropped and counted
//! ([`MixerStats::mismatched`]). Once every source has finished and played
//! out, a new format may start.
//!
//! A source that falls behind holds the mix back (that keeps the streams
//! aligned), but only so far: once some source has `max_lag_blocks`
//! blocks buffered (default 8), a block goes out anyway, the late sources
//! adding what they have (their later samples then play late). So memory
//! stays bounded by about `max_lag_blocks` blocks per source plus one
//! step's input, and a dead source cannot stop the others.
//!
//! A full destination holds the block back and pauses the mixer, without
//! taking input, until the consumer takes one.
//!
//! ```
//! use kamaelia::audio::mixer::RawAudioMixer;
//! use kamaelia::audio::pcm::AudioChunk;
//! use kamaelia::testing::Harness;
//! let mut h = Harness::new();
//! let id = h.spawn(RawAudioMixer::new().block_frames(2));
//! let input = h.feeder::<(u32, AudioChunk)>(id, "inbox").unwrap();
//! let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
//! let chunk = |s: Vec<i16>| AudioChunk { rate: 8000, channels: 1, samples: s };
//! input.send((1, chunk(vec![30000, 5]))).unwrap();
//! input.send((2, chunk(vec![30000, -7]))).unwrap();
//! h.run_until_idle();
//! assert_eq!(out.drain()[0].samples, vec![32767, -2]);
//! ```

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::audio::pcm::AudioChunk;
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// The most blocks sent in one step.
const BATCH: usize = 64;

/// Adds `samples` into `acc` (which grows to fit).
pub fn mix_into(acc: &mut Vec<i32>, samples: &[i16]) {
    if acc.len() < samples.len() {
        acc.resize(samples.len(), 0);
    }
    for (a, s) in acc.iter_mut().zip(samples) {
        *a += i32::from(*s);
    }
}

/// A sum clipped to 16 bits.
pub fn clip(sum: i32) -> i16 {
    sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Counters of a [`RawAudioMixer`], readable while it runs.
#[derive(Clone, Default, Debug)]
pub struct MixerStats(Rc<MixerCells>);

#[derive(Default, Debug)]
struct MixerCells {
    clipped: Cell<u64>,
    mismatched: Cell<u64>,
}

impl MixerStats {
    /// Output samples whose sum lay outside 16 bits and was clipped.
    pub fn clipped(&self) -> u64 {
        self.0.clipped.get()
    }
    /// Chunks dropped because their rate or channels differed from the mix's.
    pub fn mismatched(&self) -> u64 {
        self.0.mismatched.get()
    }
}

struct Source {
    id: u32,
    samples: VecDeque<i16>,
    ended: bool,
}

/// Mixes tagged audio streams; see the module documentation.
pub struct RawAudioMixer {
    /// `(source id, chunk)`; an empty chunk ends that source.
    pub inbox: Inbox<(u32, AudioChunk)>,
    /// Producer finished or shutdown.
    pub control: Inbox<Signal>,
    /// The mix.
    pub outbox: Outbox<AudioChunk>,
    /// The forwarded control signal.
    pub signal: Outbox<Signal>,
    block_frames: usize,
    max_lag_blocks: usize,
    /// In order of first appearance, so the mix is deterministic.
    sources: Vec<Source>,
    format: Option<(u32, u16)>,
    acc: Vec<i32>,
    held: Option<AudioChunk>,
    finishing: Option<Signal>,
    stats: MixerStats,
}

impl Default for RawAudioMixer {
    fn default() -> Self {
        Self::new()
    }
}

impl RawAudioMixer {
    /// A mixer sending blocks of 1024 frames.
    pub fn new() -> Self {
        RawAudioMixer {
            inbox: Inbox::new("inbox", "(source id, audio chunk); empty ends the source"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the mixed audio"),
            signal: Outbox::signal(),
            block_frames: 1024,
            max_lag_blocks: 8,
            sources: Vec::new(),
            format: None,
            acc: Vec::new(),
            held: None,
            finishing: None,
            stats: MixerStats::default(),
        }
    }

    /// Frames per output block (at least 1).
    pub fn block_frames(mut self, n: usize) -> Self {
        self.block_frames = n.max(1);
        self
    }

    /// How many blocks a source may have buffered while waiting for a
    /// late one before the mix goes on without it (at least 1).
    pub fn max_lag_blocks(mut self, n: usize) -> Self {
        self.max_lag_blocks = n.max(1);
        self
    }

    /// A live view of the counters.
    pub fn stats(&self) -> MixerStats {
        self.stats.clone()
    }

    fn take_input(&mut self, id: u32, chunk: AudioChunk) {
        let fmt = (chunk.rate, chunk.channels);
        if chunk.samples.is_empty() {
            if let Some(s) = self.sources.iter_mut().find(|s| s.id == id) {
                s.ended = true;
            }
            return;
        }
        if chunk.channels == 0 || chunk.rate == 0 || self.format.is_some_and(|f| f != fmt) {
            self.stats
                .0
                .mismatched
                .set(self.stats.0.mismatched.get() + 1);
            return;
        }
        self.format = Some(fmt);
        let ch = usize::from(chunk.channels);
        let whole = chunk.samples.len() / ch * ch;
        match self.sources.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                s.samples.extend(&chunk.samples[..whole]);
                s.ended = false;
            }
            None => self.sources.push(Source {
                id,
                samples: chunk.samples[..whole].iter().copied().collect(),
                ended: false,
            }),
        }
    }

    /// The next block, if every live source has enough for one (or all
    /// have finished and something is left, or one is `max_lag_blocks`
    /// ahead).
    fn next_block(&mut self) -> Option<AudioChunk> {
        let (rate, channels) = self.format?;
        let block = self.block_frames * usize::from(channels);
        let lag = block * self.max_lag_blocks;
        let ready = self
            .sources
            .iter()
            .all(|s| s.ended || s.samples.len() >= block)
            || self.sources.iter().any(|s| s.samples.len() >= lag);
        let n = if ready {
            self.sources
                .iter()
                .map(|s| s.samples.len().min(block))
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        if n == 0 {
            self.drop_finished();
            return None;
        }
        self.acc.clear();
        self.acc.resize(n, 0);
        for s in &mut self.sources {
            let take = s.samples.len().min(n);
            for (a, x) in self.acc.iter_mut().zip(s.samples.drain(..take)) {
                *a += i32::from(x);
            }
        }
        let mut clipped = 0;
        let samples = self
            .acc
            .iter()
            .map(|&a| {
                let c = clip(a);
                clipped += u64::from(i32::from(c) != a);
                c
            })
            .collect();
        self.stats
            .0
            .clipped
            .set(self.stats.0.clipped.get() + clipped);
        self.drop_finished();
        Some(AudioChunk {
            rate,
            channels,
            samples,
        })
    }

    fn drop_finished(&mut self) {
        self.sources.retain(|s| !(s.ended && s.samples.is_empty()));
        if self.sources.is_empty() {
            self.format = None;
        }
    }
}

impl Component for RawAudioMixer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        for _ in 0..BATCH {
            if let Some(block) = self.held.take() {
                if let Err(Full(block)) = self.outbox.send(block) {
                    self.held = Some(block);
                    cx.hold_input();
                    return Step::Pause;
                }
            }
            while let Some((id, chunk)) = self.inbox.recv() {
                self.take_input(id, chunk);
            }
            if self.finishing.is_some() {
                for s in &mut self.sources {
                    s.ended = true;
                }
            }
            match self.next_block() {
                Some(block) => self.held = Some(block),
                None => {
                    if let Some(sig) = self.finishing.take() {
                        let _ = self.signal.send(sig);
                        return Step::Done;
                    }
                    return Step::Pause;
                }
            }
        }
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }

    fn name(&self) -> &str {
        "RawAudioMixer"
    }
}
