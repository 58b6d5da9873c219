//! Media: Ogg pages, Vorbis decoding, audio output, WAV files and mixing.
//!
//! The pieces of the classic streaming-audio sketches: bytes from a file,
//! a TCP stream, reliable multicast or an Icecast mount go through
//! the Ogg page parser and the Vorbis decoder to a sound device or a WAV
//! file.
//!
//! * [`ogg`]: the Ogg container, read push-style (pages, packets, several
//!   and chained logical streams, losses counted).
//! * [`vorbis`]: Vorbis decoding on lewton's packet API, and the
//!   [`VorbisDecode`](vorbis::VorbisDecode) component (Ogg bytes in,
//!   [`AudioChunk`]s and comments out).
//! * [`pcm`]: [`AudioChunk`], decoded audio as it travels between
//!   components (rate, channels, interleaved `i16`).

pub mod ogg;
pub mod pcm;
pub mod vorbis;

pub use pcm::AudioChunk;
