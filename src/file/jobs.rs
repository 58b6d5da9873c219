//! The shared engine of the components that do one request per step, whole
//! (`PromptedFileReader`, `TriggeredFileReader`, `WholeFileWriter`), so
//! they share one set of back-pressure and shutdown rules:
//!
//! * `Shutdown` on `control`: the component ends at once;
//! * `ProducerFinished` (or `Failed`): the requests already waiting are
//!   done first, then it ends with that signal;
//! * a result refused by a full destination is kept, and no request is
//!   taken until the consumer takes one.

use crate::axon::{Full, Inbox, Outbox, Signal, Step};

/// What [`Jobs::run`] asks of its component.
pub(crate) enum Turn {
    /// Return this from `step`.
    Go(Step),
    /// Close what it holds, send this on `signal`, and end.
    End(Signal),
}

pub(crate) struct Jobs<O> {
    held: Option<O>,
    finishing: Option<Signal>,
}

impl<O> Jobs<O> {
    pub(crate) fn new() -> Self {
        Jobs {
            held: None,
            finishing: None,
        }
    }

    /// Reads every waiting control message: `Some(Shutdown)` to end at once;
    /// a finishing signal is kept (the first one wins) for [`Jobs::run`].
    pub(crate) fn control(&mut self, control: &Inbox<Signal>) -> Option<Signal> {
        while let Some(sig) = control.recv() {
            if sig.is_shutdown() {
                return Some(sig);
            }
            self.finishing.get_or_insert(sig);
        }
        None
    }

    /// Sends the kept result, then does one request with `job`: `Ok(Some)`
    /// is sent, `Ok(None)` sends nothing, `Err(sig)` ends the component.
    pub(crate) fn run<I>(
        &mut self,
        inbox: &Inbox<I>,
        outbox: &Outbox<O>,
        job: impl FnOnce(I) -> Result<Option<O>, Signal>,
    ) -> Turn {
        if let Some(out) = self.held.take() {
            if let Err(Full(out)) = outbox.send(out) {
                self.held = Some(out);
                return Turn::Go(Step::Pause);
            }
        }
        if let Some(req) = inbox.recv() {
            match job(req) {
                Ok(Some(out)) => {
                    if let Err(Full(out)) = outbox.send(out) {
                        self.held = Some(out);
                    }
                }
                Ok(None) => {}
                Err(sig) => return Turn::End(sig),
            }
        }
        if self.held.is_some() || !inbox.is_empty() {
            // Requests still waiting keep it runnable, unless a send was
            // refused: then it sleeps until the consumer takes one.
            return Turn::Go(Step::Pause);
        }
        match self.finishing.take() {
            Some(sig) => Turn::End(sig),
            None => Turn::Go(Step::Pause),
        }
    }
}
