//! Test helpers: TestResult, Comparator and SharedBuffer (Kamaelia's
//! `KA/Util/TestResult.py` and `Comparator.py`).
//!
//! [`TestResult`] checks a stream of verdicts: every `false` arriving on
//! `inbox` is recorded as a failure (by its position in the stream), and a
//! test reads the record through the [`TestResults`] handle it got from
//! [`TestResult::results`]. A [`StopSystem`] message on its `stop` inbox
//! stops the whole system (the scheduler's `run` returns `Stopped`), as the
//! original's `StopSystemException` did.
//!
//! | box     | carries      | meaning                                        |
//! |---------|--------------|------------------------------------------------|
//! | inbox   | `bool`       | verdicts: `false` is a failure                 |
//! | stop    | `StopSystem` | stop the whole system                          |
//! | control | `Signal`     | any signal: record the verdicts that wait, pass the signal on, end (and stop the system if [`TestResult::stop_system_on_finish`]) |
//! | signal  | `Signal`     | the control signal that ended it               |
//!
//! The original took `StopSystem` on `control` and never ended otherwise;
//! here `control` carries the usual signals, so a `TestResult` can end a
//! pipeline, and `StopSystem` has its own inbox. By default a failure is
//! recorded and the run goes on; [`TestResult::stop_on_failure`] stops the
//! system at the first one, as the original's `AssertionError` did.
//!
//! [`Comparator`] pairs the n-th messages of `inA` and `inB` and says
//! whether they are equal.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inA     | `T`      | first values                                      |
//! | inB     | `T`      | second values                                     |
//! | control | `Signal` | producer finished: compare the pairs that can be made, then end; shutdown: end now |
//! | outbox  | `bool`   | whether each pair is equal, in order              |
//! | signal  | `Signal` | the control signal that ended it, passed on       |
//!
//! A value waiting for its partner stays in its inbox; the comparator
//! sleeps until the partner arrives. A verdict refused by a full
//! destination is kept until the consumer takes one.
//!
//! [`SharedBuffer`] is a `Write` whose bytes a test can read back (hand a
//! clone to a [`ConsoleEchoer`](crate::util::ConsoleEchoer)).
//!
//! ```
//! use kamaelia::axon::{link, Scheduler, Ended};
//! use kamaelia::util::{Comparator, DataSource, TestResult};
//! let mut s = Scheduler::new();
//! let a = DataSource::new(vec![1, 2, 3]);
//! let b = DataSource::new(vec![1, 5, 3]);
//! let cmp = Comparator::<i32>::new();
//! let verdicts = TestResult::new();
//! let results = verdicts.results();
//! link(&a.outbox, &cmp.in_a).unwrap();
//! link(&b.outbox, &cmp.in_b).unwrap();
//! link(&b.signal, &cmp.control).unwrap();
//! link(&cmp.outbox, &verdicts.inbox).unwrap();
//! link(&cmp.signal, &verdicts.control).unwrap();
//! s.spawn(a);
//! s.spawn(b);
//! s.spawn(cmp);
//! s.spawn(verdicts);
//! assert_eq!(s.run(), Ended::Completed);
//! assert_eq!(results.checked(), 3);
//! assert_eq!(results.failures(), [1]); // the second pair differs
//! ```

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::Pairer;

/// The message that stops the whole system (see [`TestResult`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopSystem;

#[derive(Default, Debug)]
struct Record {
    checked: usize,
    failures: Vec<usize>,
    ended: Option<Signal>,
    stopped_system: bool,
}

/// What a [`TestResult`] has seen; a cheap handle, readable after the run.
#[derive(Clone, Default, Debug)]
pub struct TestResults(Rc<RefCell<Record>>);

impl TestResults {
    /// Verdicts received.
    pub fn checked(&self) -> usize {
        self.0.borrow().checked
    }

    /// The positions (from 0) of the `false` verdicts.
    pub fn failures(&self) -> Vec<usize> {
        self.0.borrow().failures.clone()
    }

    /// True when no verdict was `false`.
    pub fn passed(&self) -> bool {
        self.0.borrow().failures.is_empty()
    }

    /// The control signal that ended the `TestResult`, if it ended that way.
    pub fn ended(&self) -> Option<Signal> {
        self.0.borrow().ended.clone()
    }

    /// Whether it stopped the system (a `StopSystem`, or a failure with
    /// `stop_on_failure`, or a finish with `stop_system_on_finish`).
    pub fn stopped_system(&self) -> bool {
        self.0.borrow().stopped_system
    }

