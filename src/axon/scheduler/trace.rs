//! The careful steps: traced, panic-catching, and hand-off steps
//! ([`Cx::run_receiver`](crate::axon::Cx::run_receiver)), kept off the fast path.

use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;

use crate::axon::component::Component;
use crate::axon::cx::Cx;
use crate::axon::proc::{Id, Proc, ProcRc, Task, F_HOLD, F_REWAKE, QUEUED, RUNNING};
use crate::axon::signal::Step;

use super::lifecycle::take_component;
use super::{ExitKind, Inner, StepResult, TraceEntry};

impl Inner {
    /// A step with tracing and, if asked for, panics caught.
    #[cold]
    #[inline(never)]
    pub(super) fn step_slow(&mut self, task: Task) -> Option<StepResult> {
        // SAFETY: as in `step_fast`: a queued task is live (see `Task`).
        let proc: &Proc = unsafe { task.as_ref() };
        let id = proc.id;
        let Some(comp) = self.begin_step(proc) else {
            return self.skip_ended();
        };
        // SAFETY: as in `step_fast`: the component is borrowed only here
        // while it runs (state RUNNING, so `component_of` skips it), and
        // freed only after its step.
        let outcome = self.careful_step(id, proc, unsafe { &mut *comp.as_ptr() });
        let result = match &outcome {
            Ok(step) => self.settle(task, proc, *step).unwrap_or(StepResult::Done),
            Err(_) => StepResult::Panicked,
        };
        self.close_step(proc, comp, outcome, result);
        Some(result)
    }

    /// After a careful or hand-off step: traces it (if tracing), and
    /// removes the component if it ended or panicked.
    pub(super) fn close_step(
        &mut self,
        proc: &Proc,
        comp: NonNull<dyn Component>,
        outcome: std::thread::Result<Step>,
        result: StepResult,
    ) {
        let id = proc.id;
        // SAFETY: the step is over and the component not yet freed; this
        // borrow ends before `take_component` below.
        let name = || unsafe { comp.as_ref() }.name().to_string();
        if let Some(t) = self.trace.as_mut() {
            t.push(TraceEntry {
                round: self.round,
                id,
                name: name(),
                result,
            });
        }
        match outcome {
            Ok(Step::Done) => self.finish(id, take_component(proc), ExitKind::Finished),
            Err(payload) => {
                let msg = panic_message(&*payload);
                log::error!("component {}{id} panicked: {msg}; removed", name());
                self.stats.panicked += 1;
                self.finish(id, take_component(proc), ExitKind::Panicked(msg));
            }
            Ok(_) => {}
        }
    }

    /// A step with panics caught (if asked for); traced steps come here too.
    #[cold]
    #[inline(never)]
    pub(super) fn careful_step(
        &mut self,
        id: Id,
        proc: &Proc,
        comp: &mut dyn Component,
    ) -> std::thread::Result<Step> {
        let mut cx = Cx {
            inner: self,
            me: id,
            proc,
        };
        if cx.inner.immortal {
            panic::catch_unwind(AssertUnwindSafe(|| comp.step(&mut cx)))
        } else {
            Ok(comp.step(&mut cx))
        }
    }

    /// Runs one step of `proc`, a queued component, now, inside the step
    /// of the component that asked (see [`Cx::run_receiver`]); true if it
    /// ran. Its run-queue entry stays where it is, so it keeps its turn
    /// in the round too (where it may find nothing to do). If it ends
    /// here, its proc is kept until that entry has been passed.
    pub(crate) fn hand_off(&mut self, proc: &ProcRc) -> bool {
        if self.handing_off || proc.state.get() != QUEUED || !Rc::ptr_eq(&proc.core, &self.core) {
            return false;
        }
        let Some(comp) = self.begin_step(proc) else {
            return false;
        };
        self.handing_off = true;
        self.stats.steps += 1;
        self.stats.hand_offs += 1;
        let id = proc.id;
        let outcome = if self.careful {
            // SAFETY: as in `step_fast`: `begin_step` set it RUNNING, so no
            // other borrow of it is made while this one lives (and no
            // hand-off nests, so it is not already running), and it is
            // freed only after this step.
            self.careful_step(id, proc, unsafe { &mut *comp.as_ptr() })
        } else {
            // SAFETY: as in `step_fast`: the component is borrowed only
            // here while it runs, and freed only after its step.
            Ok(unsafe { &mut *comp.as_ptr() }.step(&mut Cx {
                inner: self,
                me: id,
                proc,
            }))
        };
        self.handing_off = false;
        // It is still in a run queue: whatever it asked for, it stays
        // queued (a wake it got while running is covered by that entry).
        proc.flags.set(proc.flags.get() & !(F_REWAKE | F_HOLD));
        let result = match &outcome {
            Ok(Step::Yield) => StepResult::Yield,
            Ok(Step::Pause) => StepResult::Pause,
            Ok(Step::Done) => StepResult::Done,
            Err(_) => StepResult::Panicked,
        };
        if matches!(result, StepResult::Done | StepResult::Panicked) {
            // Its queue entry outlives it: keep the proc for that entry.
            self.ended_queued.push((self.round, proc.clone()));
        } else {
            proc.state.set(QUEUED);
        }
        self.close_step(proc, comp, outcome, result);
        true
    }

    /// Runs `f`, which runs steps. Without [`Scheduler::immortalise`] a
    /// component's panic propagates to the caller; before it does, every
    /// component whose step it unwound (the one that panicked and, in a
    /// hand-off, the one that handed off) ends as panicked, as a caught
    /// panic ends one, so a caller that catches it finds the scheduler
    /// whole. One `catch_unwind` per call, not per step.
    ///
    /// [`Scheduler::immortalise`]: super::Scheduler::immortalise
    pub(super) fn ending_unwound_steps<R>(&mut self, f: impl FnOnce(&mut Inner) -> R) -> R {
        match panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(r) => r,
            Err(payload) => {
                self.end_unwound(&*payload);
                panic::resume_unwind(payload)
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn end_unwound(&mut self, payload: &(dyn std::any::Any + Send)) {
        self.handing_off = false;
        let msg = panic_message(payload);
        let unwound: Vec<ProcRc> = self
            .slots
            .iter()
            .filter(|p| p.state.get() == RUNNING && p.comp.get().is_some())
            .cloned()
            .collect();
        for proc in unwound {
            let id = proc.id;
            let comp = take_component(&proc);
            log::error!("component {}{id} panicked: {msg}; removed", comp.name());
            self.stats.panicked += 1;
            // One that ran in a hand-off still has a run-queue entry: keep
            // its proc until that entry has been passed (as `hand_off` does).
            self.ended_queued.push((self.round, proc));
            self.finish(id, comp, ExitKind::Panicked(msg.clone()));
        }
    }
}

pub(super) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
