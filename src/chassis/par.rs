//! Par: components side by side.
//!
//! Every child's `outbox` comes out as the Par's `outbox`. Unlike the
//! original PAR: data on the Par's `inbox` is copied to every child (not
//! discarded); children's `signal`s are not passed straight out (so the
//! first child to finish does not shut down what is downstream); a shutdown
//! waits for the children to end. The Par ends when every child has ended,
//! sending on `signal` the shutdown it received, or else producer finished.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `I`      | copied to every child's `inbox`                   |
//! | control | `Signal` | copied to every child's `control`                 |
//! | outbox  | `O`      | what every child sends                            |
//! | signal  | `Signal` | once, when the last child has ended               |
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::chassis::Par;
//! use kamaelia::util::DataSource;
//! let par = Par::<(), u8>::new(vec![
//!     Box::new(DataSource::new(vec![1u8, 3])),
//!     Box::new(DataSource::new(vec![2u8, 4])),
//! ]);
//! let out: Inbox<u8> = Inbox::inbox();
//! link(&par.outbox, &out).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(par);
//! s.run();
//! let mut got: Vec<u8> = std::iter::from_fn(|| out.recv()).collect();
//! got.sort();
//! assert_eq!(got, vec![1, 2, 3, 4]);
//! ```

use crate::axon::{link_refs, AdaptiveBoxes, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};
use crate::util::relay::{copy_to_all, flush_all, Copy};

/// Components side by side; see the module documentation.
pub struct Par<I: Clone + 'static = (), O: 'static = ()> {
    /// Copied to every child.
    pub inbox: Inbox<I>,
    /// Copied to every child.
    pub control: Inbox<Signal>,
    /// What every child sends.
    pub outbox: Outbox<O>,
    /// Sent once, when all children have ended.
    pub signal: Outbox<Signal>,
    lanes_boxes: AdaptiveBoxes,
    /// A copy of the input for each child with an inbox.
    data: Vec<Copy<I>>,
    /// A copy of control for each child with a control inbox.
    controls: Vec<Copy<Signal>>,
    /// Some child refused its copy of a control signal (so control waits).
    control_blocked: bool,
    /// Some child refused its copy (so input waits).
    blocked: bool,
    pending: Vec<Box<dyn Component>>,
    running: usize,
    started: bool,
    shutdown: Option<Signal>,
}

impl<I: Clone + 'static, O: 'static> Par<I, O> {
    /// Children side by side. Children whose boxes do not match the Par's
    /// types are logged and left unlinked on that side.
    pub fn new(children: Vec<Box<dyn Component>>) -> Self {
        let mut par = Par {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            lanes_boxes: AdaptiveBoxes::new(),
            data: Vec::new(),
            controls: Vec::new(),
            control_blocked: false,
            blocked: false,
            pending: Vec::new(),
            running: 0,
            started: false,
            shutdown: None,
        };
        for child in children {
            let name = child.name().to_string();
            let mut set = BoxSet::default();
            child.boxes(&mut set);
            if let Some(b) = set.find("inbox") {
                let out = par
                    .lanes_boxes
                    .add_outbox::<I>("_data", "copy of inbox for a child");
                match link_refs(&out.erased(), b) {
                    Ok(_) => par.data.push(Copy::new(out)),
                    Err(e) => log::error!("par: cannot link child {name}: {e}"),
                }
            }
            if let Some(b) = set.find("control") {
                let out = par
                    .lanes_boxes
                    .add_outbox::<Signal>("_control", "copy of control for a child");
                match link_refs(&out.erased(), b) {
                    Ok(_) => par.controls.push(Copy::new(out)),
                    Err(e) => log::error!("par: cannot link child {name}: {e}"),
                }
            }
            if let Some(b) = set.find("outbox") {
                if let Err(e) = link_refs(b, &par.outbox.erased()) {
                    log::error!("par: cannot link child {name}: {e}");
                }
            }
            par.pending.push(child);
        }
        par
    }
}

impl<I: Clone + 'static, O: 'static> Component for Par<I, O> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            for c in self.pending.drain(..) {
                cx.spawn_child_boxed(c);
                self.running += 1;
            }
        }
        // Copy control to every child; a child whose control is full is
        // sent its copy when it takes one, and control waits meanwhile.
        if self.control_blocked {
            self.control_blocked = !flush_all(self.controls.iter_mut());
        }
        while !self.control_blocked {
            let Some(sig) = self.control.recv() else {
                break;
            };
            if sig.is_shutdown() {
                self.shutdown = Some(sig.clone());
            }
            self.control_blocked = !copy_to_all(self.controls.iter_mut(), sig);
        }
        // Copy input to every child; while one is full, input waits.
        if self.blocked {
            self.blocked = !flush_all(self.data.iter_mut());
        }
        while !self.blocked {
            let Some(m) = self.inbox.recv() else { break };
            self.blocked = !copy_to_all(self.data.iter_mut(), m);
        }
        if self.blocked || self.control_blocked {
            cx.hold_input();
        }
        while cx.next_exit().is_some() {
            self.running -= 1;
        }
        if self.running == 0 {
            let sig = self.shutdown.take().unwrap_or(Signal::ProducerFinished);
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .adaptive(&self.lanes_boxes);
    }
}
