//! Fiber stacks for guest calls: mapped like wasmtime's own, and known to the sandbox whose
//! calls run on them, so an idle instance can give its stack's touched pages back.
//!
//! A store keeps the fiber stack of its last call for the next one, and the pages that call
//! touched stay resident for as long as the store lives: two pages (8 KiB) an instance, 86 MiB
//! for a worker of 10,000 idle tasks. A [`StackClaim`] learns which stack its sandbox's store
//! got (the stack is made during a call the claim wraps, on the thread polling it) and
//! [`StackClaim::release`] discards the stack's pages once no call is running; the next call
//! finds zero pages, as on a fresh stack, and faults in what it touches.

#![allow(
    unsafe_code,
    reason = "wasmtime's stack traits are unsafe, and mapping and discarding pages is too; the invariants are stated at each block"
)]

use std::cell::RefCell;
use std::future::Future;
use std::ops::Range;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::{StackCreator, StackMemory};

/// Makes every fiber stack of an engine: a guard page below the stack, as wasmtime's default
/// (two memory mappings, which the capacity accounting counts).
pub(crate) struct FiberStacks;

// SAFETY: every stack is a fresh anonymous mapping, page-aligned and zero-filled, of at least
// the requested size, with a guard page at its bottom; it is unmapped only when wasmtime drops
// it.
unsafe impl StackCreator for FiberStacks {
    fn new_stack(&self, size: usize, _zeroed: bool) -> wasmtime::Result<Box<dyn StackMemory>> {
        let page = rustix::param::page_size();
        let size = size.max(1).div_ceil(page) * page;
        let len = size + page;
        // SAFETY: a new private anonymous mapping: nothing else refers to it.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::empty(),
                rustix::mm::MapFlags::PRIVATE,
            )?
        };
        let stack = Stack {
            base: base as usize,
            len,
            page,
            mapped: Arc::new(Mutex::new(true)),
        };
        // SAFETY: the part above the guard page lies inside the mapping just made. On failure
        // `stack` is dropped, which unmaps it.
        unsafe {
            rustix::mm::mprotect(
                base.byte_add(page),
                size,
                rustix::mm::MprotectFlags::READ | rustix::mm::MprotectFlags::WRITE,
            )?;
        }
        CLAIMING.with(|claiming| {
            if let Some(claim) = &*claiming.borrow() {
                claim.adopt(&stack);
            }
        });
        Ok(Box::new(stack))
    }
}

/// One fiber stack: `[base, base + len)`, its lowest page the guard.
struct Stack {
    base: usize,
    len: usize,
    page: usize,
    /// True until the stack is unmapped; held while its pages are discarded, so a claim never
    /// touches an address range that was given back.
    mapped: Arc<Mutex<bool>>,
}

// SAFETY: the addresses are those of the mapping made in `new_stack`, which lives until drop.
unsafe impl StackMemory for Stack {
    fn top(&self) -> *mut u8 {
        (self.base + self.len) as *mut u8
    }

    fn range(&self) -> Range<usize> {
        self.base + self.page..self.base + self.len
    }

    fn guard_range(&self) -> Range<*mut u8> {
        self.base as *mut u8..(self.base + self.page) as *mut u8
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let mut mapped = self.mapped.lock().unwrap_or_else(PoisonError::into_inner);
        *mapped = false;
        // SAFETY: wasmtime drops a stack once no fiber runs on it; the mapping is ours.
        if let Err(error) = unsafe { rustix::mm::munmap(self.base as *mut _, self.len) } {
            tracing::warn!(%error, "Could not unmap a fiber stack.");
        }
    }
}

/// The stack part of a [`Stack`] a claim may discard, and whether it is still mapped.
struct Claimed {
    range: Range<usize>,
    mapped: Arc<Mutex<bool>>,
}

/// The fiber stack one sandbox's store runs its calls on, learnt during the first call that
/// made one (see [`claimed`]).
#[derive(Clone, Default)]
pub(crate) struct StackClaim(Arc<Mutex<Option<Claimed>>>);

impl StackClaim {
    fn adopt(&self, stack: &Stack) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Claimed {
            range: stack.range(),
            mapped: stack.mapped.clone(),
        });
    }

    /// Discards the pages of the store's fiber stack. Only between calls: the store must have
    /// no call running (wasmtime keeps the stack for the next call, which starts a new fiber
    /// on it and needs nothing left from the last). Returns whether there was a stack.
    pub(crate) fn release(&self) -> bool {
        let claimed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(claimed) = &*claimed else {
            return false;
        };
        let mapped = claimed
            .mapped
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !*mapped {
            return false;
        }
        // SAFETY: the range is the read-write part of a stack that is still mapped (checked
        // under its lock, which unmapping takes) and that no fiber runs on (the caller's
        // promise); its contents are dead, and discarded private anonymous pages read back as
        // zero, as a fresh stack's do.
        let discarded = unsafe {
            rustix::mm::madvise(
                claimed.range.start as *mut _,
                claimed.range.len(),
                rustix::mm::Advice::LinuxDontNeed,
            )
        };
        if let Err(error) = discarded {
            tracing::debug!(%error, "Could not discard an idle fiber stack's pages.");
            return false;
        }
        true
    }

    /// Pages of the stack that are resident now (for tests).
    #[cfg(test)]
    pub(crate) fn resident_pages(&self) -> Option<usize> {
        let claimed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let claimed = claimed.as_ref()?;
        let page = rustix::param::page_size();
        let mut residency = vec![0_u8; claimed.range.len() / page];
        // SAFETY: the range is mapped (the store that owns the stack is alive in the tests
        // that ask) and the vector holds one byte per page.
        let status = unsafe {
            libc::mincore(
                claimed.range.start as *mut libc::c_void,
                claimed.range.len(),
                residency.as_mut_ptr(),
            )
        };
        assert_eq!(status, 0, "mincore: {}", std::io::Error::last_os_error());
        Some(residency.iter().filter(|r| **r & 1 != 0).count())
    }
}

thread_local! {
    /// The claim of the call being polled on this thread, if any.
    static CLAIMING: RefCell<Option<StackClaim>> = const { RefCell::new(None) };
}

/// Polls `call` (a guest call or instantiation of the store `claim` belongs to) with `claim`
/// set, so a fiber stack made for it is adopted by the claim.
pub(crate) async fn claimed<F: Future>(claim: &StackClaim, call: F) -> F::Output {
    let mut call = pin!(call);
    std::future::poll_fn(|cx| {
        let _claiming = Claiming::set(claim);
        call.as_mut().poll(cx)
    })
    .await
}

/// Sets this thread's claim until dropped (also when the poll panics), then restores the one
/// before.
struct Claiming(Option<StackClaim>);

impl Claiming {
    fn set(claim: &StackClaim) -> Self {
        Self(CLAIMING.with(|claiming| claiming.replace(Some(claim.clone()))))
    }
}

impl Drop for Claiming {
    fn drop(&mut self) {
        let previous = self.0.take();
        CLAIMING.with(|claiming| *claiming.borrow_mut() = previous);
    }
}
