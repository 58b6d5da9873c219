//! Chooser and ForwardIteratingChooser: step through items on command.
//!
//! [`Chooser`] holds a list of items and a cursor, like a slideshow or a
//! playlist. It sends the first item when it starts; each [`Choose`]
//! command on `inbox` moves the cursor and sends the item it lands on:
//!
//! | command | moves to                        | at an end, without looping | looping |
//! |---------|---------------------------------|----------------------------|---------|
//! | `Next`  | the next item                   | stays, sends nothing       | wraps to the first |
//! | `Prev`  | the previous item               | stays, sends nothing       | wraps to the last |
//! | `First` | the first item                  | (always sends)             |         |
//! | `Last`  | the last item                   | (always sends)             |         |
//! | `Same`  | stays                           | (always sends)             |         |
//!
//! With no items it never sends anything. (The original's looping `Prev`
//! jumped past the end and sent nothing; here it wraps to the last item.)
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | inbox   | `Choose` | commands                                         |
//! | control | `Signal` | producer finished: obey the commands that wait, then end; shutdown: end now |
//! | outbox  | `T`      | the chosen items                                 |
//! | signal  | `Signal` | the control signal that ended it, passed on      |
//!
//! [`ForwardIteratingChooser`] walks any iterator (even an endless one)
//! forwards: it sends the first item when it starts, the next one on each
//! `Next`, the current one again on `Same`, and ignores other commands.
//! When `Next` finds the iterator exhausted it sends producer finished on
//! `signal` and ends. Its boxes are the same as [`Chooser`]'s.
//!
//! Both keep an item refused by a full destination and read no more
//! commands until the consumer takes one.
//!
//! ```
//! use kamaelia::testing::Harness;
//! use kamaelia::util::{Choose, Chooser};
//! let mut h = Harness::new();
//! let id = h.spawn(Chooser::new(vec!["a", "b", "c"], true));
//! let cmd = h.feeder::<Choose>(id, "inbox").unwrap();
//! let out = h.collector::<&str>(id, "outbox").unwrap();
//! h.run_until_idle();
//! for c in [Choose::Prev, Choose::Prev, Choose::Next, Choose::First] {
//!     cmd.send(c).unwrap();
//! }
//! h.run_until_idle();
//! assert_eq!(out.drain(), ["a", "c", "b", "c", "a"]);
//! ```

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::Relay;
use super::Choose;

/// Steps through a list on command; see the module documentation.
pub struct Chooser<T: Clone + 'static> {
    /// Commands.
    pub inbox: Inbox<Choose>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The chosen items.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    items: Vec<T>,
    index: usize,
    looping: bool,
    started: bool,
    relay: Relay<T>,
}

impl<T: Clone + 'static> Chooser<T> {
    /// Chooses among `items`; with `looping`, `Next` and `Prev` wrap round.
    pub fn new(items: impl IntoIterator<Item = T>, looping: bool) -> Self {
        Chooser {
            inbox: Inbox::new("inbox", "commands: Next, Prev, First, Last, Same"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the chosen items"),
            signal: Outbox::signal(),
            items: items.into_iter().collect(),
            index: 0,
            looping,
            started: false,
            relay: Relay::new(),
        }
    }

    /// The item under the cursor (`None` with no items).
    pub fn current(&self) -> Option<&T> {
        self.items.get(self.index)
    }
}

/// Moves the cursor `index` over `n` items; true if the item it lands on
/// is to be sent.
fn apply(cmd: Choose, index: &mut usize, n: usize, looping: bool) -> bool {
    if n == 0 {
        return false;
    }
    match cmd {
        Choose::Next if *index + 1 < n => *index += 1,
        Choose::Next if looping => *index = 0,
        Choose::Next => return false,
        Choose::Prev if *index > 0 => *index -= 1,
        Choose::Prev if looping => *index = n - 1,
        Choose::Prev => return false,
        Choose::First => *index = 0,
        Choose::Last => *index = n - 1,
        Choose::Same => {}
    }
    true
}

impl<T: Clone + 'static> Component for Chooser<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            if let Some(first) = self.items.first() {
                self.relay.send_first(first.clone());
            }
        }
        let (items, index, looping) = (&self.items, &mut self.index, self.looping);
        self.relay.step(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |cmd| apply(cmd, index, items.len(), looping).then(|| items[*index].clone()),
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Walks an iterator forwards on command; see the module documentation.
pub struct ForwardIteratingChooser<T: Clone + 'static> {
    /// Commands (`Next` and `Same`; others are ignored).
    pub inbox: Inbox<Choose>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The chosen items.
    pub outbox: Outbox<T>,
    /// Producer finished when the items run out, or the control signal
    /// that ended it.
    pub signal: Outbox<Signal>,
    items: Box<dyn Iterator<Item = T>>,
    current: Option<T>,
    started: bool,
    relay: Relay<T>,
}

impl<T: Clone + 'static> ForwardIteratingChooser<T> {
    /// Walks `items` (any iterable, even an endless one).
    pub fn new<I>(items: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        ForwardIteratingChooser {
            inbox: Inbox::new("inbox", "commands: Next, Same"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the chosen items"),
            signal: Outbox::signal(),
            items: Box::new(items.into_iter()),
            current: None,
            started: false,
            relay: Relay::new(),
        }
    }

    /// The item last sent (`None` before the start or with no items).
    pub fn current(&self) -> Option<&T> {
        self.current.as_ref()
    }
}

impl<T: Clone + 'static> Component for ForwardIteratingChooser<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if !self.started {
            // A shutdown before the start ends it without pulling an item.
            if self.relay.shutdown_now(&self.control, &self.signal) {
                return Step::Done;
            }
            self.started = true;
            self.current = self.items.next();
            if let Some(first) = &self.current {
                self.relay.send_first(first.clone());
            }
        }
        let (items, current) = (&mut self.items, &mut self.current);
        self.relay.step_or_end(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |cmd| match cmd {
                Choose::Same => Ok(current.clone()),
                Choose::Next => match items.next() {
                    Some(item) => {
                        *current = Some(item.clone());
                        Ok(Some(item))
                    }
                    None => Err(Signal::ProducerFinished),
                },
                Choose::Prev | Choose::First | Choose::Last => Ok(None),
            },
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
