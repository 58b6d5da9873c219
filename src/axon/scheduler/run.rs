//! The run loop: rounds of steps, and the wait for events between them
//! when nothing is runnable. Start reading here.

use std::ptr::NonNull;
use std::time::{Duration, Instant};

use crate::axon::component::Component;
use crate::axon::cx::Cx;
use crate::axon::proc::{Id, Proc, Task, F_HOLD, F_REWAKE, QUEUED, RUNNING, SLEEPING};
use crate::axon::signal::Step;

use super::lifecycle::{take_component, unerase};
use super::timers::Clock;
use super::{Ended, ExitKind, Inner, StepResult};

/// While busy, look at sockets and threads every this many rounds.
const POLL_EVERY_ROUNDS: u32 = 16;

/// What ended a wait for events.
pub(super) enum Wait {
    /// Some component was woken.
    Woken,
    /// The time given came.
    Until,
    /// Nothing (no timer, socket or thread) can ever wake anything.
    Nothing,
}

impl Inner {
    /// Whether some component is queued to run.
    pub(super) fn has_runnable(&self) -> bool {
        self.cursor < self.current.len() || !self.next_run.is_empty() || !self.core.woken.is_empty()
    }

    pub(super) fn begin_round(&mut self) -> bool {
        self.service_events_between_rounds();
        self.current.clear();
        std::mem::swap(&mut self.current, &mut self.next_run);
        {
            self.core.woken.drain_into(&mut self.current);
            let keep = self.reserved;
            self.core.woken.with(|w| shrink_idle(w, keep));
        }
        shrink_idle(&mut self.next_run, self.reserved);
        self.cursor = 0;
        if self.current.is_empty() {
            shrink_idle(&mut self.current, self.reserved);
            return false;
        }
        self.round += 1;
        self.stats.rounds += 1;
        if !self.ended_queued.is_empty() {
            // An entry queued in round r is passed by the end of round r+1.
            let round = self.round;
            self.ended_queued.retain(|(r, _)| r + 2 > round);
        }
        true
    }

    pub(crate) fn step_one(&mut self) -> Option<(Id, StepResult)> {
        loop {
            if self.cursor >= self.current.len() && !self.begin_round() {
                return None;
            }
            let task = self.current[self.cursor];
            self.cursor += 1;
            // SAFETY: a queued task is live (see `Task`).
            let id = unsafe { task.as_ref() }.id;
            if let Some(r) = self.run_component(task) {
                return Some((id, r));
            }
        }
    }

    /// Runs one step of a queued component.
    #[inline]
    pub(super) fn run_component(&mut self, task: Task) -> Option<StepResult> {
        self.stats.steps += 1;
        if self.careful {
            self.step_slow(task)
        } else {
            self.step_fast(task)
        }
    }

    /// A step without tracing or panic catching. The common case (the
    /// component yields or pauses) stays in this small function.
    #[inline(always)]
    pub(super) fn step_fast(&mut self, task: Task) -> Option<StepResult> {
        // SAFETY: a queued task is live (see `Task`), and stays so for the
        // whole step: its slot is replaced only after it has finished.
        let proc: &Proc = unsafe { task.as_ref() };
        let Some(comp) = self.begin_step(proc) else {
            return self.skip_ended();
        };
        // SAFETY: the component is borrowed only here while it runs; every
        // other reader (`component_of`) skips a running component, and it
        // is freed only after its step, in `finish` or `stop_all`.
        let step = unsafe { &mut *comp.as_ptr() }.step(&mut Cx {
            inner: self,
            me: proc.id,
            proc,
        });
        match self.settle(task, proc, step) {
            Some(r) => Some(r),
            None => {
                self.finish(proc.id, take_component(proc), ExitKind::Finished);
                Some(StepResult::Done)
            }
        }
    }

    /// A run-queue entry of a component that ended in a hand-off: not a
    /// step, so not counted as one (the caller counted it).
    #[cold]
    pub(super) fn skip_ended(&mut self) -> Option<StepResult> {
        self.stats.steps -= 1;
        None
    }

    /// Marks a queued component running; returns the component.
    #[inline(always)]
    pub(super) fn begin_step(&mut self, proc: &Proc) -> Option<NonNull<dyn Component>> {
        // No component: it ended in a hand-off step after it was queued
        // (see `hand_off`); this entry is its last trace.
        let comp = unerase(proc.comp.get()?);
        // Every other task in the run queue is a live, queued component: it
        // is queued only on a SLEEPING -> QUEUED wake or after its own step.
        debug_assert!(
            proc.state.get() == QUEUED,
            "{:?} queued twice or dead",
            proc.id
        );
        // F_REWAKE and F_HOLD are clear: `settle` cleared them after the
        // last step, and only a running component gets them set.
        debug_assert!(!proc.has(F_REWAKE | F_HOLD));
        proc.state.set(RUNNING);
        Some(comp)
    }

