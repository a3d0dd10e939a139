//! How many wasm instances this process can hold at once, and how many it holds: the maximum
//! is derived from the kernel's limits (memory mappings, address space) and what one instance
//! costs in the configured memory layout, or set by `sandbox.instances.max`; every
//! instantiation takes a slot first, so the worker refuses an instance it cannot hold instead
//! of running into a kernel limit (where the next allocation anywhere in the process fails).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use crate::config::sandbox::InstanceLayout;

/// Memory mappings of one fiber stack: the stack and its guard page. A store keeps the stack
/// of its last call, so every instance holds one.
const STACK_MAPPINGS: usize = 2;
/// The address space of one fiber stack (`engine::ASYNC_STACK_SIZE` and its guard page).
const STACK_BYTES: u64 = (2 << 20) + 4096;
/// How much wasmtime reserves past a memory that outgrows its reservation (its default).
const GROWTH_RESERVATION_BYTES: u64 = 2 << 30;
/// Usable address space of a process when no rlimit applies: 47 bits (x86_64 and aarch64 with
/// 4-level page tables).
const USER_ADDRESS_SPACE: u64 = 1 << 47;

/// What one instance costs in the kernel's terms, for a component with one linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceCost {
    /// Memory mappings (`/proc/<pid>/maps` lines).
    pub mappings: usize,
    /// Address space reserved, in bytes.
    pub address_space: u64,
}

impl InstanceCost {
    /// The cost of one instance in `layout`, for instances capped at `memory_max_bytes`.
    pub fn of(layout: &InstanceLayout, memory_max_bytes: u64) -> Self {
        let guard = layout.memory_guard_bytes;
        // The guard before the memory, the accessible part, and the inaccessible rest of the
        // reservation (or of the growth reservation, or the guard) after it.
        let mut memory_mappings = usize::from(guard > 0) + 2;
        if layout.memory_cow {
            // The image is mapped from the compiled file between two anonymous parts.
            memory_mappings += 2;
        }
        let reserved = if layout.memory_reservation_bytes >= memory_max_bytes {
            layout.memory_reservation_bytes
        } else {
            memory_max_bytes + GROWTH_RESERVATION_BYTES
        };
        Self {
            mappings: STACK_MAPPINGS + memory_mappings,
            address_space: STACK_BYTES + 2 * guard + reserved,
        }
    }
}

/// The process limits capacity is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelLimits {
    /// `vm.max_map_count`, when known.
    pub max_map_count: Option<u64>,
    /// `RLIMIT_AS` (soft), when finite.
    pub address_space: Option<u64>,
}

impl KernelLimits {
    /// This process's limits.
    pub fn current() -> Self {
        let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|text| text.trim().parse().ok());
        Self {
            max_map_count,
            address_space: address_space_limit(),
        }
    }
}

/// The soft `RLIMIT_AS` from `/proc/self/limits` (read rather than asked of libc, so this
/// module needs no `unsafe`); None when unlimited or unknown.
fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_address_space_limit(&limits)
}

/// The soft limit of the `Max address space` line of a `/proc/<pid>/limits` text.
fn parse_address_space_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max address space"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// The most instances the process may hold, why, and how many it holds.
#[derive(Debug)]
pub struct InstanceCapacity {
    max: usize,
    limited_by: String,
    cost: InstanceCost,
    /// The most the kernel's limits allow, when that is not what `max` is.
    derived: usize,
    in_use: AtomicUsize,
}

/// A snapshot of [`InstanceCapacity`], for `GET /` and logs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CapacityReport {
    /// Instances running (one per linear memory they define).
    pub instances: usize,
    /// The most that may run at once.
    pub instances_max: usize,
    /// What sets `instances_max`: `sandbox.instances.max` or the kernel limit it is derived
    /// from.
    pub limited_by: String,
    /// Memory mappings one instance costs in this layout.
    pub mappings_per_instance: usize,
    /// Address space one instance reserves, in bytes.
    pub address_space_per_instance: u64,
}

/// The worker holds as many instances as it may.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the worker already runs {in_use} of its {max} wasm instances ({limited_by}); delete or \
     stop connectors, or raise the limit and restart the worker"
)]
pub struct AtCapacity {
    pub in_use: usize,
    pub max: usize,
    pub limited_by: String,
}

impl InstanceCapacity {
    /// Capacity for `layout` under `kernel`'s limits, for instances capped at
    /// `memory_max_bytes`; `layout.instances_max` overrides the derived maximum.
    pub fn new(layout: &InstanceLayout, memory_max_bytes: u64, kernel: KernelLimits) -> Self {
        let cost = InstanceCost::of(layout, memory_max_bytes);
        let (derived, derived_by) = derive(cost, kernel);
        let (max, limited_by) = match layout.instances_max {
            Some(max) => (max, "sandbox.instances.max".to_owned()),
            None => (derived, derived_by),
        };
        Self {
            max,
            limited_by,
            cost,
            derived,
            in_use: AtomicUsize::new(0),
        }
    }

