//! Pipeline: components in a chain, like a Unix pipeline.
//!
//! Each child's `outbox` is linked to the next child's `inbox`, and its
//! `signal` to the next child's `control`, so one `ProducerFinished` from
//! the first tears the chain down front to back. The pipeline's own `inbox`
//! and `control` lead into the first child; the last child's `outbox` and
//! `signal` come out as the pipeline's own. Its boxes carry the same types
//! as the children's boxes they stand for. A child without `outbox` (or
//! `signal`) is simply not linked onward; a child with one whose successor
//! lacks the matching inbox is an error.
//!
//! | box     | carries                    | meaning                         |
//! |---------|----------------------------|---------------------------------|
//! | inbox   | first child's inbox type   | passed to the first child       |
//! | control | `Signal`                   | passed to the first child       |
//! | outbox  | last child's outbox type   | what the last child sends       |
//! | signal  | `Signal`                   | what the last child signals     |
//!
//! The pipeline reads and sends nothing itself; it ends when every child
//! has ended. [`Pipeline::circular`] links the last child back to the first
//! instead of out.
//!
//! ```
//! use kamaelia::axon::{line_reader, Inbox, Scheduler, link_refs};
//! use kamaelia::chassis::Pipeline;
//! use kamaelia::pipeline;
//! let p = pipeline![line_reader(std::io::Cursor::new("a\nb\n"))].unwrap();
//! let out: Inbox<String> = Inbox::inbox();
//! link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! assert_eq!(out.recv().as_deref(), Some("a"));
//! ```

use crate::axon::{link_refs, BoxRef, BoxSet, Component, Cx, Dir, Step};

use super::{box_of, BuildError};

/// A chain of components; see the module documentation.
pub struct Pipeline {
    pending: Vec<Box<dyn Component>>,
    own: Vec<BoxRef>,
    running: usize,
    started: bool,
}

impl Pipeline {
    /// Links the children in order and out through the pipeline's boxes.
    pub fn new(children: Vec<Box<dyn Component>>) -> Result<Self, BuildError> {
        Self::build(children, false)
    }

    /// Links the children in a ring: the last child's `outbox` and `signal`
    /// go back to the first child's `inbox` and `control`.
    pub fn circular(children: Vec<Box<dyn Component>>) -> Result<Self, BuildError> {
        Self::build(children, true)
    }

    fn build(children: Vec<Box<dyn Component>>, circular: bool) -> Result<Self, BuildError> {
        if children.is_empty() {
            return Err(BuildError::Empty);
        }
        let label = |i: usize| format!("stage {} ({})", i + 1, children[i].name());
        for i in 0..children.len() {
            let next = if i + 1 < children.len() {
                i + 1
            } else if circular {
                0
            } else {
                break;
            };
            for (out, inn) in [("outbox", "inbox"), ("signal", "control")] {
                if let Some(src) = box_of(&*children[i], out) {
                    let dst =
                        box_of(&*children[next], inn).ok_or_else(|| BuildError::NoSuchBox {
                            child: label(next),
                            name: inn.to_string(),
                        })?;
                    link_refs(&src, &dst)
                        .map_err(|e| e.with_names(Some(&label(i)), Some(&label(next))))?;
                }
            }
        }
        let mut own = Vec::new();
        let first = &*children[0];
        for name in ["inbox", "control"] {
            if let Some(child_box) = box_of(first, name) {
                let mine = child_box.new_like(Dir::In, name, "passed to the first stage");
                link_refs(&mine, &child_box)?;
                own.push(mine);
            }
        }
        if !circular {
            let last = &*children[children.len() - 1];
            for name in ["outbox", "signal"] {
                if let Some(child_box) = box_of(last, name) {
                    let mine = child_box.new_like(Dir::Out, name, "sent on by the last stage");
                    link_refs(&child_box, &mine)?;
                    own.push(mine);
                }
            }
        }
        Ok(Pipeline {
            pending: children,
            own,
            running: 0,
            started: false,
        })
    }

    /// The pipeline's own box `name`, if it has one.
    pub fn find(&self, name: &str) -> Option<BoxRef> {
        self.own.iter().find(|b| b.name() == name).cloned()
    }

    /// The pipeline's `inbox` (typed like the first child's).
    pub fn inbox(&self) -> Option<BoxRef> {
        self.find("inbox")
    }

    /// The pipeline's `outbox` (typed like the last child's).
    pub fn outbox(&self) -> Option<BoxRef> {
        self.find("outbox")
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field(
                "children",
                &self.pending.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("boxes", &self.own)
            .field("running", &self.running)
            .finish()
    }
}

impl Component for Pipeline {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            for c in self.pending.drain(..) {
                cx.spawn_child_boxed(c);
                self.running += 1;
            }
        }
        while cx.next_exit().is_some() {
            self.running -= 1;
        }
        if self.running == 0 {
            return Step::Done;
        }
        // Our own boxes only pass through; anything stranded in them (after
        // the first child ended) is counted when we end, not spun on.
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        for b in &self.own {
            set.add_ref(b);
        }
    }
}

/// Builds a [`Pipeline`] from components: `pipeline![a, b, c]` gives
/// `Result<Pipeline, BuildError>`.
#[macro_export]
macro_rules! pipeline {
    ($($c:expr),+ $(,)?) => {
        $crate::chassis::Pipeline::new(vec![
            $(Box::new($c) as Box<dyn $crate::axon::Component>),+
        ])
    };
}
