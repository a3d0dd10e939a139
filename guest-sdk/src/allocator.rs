//! [`Allocator`]: the components' global allocator, free lists of small blocks by size class
//! in front of the system allocator, for a component's single thread.
//!
//! A `poll` allocates a dozen small blocks per record (the record's strings, its offset maps,
//! its value, then the canonical ABI's copies of them) and the post-return frees them all.
//! Behind Rust's allocator shims, wasi-libc's dlmalloc spent about a third of a poll's guest
//! time on that (splitting, coalescing, bin upkeep); here a small allocation pops a free list
//! or bumps a pointer, and a free pushes the block back. Blocks of 512 bytes or more, and
//! blocks aligned to more than 16, go to the system allocator as before.
//!
//! Memory that crosses the canonical ABI's `cabi_realloc` stays with the system allocator: this
//! module exports its own `cabi_realloc` on malloc, because wasi-libc hands the lists the host
//! returns from WASI calls back to `free`. Such a block reaching this allocator's `dealloc` (a
//! `Vec` the bindings built from the host's list) is recognised, as every pointer is, by
//! whether it lies in one of this allocator's chunks, and goes back to the system allocator.
//!
//! The price: a small block, once freed, stays on its class's free list for reuse by that class
//! only; memory held for small blocks is the peak of each class, never returned to the system
//! allocator. Connectors that churn through many sizes can opt out with
//! `default-features = false` (feature `allocator`).

#![allow(
    unsafe_code,
    reason = "a global allocator hands out raw memory; the invariants are stated at each block"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The granularity of the size classes, and the alignment every small block has.
const GRANULE: usize = 16;
/// The number of size classes: blocks of 16, 32, ..., 496 bytes.
const CLASSES: usize = 31;
/// Small blocks are carved from chunks of this size and alignment (see [`new_chunk`]);
/// `address >> CHUNK_SHIFT` names a pointer's chunk.
const CHUNK_SHIFT: u32 = 16;
const CHUNK: usize = 1 << CHUNK_SHIFT;
/// The chunk indices the ownership bitmap covers: all of a 32-bit address space.
const BITMAP_CHUNKS: usize = 1 << (32 - CHUNK_SHIFT);

/// Free lists by size class over [`System`]. Not thread-safe: see the `Sync` impl.
pub struct Allocator {
    state: UnsafeCell<State>,
}

struct State {
    /// The head of each class's list of freed blocks; the first word of a free block points
    /// to the next one.
    free: [*mut u8; CLASSES],
    /// The unused rest of the current chunk: `[next, end)`.
    next: *mut u8,
    end: *mut u8,
    /// One bit per chunk this allocator took, by chunk index: what tells its blocks from the
    /// system allocator's in `dealloc` and `realloc`.
    owned: [u64; BITMAP_CHUNKS / 64],
    /// Chunks above 4 GiB, which only a 64-bit target (the native tests) has; a chunk that
    /// does not fit is given back.
    #[cfg(not(target_pointer_width = "32"))]
    high: [usize; 256],
}

// SAFETY: a wasm32-wasip2 component without the `atomics` feature has exactly one thread, so
// the state is never touched concurrently. The global instance is only compiled in for that
// target (see `lib.rs`); elsewhere an `Allocator` is only used by one thread at a time (tests).
unsafe impl Sync for Allocator {}

impl Allocator {
    /// An allocator holding no memory yet.
    pub const fn new() -> Self {
        Self {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
                owned: [0; BITMAP_CHUNKS / 64],
                #[cfg(not(target_pointer_width = "32"))]
                high: [0; 256],
            }),
        }
    }
}

impl Default for Allocator {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// Whether `ptr` lies in one of this allocator's chunks.
    fn owns(&self, ptr: *mut u8) -> bool {
        let chunk = (ptr as usize) >> CHUNK_SHIFT;
        if chunk < BITMAP_CHUNKS {
            return self.owned[chunk / 64] & (1 << (chunk % 64)) != 0;
        }
        #[cfg(not(target_pointer_width = "32"))]
        return self.high.contains(&chunk);
        #[cfg(target_pointer_width = "32")]
        false
    }

    /// Records `chunk` (a `CHUNK`-aligned block) as this allocator's; false if it cannot.
    fn adopt(&mut self, chunk: *mut u8) -> bool {
        let index = (chunk as usize) >> CHUNK_SHIFT;
        if index < BITMAP_CHUNKS {
            self.owned[index / 64] |= 1 << (index % 64);
            return true;
        }
        #[cfg(not(target_pointer_width = "32"))]
        if let Some(slot) = self.high.iter_mut().find(|slot| **slot == 0) {
            *slot = index;
            return true;
        }
        false
    }
}

