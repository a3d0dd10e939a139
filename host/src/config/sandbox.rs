//! The sandbox limits as settings: what every call, instance and guest is held to
//! (`sandbox.fuel.per.call`, `sandbox.timeout.ms`, `sandbox.memory.max.bytes`, and the
//! worker's bounds on what a guest may make the host hold, log or echo) with their defaults.
//! Plain data: the runtime enforces them, the config reads them.

use std::time::Duration;

/// Per-call and per-instance limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Fuel (roughly wasm instructions) one call may use; None = unmetered.
    pub fuel_per_call: Option<u64>,
    /// Wall-clock time one call may take.
    pub timeout: Duration,
    /// Sum of all linear memories and tables of the instance, in bytes.
    pub memory_max_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            fuel_per_call: Some(DEFAULT_FUEL_PER_CALL),
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            memory_max_bytes: DEFAULT_MEMORY_MAX_BYTES,
        }
    }
}

/// Default fuel per call: about 5 s of a tight loop (2M units ≈ 1 ms on x86_64).
pub const DEFAULT_FUEL_PER_CALL: u64 = 10_000_000_000;
/// Default `sandbox.throttle.after.ms`.
pub const DEFAULT_THROTTLE_AFTER_MS: u64 = 100;
/// Default wall-clock limit per call.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default memory cap per instance: 256 MiB.
pub const DEFAULT_MEMORY_MAX_BYTES: usize = 256 << 20;

/// Bounds on what one guest can make the host hold, log or echo beyond its per-call fuel,
/// deadline and memory cap: the same for every connector of a worker (worker settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// `sandbox.string.max.bytes`: the longest guest-supplied text the host keeps, logs or
    /// echoes (error messages and traces, log lines, descriptions, documentation, config
    /// values from `validate`); longer text is truncated with a note of what was cut.
    pub string_max_bytes: usize,
    /// `sandbox.resources.max`: the most host resources (WASI handles: files, streams, HTTP
    /// fields, requests, bodies, pollables) one instance may hold at once. Their bytes also
    /// count against the instance's `sandbox.memory.max.bytes`.
    pub resources_max: usize,
    /// `sandbox.log.lines.per.second`: log lines one task may make the worker write per
    /// second (its guest's and the host's per-record lines about it).
    pub log_lines_per_second: u32,
    /// `sandbox.log.bytes.per.second`: the same in bytes.
    pub log_bytes_per_second: u64,
    /// `sandbox.schema.max.bytes`: the largest schema a guest may hand the host, counted as
    /// it expands (a child shared by several parents counts each time), roughly in bytes of
    /// its JSON form.
    pub schema_max_bytes: u64,
}

/// Default `sandbox.string.max.bytes`.
pub const DEFAULT_STRING_MAX_BYTES: usize = 64 << 10;
/// Default `sandbox.resources.max`.
pub const DEFAULT_RESOURCES_MAX: usize = 1_000;
/// Default `sandbox.log.lines.per.second`.
pub const DEFAULT_LOG_LINES_PER_SECOND: u32 = 1_000;
/// Default `sandbox.log.bytes.per.second`.
pub const DEFAULT_LOG_BYTES_PER_SECOND: u64 = 1 << 20;
/// Default `sandbox.schema.max.bytes`.
pub const DEFAULT_SCHEMA_MAX_BYTES: u64 = 1 << 20;

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            string_max_bytes: DEFAULT_STRING_MAX_BYTES,
            resources_max: DEFAULT_RESOURCES_MAX,
            log_lines_per_second: DEFAULT_LOG_LINES_PER_SECOND,
            log_bytes_per_second: DEFAULT_LOG_BYTES_PER_SECOND,
            schema_max_bytes: DEFAULT_SCHEMA_MAX_BYTES,
        }
    }
}

/// How each instance's linear memory sits in the address space, and how many instances the
/// worker runs at once: what sets the worker's density (`sandbox.memory.reservation.bytes`,
/// `sandbox.memory.guard.bytes`, `sandbox.memory.cow.enable`, `sandbox.instances.max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLayout {
    /// `sandbox.memory.reservation.bytes`: address space reserved for each linear memory.
    /// 4 GiB or more lets compiled code skip bounds checks; less (down to 0) makes every
    /// memory access check its bounds and memories move as they grow.
    pub memory_reservation_bytes: u64,
    /// `sandbox.memory.guard.bytes`: inaccessible address space after (and before) each linear
    /// memory, which lets compiled code skip checking the offsets of accesses.
    pub memory_guard_bytes: u64,
    /// `sandbox.memory.cow.enable`: map a component's initial memory image copy-on-write from
    /// the compiled file instead of copying it into every instance: less resident memory for
    /// components with a large image (Python, JavaScript), two more memory mappings per
    /// instance.
    pub memory_cow: bool,
    /// `sandbox.instances.max`: the most wasm instances the worker runs at once; None derives
    /// it from the kernel's limits and the layout.
    pub instances_max: Option<usize>,
}

/// Default `sandbox.memory.reservation.bytes`: 4 GiB, so 32-bit memories need no bounds checks.
pub const DEFAULT_MEMORY_RESERVATION_BYTES: u64 = 4 << 30;
/// Default `sandbox.memory.guard.bytes` (wasmtime's default on 64-bit hosts).
pub const DEFAULT_MEMORY_GUARD_BYTES: u64 = 32 << 20;

impl Default for InstanceLayout {
    fn default() -> Self {
        Self {
            memory_reservation_bytes: DEFAULT_MEMORY_RESERVATION_BYTES,
            memory_guard_bytes: DEFAULT_MEMORY_GUARD_BYTES,
            memory_cow: false,
            instances_max: None,
        }
    }
}
