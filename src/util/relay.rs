//! The shared engine of the one-in, at-most-one-out components
//! (PureTransformer, Detuple, PassThrough, ChunkNamer, TriggeredSource,
//! Marshaller, DeMarshaller, Chooser, ForwardIteratingChooser), and the
//! small helpers the other components of this module share.
//!
//! A [`Relay`] keeps the one message a full destination refused and the
//! finishing signal that arrived while input was still waiting, so every
//! component built on it has the same back-pressure and shutdown rules:
//!
//! * a refused send keeps the message; the component stops reading input
//!   and sleeps until the consumer takes one (nothing dropped or reordered);
//! * `Shutdown` on `control`: forwarded on `signal`, ends at once;
//! * `ProducerFinished` (or `Failed`): the input already waiting is
//!   processed and sent first, then the signal is forwarded and it ends.

use crate::axon::{Full, Inbox, Outbox, Signal, Step};

/// Most messages a component handles in one step before yielding, so one
/// busy component cannot hold the scheduler for long.
pub(crate) const BATCH: usize = 256;

/// Reads every waiting control message. A `Shutdown` is forwarded on
/// `signal` at once and true returned (the caller ends); a finishing
/// signal is remembered in `finishing` (the first one wins) for the caller
/// to act on once its input is drained.
pub(crate) fn shutdown_now(
    control: &Inbox<Signal>,
    finishing: &mut Option<Signal>,
    signal: &Outbox<Signal>,
) -> bool {
    while let Some(sig) = control.recv() {
        if sig.is_shutdown() {
            let _ = signal.send(sig);
            return true;
        }
        if finishing.is_none() {
            *finishing = Some(sig);
        }
    }
    false
}

/// Sends `m`, or keeps it in `held` if the destination is full. Returns
/// false if it was kept: the refusal makes the scheduler hold the caller's
/// input until the consumer takes a message, so the caller returns `Pause`.
pub(crate) fn send_or_hold<T>(outbox: &Outbox<T>, m: T, held: &mut Option<T>) -> bool {
    match outbox.send(m) {
        Ok(()) => true,
        Err(Full(m)) => {
            *held = Some(m);
            false
        }
    }
}

/// Sends the message kept from a refused send, if any. Returns false (and
/// keeps it) if it is refused again.
pub(crate) fn flush_held<T>(held: &mut Option<T>, outbox: &Outbox<T>) -> bool {
    match held.take() {
        None => true,
        Some(m) => send_or_hold(outbox, m, held),
    }
}

/// One destination of a copy-to-many (Fanout, Par, Backplane): its outbox
/// and the copy it refused, if any. A copier takes no more input while any
/// copy is held, so one slot per destination is all it needs.
pub(crate) struct Copy<T: 'static> {
    pub(crate) out: Outbox<T>,
    held: Option<T>,
}

impl<T: 'static> Copy<T> {
    pub(crate) fn new(out: Outbox<T>) -> Self {
        Copy { out, held: None }
    }

    fn offer(&mut self, m: T) -> bool {
        send_or_hold(&self.out, m, &mut self.held)
    }

    fn flush(&mut self) -> bool {
        flush_held(&mut self.held, &self.out)
    }
}

/// Sends each destination its refused copy again; true if none is held now.
pub(crate) fn flush_all<'a, T: 'static>(dests: impl Iterator<Item = &'a mut Copy<T>>) -> bool {
    let mut clear = true;
    for d in dests {
        clear &= d.flush();
    }
    clear
}

/// Sends `m` to every destination (a clone to each but the last, which gets
/// `m` itself); true if every one took it.
pub(crate) fn copy_to_all<'a, T: Clone + 'static>(
    dests: impl ExactSizeIterator<Item = &'a mut Copy<T>>,
    m: T,
) -> bool {
    let last = dests.len().saturating_sub(1);
    let mut m = Some(m);
    let mut clear = true;
    for (i, d) in dests.enumerate() {
        let copy = if i == last {
            m.take().expect("the last gets the message itself")
        } else {
            m.clone().expect("not yet given away")
        };
        clear &= d.offer(copy);
    }
    clear
}

/// The end of a step that read at most a batch: `Yield` if input is left,
/// else `Done` after forwarding the finishing signal if there is one, else
/// `Pause`.
pub(crate) fn finish_or_pause<I>(
    inbox: &Inbox<I>,
    finishing: &mut Option<Signal>,
    signal: &Outbox<Signal>,
) -> Step {
    if !inbox.is_empty() {
        return Step::Yield;
    }
    if let Some(sig) = finishing.take() {
        let _ = signal.send(sig);
        return Step::Done;
    }
    Step::Pause
}

