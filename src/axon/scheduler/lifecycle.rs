//! A component's life in the scheduler: spawning it, removing it when it
//! finishes or panics, stopping everything, and the parent/child records.

use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;

use crate::axon::boxes::bump_epoch;
use crate::axon::component::{BoxSet, Component};
use crate::axon::proc::{ErasedComp, Id, Proc, DEAD, NO_NAME, RUNNING, SLEEPING};

use super::trace::panic_message;
use super::{Exit, ExitKind, Inner};

impl Inner {
    pub(crate) fn spawn(&mut self, comp: Box<dyn Component>, parent: Option<Id>) -> Id {
        let id = match self.free.pop() {
            Some(index) => {
                let gen = self.slots[index as usize].id.gen.wrapping_add(1);
                Id { index, gen }
            }
            None => {
                let index = u32::try_from(self.slots.len()).expect("too many components");
                Id { index, gen: 0 }
            }
        };
        let proc = Proc::new(id, self.core.clone());
        let mut set = BoxSet::default();
        comp.boxes(&mut set);
        let names: Vec<String> = if set.adaptive.is_empty() {
            Vec::new()
        } else {
            set.boxes.iter().map(|b| b.name().to_string()).collect()
        };
        for b in &set.boxes {
            if let Err(other) = b.0.attach(&proc) {
                log::error!(
                    "{}{id}: box '{}' already belongs to {other}; not attached",
                    comp.name(),
                    b.name()
                );
            }
        }
        for a in &set.adaptive {
            a.bind(&proc, names.clone());
        }
        proc.name.set(self.intern_name(comp.name()));
        proc.comp.set(Some(erase(NonNull::from(Box::leak(comp)))));
        // Activation is a wake: the component runs from the next round.
        self.core.woken.push(NonNull::from(&*proc));
        if (id.index as usize) < self.slots.len() {
            self.slots[id.index as usize] = proc;
        } else {
            self.slots.push(proc);
        }
        self.live += 1;
        self.stats.spawned += 1;
        if let Some(p) = parent {
            self.parents.insert(id, p);
            self.children.entry(p).or_default().0.push(id);
        }
        id
    }