/// A fresh `CHUNK`-aligned chunk of `CHUNK` bytes, or null when memory is exhausted.
///
/// In a component, one page grown onto linear memory: wasm pages are 64 KiB, so the chunk is
/// aligned without asking malloc for an aligned block, which would split its free space
/// around the chunk and write bookkeeping on the pages either side (two to three more
/// resident pages in every instance, most of them idle). wasi-libc's malloc takes memory the
/// same way and copes with growth it did not make, starting a new segment after it.
#[cfg(target_arch = "wasm32")]
fn new_chunk() -> *mut u8 {
    const _: () = assert!(CHUNK == 65_536, "a chunk is one wasm page");
    match core::arch::wasm32::memory_grow(0, 1) {
        usize::MAX => ptr::null_mut(),
        page => (page * CHUNK) as *mut u8,
    }
}

/// A fresh `CHUNK`-aligned chunk of `CHUNK` bytes from the system allocator, or null.
#[cfg(not(target_arch = "wasm32"))]
fn new_chunk() -> *mut u8 {
    // SAFETY: the layout is non-zero and its alignment a power of two.
    unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, CHUNK)) }
}

/// Gives back a chunk [`new_chunk`] made that was never used (one the ownership bitmap cannot
/// record). A grown wasm page cannot be given back; it stays unused.
///
/// # Safety
///
/// `chunk` came from [`new_chunk`] and nothing refers into it.
unsafe fn free_chunk(chunk: *mut u8) {
    #[cfg(target_arch = "wasm32")]
    let _ = chunk;
    #[cfg(not(target_arch = "wasm32"))]
    // SAFETY: `new_chunk` allocated it with this layout.
    unsafe {
        System.dealloc(chunk, Layout::from_size_align_unchecked(CHUNK, CHUNK));
    }
}

