//! Graphline: named children and a table of links between their boxes, in
//! the manner of Kamaelia's `linkages = {("SRC","outbox"): ("UP","inbox")}`.
//!
//! The name `"self"` (or `""`) means the graphline itself. A graphline box
//! named as a link's source is one of its inboxes, passed into a child; one
//! named as a destination is one of its outboxes, fed by a child. Those
//! boxes are made as the table needs them, typed like the child's box at
//! the other end; `control` and `signal` always exist. The table is checked
//! when built: an unknown child, an unknown box or a type mismatch is an
//! error naming it.
//!
//! | box      | carries          | meaning                                    |
//! |----------|------------------|--------------------------------------------|
//! | control  | `Signal`         | copied to every child whose `control` is not linked (unless the table passes it to a child) |
//! | signal   | `Signal`         | on ending: the shutdown received, else producer finished (unless the table feeds it from a child) |
//! | (others) | as the table says| passed through to or from children         |
//!
//! Shutdown: it ends when every child has ended. Messages that reach one of
//! its own inboxes not passed to a child are not spun on; they are counted
//! as undelivered when it ends. A child's `signal` the table does not link
//! is linked to an inbox of the graphline's own, `_child_signals`, which
//! keeps what comes (a child's last word, which nobody asked to hear): so
//! when the graphline ends these are counted as undelivered, as before,
//! but logged in one line for the graphline instead of one per child.
//!
//! ```
//! use kamaelia::axon::{line_reader, Inbox, Scheduler, link_refs};
//! use kamaelia::graphline;
//! let g = graphline! {
//!     "READ" => line_reader(std::io::Cursor::new("x\ny\n"));
//!     ("READ", "outbox") => ("self", "outbox"),
//! }
//! .unwrap();
//! let out: Inbox<String> = Inbox::inbox();
//! link_refs(&g.find("outbox").unwrap(), &out.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(g);
//! s.run();
//! assert_eq!(out.recv().as_deref(), Some("x"));
//! assert_eq!(out.recv().as_deref(), Some("y"));
//! ```

use std::collections::BTreeSet;

use crate::axon::{
    link_refs, AdaptiveBoxes, BoxRef, BoxSet, Component, Cx, Dir, Inbox, Outbox, Signal, Step,
};

use super::{box_of, BuildError};
use crate::util::relay::{copy_to_all, flush_all, Copy};

fn is_self(name: &str) -> bool {
    name == "self" || name.is_empty()
}

/// Collects children and links; [`GraphlineBuilder::build`] checks them.
#[derive(Default)]
pub struct GraphlineBuilder {
    children: Vec<(String, Box<dyn Component>)>,
    links: Vec<((String, String), (String, String))>,
}

impl GraphlineBuilder {
    /// Adds a named child.
    pub fn child<C: Component>(self, name: &str, c: C) -> Self {
        self.child_boxed(name, Box::new(c))
    }

    /// Adds a named, boxed child.
    pub fn child_boxed(mut self, name: &str, c: Box<dyn Component>) -> Self {
        self.children.push((name.to_string(), c));
        self
    }

    /// Adds a link from `(child, box)` to `(child, box)`.
    pub fn link(mut self, from: (&str, &str), to: (&str, &str)) -> Self {
        self.links.push((
            (from.0.to_string(), from.1.to_string()),
            (to.0.to_string(), to.1.to_string()),
        ));
        self
    }

    /// Checks the table and makes the links.
    pub fn build(self) -> Result<Graphline, BuildError> {
        if self.children.is_empty() {
            return Err(BuildError::Empty);
        }
        let mut seen = BTreeSet::new();
        for (n, _) in &self.children {
            if is_self(n) || !seen.insert(n.clone()) {
                return Err(BuildError::DuplicateChild(n.clone()));
            }
        }
        let mut g = Graphline {
            pending: Vec::new(),
            own: Vec::new(),
            control: Inbox::control(),
            signal: Outbox::signal(),
            control_passed: false,
            signal_fed: false,
            disseminate: Vec::new(),
            control_copies: AdaptiveBoxes::new(),
            child_signals: Inbox::new(
                "_child_signals",
                "children's signals not linked in the table",
            ),
            control_blocked: false,
            running: 0,
            started: false,
            shutdown: None,
        };
        let index: std::collections::HashMap<&str, usize> = self
            .children
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        let child_box = |child: &str, name: &str| -> Result<BoxRef, BuildError> {
            let (_, c) = index
                .get(child)
                .map(|&i| &self.children[i])
                .ok_or_else(|| BuildError::NoSuchChild(child.to_string()))?;
            box_of(&**c, name).ok_or_else(|| BuildError::NoSuchBox {
                child: child.to_string(),
                name: name.to_string(),
            })
        };
        let mut controlled = BTreeSet::new();
        for ((sc, sb), (dc, db)) in &self.links {
            if is_self(sc) && is_self(dc) {
                return Err(BuildError::SelfLink(sb.clone()));
            }
            let (src, dst) = if is_self(sc) {
                let dst = child_box(dc, db)?;
                let src = if sb == "control" {
                    g.control_passed = true;
                    g.control.erased()
                } else {
                    g.own_box(sb, Dir::In, &dst)?
                };
                (src, dst)
            } else if is_self(dc) {
                let src = child_box(sc, sb)?;
                let dst = if db == "signal" {
                    g.signal_fed = true;
                    g.signal.erased()
                } else {
                    g.own_box(db, Dir::Out, &src)?
                };
                (src, dst)
            } else {
                (child_box(sc, sb)?, child_box(dc, db)?)
            };
            if !is_self(dc) && db == "control" {
                controlled.insert(dc.clone());
            }
            let sname = if is_self(sc) { "self" } else { sc.as_str() };
            let dname = if is_self(dc) { "self" } else { dc.as_str() };
            link_refs(&src, &dst).map_err(|e| e.with_names(Some(sname), Some(dname)))?;
        }
        for (name, c) in &self.children {
            if controlled.contains(name) {
                continue;
            }
            if let Some(ctl) = box_of(&**c, "control") {
                let out = g
                    .control_copies
                    .add_outbox::<Signal>("_control", "copy of control for a child");
                link_refs(&out.erased(), &ctl)
                    .map_err(|e| e.with_names(Some("self"), Some(name)))?;
                g.disseminate.push(Copy::new(out));
            }
        }
        let dropped = g.child_signals.erased();
        for (_, c) in &self.children {
            if let Some(sig) = box_of(&**c, "signal") {
                let unlinked_outbox = sig.direction() == Dir::Out && sig.destination().is_none();
                if unlinked_outbox && sig.message_type() == dropped.message_type() {
                    if let Err(e) = link_refs(&sig, &dropped) {
                        log::error!("graphline: cannot collect a child's signal: {e}");
                    }
                }
            }
        }
        g.pending = self.children.into_iter().map(|(_, c)| c).collect();
        Ok(g)
    }
}

