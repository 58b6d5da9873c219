//! A compact FIFO ring buffer used as the storage of every box.
//!
//! It exists instead of `VecDeque` for one reason: size. A `VecDeque` is 32
//! bytes; this ring is 20 (pointer plus three `u32`s), which lets a box node
//! fit a 96-byte allocation and keeps an idle component under 512 bytes (see
//! `benches/core.rs`, `idle`). A box never holds more than `u32::MAX - 1`
//! messages; its limit is checked by the box before pushing.
//!
//! Zero-sized messages never allocate.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem;
use std::ptr::{self, NonNull};

pub(crate) struct Ring<T> {
    ptr: NonNull<T>,
    cap: u32,
    head: u32,
    len: u32,
    _owns: PhantomData<T>,
}

impl<T> Ring<T> {
    const IS_ZST: bool = mem::size_of::<T>() == 0;

    pub(crate) const fn new() -> Self {
        Ring {
            ptr: NonNull::dangling(),
            cap: if Self::IS_ZST { u32::MAX } else { 0 },
            head: 0,
            len: 0,
            _owns: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of the `logical`-th message. The capacity of a buffer is
    /// a power of two (4, doubled by `grow`), so wrapping is a mask: that
    /// is two instructions a push and a pop fewer than a compare and
    /// subtract (by callgrind, `pipeline10x64` in benches/core.rs). The sum
    /// may wrap `u32` only when the capacity is 2^31, and a power-of-two
    /// mask is unchanged by that wrap.
    #[inline]
    fn physical(&self, logical: u32) -> u32 {
        debug_assert!(self.cap.is_power_of_two());
        self.head.wrapping_add(logical) & (self.cap - 1)
    }

    #[inline]
    pub(crate) fn push_back(&mut self, value: T) {
        if self.len == self.cap {
            self.grow();
        }
        if Self::IS_ZST {
            mem::forget(value);
        } else {
            let slot = self.physical(self.len);
            // SAFETY: slot < cap and the slot is outside the live range, so it is
            // allocated and uninitialised.
            unsafe { ptr::write(self.ptr.as_ptr().add(slot as usize), value) };
        }
        self.len += 1;
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let value = if Self::IS_ZST {
            // SAFETY: a ZST has exactly one value and reading it reads nothing.
            unsafe { ptr::read(NonNull::<T>::dangling().as_ptr()) }
        } else {
            // SAFETY: head is inside the live range, so it is initialised; we
            // move it out and advance head so it is never read again.
            let v = unsafe { ptr::read(self.ptr.as_ptr().add(self.head as usize)) };
            self.head = self.physical(1);
            v
        };
        // `head` is not reset when the ring empties: with a mask any head
        // is as good, and the test would cost a branch a pop.
        self.len -= 1;
        Some(value)
    }

    /// A reference to the oldest message, if any.
    #[cfg(test)]
    pub(crate) fn front(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        if Self::IS_ZST {
            // SAFETY: any aligned non-null pointer is a valid ZST reference.
            return Some(unsafe { &*NonNull::<T>::dangling().as_ptr() });
        }
        // SAFETY: head is inside the live range.
        Some(unsafe { &*self.ptr.as_ptr().add(self.head as usize) })
    }

    #[cold]
    fn grow(&mut self) {
        assert!(!Self::IS_ZST, "box holds u32::MAX zero-sized messages");
        let old_cap = self.cap as usize;
        let new_cap = if old_cap == 0 { 4 } else { old_cap * 2 };
        assert!(new_cap < u32::MAX as usize, "box capacity overflow");
        let new_layout = Layout::array::<T>(new_cap).expect("box capacity overflow");
        // SAFETY: new_layout has non-zero size (T is not a ZST, new_cap > 0).
        let new_ptr = unsafe { alloc::alloc(new_layout) } as *mut T;
        let Some(new_ptr) = NonNull::new(new_ptr) else {
            alloc::handle_alloc_error(new_layout)
        };
        if old_cap > 0 {
            // Copy the live range, unwrapped, to the start of the new buffer.
            let head = self.head as usize;
            let len = self.len as usize;
            let first = len.min(old_cap - head);
            // SAFETY: both ranges are live/allocated and do not overlap.
            unsafe {
                ptr::copy_nonoverlapping(self.ptr.as_ptr().add(head), new_ptr.as_ptr(), first);
                ptr::copy_nonoverlapping(
                    self.ptr.as_ptr(),
                    new_ptr.as_ptr().add(first),
                    len - first,
                );
                alloc::dealloc(
                    self.ptr.as_ptr() as *mut u8,
                    Layout::array::<T>(old_cap).unwrap(),
                );
            }
        }
        self.ptr = new_ptr;
        self.cap = new_cap as u32;
        self.head = 0;
    }

    /// Releases the buffer if it is empty and larger than `keep` slots.
    pub(crate) fn shrink_if_empty(&mut self, keep: usize) {
        if Self::IS_ZST || self.len != 0 || (self.cap as usize) <= keep {
            return;
        }
        // SAFETY: the buffer was allocated with this layout and holds nothing.
        unsafe {
            alloc::dealloc(
                self.ptr.as_ptr() as *mut u8,
                Layout::array::<T>(self.cap as usize).unwrap(),
            )
        };
        self.ptr = NonNull::dangling();
        self.cap = 0;
        self.head = 0;
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
        self.shrink_if_empty(0);
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
