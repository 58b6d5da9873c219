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
//! * [`out`]: `AudioOut`, a sound device fed through a bounded ring (cpal
//!   with the `audio-out` feature; a fake device for tests).
//! * [`wav`], [`wav_writer`], [`raw_reader`]: WAV headers, the `WavWriter`
//!   file sink, and a reader of WAV or raw PCM files.
//! * [`mixer`]: `RawAudioMixer`, several streams summed with clipping.
//! * [`paced`]: `PacedSource`, audio at the clock's pace (tests, demos).

pub mod mixer;
pub mod ogg;
pub mod out;
pub mod paced;
pub mod pcm;
pub mod raw_reader;
pub mod vorbis;
pub mod wav;
pub mod wav_writer;

pub use pcm::AudioChunk;
