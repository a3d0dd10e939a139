//! What one `Store` holds: the instance's context, its WASI context (deny by default), the
//! memory limiter, the per-call clock the epoch callback reads, the task's log budget, and
//! the accounting of the host resources (WASI handles) the guest holds. Also builds the store
//! with its limits and deadline callback.
//!
//! Host resources live in host memory, outside the guest's linear memory, so the memory
//! limiter alone does not see them. Every WASI and `wasi:http` import reaches the resource
//! table through [`WasiView::ctx`] or [`WasiHttpView::http`]; both first recount what the
//! table holds ([`HostState::account`]): its entries are capped by `sandbox.resources.max`
//! (the table's own capacity), and their charged bytes count against
//! `sandbox.memory.max.bytes` together with linear memory. Once over the cap, the imports
//! get an empty table instead, so the guest's next resource operation traps, and the trap
//! names the limit. The cost of one operation is the most a guest can overshoot by.

use std::{
    any::Any,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use wasmtime::{Engine, Store, StoreContextMut, UpdateDeadline, component::ResourceTable};
use wasmtime_wasi::{
    FsPerms, WasiCtx, WasiCtxView, WasiView,
    cli::{IsTerminal, StdoutStream},
};
use wasmtime_wasi_io::{
    async_trait,
    bytes::Bytes,
    poll::Pollable,
    streams::{OutputStream, StreamError},
};

use wasmtime_wasi_http::{
    FieldMap, WasiHttpCtx, WasiHttpCtxView, WasiHttpView,
    p2::{
        body::{HostIncomingBody, HostOutgoingBody},
        types::{HostFutureIncomingResponse, HostIncomingResponse, HostOutgoingRequest},
    },
};

use super::{HostLimits, InstanceContext, LogBudget, http::EgressHooks, limits::MemoryLimiter};

/// Longest log line (or stdout/stderr line) buffered while it is written; what is kept of it
/// is then bounded by `sandbox.string.max.bytes`.
const MAX_LINE_BUFFER_BYTES: usize = 1 << 20;
/// How much of the guest's latest stderr is kept to explain a trap (a Rust panic message).
const STDERR_TAIL_BYTES: usize = 4 << 10;

/// Bytes an outgoing request or response body may buffer in the host, per chunk
/// (`wasi:http` writes go through a channel of two chunks and the stream's own buffer).
pub(crate) const HTTP_BODY_CHUNK_BYTES: usize = 64 << 10;
/// The most data one call may hand the host (wasmtime's default hostcall fuel); less when the
/// instance's memory cap is smaller.
const MAX_HOSTCALL_BYTES: usize = 128 << 20;
/// What the accounting charges for a host resource it has no better estimate of.
const RESOURCE_BASE_BYTES: usize = 256;
/// What it charges for a body being received: at most about one frame is buffered.
const INCOMING_BODY_BYTES: usize = 64 << 10;
/// Per-store state.
pub struct HostState {
    pub(crate) ctx: InstanceContext,
    wasi: WasiCtx,
    table: ResourceTable,
    /// Handed to the imports instead of `table` once the guest holds more than it may: empty
    /// and full, so the next resource operation fails and the call traps.
    jail: ResourceTable,
    http: WasiHttpCtx,
    /// The egress-enforcing sender of `wasi:http` requests.
    http_hooks: EgressHooks,
    /// The instance's TCP grant (`sandbox.tcp.allow`); None = no TCP at all.
    pub(crate) tcp: Option<Arc<super::tcp::TcpGuard>>,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) clock: CallClock,
    /// `RuntimeConfig::throttle`: a call running longer than this is paused between epoch
    /// ticks, for this long, so it gets a bounded share of a thread.
    throttle: Option<Throttle>,
    /// Whether this instance already logged that its calls are being throttled.
    throttle_logged: bool,
    pub(crate) limits: HostLimits,
    /// Shared with the stdout/stderr streams in the resource table.
    pub(crate) output: Arc<Mutex<GuestOutput>>,
    /// The task's log budget (the guest's lines and the host's lines about the task).
    pub(crate) log: Arc<LogBudget>,
    /// The host resources counted at the last import call.
    pub(crate) resources: ResourceUsage,
    /// Set when the guest's host resources went over the memory cap: why.
    pub(crate) resource_refusal: Option<super::limits::MemoryRefusal>,
    /// `connector-context.request-task-reconfiguration` was already forwarded in this call.
    pub(crate) reconfiguration_requested: bool,
    /// `connector-context.raise-error` was already forwarded by this instance.
    pub(crate) error_raised: bool,
    /// `source-task-context.poll-again-after` in this call: how long the task has nothing.
    pub(crate) poll_again_after: Option<Duration>,
}

