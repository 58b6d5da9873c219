//! Fanout: copies each message to every one of a set of named outboxes.
//!
//! `Fanout::new(&["a", "b"])` has outboxes `a` and `b` (made at run time,
//! as in Kamaelia's AdaptiveCommsComponent); every message on `inbox` is
//! cloned to each of them, in order. Unlike the original, nothing is copied
//! to any other outbox (the original also copied data into `outbox` and
//! `signal`). One of the names may be `outbox`, so that a fanout can sit
//! in a pipeline with its other copies going elsewhere.
//!
//! | box       | carries  | meaning                                           |
//! |-----------|----------|---------------------------------------------------|
//! | inbox     | `T`      | messages to copy                                  |
//! | control   | `Signal` | producer finished: copy out what waits, then end; shutdown: end now |
//! | *name*... | `T`      | one outbox per name given: a copy of every message |
//! | signal    | `Signal` | the control signal that ended it, passed on       |
//!
//! Back-pressure works per outbox: a copy refused by a full destination is
//! kept for that outbox alone (the others get theirs), and no further
//! message is read until every kept copy has gone. So the fastest consumer
//! is at most one message ahead of the slowest, and no consumer loses a
//! message or sees one out of order.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::util::{DataSource, Fanout};
//! let mut s = Scheduler::new();
//! let src = DataSource::new(vec![1, 2]);
//! let fan = Fanout::<i32>::new(&["left", "right"]);
//! link(&src.outbox, &fan.inbox).unwrap();
//! link(&src.signal, &fan.control).unwrap();
//! let (l, r) = (Inbox::inbox(), Inbox::inbox());
//! link(fan.outbox("left").unwrap(), &l).unwrap();
//! link(fan.outbox("right").unwrap(), &r).unwrap();
//! s.spawn(src);
//! s.spawn(fan);
//! s.run();
//! assert_eq!((l.recv(), l.recv()), (Some(1), Some(2)));
//! assert_eq!((r.recv(), r.recv()), (Some(1), Some(2)));
//! ```

use crate::axon::{AdaptiveBoxes, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::{copy_to_all, finish_or_pause, flush_all, shutdown_now, Copy, BATCH};

/// The fixed boxes a copy outbox may not be named after (`outbox` is free:
/// Fanout has no fixed outbox, so a copy box may take the name and so sit
/// in a pipeline).
const FIXED: [&str; 3] = ["inbox", "control", "signal"];

/// Copies each message to named outboxes; see the module documentation.
pub struct Fanout<T: Clone + 'static> {
    /// Messages to copy.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    extra: AdaptiveBoxes,
    sinks: Vec<Copy<T>>,
    finishing: Option<Signal>,
}

impl<T: Clone + 'static> Fanout<T> {
    /// Copies to one outbox per name, in the order given.
    ///
    /// # Panics
    ///
    /// If no name is given (every message would be thrown away), a name is
    /// given twice, or a name is `inbox`, `control` or `signal`.
    pub fn new(names: &[&str]) -> Self {
        assert!(
            !names.is_empty(),
            "Fanout: no outbox names, so every message would be thrown away"
        );
        let extra = AdaptiveBoxes::reserving(&FIXED);
        let mut sinks = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            assert!(
                !FIXED.contains(name),
                "Fanout: outbox name '{name}' clashes with a fixed box"
            );
            assert!(
                !names[..i].contains(name),
                "Fanout: outbox name '{name}' given twice"
            );
            let out: Outbox<T> = extra.add_outbox(name, "a copy of every message");
            debug_assert_eq!(out.name(), *name);
            sinks.push(Copy::new(out));
        }
        Fanout {
            inbox: Inbox::new("inbox", "messages to copy"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            extra,
            sinks,
            finishing: None,
        }
    }

    /// The outbox called `name`, for linking.
    pub fn outbox(&self, name: &str) -> Option<&Outbox<T>> {
        self.sinks.iter().map(|s| &s.out).find(|o| o.name() == name)
    }

    /// The names of the copy outboxes, in order.
    pub fn names(&self) -> Vec<String> {
        self.extra.names()
    }

    /// Sends the kept copies; true if none is left.
    fn flush(&mut self) -> bool {
        flush_all(self.sinks.iter_mut())
    }

    /// Copies one message out; true if every copy went.
    fn copy(&mut self, m: T) -> bool {
        copy_to_all(self.sinks.iter_mut(), m)
    }
}

impl<T: Clone + 'static> Component for Fanout<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if shutdown_now(&self.control, &mut self.finishing, &self.signal) {
            return Step::Done;
        }
        // A refused copy puts us to sleep until that consumer takes one.
        if !self.flush() {
            return Step::Pause;
        }
        for _ in 0..BATCH {
            let Some(m) = self.inbox.recv() else { break };
            if !self.copy(m) {
                return Step::Pause;
            }
        }
        finish_or_pause(&self.inbox, &mut self.finishing, &self.signal)
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.signal)
            .adaptive(&self.extra);
    }
}
