//! A compact FIFO ring buffer used as the storage of every box.
//!
//! It exists instead of `VecDeque` for one reason: size. A `VecDeque` is 32
//! bytes; this ring is one pointer (8 bytes, to a shared empty header while
//! it has never held a message), with its capacity, head and length kept in a 12-byte header
//! at the start of the buffer itself. Most boxes of an idle component have
//! never held anything, so they cost 8 bytes, not 24: that keeps an idle
//! component small (see `benches/core.rs`, `idle`). A box never holds more
//! than `u32::MAX - 1` messages; its limit is checked by the box before
//! pushing.
//!
//! Zero-sized messages are counted in a header of their own (allocated once,
//! on the first push); they never allocate per message.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem;
use std::ptr::{self, NonNull};

/// The start of a ring's buffer; the slots follow at `Ring::<T>::DATA`.
struct Head {
    cap: u32,
    head: u32,
    len: u32,
}

/// The header of every ring that has no buffer: capacity 0, so a push
/// grows first and a pop finds nothing. It is never written (a push on it
/// replaces it first; a pop, a shrink and a drop only read it), and it
/// lets `len` and `push_back` read a header without first testing for
/// none: 3 instructions fewer a hop (by callgrind, `pipeline1x64` in
/// benches/core.rs).
static EMPTY: Head = Head {
    cap: 0,
    head: 0,
    len: 0,
};

/// A pointer to `EMPTY`, for a ring without a buffer.
const fn empty() -> NonNull<Head> {
    // SAFETY: a reference is never null. The pointer is only ever read
    // through (see `EMPTY`), though typed `*mut` as a buffer's is.
    unsafe { NonNull::new_unchecked(&EMPTY as *const Head as *mut Head) }
}

pub(crate) struct Ring<T> {
    /// A buffer this ring owns, or `EMPTY` (capacity 0).
    buf: NonNull<Head>,
    _owns: PhantomData<T>,
}

impl<T> Ring<T> {
    const IS_ZST: bool = mem::size_of::<T>() == 0;
    /// Offset of slot 0 from the start of the buffer.
    const DATA: usize = {
        let a = mem::align_of::<T>();
        mem::size_of::<Head>().div_ceil(a) * a
    };
    /// Alignment of the buffer.
    const ALIGN: usize = if mem::align_of::<T>() > mem::align_of::<Head>() {
        mem::align_of::<T>()
    } else {
        mem::align_of::<Head>()
    };

    pub(crate) const fn new() -> Self {
        Ring {
            buf: empty(),
            _owns: PhantomData,
        }
    }

    /// The layout of a buffer of `cap` slots (`cap` 0 for zero-sized `T`).
    fn layout(cap: usize) -> Layout {
        let size = mem::size_of::<T>()
            .checked_mul(cap)
            .and_then(|b| b.checked_add(Self::DATA))
            .expect("box capacity overflow");
        Layout::from_size_align(size, Self::ALIGN).expect("box capacity overflow")
    }

    #[inline]
    fn head(&self) -> &Head {
        // SAFETY: `buf` points to `EMPTY` or to a live header this ring
        // owns (written by `grow`, freed only with `buf` replaced).
        unsafe { self.buf.as_ref() }
    }

