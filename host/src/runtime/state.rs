//! What one `Store` holds: the instance's context, its WASI context (deny by default), the
//! memory limiter, the per-call clock the epoch callback reads, and the per-call budgets of the
//! host imports. Also builds the store with its limits and deadline callback.

use std::{
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

use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::{InstanceContext, http::EgressHooks, limits::MemoryLimiter};

/// Longest log line (or stdout/stderr line) kept; longer ones are truncated.
pub const MAX_LOG_LINE_BYTES: usize = 64 << 10;
/// Most log lines (through `logging` and stdout/stderr together) one call may write; later
/// ones are dropped with a single warning.
pub const MAX_LOG_LINES_PER_CALL: u32 = 10_000;
/// How much of the guest's latest stderr is kept to explain a trap (a Rust panic message).
const STDERR_TAIL_BYTES: usize = 4 << 10;

/// Per-store state.
pub struct HostState {
    pub(crate) ctx: InstanceContext,
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    /// The egress-enforcing sender of `wasi:http` requests.
    http_hooks: EgressHooks,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) clock: CallClock,
    /// `RuntimeConfig::throttle`: a call running longer than this is paused between epoch
    /// ticks, for this long, so it gets a bounded share of a thread.
    throttle: Option<Throttle>,
    /// Shared with the stdout/stderr streams in the resource table.
    pub(crate) output: Arc<Mutex<GuestOutput>>,
    /// `connector-context.request-task-reconfiguration` was already forwarded in this call.
    pub(crate) reconfiguration_requested: bool,
    /// `connector-context.raise-error` was already forwarded by this instance.
    pub(crate) error_raised: bool,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl HostState {
    /// Admits one more log line in this call, warning once when the budget runs out.
    pub(crate) fn admit_log_line(&mut self) -> bool {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit()
    }

    /// Resets the per-call budgets and starts the clock.
    pub(crate) fn begin_call(&mut self, timeout: Duration) {
        self.clock = CallClock::start(timeout);
        self.reconfiguration_requested = false;
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        output.lines = 0;
        output.warned = false;
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
/// (both left out when not `metering`, see `RuntimeConfig::metering`).
pub(crate) fn new_store(
    engine: &Engine,
    ctx: InstanceContext,
    metering: bool,
    throttle: Option<Throttle>,
) -> Result<Store<HostState>, wasmtime::Error> {
    let output = Arc::new(Mutex::new(GuestOutput::new(&ctx)));
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
    let limiter = MemoryLimiter::new(ctx.limits.memory_max_bytes);
    let timeout = ctx.limits.timeout;
    let http_hooks = EgressHooks::new(ctx.egress.clone(), ctx.connector.clone(), ctx.task);
    let state = HostState {
        ctx,
        wasi: wasi.build(),
        table: ResourceTable::new(),
        http: WasiHttpCtx::new(),
        http_hooks,
        limiter,
        clock: CallClock::start(timeout),
        throttle,
        output,
        reconfiguration_requested: false,
        error_raised: false,
    };
    let mut store = Store::new(engine, state);
    if metering {
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(on_epoch_deadline);
        store.set_epoch_deadline(1);
    }
    Ok(store)
}

/// Truncates `message` to at most `max` bytes at a character boundary, saying so.
pub(crate) fn truncate_message(message: &mut String, max: usize) {
    if message.len() <= max {
        return;
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let dropped = message.len() - end;
    message.truncate(end);
    message.push_str(&format!("… [{dropped} bytes truncated]"));
}

/// What the guest wrote to stdout and stderr, turned into log lines.
pub(crate) struct GuestOutput {
    connector: String,
    task: Option<u32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stderr_tail: Vec<u8>,
    lines: u32,
    warned: bool,
}

impl GuestOutput {
    fn new(ctx: &InstanceContext) -> Self {
        Self {
            connector: ctx.connector.clone(),
            task: ctx.task,
            stdout: Vec::new(),
            stderr: Vec::new(),
            stderr_tail: Vec::new(),
            lines: 0,
            warned: false,
        }
    }

    fn admit(&mut self) -> bool {
        if self.lines < MAX_LOG_LINES_PER_CALL {
            self.lines += 1;
            return true;
        }
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                target: "connector",
                connector = %self.connector,
                task = self.task,
                "Guest wrote more than {MAX_LOG_LINES_PER_CALL} log lines in one call; dropping the rest of this call's lines."
            );
        }
        false
    }

    fn write(&mut self, stream: &'static str, bytes: &[u8]) {
        if stream == "stderr" {
            self.stderr_tail.extend_from_slice(bytes);
            if self.stderr_tail.len() > STDERR_TAIL_BYTES {
                let excess = self.stderr_tail.len() - STDERR_TAIL_BYTES;
                self.stderr_tail.drain(..excess);
            }
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let buffer = if stream == "stderr" {
                &mut self.stderr
            } else {
                &mut self.stdout
            };
            match rest.iter().position(|&b| b == b'\n') {
                Some(newline) => {
                    if buffer.len() < MAX_LOG_LINE_BYTES + 1 {
                        buffer.extend_from_slice(&rest[..newline]);
                    }
                    rest = &rest[newline + 1..];
                    let line = std::mem::take(buffer);
                    self.emit(stream, &line);
                }
                None => {
                    // Keep at most one byte over the limit, to know the line was truncated.
                    let room = (MAX_LOG_LINE_BYTES + 1).saturating_sub(buffer.len());
                    buffer.extend_from_slice(&rest[..rest.len().min(room)]);
                    rest = &[];
                }
            }
        }
    }

    fn emit(&mut self, stream: &'static str, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) || !self.admit() {
            return;
        }
        let mut line = String::from_utf8_lossy(line).into_owned();
        truncate_message(&mut line, MAX_LOG_LINE_BYTES);
        tracing::info!(
            target: "connector",
            connector = %self.connector,
            task = self.task,
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
