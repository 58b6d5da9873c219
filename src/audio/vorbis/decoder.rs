//! The Vorbis decoder's state, packet by packet, on lewton's packet API.
//!
//! [`VorbisDecoder::decode`] takes the packets of an Ogg stream in order
//! (from an [`OggReader`](crate::audio::ogg::OggReader)) and returns, for
//! each, nothing, a new header set ([`VorbisComments`]) or decoded audio
//! ([`AudioChunk`]). It follows one logical Vorbis stream at a time: the
//! first whose identification header it sees. Packets of other streams
//! multiplexed with it are skipped and counted. A new stream beginning
//! (a BOS identification header) after the current one has ended or has
//! started its audio is a chain: the new header set replaces the old, with
//! fresh decoding state, so the rate and channel count may change.
//!
//! Granule positions are honoured as libvorbis does (Vorbis I §A.2): the
//! last packet of a stream is cut to its page's granule position, and if
//! the first page that gives a position gives one smaller than the samples
//! decoded so far, the difference is cut from the start.
//!
//! Bad input is a typed [`VorbisError`] for that packet, never a panic: a
//! bad header makes the stream undecodable (its packets are then skipped
//! until a new identification header), a bad audio packet is skipped.

use super::comments::{read_comments, CommentError, VorbisComments};
use super::setup_check::codebooks_fit;
use crate::audio::ogg::Packet;
use crate::audio::pcm::{interleave_f32, AudioChunk};
use lewton::audio::{read_audio_packet_generic, AudioReadError, PreviousWindowRight};
use lewton::header::{
    read_header_ident, read_header_setup, HeaderReadError, IdentHeader, SetupHeader,
};
use std::fmt;

/// What one packet gave.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// Nothing to pass on (a header, the first audio packet, an ignored packet).
    Nothing,
    /// A complete header set: the stream's format and comments.
    Headers(VorbisComments),
    /// Decoded audio.
    Audio(AudioChunk),
}

/// Why a packet could not be used.
#[derive(Debug, PartialEq)]
pub enum VorbisError {
    /// The identification header is bad: the stream cannot be decoded.
    Ident(HeaderReadError),
    /// The comment header is bad: the stream cannot be decoded.
    Comment(CommentError),
    /// The setup header is bad: the stream cannot be decoded.
    Setup(HeaderReadError),
    /// A header packet came where another was due.
    UnexpectedPacket {
        /// The header type wanted (3 comment, 5 setup).
        wanted: u8,
    },
    /// An audio packet could not be decoded; it is skipped.
    Audio(AudioReadError),
}

impl fmt::Display for VorbisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VorbisError::Ident(e) => write!(f, "bad Vorbis identification header: {e:?}"),
            VorbisError::Comment(e) => write!(f, "bad Vorbis comment header: {e}"),
            VorbisError::Setup(e) => write!(f, "bad Vorbis setup header: {e:?}"),
            VorbisError::UnexpectedPacket { wanted } => {
                write!(f, "expected Vorbis header type {wanted}")
            }
            VorbisError::Audio(e) => write!(f, "bad Vorbis audio packet: {e:?}"),
        }
    }
}

impl std::error::Error for VorbisError {}

/// What the decoder counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VorbisStats {
    /// Complete header sets read (1 + the number of chain links taken).
    pub header_sets: u64,
    /// Audio packets decoded.
    pub audio_packets: u64,
    /// Frames handed out.
    pub frames: u64,
    /// Frames cut by granule positions (at a stream's end or start).
    pub trimmed_frames: u64,
    /// Bad headers (each makes its stream undecodable).
    pub bad_headers: u64,
    /// Audio packets that failed to decode and were skipped.
    pub bad_audio: u64,
    /// Packets of streams not being decoded (other streams multiplexed in,
    /// non-Vorbis streams, audio of a stream whose headers were never read).
    pub skipped_packets: u64,
}

struct AudioState {
    ident: IdentHeader,
    setup: SetupHeader,
    pwr: PreviousWindowRight,
    /// Frames decoded so far in this stream (before any cut).
    decoded: u64,
    /// The granule position of the last frame handed out, once a page has
    /// given one.
    position: Option<u64>,
    /// Whether an audio packet has been seen: after that a new BOS is a chain.
    audio_started: bool,
}

enum State {
    /// Waiting for an identification header.
    Idle,
    Comment(Box<IdentHeader>),
    Setup(Box<IdentHeader>, VorbisComments),
    Audio(Box<AudioState>),
}

/// The decoder; see the module documentation.
pub struct VorbisDecoder {
    state: State,
    serial: u32,
    /// The current stream's last packet has been seen.
    ended: bool,
    stats: VorbisStats,
}

impl Default for VorbisDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn is_ident(data: &[u8]) -> bool {
    data.len() >= 7 && data[0] == 1 && &data[1..7] == b"vorbis"
}

