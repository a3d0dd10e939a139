//! Memory budget of one instance: a [`ResourceLimiter`] that caps the **sum** of all linear
//! memories and tables of a store (wasmtime's `StoreLimits` caps each memory separately, so a
//! component with several memories could use a multiple of the limit) and of the host
//! resources the guest holds (counted by `HostState::account`), so that memory the guest
//! makes the host allocate is charged to it too.
//!
//! A refused growth traps instead of making `memory.grow` return -1: a memory bomb fails
//! loudly with [`super::TrapCause::MemoryLimit`] rather than limping on in a guest allocator
//! that may not handle the failure. The limiter remembers the refused request so the trap can
//! report it.

use wasmtime::ResourceLimiter;

/// Bytes wasmtime spends per table element (one pointer).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// A refused growth: the instance asked for `requested` bytes in total, over `limit`, of
/// which `host` are host resources it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRefusal {
    pub limit: usize,
    pub requested: usize,
    pub host: usize,
}

impl std::fmt::Display for MemoryRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory limit of {} bytes exceeded (instance asked for {} bytes",
            self.limit, self.requested
        )?;
        if self.host > 0 {
            write!(f, ", {} of them in host resources", self.host)?;
        }
        write!(f, ") (sandbox.memory.max.bytes)")
    }
}

impl std::error::Error for MemoryRefusal {}

/// Tracks the memories and tables of one store against one budget.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    /// Whether the store is metered (`RuntimeConfig::metering`); the benchmark's unmetered
    /// stores are never refused.
    metered: bool,
    /// Bytes of all memories and tables granted so far.
    used: usize,
    /// Bytes of host resources the instance holds, as last counted.
    host: usize,
    /// The growth granted last, taken back if wasmtime then fails to perform it.
    pending: usize,
    refused: Option<MemoryRefusal>,
}

impl MemoryLimiter {
    pub fn new(limit: usize, metered: bool) -> Self {
        Self {
            limit,
            metered,
            used: 0,
            host: 0,
            pending: 0,
            refused: None,
        }
    }

    /// Bytes of memories and tables the instance holds.
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn is_metered(&self) -> bool {
        self.metered
    }

    /// Records what the instance's host resources hold now.
    pub fn set_host_bytes(&mut self, bytes: usize) {
        self.host = bytes;
    }

    /// The refusal to report when memories, tables and host resources together are over the
    /// limit.
    pub fn over_limit(&self) -> Option<MemoryRefusal> {
        let requested = self.used.saturating_add(self.host);
        (requested > self.limit).then_some(MemoryRefusal {
            limit: self.limit,
            requested,
            host: self.host,
        })
    }

    /// The last refused growth, if any, clearing it.
    pub fn take_refusal(&mut self) -> Option<MemoryRefusal> {
        self.refused.take()
    }

    fn grow(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
        unit: usize,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            // Beyond the memory's own declared maximum: an ordinary `memory.grow` failure,
            // not ours to turn into a trap.
            return Ok(false);
        }
        let delta = desired.saturating_sub(current).saturating_mul(unit);
        let requested = self.used.saturating_add(delta);
        if requested.saturating_add(self.host) > self.limit {
            let refusal = MemoryRefusal {
                limit: self.limit,
                requested: requested.saturating_add(self.host),
                host: self.host,
            };
            self.refused = Some(refusal);
            return Err(wasmtime::Error::new(refusal));
        }
        self.used = requested;
        self.pending = delta;
        Ok(true)
    }

    fn grow_failed(&mut self) {
        self.used = self.used.saturating_sub(self.pending);
        self.pending = 0;
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired, maximum, 1)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.grow_failed();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired, maximum, TABLE_ELEMENT_BYTES)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.grow_failed();
        Ok(())
    }

    fn instances(&self) -> usize {
        // A component instantiates a handful of core modules (the guest, adapters, shims).
        1_000
    }

    fn tables(&self) -> usize {
        1_000
    }

    fn memories(&self) -> usize {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_the_sum_of_memories_and_remembers_the_refusal() {
        let mut limiter = MemoryLimiter::new(10 << 16, true);
        assert!(limiter.memory_growing(0, 6 << 16, None).unwrap());
        assert!(limiter.memory_growing(0, 4 << 16, None).unwrap());
        assert_eq!(limiter.used(), 10 << 16);
        let error = limiter.memory_growing(4 << 16, 5 << 16, None).unwrap_err();
        assert!(error.to_string().contains("memory limit"), "{error}");
        assert_eq!(
            limiter.take_refusal(),
            Some(MemoryRefusal {
                limit: 10 << 16,
                requested: 11 << 16,
                host: 0,
            })
        );
    }

    #[test]
    fn host_resources_count_against_the_same_limit() {
        let mut limiter = MemoryLimiter::new(10 << 16, true);
        assert!(limiter.memory_growing(0, 6 << 16, None).unwrap());
        limiter.set_host_bytes(3 << 16);
        assert_eq!(limiter.over_limit(), None);
        // Linear memory may not grow into what host resources hold...
        let error = limiter.memory_growing(6 << 16, 8 << 16, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "memory limit of 655360 bytes exceeded (instance asked for 720896 bytes, 196608 of \
             them in host resources) (sandbox.memory.max.bytes)"
        );
        // ... nor host resources into what linear memory holds.
        limiter.set_host_bytes(5 << 16);
        assert_eq!(
            limiter.over_limit(),
            Some(MemoryRefusal {
                limit: 10 << 16,
                requested: 11 << 16,
                host: 5 << 16,
            })
        );
    }

    #[test]
    fn gives_back_a_growth_that_failed() {
        let mut limiter = MemoryLimiter::new(10 << 16, true);
        assert!(limiter.memory_growing(0, 6 << 16, None).unwrap());
        assert!(limiter.memory_growing(6 << 16, 8 << 16, None).unwrap());
        limiter
            .memory_grow_failed(wasmtime::Error::msg("no"))
            .unwrap();
        assert_eq!(limiter.used(), 6 << 16);
        assert!(
            !limiter
                .memory_growing(6 << 16, 9 << 16, Some(8 << 16))
                .unwrap()
        );
    }

    #[test]
    fn counts_table_elements_as_pointers() {
        let mut limiter = MemoryLimiter::new(1000, true);
        assert!(limiter.table_growing(0, 100, None).unwrap());
        assert_eq!(limiter.used(), 100 * TABLE_ELEMENT_BYTES);
    }
}