/// The size class of `layout`, or none if it is for the system allocator.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > GRANULE || layout.size() > CLASSES * GRANULE {
        return None;
    }
    // `GlobalAlloc` is never asked for zero bytes, but a zero-size layout maps to class 0.
    Some(layout.size().saturating_sub(1) / GRANULE)
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class(layout) else {
            // SAFETY: the caller's contract for `layout` is passed on unchanged.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: one thread (see the `Sync` impl), and no reference into the state outlives
        // this call.
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[class];
        if !head.is_null() {
            // SAFETY: `head` is a freed block of this class, at least 16 bytes and 16-aligned,
            // whose first word `dealloc` set to the next free block.
            state.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = (class + 1) * GRANULE;
        if (state.end as usize) - (state.next as usize) < size {
            // The rest of the old chunk (less than one block of this class) is left unused.
            let chunk = new_chunk();
            if chunk.is_null() {
                return chunk;
            }
            if !state.adopt(chunk) {
                // SAFETY: `new_chunk` made it and nothing else uses it.
                unsafe { free_chunk(chunk) };
                // SAFETY: the caller's contract for `layout` is passed on unchanged.
                return unsafe { System.alloc(layout) };
            }
            state.next = chunk;
            // SAFETY: one past the end of the chunk just allocated.
            state.end = unsafe { chunk.add(CHUNK) };
        }
        let block = state.next;
        // SAFETY: `size` bytes remain in the chunk; the result is at most its end.
        state.next = unsafe { block.add(size) };
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: one thread, and no reference into the state outlives this call.
        let state = unsafe { &mut *self.state.get() };
        match class(layout) {
            Some(class) if state.owns(ptr) => {
                // SAFETY: `ptr` is a block of this class that the caller no longer uses,
                // 16-aligned and at least 16 bytes: room for the link.
                unsafe { ptr.cast::<*mut u8>().write(state.free[class]) };
                state.free[class] = ptr;
            }
            // SAFETY: outside the chunks, `ptr` is the system allocator's (a large block, or
            // one made by `cabi_realloc`), allocated with this layout.
            _ => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: one thread; the reference is dropped before `alloc`/`dealloc` below.
        let owned = unsafe { (*self.state.get()).owns(ptr) };
        // SAFETY: the caller guarantees `new_size` with this alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            // Same class: the block already has room.
            (Some(old), Some(new)) if old == new && owned => ptr,
            // SAFETY: the system allocator made `ptr` (not in a chunk) with `layout`.
            _ if !owned => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: `new_layout` is valid (see above).
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    // SAFETY: both blocks hold at least the smaller size and do not overlap;
                    // the old block is then freed with the layout it was made with.
                    unsafe {
                        ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

/// The canonical ABI's allocator, on malloc: what the host writes into the component (call
/// arguments, WASI and host-import results) may be freed by wasi-libc's `free`, which only
/// knows malloc's blocks. Replaces wit-bindgen's weak definition, which would use the global
/// allocator.
#[cfg(all(
    target_arch = "wasm32",
    not(target_feature = "atomics"),
    feature = "allocator"
))]
#[unsafe(export_name = "cabi_realloc")]
unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        // A dangling, aligned pointer, as for any zero-size allocation.
        return align as *mut u8;
    }
    // SAFETY: the canonical ABI passes a power-of-two alignment and sizes that fit memory.
    let new = unsafe {
        if old_len == 0 {
            System.alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            System.realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if new.is_null() {
        // Out of memory inside a canonical ABI call: nothing can be returned; trap.
        std::process::abort();
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_only() {
        let allocator = Allocator::new();
        unsafe {
            let a = allocator.alloc(layout(24, 8));
            allocator.dealloc(a, layout(24, 8));
            // 17..=32 bytes share a class: the freed block comes back.
            let b = allocator.alloc(layout(32, 4));
            assert_eq!(a, b);
            // Another class does not get it.
            allocator.dealloc(b, layout(32, 4));
            let c = allocator.alloc(layout(16, 8));
            assert_ne!(c, b);
            let d = allocator.alloc(layout(17, 1));
            assert_eq!(d, b);
        }
    }

    #[test]
    fn blocks_are_distinct_aligned_and_hold_their_bytes() {
        let allocator = Allocator::new();
        let mut blocks = Vec::new();
        // Enough to span several chunks.
        for i in 0..20_000_usize {
            let size = 1 + i % 600;
            let align = [1, 2, 4, 8, 16, 32][i % 6];
            let layout = layout(size, align);
            let block = unsafe { allocator.alloc(layout) };
            assert!(!block.is_null());
            assert_eq!(block as usize % align, 0, "{layout:?}");
            unsafe { block.write_bytes((i % 251) as u8, size) };
            blocks.push((block, layout, (i % 251) as u8));
            if i % 3 == 0 {
                let (block, layout, _) = blocks.swap_remove(i % blocks.len());
                unsafe { allocator.dealloc(block, layout) };
            }
        }
        for (block, layout, byte) in blocks {
            let bytes = unsafe { std::slice::from_raw_parts(block, layout.size()) };
            assert!(
                bytes.iter().all(|b| *b == byte),
                "{layout:?} was overwritten"
            );
            unsafe { allocator.dealloc(block, layout) };
        }
    }

    #[test]
    fn a_system_block_freed_here_goes_back_to_the_system_allocator() {
        let allocator = Allocator::new();
        unsafe {
            // One of ours first, so the allocator has a chunk.
            let ours = allocator.alloc(layout(32, 8));
            // A block `cabi_realloc` made on the system allocator, freed through the global
            // allocator as a `Vec` from the bindings would be.
            let foreign = System.alloc(layout(32, 8));
            assert!(!(*allocator.state.get()).owns(foreign));
            allocator.dealloc(foreign, layout(32, 8));
            // It did not join the free list: the next block of its class is a fresh one.
            let next = allocator.alloc(layout(32, 8));
            assert_ne!(next, foreign);
            assert!((*allocator.state.get()).owns(next));
            // Growing a system block within a class keeps it the system allocator's.
            let foreign = System.alloc(layout(20, 8));
            foreign.copy_from_nonoverlapping(b"abcd".as_ptr(), 4);
            let grown = allocator.realloc(foreign, layout(20, 8), 30);
            assert_eq!(std::slice::from_raw_parts(grown, 4), b"abcd");
            assert!(!(*allocator.state.get()).owns(grown));
            System.dealloc(grown, layout(30, 8));
            allocator.dealloc(ours, layout(32, 8));
            allocator.dealloc(next, layout(32, 8));
        }
    }

    #[test]
    fn realloc_keeps_the_contents_across_classes_and_into_the_system_allocator() {
        let allocator = Allocator::new();
        unsafe {
            let mut layout = layout(10, 8);
            let mut block = allocator.alloc(layout);
            block.copy_from_nonoverlapping(b"0123456789".as_ptr(), 10);
            // Within the class: the same block.
            assert_eq!(allocator.realloc(block, layout, 16), block);
            for new_size in [100, 700, 5000, 40] {
                block = allocator.realloc(block, layout, new_size);
                layout = Layout::from_size_align(new_size, 8).unwrap();
                assert_eq!(std::slice::from_raw_parts(block, 10), b"0123456789");
            }
            allocator.dealloc(block, layout);
        }
    }
}
