//! A global allocator that counts allocations made on chosen threads, for tests that
//! prove a hot path allocates nothing. The test binary declares it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: satlab_testkit::alloc_count::Counting = satlab_testkit::alloc_count::Counting;
//! ```
//!
//! then measures with [`allocations_in`] (or [`begin`] and [`end`] around `.await`s on
//! one thread).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counting allocator: forwards to the system allocator, counting `alloc`,
/// `alloc_zeroed` and `realloc` on threads inside [`allocations_in`].
#[derive(Debug)]
pub struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Start counting this thread's allocations (from zero). Counts only when [`Counting`] is
/// the global allocator; one measurement at a time per process.
pub fn begin() {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNT_HERE.set(true);
}

/// Stop counting; the allocations made on the counted thread since [`begin`].
pub fn end() -> u64 {
    COUNT_HERE.set(false);
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Run `f` on this thread and return what it returned and the allocations it made here
/// (other threads are not counted).
pub fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, u64) {
    begin();
    let out = f();
    (out, end())
}
