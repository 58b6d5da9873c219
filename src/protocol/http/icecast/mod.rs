//! Icecast / SHOUTcast streams: a client that asks for in-band metadata
//! and reconnects, a demultiplexer that splits the audio from the
//! metadata blocks, a writer that saves the audio, and a stream ripper
//! built from them.
//!
//! An Icecast server (asked with `Icy-MetaData: 1`) answers a mount with
//! `HTTP/1.0 200 OK` (SHOUTcast: `ICY 200 OK`) and an `icy-metaint: N`
//! header, then a body that runs until the connection closes: N audio
//! bytes, one length byte L, L × 16 bytes of metadata text
//! (`StreamTitle='...';StreamUrl='...';`, padded with NUL bytes), N audio
//! bytes, and so on. Without `icy-metaint` (an Ogg mount, or a server
//! that ignores the ask) the body is all audio.
//!
//! * [`IcecastClient`]: URL in, [`IcecastEvent`]s out: the response head,
//!   body bytes, and a [`Disconnect`] (with a typed [`DisconnectReason`])
//!   each time the connection ends; it reconnects after a back-off.
//! * [`IcecastDemux`]: [`IcecastEvent`]s in, [`IcyEvent`]s out: the
//!   stream's [`StreamInfo`], audio, parsed [`Metadata`], errors. The
//!   codec underneath, [`IcyDemuxer`], needs no scheduler.
//! * [`IcecastStreamWriter`]: writes the audio of [`IcyEvent`]s to a file.
//! * [`Ripper`] and [`rip`]: URL to file, the title reported when it
//!   changes (what `kamaelia rip URL -o FILE` runs).
//!
//! ```no_run
//! use kamaelia::protocol::http::icecast::{rip, RipEvent, RipOptions};
//! let summary = rip("http://127.0.0.1:8000/live.mp3", "out.mp3", RipOptions::default(), |ev| {
//!     if let RipEvent::Title(t) = ev {
//!         println!("now playing: {t}");
//!     }
//! })
//! .unwrap();
//! println!("{} bytes", summary.bytes);
//! ```

mod client;
mod demux;
mod rip;
mod writer;

pub use client::{
    Disconnect, DisconnectReason, GaveUp, IcecastClient, IcecastConfig, IcecastEvent,
    DEFAULT_FIRST_DELAY, DEFAULT_MAX_DELAY,
};
pub use demux::{IcecastDemux, IcyDemuxer, IcyError, IcyEvent, Metadata, StreamInfo};
pub use rip::{rip, run_ripper, RipError, RipEvent, RipOptions, RipSummary, Ripper};
pub use writer::IcecastStreamWriter;