/// What the host resources of an instance hold, as last counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    /// Live entries of the resource table.
    pub entries: usize,
    /// Bytes charged for them (see [`charge`]).
    pub bytes: usize,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let jailed = self.check_resources();
        WasiCtxView {
            ctx: &mut self.wasi,
            table: if jailed {
                &mut self.jail
            } else {
                &mut self.table
            },
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let jailed = self.check_resources();
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: if jailed {
                &mut self.jail
            } else {
                &mut self.table
            },
            hooks: &mut self.http_hooks,
        }
    }
}

impl HostState {
    /// What the `wasi:sockets/tcp` imports get: wasmtime-wasi's sockets and the TCP guard.
    pub(crate) fn guarded_tcp(&mut self) -> super::tcp::GuardedTcp<'_> {
        let guard = self.tcp.clone();
        super::tcp::GuardedTcp {
            sockets: wasmtime_wasi::sockets::WasiSocketsView::sockets(self),
            guard,
        }
    }

    /// Recounts the host resources; true once they hold more than the memory cap leaves room
    /// for, and the imports must get the jail instead of the table.
    fn check_resources(&mut self) -> bool {
        if self.resource_refusal.is_none() {
            self.account();
        }
        self.resource_refusal.is_some()
    }

    /// Counts the resource table's entries and their charged bytes, and refuses further
    /// resource operations when linear memory and host resources together pass the memory
    /// cap. Metered stores only.
    pub(crate) fn account(&mut self) {
        let mut usage = ResourceUsage::default();
        for entry in self.table.iter_mut() {
            usage.entries += 1;
            usage.bytes = usage.bytes.saturating_add(charge(entry));
        }
        self.resources = usage;
        self.limiter.set_host_bytes(usage.bytes);
        if self.limiter.is_metered()
            && let Some(refusal) = self.limiter.over_limit()
        {
            self.resource_refusal = Some(refusal);
        }
    }

    /// Admits one guest log line of `bytes`: within this task's log budget.
    pub(crate) fn admit_log_line(&self, bytes: usize) -> bool {
        self.log.admit(bytes)
    }

    /// Resets the per-call state and starts the clock.
    pub(crate) fn begin_call(&mut self, timeout: Duration) {
        self.clock = CallClock::start(timeout);
        self.reconfiguration_requested = false;
        self.poll_again_after = None;
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        output.stderr_tail.clear();
    }

    /// The end of what the guest wrote to stderr in this call, for a trap message.
    pub(crate) fn stderr_tail(&self) -> String {
        let output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&output.stderr_tail)
            .trim()
            .to_owned()
    }

    /// Writes out partial stdout/stderr lines (after a call).
    pub(crate) fn flush_output(&mut self) {
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        output.flush();
    }
}

/// The bytes the accounting charges for one resource-table entry: what the host may hold for
/// it at most (bodies: their buffers) or actually holds (headers, URLs), plus a base cost.
fn charge(entry: &mut (dyn Any + Send)) -> usize {
    let entry: &(dyn Any + Send) = entry;
    if let Some(fields) = entry.downcast_ref::<FieldMap>() {
        return RESOURCE_BASE_BYTES + header_bytes(fields);
    }
    if let Some(request) = entry.downcast_ref::<HostOutgoingRequest>() {
        return RESOURCE_BASE_BYTES
            + request.authority.as_ref().map_or(0, String::len)
            + request.path_with_query.as_ref().map_or(0, String::len)
            + header_bytes(&request.headers);
    }
    if entry.is::<HostOutgoingBody>() {
        // Two chunks in the channel to the connection and one in the stream.
        return RESOURCE_BASE_BYTES + 3 * HTTP_BODY_CHUNK_BYTES;
    }
    if let Some(response) = entry.downcast_ref::<HostIncomingResponse>() {
        return RESOURCE_BASE_BYTES + INCOMING_BODY_BYTES + header_bytes(&response.headers);
    }
    if entry.is::<HostIncomingBody>() || entry.is::<HostFutureIncomingResponse>() {
        return RESOURCE_BASE_BYTES + INCOMING_BODY_BYTES;
    }
    RESOURCE_BASE_BYTES
}

/// Bytes of header names and values, plus a slot's overhead for each.
fn header_bytes(fields: &FieldMap) -> usize {
    fields
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

/// When the current call started and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct CallClock {
    pub started: Instant,
    pub timeout: Duration,
    /// The epoch callback interrupted the call because its time was up.
    pub timed_out: bool,
}

impl CallClock {
    pub fn start(timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            timeout,
            timed_out: false,
        }
    }
}

