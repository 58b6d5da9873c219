//! Helpers shared by the datagram tests (`net_udp`, `net_multicast`):
//! running a scheduler against real sockets with a time limit, and a
//! component that records what a peer heard.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{link, BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::boxes;
use kamaelia::internet::udp::Datagram;

/// The longest a test waits for datagrams on loopback.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs the scheduler until `done` holds, waiting in its poll for the
/// sockets' events between checks; panics after [`PATIENCE`].
pub fn pump(s: &mut Scheduler, mut done: impl FnMut(&Scheduler) -> bool) {
    let start = Instant::now();
    s.run_until_idle();
    while !done(s) {
        assert!(start.elapsed() < PATIENCE, "gave up waiting");
        s.run_for(Duration::from_millis(1));
    }
}

/// Runs a system that ends by itself; fails if it has not completed
/// within [`PATIENCE`] (a datagram was lost, or a component hangs).
pub fn run_to_completion(s: &mut Scheduler) {
    assert_eq!(s.run_for(PATIENCE), Some(Ended::Completed));
}

/// Records `want` datagrams, then sends `Shutdown` on `stop` (to the
/// component that heard them) and ends.
struct Collect {
    inbox: Inbox<Datagram>,
    stop: Outbox<Signal>,
    want: usize,
    got: Rc<RefCell<Vec<Datagram>>>,
}

impl Component for Collect {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.got.borrow().len() < self.want {
            match self.inbox.recv() {
                Some(d) => self.got.borrow_mut().push(d),
                None => return Step::Pause,
            }
        }
        let _ = self.stop.send(Signal::Shutdown);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.stop);
    }
}

/// What a [`collect`] recorded.
pub struct Heard(Rc<RefCell<Vec<Datagram>>>);

impl Heard {
    pub fn take(&self) -> Vec<Datagram> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// Collects `want` datagrams from `outbox`, then shuts the component that
/// heard them down through `control`.
pub fn collect(
    s: &mut Scheduler,
    outbox: &Outbox<Datagram>,
    control: &Inbox<Signal>,
    want: usize,
) -> Heard {
    let got = Rc::new(RefCell::new(Vec::new()));
    let c = Collect {
        inbox: Inbox::inbox(),
        stop: Outbox::new("stop", "shutdown for the component heard"),
        want,
        got: got.clone(),
    };
    link(outbox, &c.inbox).unwrap();
    link(&c.stop, control).unwrap();
    s.spawn(c);
    Heard(got)
}
