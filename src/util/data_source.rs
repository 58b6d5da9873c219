//! DataSource: sends the items of a list, one per step, then finishes.
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | control | `Signal` | shutdown: stop at once (forwarded on `signal`); producer finished is ignored (a source has nothing upstream to finish) |
//! | outbox  | `T`      | the items, in order                              |
//! | signal  | `Signal` | producer finished after the last item            |
//!
//! A full destination pauses it until the consumer takes a message.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::util::DataSource;
//! let src = DataSource::new(vec!["a", "b"]);
//! let out = Inbox::inbox();
//! link(&src.outbox, &out).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(src);
//! s.run();
//! assert_eq!(out.recv(), Some("a"));
//! assert_eq!(out.recv(), Some("b"));
//! ```

use std::collections::VecDeque;

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// Sends a list's items; see the module documentation.
pub struct DataSource<T: 'static> {
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The items.
    pub outbox: Outbox<T>,
    /// Producer finished after the last item.
    pub signal: Outbox<Signal>,
    items: VecDeque<T>,
}

impl<T: 'static> DataSource<T> {
    /// A source of `items`.
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        DataSource {
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            items: items.into_iter().collect(),
        }
    }
}

impl<T: 'static> Component for DataSource<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        match self.items.pop_front() {
            Some(item) => match self.outbox.send(item) {
                Ok(()) => Step::Yield,
                Err(Full(item)) => {
                    self.items.push_front(item);
                    Step::Pause
                }
            },
            None => {
                let _ = self.signal.send(Signal::ProducerFinished);
                Step::Done
            }
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}
