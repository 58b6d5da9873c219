//! `FileError`: the typed reason carried by `Signal::Failed` from every
//! component of this module.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What a file component was doing when an I/O error struck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileOp {
    /// Opening (or creating) a file, or starting a command.
    Open,
    /// Reading a file, a command's output or a reader.
    Read,
    /// Writing or flushing a file.
    Write,
    /// A command ended unsuccessfully (its status is in the message).
    Exit,
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileOp::Open => "cannot open",
            FileOp::Read => "cannot read",
            FileOp::Write => "cannot write",
            FileOp::Exit => "command failed:",
        })
    }
}

/// An I/O error of a file component, with the path it concerns.
///
/// Sent as `Signal::Failed` on the component's `signal` box; a receiver gets
/// it back with [`Failure::downcast_ref`](crate::axon::Failure::downcast_ref):
///
/// ```
/// use std::io;
/// use kamaelia::axon::Signal;
/// use kamaelia::file::{FileError, FileOp};
/// let sig = Signal::failed(FileError::new(
///     FileOp::Open,
///     "/no/such/file",
///     io::Error::from(io::ErrorKind::NotFound),
/// ));
/// let Signal::Failed(f) = sig else { unreachable!() };
/// let e = f.downcast_ref::<FileError>().unwrap();
/// assert_eq!(e.kind(), io::ErrorKind::NotFound);
/// assert_eq!(e.path().to_str(), Some("/no/such/file"));
/// ```
///
/// For a command, the path is the program's name; for a reader (such as
/// standard input), it is the name the reader was given.
#[derive(Debug)]
pub struct FileError {
    op: FileOp,
    path: PathBuf,
    kind: io::ErrorKind,
    error: io::Error,
}

impl FileError {
    /// An error `error` met while doing `op` on `path`.
    pub fn new(op: FileOp, path: impl Into<PathBuf>, error: io::Error) -> Self {
        FileError {
            op,
            path: path.into(),
            kind: error.kind(),
            error,
        }
    }

    /// The file (or program, or reader name) concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind of I/O error (`NotFound`, `PermissionDenied`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.kind
    }

    /// What was being done.
    pub fn op(&self) -> FileOp {
        self.op
    }

    /// The underlying I/O error (also its `source()`).
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path.display(), self.error)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
