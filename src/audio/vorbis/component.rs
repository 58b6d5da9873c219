//! VorbisDecode: Ogg Vorbis bytes in, decoded audio out.
//!
//! It reads an Ogg stream in pieces of any size (a file read in blocks, a
//! TCP or multicast stream, an Icecast mount's body), finds its pages and
//! packets with our [`OggReader`], and decodes them with a
//! [`VorbisDecoder`] (lewton's packet API). Each audio packet's frames go
//! out as one [`AudioChunk`] (interleaved `i16`, with the rate and channel
//! count); each stream's header set goes out on `comments` (the TITLE and
//! so on), again at every link of a chained stream (an Icecast mount fed
//! by a looping source chains at every loop, and may change its rate).
//!
//! It decodes at most one audio packet per step and then yields, so a long
//! file does not hold the scheduler: a step costs one packet's decode (some
//! tens of microseconds) plus the parsing of at most the pages that packet
//! needs. Bad input (garbage, bad CRCs, lost pages, bad headers, bad audio
//! packets) is skipped and counted ([`VorbisDecode::stats`]), never a panic.
//!
//! | box      | carries              | meaning                                          |
//! |----------|----------------------|--------------------------------------------------|
//! | inbox    | `Bytes`              | the Ogg stream, in pieces at any boundary        |
//! | control  | `Signal`             | producer finished: decode what came, then stop; shutdown: stop now |
//! | outbox   | [`AudioChunk`]       | decoded audio, one chunk per audio packet         |
//! | comments | [`VorbisComments`]   | each header set: format, vendor and comments (TITLE) |
//! | signal   | `Signal`             | the control signal that ended it                 |
//!
//! **Back-pressure.** A chunk refused by a full `outbox` is kept and sent
//! again when the consumer takes one; meanwhile nothing more is read (an
//! audio output with a bounded inbox paces the decoder).
//!
//! **Shutting down.** Shutdown ends it at once. Producer finished (or
//! failed): every byte already received is decoded and sent first, then
//! the signal is forwarded; bytes of a page cut short at the end are
//! counted (`truncated_bytes`) and dropped.
//!
//! ```
//! use kamaelia::audio::vorbis::VorbisDecode;
//! use kamaelia::audio::AudioChunk;
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use bytes::Bytes;
//! let dec = VorbisDecode::new();
//! let src: Outbox<Bytes> = Outbox::outbox();
//! let stop: Outbox<Signal> = Outbox::signal();
//! let audio: Inbox<AudioChunk> = Inbox::inbox();
//! link(&src, &dec.inbox).unwrap();
//! link(&stop, &dec.control).unwrap();
//! link(&dec.outbox, &audio).unwrap();
//! let stats = dec.stats();
//! src.send(Bytes::from_static(b"not an ogg stream")).unwrap();
//! stop.send(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(dec);
//! s.run_until_idle();
//! assert!(audio.is_empty());
//! assert_eq!(stats.get().ogg.pages.skipped_bytes, 17);
//! ```

use super::comments::VorbisComments;
use super::decoder::{Decoded, VorbisDecoder, VorbisStats};
use crate::audio::ogg::{OggReader, OggStats};
use crate::audio::pcm::AudioChunk;
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::internet::simulate::StatsHandle;
use bytes::Bytes;

/// Most packets (headers, skipped packets) looked at in one step when none
/// of them is audio, so a flood of junk packets cannot hold the scheduler.
const PACKETS_PER_STEP: usize = 64;

/// What a [`VorbisDecode`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VorbisDecodeStats {
    /// The Ogg layer: pages, bad CRCs, skipped bytes, gaps.
    pub ogg: OggStats,
    /// The Vorbis layer: header sets, packets, frames, trims, bad packets.
    pub vorbis: VorbisStats,
    /// Bytes of an unfinished page dropped at the end of the stream.
    pub truncated_bytes: u64,
    /// Chunks sent on `outbox`.
    pub chunks: u64,
}

/// The component; see the module documentation.
pub struct VorbisDecode {
    /// The Ogg stream's bytes.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Decoded audio.
    pub outbox: Outbox<AudioChunk>,
    /// Each header set's format and comments.
    pub comments: Outbox<VorbisComments>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    reader: OggReader,
    decoder: VorbisDecoder,
    held: Option<AudioChunk>,
    held_comments: Option<VorbisComments>,
    finishing: Option<Signal>,
    stats: StatsHandle<VorbisDecodeStats>,
}

impl Default for VorbisDecode {
    fn default() -> Self {
        Self::new()
    }
}

impl VorbisDecode {
    /// A decoder waiting for an Ogg Vorbis stream.
    pub fn new() -> Self {
        VorbisDecode {
            inbox: Inbox::new("inbox", "the Ogg stream, in pieces at any boundary"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "decoded audio, one chunk per audio packet"),
            comments: Outbox::new("comments", "each header set's format and comments"),
            signal: Outbox::signal(),
            reader: OggReader::new(),
            decoder: VorbisDecoder::new(),
            held: None,
            held_comments: None,
            finishing: None,
            stats: StatsHandle::default(),
        }
    }

    /// A handle on the counters, usable after it is spawned.
    pub fn stats(&self) -> StatsHandle<VorbisDecodeStats> {
        self.stats.clone()
    }

    fn publish(&self) {
        let ogg = self.reader.stats();
        let vorbis = self.decoder.stats();
        self.stats.update(|s| {
            s.ogg = ogg;
            s.vorbis = vorbis;
        });
    }

    /// Sends what a full box refused before; false if it is refused again.
    fn flush_held(&mut self) -> bool {
        if let Some(c) = self.held_comments.take() {
            if let Err(Full(c)) = self.comments.send(c) {
                self.held_comments = Some(c);
                return false;
            }
        }
        if let Some(chunk) = self.held.take() {
            if let Err(Full(chunk)) = self.outbox.send(chunk) {
                self.held = Some(chunk);
                return false;
            }
            self.stats.update(|s| s.chunks += 1);
        }
        true
    }

    /// Decodes until one audio chunk is out or no packet is left (or the
    /// per-step bound is reached). Returns whether there may be more.
    fn work(&mut self) -> bool {
        for _ in 0..PACKETS_PER_STEP {
            let packet = loop {
                if let Some(p) = self.reader.next_packet() {
                    break p;
                }
                match self.inbox.recv() {
                    Some(bytes) => self.reader.push(&bytes),
                    None => return false,
                }
            };
            match self.decoder.decode(&packet) {
                Ok(Decoded::Nothing) => {}
                Ok(Decoded::Headers(c)) => {
                    log::debug!(
                        "VorbisDecode: stream {:08x}: {} Hz, {} channels, title {:?}",
                        c.serial,
                        c.rate,
                        c.channels,
                        c.title()
                    );
                    self.held_comments = Some(c);
                    return true;
                }
                Ok(Decoded::Audio(chunk)) => {
                    self.held = Some(chunk);
                    return true;
                }
                Err(e) => log::debug!("VorbisDecode: stream {:08x}: {e}", packet.serial),
            }
        }
        true
    }
}

impl Component for VorbisDecode {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.publish();
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        if !self.flush_held() {
            // The refusal holds our input until the consumer takes one.
            return Step::Pause;
        }
        let more = self.work();
        self.publish();
        if !self.flush_held() {
            return Step::Pause;
        }
        if more {
            return Step::Yield;
        }
        if let Some(sig) = self.finishing.take() {
            let left = self.reader.buffered() as u64;
            self.stats.update(|s| s.truncated_bytes += left);
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.comments, self.signal);
    }
}