    /// Takes `units` slots (one per linear memory of the instance about to be created), or
    /// fails without taking any when they would exceed the maximum.
    pub(crate) fn acquire(self: &Arc<Self>, units: usize) -> Result<InstanceSlot, AtCapacity> {
        let units = units.max(1);
        let mut current = self.in_use.load(Ordering::Relaxed);
        loop {
            if current + units > self.max {
                return Err(AtCapacity {
                    in_use: current,
                    max: self.max,
                    limited_by: self.limited_by.clone(),
                });
            }
            match self.in_use.compare_exchange_weak(
                current,
                current + units,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Ok(InstanceSlot {
                        capacity: self.clone(),
                        units,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }

    pub fn report(&self) -> CapacityReport {
        CapacityReport {
            instances: self.in_use.load(Ordering::Relaxed),
            instances_max: self.max,
            limited_by: self.limited_by.clone(),
            mappings_per_instance: self.cost.mappings,
            address_space_per_instance: self.cost.address_space,
        }
    }

    /// When `sandbox.instances.max` allows more than the kernel's limits appear to: what to
    /// warn the operator of.
    pub fn overcommit_warning(&self) -> Option<String> {
        (self.max > self.derived).then(|| {
            format!(
                "sandbox.instances.max={} is more than this process's limits appear to allow \
                 ({} instances at {} memory mappings and {} MiB of address space each); \
                 instances past that may fail to start",
                self.max,
                self.derived,
                self.cost.mappings,
                self.cost.address_space >> 20
            )
        })
    }
}

/// The most instances `kernel` allows at `cost` each, and which limit binds. A share of each
/// limit is left to the rest of the process (threads, the allocator, plugins' code, the log).
fn derive(cost: InstanceCost, kernel: KernelLimits) -> (usize, String) {
    let by_address_space = {
        let limit = kernel.address_space.unwrap_or(USER_ADDRESS_SPACE);
        let reserve = (limit / 8).max(8 << 30);
        let count = limit.saturating_sub(reserve) / cost.address_space.max(1);
        let why = match kernel.address_space {
            Some(limit) => format!(
                "derived from the address-space limit (RLIMIT_AS) of {} MiB at {} MiB per \
                 instance; raise it, or lower sandbox.memory.reservation.bytes",
                limit >> 20,
                cost.address_space >> 20
            ),
            None => format!(
                "derived from the process's address space at {} MiB per instance; lower \
                 sandbox.memory.reservation.bytes",
                cost.address_space >> 20
            ),
        };
        (usize::try_from(count).unwrap_or(usize::MAX), why)
    };
    let Some(maps) = kernel.max_map_count else {
        return by_address_space;
    };
    let reserve = (maps / 8).max(4096);
    let count = maps.saturating_sub(reserve) / cost.mappings as u64;
    let by_maps = (
        usize::try_from(count).unwrap_or(usize::MAX),
        format!(
            "derived from vm.max_map_count={maps} at {} memory mappings per instance; raise \
             it with `sysctl vm.max_map_count=<n>`",
            cost.mappings
        ),
    );
    if by_maps.0 <= by_address_space.0 {
        by_maps
    } else {
        by_address_space
    }
}

/// `error` with what to change when it comes from a process limit the operating system
/// enforces (out of memory mappings, address space, files or threads), else unchanged.
pub(crate) fn explain_os_failure(error: anyhow::Error) -> anyhow::Error {
    let hint = error.chain().find_map(|cause| {
        let io = cause.downcast_ref::<std::io::Error>();
        let code = io.and_then(std::io::Error::raw_os_error);
        let text = cause.to_string();
        let is = |errno: i32, name: &str| code == Some(errno) || text.contains(name);
        if is(libc::ENOMEM, "os error 12") {
            Some(
                "the process is out of memory mappings (vm.max_map_count) or address space \
                 (RLIMIT_AS): lower sandbox.instances.max or sandbox.memory.reservation.bytes, \
                 or raise the kernel's limit",
            )
        } else if is(libc::EMFILE, "os error 24") || is(libc::ENFILE, "os error 23") {
            Some(
                "the process has as many open files as it may (RLIMIT_NOFILE, `ulimit -n`): \
                 raise the limit, or run fewer tasks that hold files",
            )
        } else if is(libc::EAGAIN, "os error 11") {
            Some(
                "the process may be at its limit on threads (RLIMIT_NPROC, \
                 kernel.threads-max): raise the limit",
            )
        } else {
            None
        }
    });
    match hint {
        Some(hint) => error.context(hint),
        None => error,
    }
}

/// Slots held by one instance; given back when dropped (with the instance's store).
#[derive(Debug)]
pub(crate) struct InstanceSlot {
    capacity: Arc<InstanceCapacity>,
    units: usize,
}

impl Drop for InstanceSlot {
    fn drop(&mut self) {
        self.capacity.in_use.fetch_sub(self.units, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_KERNEL: KernelLimits = KernelLimits {
        max_map_count: Some(65_530),
        address_space: None,
    };

    #[test]
    fn the_default_layout_fits_ten_thousand_tasks_under_the_default_map_count() {
        let layout = InstanceLayout::default();
        let capacity = InstanceCapacity::new(&layout, 256 << 20, DEFAULT_KERNEL);
        let report = capacity.report();
        assert_eq!(report.mappings_per_instance, 5);
        // 1,000 connectors of 10 tasks: 11,000 instances.
        assert!(report.instances_max >= 11_000, "{report:?}");
        assert!(report.limited_by.contains("vm.max_map_count=65530"));
        // Copy-on-write images cost two more mappings each.
        let cow = InstanceLayout {
            memory_cow: true,
            ..layout
        };
        let capacity = InstanceCapacity::new(&cow, 256 << 20, DEFAULT_KERNEL);
        assert_eq!(capacity.report().mappings_per_instance, 7);
        assert!(capacity.report().instances_max < 9_000);
    }

    #[test]
    fn an_address_space_limit_binds_with_large_reservations_and_names_the_fix() {
        let kernel = KernelLimits {
            max_map_count: Some(65_530),
            address_space: Some(64 << 30),
        };
        let capacity = InstanceCapacity::new(&InstanceLayout::default(), 256 << 20, kernel);
        let report = capacity.report();
        assert!(report.instances_max < 16, "{report:?}");
        assert!(report.limited_by.contains("RLIMIT_AS"), "{report:?}");
        assert!(
            report
                .limited_by
                .contains("sandbox.memory.reservation.bytes")
        );
        // Without the 4 GiB reservation an instance reserves its cap and room to grow.
        let small = InstanceLayout {
            memory_reservation_bytes: 0,
            memory_guard_bytes: 64 << 10,
            ..InstanceLayout::default()
        };
        let capacity = InstanceCapacity::new(&small, 64 << 20, kernel);
        assert!(capacity.report().instances_max > report.instances_max);
    }

    #[test]
    fn slots_are_refused_past_the_maximum_and_given_back_on_drop() {
        let layout = InstanceLayout {
            instances_max: Some(3),
            ..InstanceLayout::default()
        };
        let capacity = Arc::new(InstanceCapacity::new(&layout, 256 << 20, DEFAULT_KERNEL));
        let first = capacity.acquire(1).unwrap();
        let second = capacity.acquire(2).unwrap();
        let error = capacity.acquire(1).unwrap_err();
        assert_eq!((error.in_use, error.max), (3, 3));
        let message = error.to_string();
        assert!(message.contains("3 of its 3 wasm instances"), "{message}");
        assert!(message.contains("sandbox.instances.max"), "{message}");
        drop(second);
        assert_eq!(capacity.report().instances, 1);
        // A multi-memory instance needs all its units at once.
        assert!(capacity.acquire(3).is_err());
        let _third = capacity.acquire(2).unwrap();
        drop(first);
        assert_eq!(capacity.report().instances, 2);
    }

    #[test]
    fn the_address_space_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max stack size            8388608              unlimited            bytes\n\
                      Max address space         68719476736          unlimited            bytes\n";
        assert_eq!(parse_address_space_limit(limits), Some(64 << 30));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(parse_address_space_limit(unlimited), None);
    }

    #[test]
    fn os_failures_name_the_limit_to_change() {
        let mappings = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOMEM))
            .context("failed to create memory");
        let message = format!("{:#}", explain_os_failure(mappings));
        assert!(message.contains("vm.max_map_count"), "{message}");
        assert!(message.contains("failed to create memory"), "{message}");
        let files = anyhow::anyhow!("open: Too many open files (os error 24)");
        let message = format!("{:#}", explain_os_failure(files));
        assert!(message.contains("RLIMIT_NOFILE"), "{message}");
        let other = anyhow::anyhow!("unknown import");
        assert_eq!(format!("{:#}", explain_os_failure(other)), "unknown import");
    }

    #[test]
    fn a_configured_maximum_above_the_derived_one_is_warned_about() {
        let layout = InstanceLayout {
            instances_max: Some(1_000_000),
            ..InstanceLayout::default()
        };
        let capacity = InstanceCapacity::new(&layout, 256 << 20, DEFAULT_KERNEL);
        let warning = capacity.overcommit_warning().unwrap();
        assert!(
            warning.contains("sandbox.instances.max=1000000"),
            "{warning}"
        );
        let fits = InstanceLayout {
            instances_max: Some(100),
            ..InstanceLayout::default()
        };
        let capacity = InstanceCapacity::new(&fits, 256 << 20, DEFAULT_KERNEL);
        assert!(capacity.overcommit_warning().is_none());
    }
}
