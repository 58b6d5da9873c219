//! The bounded sample ring between [`AudioOut`](super::AudioOut) (on the
//! scheduler's thread) and a device's callback (on the device's thread).
//!
//! One producer, one consumer, no lock and no `unsafe`: the samples are
//! `AtomicI16`s written and read with relaxed ordering, published by the
//! producer's release store of `written` and claimed by the consumer's
//! release store of `read` (both counts only grow; a slot is
//! `count % capacity`). Nothing allocates after construction, so the
//! device callback never allocates nor blocks (except for the wake, see
//! below).
//!
//! Back-pressure: when the ring has no room, the producer says how much
//! room it wants ([`SampleRing::want_room`]) and sleeps; the consumer,
//! after a pull that frees that much, clears the request and calls the
//! waker once (the scheduler's `Remote::wake`). At the end of a stream the
//! producer asks for the whole capacity, and so is woken when the device
//! has taken the last sample.

use std::sync::atomic::{fence, AtomicBool, AtomicI16, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What happened to a stream so far; shared by the ring, the device side
/// and whoever holds an [`AudioOutStats`].
#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub(crate) underruns: AtomicU64,
    pub(crate) underrun_frames: AtomicU64,
    pub(crate) overruns: AtomicU64,
    pub(crate) played_frames: AtomicU64,
    pub(crate) device_errors: AtomicU64,
    pub(crate) streams_opened: AtomicU64,
    pub(crate) latency_ns: AtomicU64,
}

/// A live view of an `AudioOut`'s counters, readable from any thread while
/// the component runs and after it ends.
#[derive(Clone, Default, Debug)]
pub struct AudioOutStats(pub(crate) Arc<Counters>);

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct AudioOutCounts {
    /// Device callbacks that found fewer samples than they asked for while
    /// the stream was playing (they played silence for the rest).
    pub underruns: u64,
    /// Frames of silence those callbacks played.
    pub underrun_frames: u64,
    /// Times a chunk arrived while the ring was full, so `AudioOut` stopped
    /// taking input until the device made room (back-pressure). No sample
    /// is ever dropped for lack of room.
    pub overruns: u64,
    /// Frames of stream data the device has taken from the ring.
    pub played_frames: u64,
    /// Errors the device reported while playing (e.g. an ALSA xrun).
    pub device_errors: u64,
    /// Device streams opened (one per stream format).
    pub streams_opened: u64,
    /// The device's output latency as last measured or configured.
    pub latency: Duration,
}

impl AudioOutStats {
    /// The counters now.
    pub fn counts(&self) -> AudioOutCounts {
        let c = &self.0;
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AudioOutCounts {
            underruns: ld(&c.underruns),
            underrun_frames: ld(&c.underrun_frames),
            overruns: ld(&c.overruns),
            played_frames: ld(&c.played_frames),
            device_errors: ld(&c.device_errors),
            streams_opened: ld(&c.streams_opened),
            latency: Duration::from_nanos(ld(&c.latency_ns)),
        }
    }

