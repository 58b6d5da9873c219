//! The `Component` trait and the default set of boxes.

use super::boxes::{BoxSet, Inbox, Outbox};
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
    /// The four default boxes.
    pub fn new() -> Self {
        DefaultBoxes {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
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
