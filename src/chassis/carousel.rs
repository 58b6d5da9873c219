//! Carousel: runs one child at a time, made by a factory from each message
//! on `next`; the next child starts only after the previous one has ended.
//!
//! | box         | carries   | meaning                                                  |
//! |-------------|-----------|----------------------------------------------------------|
//! | inbox       | `I`       | passed to the current child                              |
//! | next        | `M`       | make a child from this (replacing the current one)       |
//! | control     | `Signal`  | producer finished: make the queued children, then stop; shutdown: stop the child, drop the queue, stop |
//! | outbox      | `O`       | what the current child sends                             |
//! | signal      | `Signal`  | on ending: the signal that ended it                      |
//! | requestNext | `Choose`  | `Choose::Next` each time a child ends with nothing queued (and at start if asked) |
//!
//! A `next` that arrives while a child runs tells that child to shut down;
//! the new one is made once it has ended. The child's own `signal` is not
//! linked anywhere: one child ending is not the end of the stream. A child
//! whose `inbox`/`outbox` types differ from the carousel's is logged and
//! left unlinked on that side.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use kamaelia::chassis::Carousel;
//! use kamaelia::util::DataSource;
//! // A word on `next` becomes a DataSource that spells it out.
//! let c = Carousel::<String, (), char>::new(|word: String| {
//!     Box::new(DataSource::new(word.chars().collect::<Vec<_>>()))
//! });
//! let out: Inbox<char> = Inbox::inbox();
//! link(&c.outbox, &out).unwrap();
//! let next = Outbox::<String>::new("feed", "words");
//! link(&next, &c.next).unwrap();
//! let ctl = Outbox::<Signal>::new("ctl", "stop");
//! link(&ctl, &c.control).unwrap();
//! next.send("abc".into()).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap(); // finish the word, then stop
//! let mut s = Scheduler::new();
//! s.spawn(c);
//! s.run();
//! let got: String = std::iter::from_fn(|| out.recv()).collect();
//! assert_eq!(got, "abc");
//! ```

use std::collections::VecDeque;

use crate::axon::{BoxSet, Component, Cx, Id, Inbox, Outbox, Signal, Step};
use crate::util::Choose;

type Factory<M> = Box<dyn FnMut(M) -> Box<dyn Component>>;

/// Runs one child at a time; see the module documentation.
pub struct Carousel<M: 'static, I: 'static = (), O: 'static = ()> {
    /// Passed to the current child.
    pub inbox: Inbox<I>,
    /// Messages to make children from.
    pub next: Inbox<M>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// What the current child sends.
    pub outbox: Outbox<O>,
    /// Sent once, on ending.
    pub signal: Outbox<Signal>,
    /// Asks for the next item.
    pub request_next: Outbox<Choose>,
    to_child: Outbox<Signal>,
    factory: Factory<M>,
    queue: VecDeque<M>,
    child: Option<Id>,
    told_child: bool,
    stopping: Option<Signal>,
    first_request: bool,
    started: bool,
}

impl<M: 'static, I: 'static, O: 'static> Carousel<M, I, O> {
    /// A carousel making children with `factory`.
    pub fn new(factory: impl FnMut(M) -> Box<dyn Component> + 'static) -> Self {
        Carousel {
            inbox: Inbox::new("inbox", "passed to the current child"),
            next: Inbox::new("next", "make a child from this"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "what the current child sends"),
            signal: Outbox::signal(),
            request_next: Outbox::new("requestNext", "Choose::Next when ready for another"),
            to_child: Outbox::new("_signal", "shutdown for the current child"),
            factory: Box::new(factory),
            queue: VecDeque::new(),
            child: None,
            told_child: false,
            stopping: None,
            first_request: false,
            started: false,
        }
    }

    /// Also asks for the first item (`Choose::Next` on `requestNext`) at start.
    pub fn make_first_request(mut self, on: bool) -> Self {
        self.first_request = on;
        self
    }

    fn tell_child(&mut self, sig: Signal) {
        if !self.told_child {
            self.told_child = true;
            let _ = self.to_child.send(sig);
        }
    }

    fn make_child(&mut self, cx: &mut Cx, msg: M) {
        let child = (self.factory)(msg);
        super::wire_stand_in(
            "carousel",
            &*child,
            self.inbox.erased(),
            self.to_child.erased(),
            self.outbox.erased(),
        );
        self.told_child = false;
        self.child = Some(cx.spawn_child_boxed(child));
    }
}

impl<M: 'static, I: 'static, O: 'static> Component for Carousel<M, I, O> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            if self.first_request {
                let _ = self.request_next.send(Choose::Next);
            }
        }
        while let Some(m) = self.next.recv() {
            if !self.stopping.as_ref().is_some_and(Signal::is_shutdown) {
                self.queue.push_back(m);
            }
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.queue.clear();
                self.tell_child(sig.clone());
            }
            if !self.stopping.as_ref().is_some_and(Signal::is_shutdown) {
                self.stopping = Some(sig);
            }
        }
        while let Some(exit) = cx.next_exit() {
            if Some(exit.id) == self.child {
                self.child = None;
                if self.queue.is_empty() && self.stopping.is_none() {
                    let _ = self.request_next.send(Choose::Next);
                }
            }
        }
        // Settle: make a child if none runs and one is queued; a queued
        // item replaces a running child (told to stop, made once it ended).
        loop {
            match (self.child, self.queue.is_empty()) {
                (Some(_), false) => self.tell_child(Signal::Shutdown),
                (None, false) => {
                    let m = self.queue.pop_front().expect("not empty");
                    self.make_child(cx, m);
                    continue;
                }
                (Some(_), true) => {
                    if let Some(sig) = self.stopping.clone() {
                        self.tell_child(sig);
                    }
                }
                (None, true) => {
                    if let Some(sig) = self.stopping.take() {
                        let _ = self.signal.send(sig);
                        return Step::Done;
                    }
                }
            }
            break;
        }
        // Input for the next child waits in our inbox until it exists.
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.next)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .add(&self.request_next)
            .add(&self.to_child);
    }
}
