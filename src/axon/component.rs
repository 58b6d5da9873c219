//! The `Component` trait, the default set of boxes, and [`BoxSet`], the
//! list of boxes a component gives the scheduler (it lives here, above
//! boxes and adaptive boxes, because it gathers both).

use std::rc::Rc;

use super::adaptive::{AdaptiveBoxes, AdaptiveInner};
use super::boxes::{default_boxes, BoxRef, Inbox, Outbox, Port};
use super::cx::Cx;
use super::signal::{Signal, Step};

/// A component: a struct with named, typed boxes and a `step` that does a
/// small bounded amount of work and returns.
///
/// `step` is a hand-written state machine: keep your state in the struct,
/// do a little, return [`Step::Yield`] (more to do), [`Step::Pause`] (wake
/// me when something arrives) or [`Step::Done`].
///
/// `boxes` must list every box the component owns: the scheduler uses the
/// list to attach the boxes to the component (so deliveries wake it), to
/// link boxes by name, for introspection, and to cut the links when the
/// component ends.
///
/// ```
/// use kamaelia::axon::{Component, Cx, Step, Inbox, Outbox, Signal, BoxSet};
/// use kamaelia::boxes;
///
/// /// Upper-cases text.
/// ///
/// /// | box     | carries | meaning                      |
/// /// |---------|---------|------------------------------|
/// /// | inbox   | String  | text to convert              |
/// /// | control | Signal  | producer finished / shutdown |
/// /// | outbox  | String  | converted text               |
/// /// | signal  | Signal  | sent once, when this one ends|
/// struct Upper {
///     inbox: Inbox<String>, control: Inbox<Signal>,
///     outbox: Outbox<String>, signal: Outbox<Signal>,
/// }
///
/// impl Component for Upper {
///     fn step(&mut self, _cx: &mut Cx) -> Step {
///         while let Some(line) = self.inbox.recv() {
///             let _ = self.outbox.send(line.to_uppercase());
///         }
///         if let Some(sig) = self.control.recv() {
///             let _ = self.signal.send(sig);
///             return Step::Done;
///         }
///         Step::Pause
///     }
///     fn boxes(&self, set: &mut BoxSet) {
///         boxes!(set; self.inbox, self.control, self.outbox, self.signal);
///     }
/// }
/// ```
pub trait Component: 'static {
    /// Does a small, bounded amount of work.
    fn step(&mut self, cx: &mut Cx<'_>) -> Step;

    /// Lists every box this component owns.
    fn boxes(&self, set: &mut BoxSet);

    /// A short name for traces, logs and introspection; by default the
    /// type's name without its path.
    fn name(&self) -> &str {
        short_type_name(std::any::type_name::<Self>())
    }
}

pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    // Strip module paths but keep generic arguments readable enough.
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// The default boxes of a component: `inbox`, `control`, `outbox`, `signal`.
///
/// | box     | carries  | meaning                                   |
/// |---------|----------|-------------------------------------------|
/// | inbox   | `I`      | data to process                           |
/// | control | `Signal` | producer finished / shutdown              |
/// | outbox  | `O`      | data produced                             |
/// | signal  | `Signal` | sent once, when the component ends        |
pub struct DefaultBoxes<I: 'static, O: 'static> {
    /// Data in.
    pub inbox: Inbox<I>,
    /// Shutdown signals in.
    pub control: Inbox<Signal>,
    /// Data out.
    pub outbox: Outbox<O>,
    /// Shutdown signal out.
    pub signal: Outbox<Signal>,
}

impl<I: 'static, O: 'static> DefaultBoxes<I, O> {
    /// The four default boxes, made in one allocation.
    pub fn new() -> Self {
        let (inbox, control, outbox, signal) = default_boxes();
        DefaultBoxes {
            inbox,
            control,
            outbox,
            signal,
        }
    }

    /// Lists the four boxes.
    pub fn list(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal);
    }
}

impl<I: 'static, O: 'static> Default for DefaultBoxes<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

/// The list of a component's boxes, filled by [`Component::boxes`](crate::axon::Component::boxes).
#[derive(Default)]
pub struct BoxSet {
    pub(crate) boxes: Vec<BoxRef>,
    pub(crate) adaptive: Vec<Rc<AdaptiveInner>>,
}

impl BoxSet {
    /// Lists one box.
    pub fn add<'a, T: 'static>(&mut self, b: impl Into<Port<'a, T>>) -> &mut Self {
        self.boxes.push(b.into().erased());
        self
    }

    /// Lists a box given by its erased handle (containers' own boxes).
    pub fn add_ref(&mut self, b: &BoxRef) -> &mut Self {
        self.boxes.push(b.clone());
        self
    }

    /// Lists the boxes added at run time through an [`AdaptiveBoxes`](crate::axon::AdaptiveBoxes).
    pub fn adaptive(&mut self, a: &AdaptiveBoxes) -> &mut Self {
        self.boxes.extend(a.list());
        self.adaptive.push(a.inner());
        self
    }

    /// Finds a listed box by name.
    pub fn find(&self, name: &str) -> Option<&BoxRef> {
        self.boxes.iter().find(|b| b.name() == name)
    }

    /// The listed boxes, in the order listed.
    pub fn iter(&self) -> impl Iterator<Item = &BoxRef> {
        self.boxes.iter()
    }
}

/// Lists boxes in [`Component::boxes`](crate::axon::Component::boxes):
/// `boxes!(set; self.inbox, self.control, self.outbox, self.signal)`.
#[macro_export]
macro_rules! boxes {
    ($set:expr; $($b:expr),* $(,)?) => {{
        $( $set.add(&$b); )*
    }};
}