    /// Removes a finished component: cuts its links, counts what it left
    /// undelivered, tells its parent.
    #[cold]
    #[inline(never)]
    pub(super) fn finish(&mut self, id: Id, comp: Box<dyn Component>, how: ExitKind) {
        // The name is asked of the component only when something uses it
        // (a log line, a parent's exit record): most exits need none.
        let mut set = BoxSet::default();
        comp.boxes(&mut set);
        for b in &set.boxes {
            let left = b.0.close();
            if left > 0 {
                self.stats.undelivered += left as u64;
                log::warn!(
                    "{}{id} finished with {left} message(s) undelivered in '{}'",
                    comp.name(),
                    b.name()
                );
            }
        }
        self.release_name(id);
        let proc = self.slots[id.index as usize].clone();
        proc.state.set(DEAD);
        proc.wake_waiters();
        self.release_io_of(id);
        let gone: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| s.component == id)
            .map(|(n, _)| n.clone())
            .collect();
        for n in gone {
            self.services.remove(&n);
        }
        self.free.push(id.index);
        self.live -= 1;
        self.stats.finished += 1;
        if let Some((kids, _)) = self.children.remove(&id) {
            for k in kids {
                self.parents.remove(&k);
            }
        }
        self.exits.remove(&id);
        if let Some(parent) = self.parents.remove(&id) {
            let slots = &self.slots;
            if let Some((kids, dead)) = self.children.get_mut(&parent) {
                *dead += 1;
                if *dead * 2 > kids.len() {
                    *dead = 0;
                    kids.retain(|k| {
                        slots
                            .get(k.index as usize)
                            .is_some_and(|p| p.id == *k && p.state.get() != DEAD)
                    });
                }
            }
            if self.is_alive(parent) {
                self.exits.entry(parent).or_default().push_back(Exit {
                    id,
                    name: comp.name().to_string(),
                    how,
                });
                self.wake(parent);
            }
        }
        drop(set);
        if self.immortal {
            // Taken before the drop, for the message: a dropped component
            // cannot be asked (this costs only the exits of immortal runs).
            let name = comp.name().to_string();
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(comp))) {
                log::error!(
                    "{name}{id} panicked while being dropped: {}",
                    panic_message(&*p)
                );
            }
        } else {
            drop(comp);
        }
    }

    pub(super) fn sleepers(&self) -> Vec<(Id, String)> {
        self.slots
            .iter()
            .filter(|p| p.state.get() == SLEEPING)
            .map(|p| {
                let name = self
                    .component_of(p)
                    .map(|c| c.name().to_string())
                    .unwrap_or_default();
                (p.id, name)
            })
            .collect()
    }

    pub(super) fn stop_all(&mut self) {
        for i in 0..self.slots.len() {
            let proc = self.slots[i].clone();
            if proc.comp.get().is_none() {
                continue;
            }
            let comp = take_component(&proc);
            let mut set = BoxSet::default();
            comp.boxes(&mut set);
            for b in &set.boxes {
                b.0.close();
            }
            proc.state.set(DEAD);
            self.release_name(proc.id);
            self.live -= 1;
            drop(set);
            drop(comp);
        }
        bump_epoch();
        self.current.clear();
        self.next_run.clear();
        self.core.woken.with(Vec::clear);
        self.ended_queued.clear();
    }

    pub(crate) fn next_exit(&mut self, parent: Id) -> Option<Exit> {
        let q = self.exits.get_mut(&parent)?;
        let e = q.pop_front();
        if q.is_empty() {
            self.exits.remove(&parent);
        }
        e
    }

    pub(crate) fn children_of(&self, parent: Id) -> Vec<Id> {
        self.children
            .get(&parent)
            .map(|(v, _)| v.iter().copied().filter(|k| self.is_alive(*k)).collect())
            .unwrap_or_default()
    }

    /// The number of a component's name in the name table, counting one
    /// more user of it; `NO_NAME` once 65,535 distinct names are in use.
    fn intern_name(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.name_index.get(name) {
            self.names[i as usize].1 += 1;
            return i;
        }
        let i = match self.names_free.pop() {
            Some(i) => i,
            None if self.names.len() < NO_NAME as usize => {
                self.names.push((Rc::from(""), 0));
                (self.names.len() - 1) as u16
            }
            None => return NO_NAME,
        };
        let n: Rc<str> = Rc::from(name);
        self.names[i as usize] = (n.clone(), 1);
        self.name_index.insert(n, i);
        i
    }

    /// Lets go of a finished component's name (and of the table's entry,
    /// if it was the last component of that name).
    fn release_name(&mut self, id: Id) {
        let proc = &self.slots[id.index as usize];
        let i = proc.name.replace(NO_NAME);
        if i == NO_NAME {
            return;
        }
        let entry = &mut self.names[i as usize];
        entry.1 -= 1;
        if entry.1 == 0 {
            let n = std::mem::replace(&mut entry.0, Rc::from(""));
            self.name_index.remove(&*n);
            self.names_free.push(i);
        }
    }

    /// The name a component had when it was spawned: all there is to know
    /// of one that is running (it is borrowed by its step, so it cannot be
    /// asked), as the caller of `Cx::snapshot` is. Empty if the table was
    /// full when it was spawned.
    pub(super) fn spawn_name(&self, id: Id) -> String {
        let i = self.slots[id.index as usize].name.get();
        if i == NO_NAME {
            return String::new();
        }
        self.names[i as usize].0.to_string()
    }

    /// The component of `p`, a proc in `slots`, if it is not running, to
    /// look at (`None` while it runs or once it has finished).
    pub(super) fn component_of<'a>(&'a self, p: &'a Proc) -> Option<&'a dyn Component> {
        if p.state.get() == RUNNING {
            return None;
        }
        let c = unerase(p.comp.get()?);
        // SAFETY: `c` came from `Box::leak` in `spawn` and is freed only by
        // `take_component`, which empties `p.comp` first, so it is live.
        // Only a running component is borrowed mutably (by its step), and
        // `p` is not running; the borrow is tied to `&self`, and every path
        // that steps or frees a component takes `&mut self`.
        Some(unsafe { &*c.as_ptr() })
    }
}

/// Erases a component pointer for its proc to hold (see [`ErasedComp`]).
pub(super) fn erase(c: NonNull<dyn Component>) -> ErasedComp {
    // SAFETY: a bitwise copy of a fat pointer into two pointer-sized words
    // (`transmute` checks the sizes match at compile time). Both words of
    // a `NonNull<dyn Trait>` are non-null (the data pointer by `NonNull`,
    // the vtable pointer always), so they are valid `NonNull<()>` whichever
    // order they are laid out in, and pointer-to-pointer transmutes keep
    // provenance. The words are only ever turned back by `unerase`.
    ErasedComp(unsafe { std::mem::transmute::<NonNull<dyn Component>, [NonNull<()>; 2]>(c) })
}

/// Turns an erased pointer back into the component pointer it was made of.
pub(super) fn unerase(e: ErasedComp) -> NonNull<dyn Component> {
    // SAFETY: every `ErasedComp` is made by `erase` (this layer's only
    // maker; proc.rs only stores and copies it), so these are the exact
    // bits of a valid `NonNull<dyn Component>`.
    unsafe { std::mem::transmute::<[NonNull<()>; 2], NonNull<dyn Component>>(e.0) }
}

/// Takes a finished component out of its proc, to drop it.
pub(super) fn take_component(p: &Proc) -> Box<dyn Component> {
    let c = unerase(p.comp.take().expect("a live component"));
    // SAFETY: the pointer came from `Box::leak` in `spawn`; `take` above
    // empties the proc's only copy, so it is turned back into a box once.
    // No borrow of the component outlives this: its step is over (callers
    // take it after the step returned) and `component_of` borrows only
    // while no step or removal can run (through `&Inner`).
    unsafe { Box::from_raw(c.as_ptr()) }
}

impl Drop for Inner {
    /// Frees the components still alive (the procs hold them by pointer).
    fn drop(&mut self) {
        for p in &self.slots {
            if p.comp.get().is_some() {
                drop(take_component(p));
            }
        }
    }
}
