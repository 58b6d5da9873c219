//! Vorbis decoding on lewton's packet-level API, fed by our Ogg reader.
//!
//! * [`decoder`]: [`VorbisDecoder`], the per-packet state (headers, the
//!   previous window, granule positions, chaining).
//! * [`comments`]: the comment header ([`VorbisComments`], TITLE and so on).
//! * [`component`]: [`VorbisDecode`], the component: Ogg bytes in, audio
//!   chunks and comments out.

pub mod comments;
pub mod component;
pub mod decoder;
mod setup_check;

pub use comments::VorbisComments;
pub use component::{VorbisDecode, VorbisDecodeStats};
pub use decoder::{Decoded, VorbisDecoder, VorbisError, VorbisStats};