/// How long calls are throttled: after `after` of a call, each epoch tick of running is
/// followed by a pause of `pause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub after: Duration,
    pub pause: Duration,
}

/// Runs at every epoch tick while the guest executes: yield to tokio so other tasks run
/// (after a pause, once the call is long, so a busy guest cannot take a whole thread), or
/// interrupt the guest once the call's wall-clock time is up.
fn on_epoch_deadline(
    mut store: StoreContextMut<'_, HostState>,
) -> wasmtime::Result<UpdateDeadline> {
    let throttle = store.data().throttle;
    let clock = &mut store.data_mut().clock;
    let elapsed = clock.started.elapsed();
    if elapsed >= clock.timeout {
        clock.timed_out = true;
        return Ok(UpdateDeadline::Interrupt);
    }
    match throttle {
        Some(throttle) if elapsed >= throttle.after => {
            // Never sleep past the deadline: wake in time to interrupt.
            let pause = throttle.pause.min(clock.timeout - elapsed);
            let state = store.data_mut();
            if !std::mem::replace(&mut state.throttle_logged, true) && state.log.admit(256) {
                // Once per instance: a connector whose calls keep running this long is
                // slowed for the sake of the others, and its author should hear why.
                tracing::warn!(
                    connector = %state.ctx.connector,
                    task = state.ctx.task,
                    after_ms = u64::try_from(throttle.after.as_millis()).unwrap_or(u64::MAX),
                    "A call into the connector ran longer than sandbox.throttle.after.ms and is \
                     throttled to one epoch tick in eight from then on (logged once per task \
                     instance; wasm_connect_task_throttled_seconds_total counts the pauses). \
                     Return from poll and put sooner, e.g. with smaller batches."
                );
            }
            if let Some(metrics) = &store.data().ctx.metrics {
                metrics.guest.throttled.fetch_add(
                    u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX),
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::time::sleep(pause)),
            ))
        }
        _ => Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        )),
    }
}

/// A store for one instance: deny-by-default WASI, the memory cap and the deadline callback
/// (both left out when not `metering`, see `RuntimeConfig::metering`), the resource table's
/// capacity, and the task's log budget (a new one when the context brings none).
pub(crate) fn new_store(
    engine: &Engine,
    mut ctx: InstanceContext,
    metering: bool,
    throttle: Option<Throttle>,
    limits: HostLimits,
) -> Result<Store<HostState>, wasmtime::Error> {
    let log = ctx.log.take().unwrap_or_else(|| {
        Arc::new(LogBudget::new(
            ctx.connector.clone(),
            ctx.task,
            limits.log_lines_per_second,
            limits.log_bytes_per_second,
        ))
    });
    let output = Arc::new(Mutex::new(GuestOutput::new(
        &ctx,
        log.clone(),
        limits.string_max_bytes,
    )));
    let mut wasi = WasiCtx::builder();
    // No env, no args, no stdin, no raw sockets (wasmtime-wasi denies every address by
    // default, and name lookup is off); stdout and stderr go to tracing. Outgoing HTTP goes
    // only through `wasi:http` and the egress policy of `http_hooks`.
    wasi.stdout(OutputPipe {
        output: output.clone(),
        stream: "stdout",
    })
    .stderr(OutputPipe {
        output: output.clone(),
        stream: "stderr",
    })
    .allow_tcp(false)
    .allow_udp(false)
    .allow_ip_name_lookup(false);
    // TCP only with a grant, and then only to addresses the guard checked.
    let tcp = ctx.tcp.clone().map(|policy| {
        Arc::new(super::tcp::TcpGuard::new(
            policy,
            ctx.connector.clone(),
            ctx.task,
            log.clone(),
            ctx.metrics.clone(),
        ))
    });
    if let Some(guard) = &tcp {
        let guard = guard.clone();
        wasi.allow_tcp(true).socket_addr_check(move |addr, use_| {
            let allowed = guard.check(addr, use_);
            Box::pin(async move { allowed })
        });
    }
    for preopen in &ctx.preopens {
        let perms = if preopen.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        wasi.preopened_dir(&preopen.host_path, &preopen.guest_path, perms)
            .map_err(|e| {
                e.context(format!(
                    "cannot open directory `{}` for the guest",
                    preopen.host_path.display()
                ))
            })?;
    }
    let limiter = MemoryLimiter::new(ctx.limits.memory_max_bytes, metering);
    let timeout = ctx.limits.timeout;
    let http_hooks = EgressHooks::new(
        ctx.egress.clone(),
        ctx.connector.clone(),
        ctx.task,
        log.clone(),
        ctx.metrics.clone(),
    )
    .with_tenant_slots(ctx.http_connections.clone());
    let mut table = ResourceTable::new();
    if metering {
        table.set_max_capacity(limits.resources_max);
    }
    let mut jail = ResourceTable::new();
    jail.set_max_capacity(0);
    let state = HostState {
        ctx,
        wasi: wasi.build(),
        table,
        jail,
        http: WasiHttpCtx::new(),
        http_hooks,
        tcp,
        limiter,
        clock: CallClock::start(timeout),
        throttle,
        throttle_logged: false,
        limits,
        output,
        log,
        resources: ResourceUsage::default(),
        resource_refusal: None,
        reconfiguration_requested: false,
        error_raised: false,
        poll_again_after: None,
    };
    let memory_max_bytes = state.ctx.limits.memory_max_bytes;
    let mut store = Store::new(engine, state);
    if metering {
        // What the guest hands the host in one call (a `poll` batch, a log line) is at most
        // what it could hold itself: the host copy of a batch then costs no more than the
        // guest's own memory cap.
        store.set_hostcall_fuel(memory_max_bytes.min(MAX_HOSTCALL_BYTES));
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(on_epoch_deadline);
        store.set_epoch_deadline(1);
    }
    Ok(store)
}

