//! Media: Ogg pages, Vorbis decoding, audio output, WAV files and mixing.
//!
//! The pieces of the classic streaming-audio sketches: bytes from a file,
//! a TCP stream, reliable multicast or an Icecast mount go through
//! the Ogg page parser and the Vorbis decoder to a sound device or a WAV
//! file.

pub mod ogg;
pub mod pcm;
pub mod vorbis;

pub use pcm::AudioChunk;
