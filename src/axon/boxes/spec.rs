//! Box names and descriptions (`Spec`, interned for static pairs), the
//! link epoch that tells an outbox its cached route may be stale, and the
//! word hasher the axon's own tables use.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

// ---------------------------------------------------------------------------
// Link epoch: bumped on every change of any link in this thread. An outbox's
// cached route is valid while its epoch matches.

/// Interning key of a static spec: the addresses and lengths of its strings.
type SpecKey = (usize, usize, usize, usize);

/// A multiply-rotate (Fx-style) hasher: a few instructions a word where
/// SipHash takes hundreds. For the axon's own tables of spec keys (our own
/// addresses) and box and component names (chosen by the program, not
/// outside input), so no flooding resistance is needed. Every map using it
/// is only looked up, never iterated, so its order reaches nothing.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

/// Builds [`WordHasher`]s.
pub(crate) type WordHash = BuildHasherDefault<WordHasher>;

impl WordHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        for &b in words.remainder() {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type SpecMap = HashMap<SpecKey, Rc<Spec>, WordHash>;

thread_local! {
    static EPOCH: Cell<u32> = const { Cell::new(1) };
    static SPECS: RefCell<SpecMap> = RefCell::new(SpecMap::default());
}

#[inline]
pub(crate) fn epoch() -> u32 {
    EPOCH.with(|e| e.get())
}

pub(crate) fn bump_epoch() {
    EPOCH.with(|e| {
        let next = e.get().wrapping_add(1);
        // 0 is reserved for "never resolved".
        e.set(if next == 0 { 1 } else { next })
    });
}

/// Name and description of a box. Static pairs are interned, so the four
/// default boxes of every component share four `Spec`s.
pub(crate) struct Spec {
    pub(crate) name: Cow<'static, str>,
    pub(crate) desc: Cow<'static, str>,
}

pub(super) fn static_spec(name: &'static str, desc: &'static str) -> Rc<Spec> {
    let key = (
        name.as_ptr() as usize,
        name.len(),
        desc.as_ptr() as usize,
        desc.len(),
    );
    SPECS.with(|s| {
        s.borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                Rc::new(Spec {
                    name: Cow::Borrowed(name),
                    desc: Cow::Borrowed(desc),
                })
            })
            .clone()
    })
}

/// Names and descriptions of the default boxes, in block order: `inbox`,
/// `control`, `outbox`, `signal`.
pub(super) const DEFAULT_NAMES: [(&str, &str); 4] = [
    ("inbox", "data to process"),
    ("control", "shutdown signals: producer finished / shutdown"),
    ("outbox", "data produced"),
    ("signal", "sent once when this component ends"),
];

/// The specs of the default boxes: a node in a block of four finds its
/// own here by its place in the block, so it stores none.
pub(super) static DEFAULT_SPECS: [Spec; 4] = {
    const fn spec(i: usize) -> Spec {
        Spec {
            name: Cow::Borrowed(DEFAULT_NAMES[i].0),
            desc: Cow::Borrowed(DEFAULT_NAMES[i].1),
        }
    }
    [spec(0), spec(1), spec(2), spec(3)]
};

pub(super) fn owned_spec(name: String, desc: String) -> Rc<Spec> {
    Rc::new(Spec {
        name: Cow::Owned(name),
        desc: Cow::Owned(desc),
    })
}