/// Named children linked by a table; see the module documentation.
pub struct Graphline {
    pending: Vec<Box<dyn Component>>,
    own: Vec<BoxRef>,
    control: Inbox<Signal>,
    signal: Outbox<Signal>,
    control_passed: bool,
    signal_fed: bool,
    /// A copy of control for each child whose control is not linked.
    disseminate: Vec<Copy<Signal>>,
    control_copies: AdaptiveBoxes,
    /// Where children's `signal` boxes the table leaves unlinked lead;
    /// never read (input is held), so what arrives is counted and logged
    /// once, as undelivered, when the graphline ends.
    child_signals: Inbox<Signal>,
    /// A child refused its copy of a control signal (so control waits).
    control_blocked: bool,
    running: usize,
    started: bool,
    shutdown: Option<Signal>,
}

impl Graphline {
    /// Starts a table of children and links.
    pub fn builder() -> GraphlineBuilder {
        GraphlineBuilder::default()
    }

    /// The graphline's own box `name`, if it has one.
    pub fn find(&self, name: &str) -> Option<BoxRef> {
        match name {
            "control" => Some(self.control.erased()),
            "signal" => Some(self.signal.erased()),
            _ => self.own.iter().find(|b| b.name() == name).cloned(),
        }
    }

    /// Finds or makes one of the graphline's own boxes, typed like `peer`.
    fn own_box(&mut self, name: &str, dir: Dir, peer: &BoxRef) -> Result<BoxRef, BuildError> {
        if let Some(b) = self.own.iter().find(|b| b.name() == name) {
            if b.direction() != dir {
                return Err(BuildError::NoSuchBox {
                    child: "self".to_string(),
                    name: format!("{name} (used both as inbox and outbox)"),
                });
            }
            return Ok(b.clone());
        }
        if name == "control" || name == "signal" {
            return Err(BuildError::NoSuchBox {
                child: "self".to_string(),
                name: format!("{name} (wrong direction)"),
            });
        }
        let desc = match dir {
            Dir::In => "passed to a child",
            Dir::Out => "sent on by a child",
        };
        let b = peer.new_like(dir, name.to_string(), desc);
        self.own.push(b.clone());
        Ok(b)
    }
}

impl std::fmt::Debug for Graphline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graphline")
            .field(
                "children",
                &self.pending.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("boxes", &self.own)
            .field("running", &self.running)
            .finish()
    }
}

impl Component for Graphline {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            for c in self.pending.drain(..) {
                cx.spawn_child_boxed(c);
                self.running += 1;
            }
        }
        // Copy control to the children; one whose control is full is sent
        // its copy when it takes one, and control waits meanwhile.
        if self.control_blocked {
            self.control_blocked = !flush_all(self.disseminate.iter_mut());
        }
        while !self.control_blocked {
            let Some(sig) = self.control.recv() else {
                break;
            };
            if sig.is_shutdown() {
                self.shutdown = Some(sig.clone());
            }
            // Children that have ended get no copies.
            let copies = &self.control_copies;
            self.disseminate.retain(|c| {
                let alive = c.out.is_linked();
                if !alive {
                    let _ = copies.remove(c.out.name());
                }
                alive
            });
            self.control_blocked = !copy_to_all(self.disseminate.iter_mut(), sig);
        }
        while cx.next_exit().is_some() {
            self.running -= 1;
        }
        if self.running == 0 {
            if !self.signal_fed {
                let sig = self.shutdown.take().unwrap_or(Signal::ProducerFinished);
                let _ = self.signal.send(sig);
            }
            return Step::Done;
        }
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control)
            .add(&self.signal)
            .add(&self.child_signals)
            .adaptive(&self.control_copies);
        for b in &self.own {
            set.add_ref(b);
        }
    }
}

/// Builds a [`Graphline`]:
///
/// ```text
/// graphline! {
///     "SRC" => source, "UP" => upper;
///     ("SRC", "outbox") => ("UP", "inbox"),
///     ("UP", "outbox") => ("self", "outbox"),
/// }
/// ```
/// gives `Result<Graphline, BuildError>`.
#[macro_export]
macro_rules! graphline {
    ($($name:literal => $c:expr),+ $(,)? ; $(($sc:expr, $sb:expr) => ($dc:expr, $db:expr)),* $(,)?) => {
        $crate::chassis::Graphline::builder()
            $(.child($name, $c))+
            $(.link(($sc, $sb), ($dc, $db)))*
            .build()
    };
}