    /// Queues or sleeps a component after a step that did not end it;
    /// `None` if it returned `Done`.
    #[inline(always)]
    pub(super) fn settle(&mut self, task: Task, proc: &Proc, step: Step) -> Option<StepResult> {
        // This step's hold and re-wake are used up here.
        let flags = proc.flags.get();
        proc.flags.set(flags & !(F_REWAKE | F_HOLD));
        match step {
            Step::Yield => {
                proc.state.set(QUEUED);
                self.next_run.push(task);
                Some(StepResult::Yield)
            }
            Step::Pause => {
                let input_waiting = proc.pending.get() > 0 && flags & F_HOLD == 0;
                if input_waiting || flags & F_REWAKE != 0 {
                    proc.state.set(QUEUED);
                    self.next_run.push(task);
                    Some(StepResult::Pause)
                } else {
                    proc.state.set(SLEEPING);
                    Some(StepResult::Sleep)
                }
            }
            Step::Done => None,
        }
    }

    /// Runs until the system ends (`Some(how)`) or, given `until`, until
    /// that time has come (`None`), blocking in the poll meanwhile.
    pub(super) fn run_until(&mut self, until: Option<Instant>) -> Option<Ended> {
        loop {
            if self.stop {
                self.stop_all();
                self.stop = false;
                return Some(Ended::Stopped);
            }
            if self.live == 0 {
                return Some(Ended::Completed);
            }
            if until.is_some_and(|t| self.now() >= t) {
                return None;
            }
            if self.cursor < self.current.len() || self.begin_round() {
                // The rest of this round, without coming back out per step;
                // the careful/fast choice is made once for the round.
                if self.careful {
                    self.run_rest_of_round(Self::step_slow);
                } else {
                    self.run_rest_of_round(Self::step_fast);
                }
                continue;
            }
            match self.wait_for_events(until) {
                Wait::Woken => {}
                Wait::Until => return None,
                Wait::Nothing if self.live == 0 => {}
                Wait::Nothing => return Some(Ended::Stalled(self.sleepers())),
            }
        }
    }

    /// Runs the rest of the current round with `step`; counts the steps
    /// once for the round.
    #[inline(always)]
    pub(super) fn run_rest_of_round(
        &mut self,
        step: impl Fn(&mut Self, Task) -> Option<StepResult>,
    ) {
        let first = self.cursor;
        while self.cursor < self.current.len() && !self.stop {
            let task = self.current[self.cursor];
            self.cursor += 1;
            step(self, task);
        }
        self.stats.steps += (self.cursor - first) as u64;
    }

    pub(super) fn has_wake_sources(&self) -> bool {
        self.io_live > 0 || self.remote_in_use() || !self.timers.is_empty()
    }

    /// Blocks until something wakes a component, `until` comes, or it is
    /// clear that nothing can ever wake one.
    pub(super) fn wait_for_events(&mut self, until: Option<Instant>) -> Wait {
        loop {
            self.drain_remote();
            if !self.core.woken.is_empty() {
                return Wait::Woken;
            }
            if !self.has_wake_sources() {
                return Wait::Nothing;
            }
            if until.is_some_and(|t| self.now() >= t) {
                return Wait::Until;
            }
            let outside = self.io_live > 0 || self.remote_in_use();
            let deadline = match (self.timers.next_deadline(), until) {
                (Some(d), Some(u)) => Some(d.min(u)),
                (d, u) => d.or(u),
            };
            match self.clock {
                Clock::Virtual { .. } => {
                    if outside && self.poll_events(Some(Duration::ZERO)) {
                        return Wait::Woken;
                    }
                    if let Some(d) = deadline {
                        if let Clock::Virtual { base, offset } = &mut self.clock {
                            let target = d.saturating_duration_since(*base);
                            if target > *offset {
                                *offset = target;
                            }
                        }
                        self.fire_timers();
                    } else {
                        self.stats.waits += 1;
                        self.poll_events(None);
                    }
                }
                Clock::Real => {
                    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    self.stats.waits += 1;
                    self.poll_events(timeout);
                    self.fire_timers();
                }
            }
        }
    }

    pub(super) fn service_events_between_rounds(&mut self) {
        if !self.timers.is_empty() {
            self.fire_timers();
        }
        self.drain_remote();
        if self.io_live > 0 {
            self.rounds_since_poll += 1;
            if self.rounds_since_poll >= POLL_EVERY_ROUNDS {
                self.poll_events(Some(Duration::ZERO));
            }
        }
    }
}

/// Gives back memory of run queues that once held many entries.
pub(super) fn shrink_idle(v: &mut Vec<Task>, keep: usize) {
    if v.capacity() > 4096.max(keep) && v.len() < v.capacity() / 8 {
        v.shrink_to(v.len().max(1024).max(keep));
    }
}