/// What the guest wrote to stdout and stderr, turned into log lines within the task's log
/// budget.
pub(crate) struct GuestOutput {
    connector: String,
    tenant: Option<Arc<str>>,
    secrets: Arc<crate::config::providers::Secrets>,
    task: Option<u32>,
    log: Arc<LogBudget>,
    /// `sandbox.string.max.bytes`: the most of one line that is logged.
    line_max_bytes: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stderr_tail: Vec<u8>,
}

impl GuestOutput {
    fn new(ctx: &InstanceContext, log: Arc<LogBudget>, line_max_bytes: usize) -> Self {
        Self {
            connector: ctx.connector.clone(),
            tenant: ctx.tenant.clone(),
            secrets: ctx.secrets.clone(),
            task: ctx.task,
            log,
            line_max_bytes,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stderr_tail: Vec::new(),
        }
    }

    fn write(&mut self, stream: &'static str, bytes: &[u8]) {
        if stream == "stderr" {
            self.stderr_tail.extend_from_slice(bytes);
            if self.stderr_tail.len() > STDERR_TAIL_BYTES {
                let excess = self.stderr_tail.len() - STDERR_TAIL_BYTES;
                self.stderr_tail.drain(..excess);
            }
        }
        // Keep at most one byte over what is logged of a line, to know it was cut.
        let keep = self.line_max_bytes.min(MAX_LINE_BUFFER_BYTES) + 1;
        let mut rest = bytes;
        while !rest.is_empty() {
            let buffer = if stream == "stderr" {
                &mut self.stderr
            } else {
                &mut self.stdout
            };
            match rest.iter().position(|&b| b == b'\n') {
                Some(newline) => {
                    let room = keep.saturating_sub(buffer.len());
                    buffer.extend_from_slice(&rest[..newline.min(room)]);
                    rest = &rest[newline + 1..];
                    let line = std::mem::take(buffer);
                    self.emit(stream, &line);
                }
                None => {
                    let room = keep.saturating_sub(buffer.len());
                    buffer.extend_from_slice(&rest[..rest.len().min(room)]);
                    rest = &[];
                }
            }
        }
    }

    fn emit(&mut self, stream: &'static str, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) || !self.log.admit(line.len()) {
            return;
        }
        let mut line = String::from_utf8_lossy(line).into_owned();
        self.secrets.conceal_in_place(&mut line);
        crate::text::truncate(&mut line, self.line_max_bytes);
        tracing::info!(
            target: "connector",
            connector = %self.connector,
            task = self.task,
            tenant = self.tenant.as_deref(),
            stream,
            "{line}"
        );
    }

    fn flush(&mut self) {
        for stream in ["stdout", "stderr"] {
            let buffer = if stream == "stderr" {
                &mut self.stderr
            } else {
                &mut self.stdout
            };
            if !buffer.is_empty() {
                let line = std::mem::take(buffer);
                self.emit(stream, &line);
            }
        }
    }
}

/// The guest's stdout or stderr. Writes never block: they are split into lines and logged.
#[derive(Clone)]
struct OutputPipe {
    output: Arc<Mutex<GuestOutput>>,
    stream: &'static str,
}

impl OutputPipe {
    fn write_bytes(&self, bytes: &[u8]) {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(self.stream, bytes);
    }
}

impl IsTerminal for OutputPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl Pollable for OutputPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for OutputPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for OutputPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
