//! Files: reading files, command output and standard input as byte chunks,
//! and writing streams of bytes to files (Kamaelia's `Kamaelia.File`).
//!
//! | component                | reads / writes                                   | boxes (besides `control`, `signal`) |
//! |--------------------------|--------------------------------------------------|-------------------------------------|
//! | [`ReadFileAdaptor`]      | a file, a command's output or stdin, by line, by block, or at a bit rate | outbox `Bytes` |
//! | [`SimpleReader`]         | a file, line by line                              | outbox `Bytes` |
//! | [`PromptedFileReader`]   | `n` bytes or lines of a file per request         | inbox `usize`, outbox `Bytes` |
//! | [`RateControlledFileReader`] | a file, in bytes or lines, at a steady rate  | outbox `Bytes` |
//! | [`TriggeredFileReader`]  | the whole file named by each message             | inbox `PathBuf`, outbox `Bytes` |
//! | [`WholeFileWriter`]      | a whole file per `(path, bytes)` job             | inbox `(PathBuf, Bytes)`, outbox `PathBuf` |
//! | [`SimpleFileWriter`]     | a stream to one file (write or append)           | inbox `Bytes` (or `T: AsRef<[u8]>`) |
//! | [`Append`]               | a stream appended to one file, passed on         | inbox `T`, outbox `T` |
//!
//! Byte payloads are [`bytes::Bytes`]: cheap to clone and to slice. Lines
//! keep their `\n`, so chunks joined give back the file byte for byte.
//!
//! # Closing
//!
//! Each component owns its file (or child process) and closes it when it
//! ends, whichever way it ends: at the end of its work, on `Shutdown`, on
//! an error, or when the scheduler drops it (the original components never
//! closed theirs: reference §7 item 12). Writers flush explicitly before
//! they end, so a failing flush is reported rather than lost in a drop.
//!
//! # Errors
//!
//! Any I/O error (a missing file, permission denied, a directory where a
//! file was expected, a full disk, a command that cannot start or that
//! fails) ends the component cleanly, never with a panic, after sending
//! `Signal::Failed` on `signal`. Its reason is a [`FileError`], with the
//! path, what was being done ([`FileOp`]) and the `io::ErrorKind`:
//!
//! ```
//! use std::io::ErrorKind;
//! use kamaelia::axon::{link, Inbox, Scheduler, Signal};
//! use kamaelia::file::{FileError, ReadFileAdaptor, ReadMode};
//! let reader = ReadFileAdaptor::file("/no/such/file", ReadMode::Line);
//! let sig = Inbox::inbox();
//! link(&reader.signal, &sig).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(reader);
//! s.run();
//! let Some(Signal::Failed(f)) = sig.recv() else { panic!("expected a failure") };
//! let e = f.downcast_ref::<FileError>().unwrap();
//! assert_eq!(e.kind(), ErrorKind::NotFound);
//! assert_eq!(e.path().to_str(), Some("/no/such/file"));
//! ```
//!
//! # Not ported
//!
//! `ReusableFileReader` and its variants (a Carousel of
//! [`RateControlledFileReader`]s, one per file name received) are not
//! ported; they can be composed from the pieces here and
//! `chassis::Carousel`.

mod chunker;
mod error;
mod jobs;
mod rate_controlled;
mod read_file_adaptor;
mod reading;
mod whole_file;
mod writing;

pub use error::{FileError, FileOp};
pub use rate_controlled::RateControlledFileReader;
pub use read_file_adaptor::{
    ReadFileAdaptor, ReadMode, DEFAULT_BITRATE, DEFAULT_CHUNKRATE, DEFAULT_READSIZE,
};
pub use reading::{PromptMode, PromptedFileReader, SimpleReader};
pub use whole_file::{TriggeredFileReader, WholeFileWriter};
pub use writing::{Append, SimpleFileWriter, WriteMode};
