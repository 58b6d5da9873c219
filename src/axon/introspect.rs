//! Introspection as plain data: the components, their state, boxes, queue
//! lengths and links, taken on request with [`Scheduler::snapshot`](super::Scheduler::snapshot)
//! or [`Cx::snapshot`](super::Cx::snapshot).

use std::fmt::Write as _;

use super::boxes::{Dir, LinkKind};
use super::proc::Id;

/// Whether a component will run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// On the run queue.
    Runnable,
    /// Running now (the caller of `Cx::snapshot`).
    Running,
    /// Paused until woken.
    Sleeping,
}

/// One box as seen by introspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Inbox or outbox.
    pub dir: Dir,
    /// Message type.
    pub type_name: &'static str,
    /// Messages stored in the box itself.
    pub len: usize,
    /// Its limit, if bounded.
    pub limit: Option<usize>,
}

/// One component as seen by introspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Run state.
    pub state: RunState,
    /// The parent that started it as a child, if any.
    pub parent: Option<Id>,
    /// Messages waiting in all its inboxes.
    pub pending: usize,
    /// Its boxes (empty for the component that asked).
    pub boxes: Vec<BoxInfo>,
}

/// One link as seen by introspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Source (owner, box name).
    pub from: (Option<Id>, String),
    /// Destination (owner, box name).
    pub to: (Option<Id>, String),
    /// Normal or pass-through.
    pub kind: LinkKind,
}

/// The running system, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The round it was taken in.
    pub round: u64,
    /// Every live component, by id.
    pub components: Vec<ComponentInfo>,
    /// Every link between live boxes.
    pub links: Vec<LinkInfo>,
}

impl Snapshot {
    /// The component with this id.
    pub fn component(&self, id: Id) -> Option<&ComponentInfo> {
        self.components.iter().find(|c| c.id == id)
    }

    /// A readable multi-line rendering.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "round {}: {} components",
            self.round,
            self.components.len()
        );
        for c in &self.components {
            let _ = writeln!(s, "{}{} {:?}", c.name, c.id, c.state);
            for b in &c.boxes {
                let dir = if b.dir == Dir::In { "in " } else { "out" };
                let limit = b.limit.map(|l| format!("/{l}")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {dir} {:<12} {:>5}{limit} {}",
                    b.name, b.len, b.type_name
                );
            }
        }
        for l in &self.links {
            let end = |e: &(Option<Id>, String)| match e.0 {
                Some(id) => format!("{id}.{}", e.1),
                None => format!("?.{}", e.1),
            };
            let _ = writeln!(s, "{} -> {} ({:?})", end(&l.from), end(&l.to), l.kind);
        }
        s
    }
}
