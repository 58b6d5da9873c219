//! Helpers shared by the integration tests: small scripted components and
//! trace helpers.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use kamaelia::axon::{BoxSet, Component, Cx, DefaultBoxes, Full, Step, StepResult, TraceEntry};

/// The default boxes with `u32` data.
pub type Io = DefaultBoxes<u32, u32>;

/// Shared, mutable test state.
pub type Shared<T> = Rc<RefCell<T>>;

pub fn shared<T>(v: T) -> Shared<T> {
    Rc::new(RefCell::new(v))
}

type StepFn = Box<dyn FnMut(&Io, &mut Cx<'_>) -> Step>;

/// A component whose step is a closure over its four default boxes.
pub struct Script {
    name: String,
    pub io: Io,
    f: StepFn,
    drops: Option<Rc<Cell<u32>>>,
}

impl Script {
    pub fn new(name: &str, f: impl FnMut(&Io, &mut Cx<'_>) -> Step + 'static) -> Self {
        Script {
            name: name.to_string(),
            io: Io::new(),
            f: Box::new(f),
            drops: None,
        }
    }

    /// Counts this component's drop in `c`.
    pub fn counting_drops(mut self, c: &Rc<Cell<u32>>) -> Self {
        self.drops = Some(c.clone());
        self
    }
}

impl Component for Script {
    fn step(&mut self, cx: &mut Cx<'_>) -> Step {
        (self.f)(&self.io, cx)
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.io.list(set)
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(c) = &self.drops {
            c.set(c.get() + 1);
        }
    }
}

/// Returns `seq` in order, then `Done`.
pub fn steps(name: &str, seq: &[Step]) -> Script {
    let seq = seq.to_vec();
    let mut next = 0;
    Script::new(name, move |_, _| {
        next += 1;
        seq.get(next - 1).copied().unwrap_or(Step::Done)
    })
}

/// Pauses on every step and never reads anything.
pub fn sleeper(name: &str) -> Script {
    Script::new(name, |_, _| Step::Pause)
}

/// Takes up to `per_step` messages a step into `got`; ends on a control
/// message once its inbox is empty.
pub fn taker(name: &str, per_step: usize, got: &Shared<Vec<u32>>) -> Script {
    let got = got.clone();
    Script::new(name, move |io, _| {
        for _ in 0..per_step {
            match io.inbox.recv() {
                Some(v) => got.borrow_mut().push(v),
                None => break,
            }
        }
        if io.inbox.is_empty() && io.control.recv().is_some() {
            return Step::Done;
        }
        Step::Pause
    })
}

/// Forwards `inbox` to `outbox`, keeping a refused message until there is
/// room; ends on a control message once everything is passed on.
pub fn relay(name: &str) -> Script {
    let mut held: Option<u32> = None;
    Script::new(name, move |io, _| {
        loop {
            let m = match held.take() {
                Some(m) => m,
                None => match io.inbox.recv() {
                    Some(m) => m,
                    None => break,
                },
            };
            if let Err(Full(m)) = io.outbox.send(m) {
                held = Some(m);
                return Step::Pause;
            }
        }
        if io.control.recv().is_some() {
            return Step::Done;
        }
        Step::Pause
    })
}

/// A trace as `(round, name, result)` triples.
pub fn trace_of(entries: &[TraceEntry]) -> Vec<(u64, String, StepResult)> {
    entries
        .iter()
        .map(|e| (e.round, e.name.clone(), e.result))
        .collect()
}

/// Builds an expected trace.
pub fn tr(v: &[(u64, &str, StepResult)]) -> Vec<(u64, String, StepResult)> {
    v.iter().map(|(r, n, s)| (*r, n.to_string(), *s)).collect()
}