    /// Counts one error reported by the device (for device implementations).
    pub fn device_error(&self) {
        self.0.device_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Raises the recorded latency to `d` if it is longer (for device
    /// implementations that measure it on each callback).
    pub fn max_latency(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.latency_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// Records the device's output latency (for device implementations).
    pub fn set_latency(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.0.latency_ns.store(ns, Ordering::Relaxed);
    }
}

/// The waker the consumer calls when the producer's wanted room is free.
/// `AudioOut`'s is the scheduler's `Remote::wake`: a send on an unbounded
/// channel and a `mio::Waker` write, once per sleep of the producer (not
/// per callback).
pub type RoomWaker = Box<dyn Fn() + Send + Sync>;

/// A bounded single-producer single-consumer ring of interleaved samples;
/// see the module documentation.
pub struct SampleRing {
    buf: Box<[AtomicI16]>,
    channels: u16,
    /// Samples pushed so far (written by the producer only).
    written: AtomicUsize,
    /// Samples pulled so far (written by the consumer only).
    read: AtomicUsize,
    /// The producer has buffered enough to start: short pulls from now on
    /// are underruns.
    primed: AtomicBool,
    /// The producer has pushed its last sample: short pulls are the end.
    ended: AtomicBool,
    /// Room (in samples) the sleeping producer waits for; 0 when awake.
    wanted: AtomicUsize,
    waker: RoomWaker,
    stats: AudioOutStats,
}

impl SampleRing {
    /// A ring of `capacity` samples (rounded up to whole frames, at least
    /// one frame) of `channels` interleaved channels.
    pub fn new(capacity: usize, channels: u16, waker: RoomWaker, stats: AudioOutStats) -> Self {
        let ch = usize::from(channels.max(1));
        let capacity = capacity.max(ch).div_ceil(ch) * ch;
        SampleRing {
            buf: (0..capacity).map(|_| AtomicI16::new(0)).collect(),
            channels: channels.max(1),
            written: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
            primed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            wanted: AtomicUsize::new(0),
            waker,
            stats,
        }
    }

    /// Total room, in samples.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Interleaved channels per frame.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Samples waiting to be played.
    pub fn len(&self) -> usize {
        let w = self.written.load(Ordering::Acquire);
        let r = self.read.load(Ordering::Acquire);
        w.wrapping_sub(r)
    }

    /// True when every pushed sample has been pulled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room for more samples.
    pub fn free(&self) -> usize {
        self.capacity() - self.len()
    }

    /// The counters this ring updates.
    pub fn stats(&self) -> &AudioOutStats {
        &self.stats
    }

    // ---- producer side ----

    /// Pushes as many whole frames of `samples` as fit; returns how many
    /// samples it took.
    pub fn push(&self, samples: &[i16]) -> usize {
        let ch = usize::from(self.channels);
        let w = self.written.load(Ordering::Relaxed);
        let r = self.read.load(Ordering::Acquire);
        let free = self.capacity() - w.wrapping_sub(r);
        let n = (free.min(samples.len()) / ch) * ch;
        let cap = self.capacity();
        for (i, s) in samples[..n].iter().enumerate() {
            self.buf[w.wrapping_add(i) % cap].store(*s, Ordering::Relaxed);
        }
        self.written.store(w.wrapping_add(n), Ordering::Release);
        n
    }

    /// The device may start taking samples; from now on a short pull is an
    /// underrun.
    pub fn set_primed(&self) {
        self.primed.store(true, Ordering::Release);
    }

    /// The producer will push no more: a short pull is the end, not an
    /// underrun.
    pub fn set_ended(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// Whether [`SampleRing::set_primed`] was called.
    pub fn is_primed(&self) -> bool {
        self.primed.load(Ordering::Acquire)
    }

    /// Asks to be woken once `room` samples are free. Returns true (and
    /// asks nothing) if they already are, so no wake can be lost between
    /// the check and the sleep.
    pub fn want_room(&self, room: usize) -> bool {
        let room = room.clamp(1, self.capacity());
        self.wanted.store(room, Ordering::SeqCst);
        // Store `wanted`, then load `read`; the consumer stores `read`,
        // then loads `wanted`: with a full fence on both sides, one of
        // them sees the other's store, so the wake is never lost.
        fence(Ordering::SeqCst);
        if self.free() >= room {
            self.wanted.store(0, Ordering::SeqCst);
            return true;
        }
        false
    }

    // ---- consumer side ----

    /// Fills `out` with waiting samples and the rest with silence (only
    /// silence until the ring is primed); counts an underrun if the
    /// stream was playing and came up short; wakes the
    /// producer if it waits for the room this pull made. Returns the
    /// samples of stream data taken. Never allocates or blocks.
    pub fn pull(&self, out: &mut [i16]) -> usize {
        if !self.started() {
            out.fill(0);
            return 0;
        }
        let r = self.read.load(Ordering::Relaxed);
        let w = self.written.load(Ordering::Acquire);
        let ch = usize::from(self.channels);
        let n = (w.wrapping_sub(r).min(out.len()) / ch) * ch;
        let cap = self.capacity();
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = self.buf[r.wrapping_add(i) % cap].load(Ordering::Relaxed);
        }
        out[n..].fill(0);
        self.read.store(r.wrapping_add(n), Ordering::Release);
        self.account(n, out.len());
        n
    }

    /// Like [`SampleRing::pull`] for devices that take `f32` samples.
    pub fn pull_f32(&self, out: &mut [f32]) -> usize {
        if !self.started() {
            out.fill(0.0);
            return 0;
        }
        let r = self.read.load(Ordering::Relaxed);
        let w = self.written.load(Ordering::Acquire);
        let ch = usize::from(self.channels);
        let n = (w.wrapping_sub(r).min(out.len()) / ch) * ch;
        let cap = self.capacity();
        for (i, o) in out[..n].iter_mut().enumerate() {
            let s = self.buf[r.wrapping_add(i) % cap].load(Ordering::Relaxed);
            *o = crate::audio::out::i16_to_f32(s);
        }
        out[n..].fill(0.0);
        self.read.store(r.wrapping_add(n), Ordering::Release);
        self.account(n, out.len());
        n
    }

    /// Whether the device may take samples: once the producer has primed
    /// the ring (or ended the stream before it could). Until then the
    /// device plays silence, so playback starts with a full cushion
    /// instead of underrunning on the first chunks.
    fn started(&self) -> bool {
        self.primed.load(Ordering::Acquire) || self.ended.load(Ordering::Acquire)
    }

    fn account(&self, got: usize, asked: usize) {
        let ch = self.channels as u64;
        let c = &self.stats.0;
        c.played_frames
            .fetch_add(got as u64 / ch, Ordering::Relaxed);
        if got < asked && self.primed.load(Ordering::Acquire) && !self.ended.load(Ordering::Acquire)
        {
            c.underruns.fetch_add(1, Ordering::Relaxed);
            c.underrun_frames
                .fetch_add((asked - got) as u64 / ch, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst); // see `want_room`
        let want = self.wanted.load(Ordering::SeqCst);
        if want > 0
            && self.free() >= want
            && self
                .wanted
                .compare_exchange(want, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            (self.waker)();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(cap: usize, ch: u16) -> (SampleRing, Arc<AtomicU64>) {
        let wakes = Arc::new(AtomicU64::new(0));
        let w = wakes.clone();
        let waker: RoomWaker = Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        });
        (
            SampleRing::new(cap, ch, waker, AudioOutStats::default()),
            wakes,
        )
    }

    #[test]
    fn takes_whole_frames_and_wraps_around() {
        let (r, _) = ring(5, 2); // rounded up to 6 samples
        r.set_primed();
        assert_eq!(r.capacity(), 6);
        assert_eq!(r.push(&[1, 2, 3, 4, 5]), 4);
        let mut out = [9; 2];
        assert_eq!(r.pull(&mut out), 2);
        assert_eq!(out, [1, 2]);
        assert_eq!(r.push(&[5, 6, 7, 8, 9, 10]), 4);
        let mut out = [9; 8];
        assert_eq!(r.pull(&mut out), 6);
        assert_eq!(out, [3, 4, 5, 6, 7, 8, 0, 0]);
    }

    #[test]
    fn wakes_once_when_the_wanted_room_frees() {
        let (r, wakes) = ring(8, 1);
        r.set_primed();
        r.push(&[1; 8]);
        assert!(!r.want_room(4));
        let mut out = [0; 2];
        r.pull(&mut out);
        assert_eq!(wakes.load(Ordering::SeqCst), 0, "only 2 of 4 free");
        r.pull(&mut out);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        r.pull(&mut out);
        assert_eq!(wakes.load(Ordering::SeqCst), 1, "one wake per request");
        // Room already there: no request, no wake.
        assert!(r.want_room(2));
        r.pull(&mut out);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn nothing_is_taken_before_the_ring_is_primed_or_ended() {
        let (r, _) = ring(8, 1);
        r.push(&[3; 2]);
        let mut out = [9; 4];
        assert_eq!(r.pull(&mut out), 0);
        assert_eq!((out, r.len()), ([0; 4], 2));
        assert_eq!(r.stats().counts().underruns, 0);
        r.set_ended(); // a stream shorter than the priming level
        assert_eq!(r.pull(&mut out), 2);
        assert_eq!(out, [3, 3, 0, 0]);
        assert_eq!(r.stats().counts().underruns, 0);
    }

    #[test]
    fn float_pulls_convert_and_count_like_integer_ones() {
        let (r, _) = ring(4, 1);
        r.push(&[i16::MIN, 0, 16384]);
        r.set_primed();
        let mut out = [1.0f32; 4];
        assert_eq!(r.pull_f32(&mut out), 3);
        assert_eq!(out, [-1.0, 0.0, 0.5, 0.0]);
        let c = r.stats().counts();
        assert_eq!((c.played_frames, c.underruns, c.underrun_frames), (3, 1, 1));
        assert_eq!(crate::audio::out::f32_to_i16(0.5), 16384);
        assert_eq!(crate::audio::out::f32_to_i16(2.0), i16::MAX);
        assert_eq!(crate::audio::out::f32_to_i16(-2.0), i16::MIN);
    }
}