    /// Panics, listing the failures, unless every verdict was `true` and
    /// there was at least one.
    #[track_caller]
    pub fn assert_passed(&self) {
        let r = self.0.borrow();
        assert!(r.checked > 0, "TestResult received no verdicts");
        assert!(
            r.failures.is_empty(),
            "{} of {} verdicts false, at positions {:?}",
            r.failures.len(),
            r.checked,
            r.failures
        );
    }
}

/// Records a stream of verdicts; see the module documentation.
pub struct TestResult {
    /// Verdicts.
    pub inbox: Inbox<bool>,
    /// Stops the whole system.
    pub stop: Inbox<StopSystem>,
    /// Ends it.
    pub control: Inbox<Signal>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    record: TestResults,
    stop_on_failure: bool,
    stop_on_finish: bool,
}

impl TestResult {
    /// A new recorder.
    pub fn new() -> Self {
        TestResult {
            inbox: Inbox::new("inbox", "verdicts: false is a failure"),
            stop: Inbox::new("stop", "StopSystem: stop the whole system"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            record: TestResults::default(),
            stop_on_failure: false,
            stop_on_finish: false,
        }
    }

    /// The handle a test reads the results through (take it before
    /// spawning).
    pub fn results(&self) -> TestResults {
        self.record.clone()
    }

    /// Stops the whole system at the first `false` verdict.
    pub fn stop_on_failure(mut self, on: bool) -> Self {
        self.stop_on_failure = on;
        self
    }

    /// Stops the whole system when a signal arrives on `control`.
    pub fn stop_system_on_finish(mut self, on: bool) -> Self {
        self.stop_on_finish = on;
        self
    }

    fn stop_system(&self, cx: &mut Cx) -> Step {
        self.record.0.borrow_mut().stopped_system = true;
        cx.stop_system();
        Step::Done
    }
}

impl Default for TestResult {
    fn default() -> Self {
        Self::new()
    }
}

impl Component for TestResult {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(ok) = self.inbox.recv() {
            let mut r = self.record.0.borrow_mut();
            let at = r.checked;
            r.checked += 1;
            if !ok {
                r.failures.push(at);
                log::error!("TestResult: verdict {at} is false");
                if self.stop_on_failure {
                    drop(r);
                    return self.stop_system(cx);
                }
            }
        }
        if self.stop.recv().is_some() {
            return self.stop_system(cx);
        }
        if let Some(sig) = self.control.recv() {
            self.record.0.borrow_mut().ended = Some(sig.clone());
            let _ = self.signal.send(sig);
            if self.stop_on_finish {
                return self.stop_system(cx);
            }
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.stop, self.control, self.signal);
    }
}

/// Says whether pairs of values are equal; see the module documentation.
pub struct Comparator<T: PartialEq + 'static> {
    /// First values (box `inA`).
    pub in_a: Inbox<T>,
    /// Second values (box `inB`).
    pub in_b: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Verdicts.
    pub outbox: Outbox<bool>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    pairer: Pairer<bool>,
}

impl<T: PartialEq + 'static> Comparator<T> {
    /// A new comparator.
    pub fn new() -> Self {
        Comparator {
            in_a: Inbox::new("inA", "first values"),
            in_b: Inbox::new("inB", "second values"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "whether each pair is equal"),
            signal: Outbox::signal(),
            pairer: Pairer::new(),
        }
    }
}

impl<T: PartialEq + 'static> Default for Comparator<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: PartialEq + 'static> Component for Comparator<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.pairer.step(
            cx,
            &self.in_a,
            &self.in_b,
            &self.control,
            &self.outbox,
            &self.signal,
            |a, b| a == b,
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.in_a, self.in_b, self.control, self.outbox, self.signal);
    }
}

#[derive(Default, Debug)]
struct Buf {
    bytes: Vec<u8>,
    flushes: usize,
}

/// A `Write` that keeps what is written, shared between clones: give one
/// clone to a component, read the other in the test.
#[derive(Clone, Default, Debug)]
pub struct SharedBuffer(Rc<RefCell<Buf>>);

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.borrow().bytes.clone()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow().bytes).into_owned()
    }

    /// Takes everything written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut().bytes)
    }

    /// How many times it was flushed.
    pub fn flushes(&self) -> usize {
        self.0.borrow().flushes
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flushes += 1;
        Ok(())
    }
}