    /// Whether the ring owns a buffer (rather than pointing to `EMPTY`).
    #[inline]
    fn has_buffer(&self) -> bool {
        self.head().cap != 0
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.head().len as usize
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slot `i` of the buffer whose header is `h`.
    #[inline]
    fn slot(h: NonNull<Head>, i: u32) -> *mut T {
        // SAFETY (of the arithmetic): callers pass `i < cap`, so the
        // result stays inside the buffer `layout(cap)` allocated.
        unsafe {
            (h.as_ptr() as *mut u8)
                .add(Self::DATA)
                .cast::<T>()
                .add(i as usize)
        }
    }

    /// The capacity of a buffer is a power of two (4, doubled by `grow`),
    /// so wrapping is a mask: that is two instructions a push and a pop
    /// fewer than a compare and subtract (by callgrind, `pipeline10x64` in
    /// benches/core.rs). The sum may wrap `u32` only when the capacity is
    /// 2^31, and a power-of-two mask is unchanged by that wrap.
    #[inline]
    fn physical(h: &Head, logical: u32) -> u32 {
        debug_assert!(h.cap.is_power_of_two());
        h.head.wrapping_add(logical) & (h.cap - 1)
    }

    #[inline]
    pub(crate) fn push_back(&mut self, value: T) {
        let h = if self.head().len != self.head().cap {
            self.buf
        } else {
            // Full, or `EMPTY` (capacity 0): never written.
            self.grow()
        };
        // SAFETY: the header is a buffer this ring owns (`EMPTY` has been
        // replaced above), and no other reference to it is in use
        // (`&mut self`).
        let hd = unsafe { &mut *h.as_ptr() };
        if Self::IS_ZST {
            mem::forget(value);
        } else {
            let slot = Self::physical(hd, hd.len);
            // SAFETY: slot < cap and the slot is outside the live range, so
            // it is allocated and uninitialised.
            unsafe { ptr::write(Self::slot(h, slot), value) };
        }
        hd.len += 1;
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.head().len == 0 {
            return None;
        }
        let h = self.buf;
        // SAFETY: a ring holding a message owns its buffer (not `EMPTY`),
        // and no other reference to it is in use (`&mut self`).
        let hd = unsafe { &mut *h.as_ptr() };
        let value = if Self::IS_ZST {
            // SAFETY: a ZST has exactly one value and reading it reads nothing.
            unsafe { ptr::read(NonNull::<T>::dangling().as_ptr()) }
        } else {
            // SAFETY: head is inside the live range, so it is initialised; we
            // move it out and advance head so it is never read again.
            let v = unsafe { ptr::read(Self::slot(h, hd.head)) };
            hd.head = Self::physical(hd, 1);
            v
        };
        // `head` is not reset when the ring empties: with a mask any head
        // is as good, and the test would cost a branch a pop.
        hd.len -= 1;
        Some(value)
    }

    /// A reference to the oldest message, if any.
    #[cfg(test)]
    pub(crate) fn front(&self) -> Option<&T> {
        let h = self.buf;
        let hd = self.head();
        if hd.len == 0 {
            return None;
        }
        if Self::IS_ZST {
            // SAFETY: any aligned non-null pointer is a valid ZST reference.
            return Some(unsafe { &*NonNull::<T>::dangling().as_ptr() });
        }
        // SAFETY: head is inside the live range.
        Some(unsafe { &*Self::slot(h, hd.head) })
    }

    /// Makes room for one more message; returns the (new) header.
    #[cold]
    fn grow(&mut self) -> NonNull<Head> {
        let old = self.has_buffer().then_some(self.buf);
        let (old_cap, head, len) = (self.head().cap, self.head().head, self.head().len);
        let new_cap = if Self::IS_ZST {
            assert!(old.is_none(), "box holds u32::MAX zero-sized messages");
            u32::MAX
        } else {
            let c = if old_cap == 0 {
                4
            } else {
                old_cap as usize * 2
            };
            assert!(c < u32::MAX as usize, "box capacity overflow");
            c as u32
        };
        let new_layout = Self::layout(if Self::IS_ZST { 0 } else { new_cap as usize });
        // SAFETY: the layout has non-zero size (it holds the header).
        let Some(new) = NonNull::new(unsafe { alloc::alloc(new_layout) }.cast::<Head>()) else {
            alloc::handle_alloc_error(new_layout)
        };
        // SAFETY: freshly allocated with room and alignment for a header.
        unsafe {
            new.as_ptr().write(Head {
                cap: new_cap,
                head: 0,
                len,
            })
        };
        if let Some(old) = old {
            // Copy the live range, unwrapped, to the start of the new buffer.
            let (head, len, old_cap) = (head as usize, len as usize, old_cap as usize);
            let first = len.min(old_cap - head);
            // SAFETY: both ranges are live/allocated and do not overlap; the
            // old buffer was allocated with `layout(old_cap)` and is not used
            // again (`buf` is replaced below).
            unsafe {
                ptr::copy_nonoverlapping(Self::slot(old, head as u32), Self::slot(new, 0), first);
                ptr::copy_nonoverlapping(
                    Self::slot(old, 0),
                    Self::slot(new, first as u32),
                    len - first,
                );
                alloc::dealloc(old.as_ptr().cast(), Self::layout(old_cap));
            }
        }
        self.buf = new;
        new
    }

    /// Releases the buffer if it is empty and larger than `keep` slots.
    pub(crate) fn shrink_if_empty(&mut self, keep: usize) {
        let h = self.head();
        // `EMPTY` has capacity 0, so it is never freed.
        if Self::IS_ZST || h.len != 0 || (h.cap as usize) <= keep {
            return;
        }
        let cap = h.cap as usize;
        let b = std::mem::replace(&mut self.buf, empty());
        // SAFETY: the buffer was allocated with this layout and holds
        // nothing; `buf` no longer points to it.
        unsafe { alloc::dealloc(b.as_ptr().cast(), Self::layout(cap)) };
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
        if self.has_buffer() {
            let cap = if Self::IS_ZST {
                0
            } else {
                self.head().cap as usize
            };
            // SAFETY: allocated with this layout, emptied above, and not
            // used again.
            unsafe { alloc::dealloc(self.buf.as_ptr().cast(), Self::layout(cap)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;
    use std::collections::VecDeque;
    use std::rc::Rc;

    #[test]
    fn behaves_like_vecdeque_under_mixed_ops() {
        let mut ring = Ring::new();
        let mut model = VecDeque::new();
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 {
                assert_eq!(ring.pop_front(), model.pop_front());
            } else {
                ring.push_back(i);
                model.push_back(i);
            }
            assert_eq!(ring.len(), model.len());
            assert_eq!(ring.front(), model.front());
        }
        while let Some(v) = model.pop_front() {
            assert_eq!(ring.pop_front(), Some(v));
        }
        assert_eq!(ring.pop_front(), None);
    }

    #[test]
    fn drops_what_it_still_holds() {
        let token = Rc::new(());
        {
            let mut ring = Ring::new();
            for _ in 0..10 {
                ring.push_back(token.clone());
            }
            ring.pop_front();
            assert_eq!(Rc::strong_count(&token), 10);
        }
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn an_unused_ring_is_one_word() {
        assert_eq!(std::mem::size_of::<Ring<u64>>(), 8);
        assert_eq!(Ring::<u64>::new().len(), 0);
    }

    #[test]
    fn over_aligned_messages_keep_their_alignment() {
        #[repr(align(32))]
        #[derive(Debug, PartialEq)]
        struct Wide(u8);
        let mut ring = Ring::new();
        for i in 0..9u8 {
            ring.push_back(Wide(i));
            assert_eq!(
                ring.front().map(|w| w as *const Wide as usize % 32),
                Some(0)
            );
        }
        for i in 0..9u8 {
            assert_eq!(ring.pop_front(), Some(Wide(i)));
        }
        ring.shrink_if_empty(0);
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn zero_sized_messages_are_counted() {
        let mut ring = Ring::new();
        for _ in 0..1000 {
            ring.push_back(());
        }
        assert_eq!(ring.len(), 1000);
        assert_eq!(ring.pop_front(), Some(()));
        assert_eq!(ring.len(), 999);
    }
}
