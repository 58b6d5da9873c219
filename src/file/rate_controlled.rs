//! RateControlledFileReader: reads a file at a steady rate, in bytes or in
//! lines (Kamaelia's `RateControlledFileReader` in `File/Reading.py`).
//!
//! As in the original, it is a [`Graphline`] of two children: a
//! [`ByteRateRequestControl`] (`"RC"`) that says "read n units now" at the
//! rate, feeding a [`PromptedFileReader`] (`"RFA"`) that reads them:
//!
//! ```text
//! ("RC",   "outbox")  => ("RFA",  "inbox")     requests
//! ("RFA",  "outbox")  => ("self", "outbox")    the data
//! ("self", "control") => ("RFA",  "control")   shutdown goes to the reader,
//! ("RFA",  "signal")  => ("RC",   "control")   whose signal stops the rate control,
//! ("RC",   "signal")  => ("self", "signal")    whose signal comes out
//! ```
//!
//! The first chunk is read when it starts, then one every period
//! (`chunk_size / rate` seconds) on drift-free deadlines; fractional chunk
//! sizes are honoured over time (see [`ByteRateRequestControl`]).
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | control | `Signal` | shutdown: stop both at once; producer finished: answer the requests already made, then stop both |
//! | outbox  | `Bytes`  | a chunk of `n` bytes (or `n` lines, each with its `\n`) per period; fewer at the end of the file |
//! | signal  | `Signal` | producer finished at the end of the file; `Failed(FileError)` on an I/O error (a missing file...); or the control signal |
//!
//! Its boxes are the graphline's: erased [`BoxRef`]s typed like the
//! reader's, linked with [`link_refs`](crate::axon::link_refs) (or found by
//! name, as the test harness does).
//!
//! **Ending.** The end of the file is found by the first request that reads
//! nothing, so a file whose length is a whole number of chunks ends one
//! period after its last chunk. The reader's `ProducerFinished` (or
//! failure) stops the rate control, whose timer is cancelled; the graphline
//! ends when both have, and the file is closed. Requests made while the
//! consumer was full are not lost: the reader answers them, in order, as
//! soon as there is room (a slow consumer slows the output; no data is
//! dropped).
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use kamaelia::axon::Signal;
//! use kamaelia::file::{PromptMode, RateControlledFileReader};
//! use kamaelia::testing::Harness;
//! let path = std::env::temp_dir().join(format!("rcfr-doc-{}", std::process::id()));
//! std::fs::write(&path, "0123456789").unwrap();
//! let mut h = Harness::new();
//! // 8 bytes a second, 4 at a time: at 0, 0.5 s, 1 s (2 bytes), end at 1.5 s.
//! let id = h.spawn(RateControlledFileReader::new(&path, PromptMode::Bytes, 8.0, 4.0));
//! let out = h.collector::<Bytes>(id, "outbox").unwrap();
//! let sig = h.collector::<Signal>(id, "signal").unwrap();
//! h.run_for(Duration::from_millis(1100));
//! assert_eq!(out.drain(), ["0123", "4567", "89"]);
//! assert!(sig.is_empty());
//! h.run_for(Duration::from_millis(400));
//! assert_eq!(sig.drain(), [Signal::ProducerFinished]);
//! assert!(!h.is_alive(id));
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::path::Path;

use super::reading::{PromptMode, PromptedFileReader};
use crate::axon::{BoxRef, BoxSet, Component, Cx, Step};
use crate::chassis::Graphline;
use crate::util::ByteRateRequestControl;

/// Reads a file at a steady rate; see the module documentation.
pub struct RateControlledFileReader {
    graph: Graphline,
}

impl RateControlledFileReader {
    /// Reads the file at `path` at `rate` units (bytes or lines, as `mode`
    /// says) per second, `chunk_size` units at a time.
    ///
    /// # Panics
    ///
    /// If `rate` or `chunk_size` is not a positive finite number.
    pub fn new(path: impl AsRef<Path>, mode: PromptMode, rate: f64, chunk_size: f64) -> Self {
        Self::with_control(
            path,
            mode,
            ByteRateRequestControl::with_chunk_size(rate, chunk_size),
        )
    }

    /// Reads the file at `path` at `rate` units per second, in `chunk_rate`
    /// chunks per second (Kamaelia's default: 10).
    ///
    /// # Panics
    ///
    /// If `rate` or `chunk_rate` is not a positive finite number.
    pub fn with_chunk_rate(
        path: impl AsRef<Path>,
        mode: PromptMode,
        rate: f64,
        chunk_rate: f64,
    ) -> Self {
        Self::with_control(
            path,
            mode,
            ByteRateRequestControl::with_chunk_rate(rate, chunk_rate),
        )
    }

    /// Reads the file at `path` at the pace of `rc` (for example one set
    /// to aggregate its catch-up requests).
    pub fn with_control(
        path: impl AsRef<Path>,
        mode: PromptMode,
        rc: ByteRateRequestControl,
    ) -> Self {
        let graph = Graphline::builder()
            .child("RC", rc)
            .child("RFA", PromptedFileReader::new(path, mode))
            .link(("RC", "outbox"), ("RFA", "inbox"))
            .link(("RFA", "outbox"), ("self", "outbox"))
            .link(("self", "control"), ("RFA", "control"))
            .link(("RFA", "signal"), ("RC", "control"))
            .link(("RC", "signal"), ("self", "signal"))
            .build()
            .expect("the RateControlledFileReader table is well formed");
        RateControlledFileReader { graph }
    }

    /// The data out (`Bytes`).
    pub fn outbox(&self) -> BoxRef {
        self.find("outbox").expect("built with an outbox")
    }

    /// Shutdown or producer finished (`Signal`).
    pub fn control(&self) -> BoxRef {
        self.find("control").expect("graphlines have a control")
    }

    /// The end of the file, a failure or the control signal (`Signal`).
    pub fn signal(&self) -> BoxRef {
        self.find("signal").expect("graphlines have a signal")
    }

    /// Its box `name`, if it has one.
    pub fn find(&self, name: &str) -> Option<BoxRef> {
        self.graph.find(name)
    }
}

impl std::fmt::Debug for RateControlledFileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RateControlledFileReader")
            .field(&self.graph)
            .finish()
    }
}

impl Component for RateControlledFileReader {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.graph.step(cx)
    }

    fn boxes(&self, set: &mut BoxSet) {
        self.graph.boxes(set)
    }

    fn name(&self) -> &str {
        "RateControlledFileReader"
    }
}
