//! Seq: runs components strictly one after another.
//!
//! Each item's `outbox` comes out as the Seq's `outbox` and the Seq's
//! `inbox` goes into the current item; items' `signal`s are not passed on,
//! so a consumer downstream is not shut down at each switch. A text item is
//! written to the Seq's `say` outbox between components (Kamaelia printed
//! it). After the last item the Seq sends `ProducerFinished` on `signal`.
//!
//! | box     | carries  | meaning                                                   |
//! |---------|----------|-----------------------------------------------------------|
//! | inbox   | `I`      | passed to the current item                                |
//! | control | `Signal` | shutdown: stop the current item, skip the rest, forward it; producer finished: noted, items still run |
//! | outbox  | `O`      | what the current item sends                               |
//! | say     | `String` | the text items, in order                                  |
//! | signal  | `Signal` | producer finished after the last item (or the shutdown)   |
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::chassis::{Seq, SeqItem};
//! use kamaelia::util::DataSource;
//! let seq = Seq::<(), u8>::new(vec![
//!     SeqItem::component(DataSource::new(vec![1u8, 2])),
//!     SeqItem::say("half way"),
//!     SeqItem::component(DataSource::new(vec![3u8])),
//! ]);
//! let out: Inbox<u8> = Inbox::inbox();
//! link(&seq.outbox, &out).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(seq);
//! s.run();
//! assert_eq!(std::iter::from_fn(|| out.recv()).collect::<Vec<_>>(), vec![1, 2, 3]);
//! ```

use std::collections::VecDeque;

use crate::axon::{BoxSet, Component, Cx, Id, Inbox, Outbox, Signal, Step};

/// One entry of a [`Seq`].
pub enum SeqItem {
    /// Run this component to its end.
    Component(Box<dyn Component>),
    /// Send this text on `say`.
    Say(String),
}

impl SeqItem {
    /// A component item.
    pub fn component<C: Component>(c: C) -> Self {
        SeqItem::Component(Box::new(c))
    }
    /// A text item.
    pub fn say(s: &str) -> Self {
        SeqItem::Say(s.to_string())
    }
}

/// Components one after another; see the module documentation.
pub struct Seq<I: 'static = (), O: 'static = ()> {
    /// Passed to the current item.
    pub inbox: Inbox<I>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// What the current item sends.
    pub outbox: Outbox<O>,
    /// Text items.
    pub say: Outbox<String>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    to_child: Outbox<Signal>,
    items: VecDeque<SeqItem>,
    current: Option<Id>,
    shutdown: Option<Signal>,
}

impl<I: 'static, O: 'static> Seq<I, O> {
    /// A sequence of items.
    pub fn new(items: Vec<SeqItem>) -> Self {
        Seq {
            inbox: Inbox::new("inbox", "passed to the current item"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "what the current item sends"),
            say: Outbox::new("say", "text items"),
            signal: Outbox::signal(),
            to_child: Outbox::new("_signal", "shutdown for the current item"),
            items: items.into(),
            current: None,
            shutdown: None,
        }
    }

    fn start(&mut self, cx: &mut Cx, c: Box<dyn Component>) {
        super::wire_stand_in(
            "seq",
            &*c,
            self.inbox.erased(),
            self.to_child.erased(),
            self.outbox.erased(),
        );
        self.current = Some(cx.spawn_child_boxed(c));
    }
}

impl<I: 'static, O: 'static> Component for Seq<I, O> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() && self.shutdown.is_none() {
                self.items.clear();
                if self.current.is_some() {
                    let _ = self.to_child.send(sig.clone());
                }
                self.shutdown = Some(sig);
            }
        }
        while let Some(exit) = cx.next_exit() {
            if Some(exit.id) == self.current {
                self.current = None;
            }
        }
        while self.current.is_none() {
            match self.items.pop_front() {
                Some(SeqItem::Say(text)) => {
                    let _ = self.say.send(text);
                }
                Some(SeqItem::Component(c)) => self.start(cx, c),
                None => {
                    let sig = self.shutdown.take().unwrap_or(Signal::ProducerFinished);
                    let _ = self.signal.send(sig);
                    return Step::Done;
                }
            }
        }
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.say)
            .add(&self.signal)
            .add(&self.to_child);
    }
}