/// One message in, at most one out; see the module documentation.
pub(crate) struct Relay<O> {
    held: Option<O>,
    finishing: Option<Signal>,
}

impl<O> Relay<O> {
    pub(crate) fn new() -> Self {
        Relay {
            held: None,
            finishing: None,
        }
    }

    /// Reads `control` as a step does: true (after forwarding it) on a
    /// `Shutdown`, for a component that must not start anything then.
    pub(crate) fn shutdown_now(
        &mut self,
        control: &Inbox<Signal>,
        signal: &Outbox<Signal>,
    ) -> bool {
        shutdown_now(control, &mut self.finishing, signal)
    }

    /// Makes `m` the first message out, sent at the start of the next step
    /// (unless a `Shutdown` comes first), before any input is read.
    pub(crate) fn send_first(&mut self, m: O) {
        debug_assert!(self.held.is_none());
        self.held = Some(m);
    }

    /// One step: `f` turns each input into an output, or `None` to drop it.
    pub(crate) fn step<I>(
        &mut self,
        inbox: &Inbox<I>,
        control: &Inbox<Signal>,
        outbox: &Outbox<O>,
        signal: &Outbox<Signal>,
        mut f: impl FnMut(I) -> Option<O>,
    ) -> Step {
        self.step_or_end(inbox, control, outbox, signal, |m| Ok(f(m)))
    }

    /// Like [`Relay::step`], but `f` may also end the component: `Err(sig)`
    /// sends `sig` on `signal` and ends it, leaving the rest of the input.
    pub(crate) fn step_or_end<I>(
        &mut self,
        inbox: &Inbox<I>,
        control: &Inbox<Signal>,
        outbox: &Outbox<O>,
        signal: &Outbox<Signal>,
        mut f: impl FnMut(I) -> Result<Option<O>, Signal>,
    ) -> Step {
        if shutdown_now(control, &mut self.finishing, signal) {
            return Step::Done;
        }
        if !flush_held(&mut self.held, outbox) {
            return Step::Pause;
        }
        for _ in 0..BATCH {
            let Some(m) = inbox.recv() else { break };
            match f(m) {
                Ok(None) => {}
                Ok(Some(out)) => {
                    if !send_or_hold(outbox, out, &mut self.held) {
                        return Step::Pause;
                    }
                }
                Err(sig) => {
                    let _ = signal.send(sig);
                    return Step::Done;
                }
            }
        }
        finish_or_pause(inbox, &mut self.finishing, signal)
    }
}

/// Two inboxes in, one message out per pair (TwoSourceListifier,
/// Comparator). Input waits in the inboxes until its partner arrives (held
/// back on purpose, so it is not spun on, and bounded inboxes keep pushing
/// back on their producers); control and back-pressure as for [`Relay`].
/// On a finishing signal the pairs that can be made are sent, then it ends;
/// messages without a partner stay in their inbox and are counted as
/// undelivered.
pub(crate) struct Pairer<O> {
    held: Option<O>,
    finishing: Option<Signal>,
}

impl<O> Pairer<O> {
    pub(crate) fn new() -> Self {
        Pairer {
            held: None,
            finishing: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step<A, B>(
        &mut self,
        cx: &mut crate::axon::Cx,
        a: &Inbox<A>,
        b: &Inbox<B>,
        control: &Inbox<Signal>,
        outbox: &Outbox<O>,
        signal: &Outbox<Signal>,
        mut f: impl FnMut(A, B) -> O,
    ) -> Step {
        if shutdown_now(control, &mut self.finishing, signal) {
            return Step::Done;
        }
        if !flush_held(&mut self.held, outbox) {
            return Step::Pause;
        }
        for _ in 0..BATCH {
            if a.is_empty() || b.is_empty() {
                break;
            }
            let (Some(x), Some(y)) = (a.recv(), b.recv()) else {
                unreachable!("both inboxes were checked non-empty")
            };
            if !send_or_hold(outbox, f(x, y), &mut self.held) {
                return Step::Pause;
            }
        }
        if !a.is_empty() && !b.is_empty() {
            return Step::Yield;
        }
        if let Some(sig) = self.finishing.take() {
            let _ = signal.send(sig);
            return Step::Done;
        }
        if !a.is_empty() || !b.is_empty() {
            // One side waits for its partner: sleep until a delivery.
            cx.hold_input();
        }
        Step::Pause
    }
}