impl VorbisDecoder {
    /// A decoder waiting for a stream's headers.
    pub fn new() -> Self {
        VorbisDecoder {
            state: State::Idle,
            serial: 0,
            ended: true,
            stats: VorbisStats::default(),
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> VorbisStats {
        self.stats
    }

    /// The current stream's (rate, channels), once its headers are read.
    pub fn format(&self) -> Option<(u32, u16)> {
        match &self.state {
            State::Audio(a) => Some((a.ident.audio_sample_rate, a.ident.audio_channels as u16)),
            _ => None,
        }
    }

    /// Whether a new identification header on `p` starts the stream to
    /// follow (rather than one multiplexed alongside the current one).
    fn takes_new_stream(&self, p: &Packet) -> bool {
        if self.ended || matches!(self.state, State::Idle) {
            return true;
        }
        if p.serial == self.serial {
            // The same serial starting over.
            return p.bos;
        }
        // A BOS after the current stream's audio began cannot be a stream
        // grouped with it (grouped BOS pages all come first): a chain.
        p.bos && matches!(&self.state, State::Audio(a) if a.audio_started)
    }

    /// Takes the next packet of the Ogg stream.
    pub fn decode(&mut self, p: &Packet) -> Result<Decoded, VorbisError> {
        if is_ident(&p.data) && self.takes_new_stream(p) {
            self.serial = p.serial;
            self.ended = p.eos;
            self.state = State::Idle;
            return match read_header_ident(&p.data) {
                Ok(ident) => {
                    self.state = State::Comment(Box::new(ident));
                    Ok(Decoded::Nothing)
                }
                Err(e) => {
                    self.stats.bad_headers += 1;
                    Err(VorbisError::Ident(e))
                }
            };
        }
        if p.serial != self.serial || matches!(self.state, State::Idle) {
            self.stats.skipped_packets += 1;
            return Ok(Decoded::Nothing);
        }
        if p.eos {
            self.ended = true;
        }
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => unreachable!("handled above"),
            State::Comment(ident) => match read_comments(&p.data) {
                Ok(c) => {
                    self.state = State::Setup(ident, c);
                    Ok(Decoded::Nothing)
                }
                Err(CommentError::NotComment) if !p.data.is_empty() && p.data[0] & 1 == 0 => {
                    self.stats.bad_headers += 1;
                    Err(VorbisError::UnexpectedPacket { wanted: 3 })
                }
                Err(e) => {
                    self.stats.bad_headers += 1;
                    Err(VorbisError::Comment(e))
                }
            },
            State::Setup(ident, mut comments) => {
                if p.data.first().is_none_or(|b| b & 1 == 0) {
                    self.stats.bad_headers += 1;
                    return Err(VorbisError::UnexpectedPacket { wanted: 5 });
                }
                if !codebooks_fit(&p.data) {
                    // lewton would size its tables from these counts
                    // before finding the data missing (see setup_check).
                    self.stats.bad_headers += 1;
                    return Err(VorbisError::Setup(HeaderReadError::HeaderBadFormat));
                }
                let blocksizes = (ident.blocksize_0, ident.blocksize_1);
                match read_header_setup(&p.data, ident.audio_channels, blocksizes) {
                    Ok(setup) => {
                        comments.serial = p.serial;
                        comments.rate = ident.audio_sample_rate;
                        comments.channels = ident.audio_channels as u16;
                        self.stats.header_sets += 1;
                        self.state = State::Audio(Box::new(AudioState {
                            ident: *ident,
                            setup,
                            pwr: PreviousWindowRight::new(),
                            decoded: 0,
                            position: None,
                            audio_started: false,
                        }));
                        Ok(Decoded::Headers(comments))
                    }
                    Err(e) => {
                        self.stats.bad_headers += 1;
                        Err(VorbisError::Setup(e))
                    }
                }
            }
            State::Audio(mut a) => {
                let out = self.audio(&mut a, p);
                self.state = State::Audio(a);
                out
            }
        }
    }

    fn audio(&mut self, a: &mut AudioState, p: &Packet) -> Result<Decoded, VorbisError> {
        if p.data.is_empty() {
            // Zero-length audio packets are legal and carry nothing.
            return Ok(Decoded::Nothing);
        }
        if p.data[0] & 1 == 1 {
            // A stray header in the audio.
            self.stats.skipped_packets += 1;
            return Ok(Decoded::Nothing);
        }
        a.audio_started = true;
        let planar: Vec<Vec<f32>> =
            match read_audio_packet_generic(&a.ident, &a.setup, &p.data, &mut a.pwr) {
                Ok(v) => v,
                Err(e) => {
                    self.stats.bad_audio += 1;
                    return Err(VorbisError::Audio(e));
                }
            };
        self.stats.audio_packets += 1;
        let n = planar.first().map_or(0, |c| c.len()) as u64;
        a.decoded += n;
        // The part of this packet's frames to keep: [skip, keep).
        let mut skip = 0u64;
        let mut keep = n;
        match (a.position, p.granule) {
            (None, Some(g)) => {
                if a.decoded > g {
                    let extra = a.decoded - g;
                    if p.eos {
                        // Both the first and the last page: the end is cut.
                        keep = n - extra.min(n);
                    } else {
                        skip = extra.min(n);
                    }
                }
                a.position = Some(g);
            }
            (Some(pos), g) => {
                let next = pos + n;
                if let (Some(g), true) = (g, p.eos) {
                    if next > g {
                        keep = n - (next - g).min(n);
                    }
                }
                a.position = Some(g.unwrap_or(next));
            }
            (None, None) => {}
        }
        let frames = keep.saturating_sub(skip) as usize;
        self.stats.trimmed_frames += n - frames as u64;
        let channels = planar.len();
        let mut samples = Vec::with_capacity(frames * channels);
        let s = skip as usize;
        interleave_f32(&planar, s..s + frames, &mut samples);
        self.stats.frames += frames as u64;
        if frames == 0 {
            return Ok(Decoded::Nothing);
        }
        Ok(Decoded::Audio(AudioChunk::new(
            a.ident.audio_sample_rate,
            channels as u16,
            samples,
        )))
    }
}
