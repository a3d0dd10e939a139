//! Running tasks: the source task loop (poll → convert → produce → commit acknowledged
//! offsets), the sink task loop (consume → convert → put → pre-commit → commit), the errant
//! record reporter behind the dead letter queue, and what tasks share with the coordinator.

mod convert;
mod errant;
mod errors;
mod grants;
mod preconvert;
mod sink_task;
mod source_task;
mod topics;
pub mod transforms;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use convert::RecordConverters;
pub use errant::DlqReporter;
pub use grants::preopens_for;
pub use sink_task::run as run_sink_task;
pub use source_task::{StoreReader, run as run_source_task};
pub use topics::ActiveTopics;

use crate::{
    config::{ConnectorConfig, WorkerConfig},
    log::RecordLog,
    runtime::{ConfigMap, Plugin},
    storage::OffsetBackingStore,
    transforms::TransformChain,
};

/// Yields so that another worker thread can take the current task over.
///
/// Tokio runs a task woken from a worker thread next on that same thread (its "LIFO slot"),
/// where no idle worker can steal it (tokio-rs/tokio#4941). A stage that hands a batch to the
/// next stage and goes on computing would so run both stages of a pipeline on one thread, one
/// after the other. Waking itself before returning `Pending` puts the current task at the
/// back of the worker's run queue, from which tokio wakes an idle worker to steal it: the
/// woken stage runs here while this one continues on another thread.
pub(crate) async fn hand_off() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// What every task of this worker shares.
pub struct Services {
    pub worker: WorkerConfig,
    pub log: Arc<dyn RecordLog>,
    pub offsets: Arc<dyn OffsetBackingStore>,
    /// `worker_id` in statuses.
    pub worker_id: String,
    /// The topics each connector used (KIP-558).
    pub topics: ActiveTopics,
    /// Connector and task starts, for `/metrics`.
    pub startups: crate::metrics::Startups,
    /// Whether this worker may run its tasks now (distributed mode: its membership is
    /// current).
    pub lease: Arc<Lease>,
}

/// Whether a worker may run its tasks now: always in standalone mode; in distributed mode
/// until its membership may have lapsed (the cluster driver renews it with each acknowledged
/// heartbeat). Tasks check it before each poll, send, put and offset commit, so a worker that
/// was stopped (SIGSTOP) or cut off past its session stops producing and committing the
/// moment it runs again, before its cluster driver has stopped its tasks.
#[derive(Debug)]
pub struct Lease {
    origin: std::time::Instant,
    /// Milliseconds after `origin` until which it is valid.
    until_ms: std::sync::atomic::AtomicU64,
}

impl Lease {
    /// A lease that never lapses (standalone).
    pub fn unbounded() -> Self {
        Self {
            origin: std::time::Instant::now(),
            until_ms: std::sync::atomic::AtomicU64::new(u64::MAX),
        }
    }

    /// Valid until `until`.
    pub fn renew(&self, until: std::time::Instant) {
        let ms = until.saturating_duration_since(self.origin).as_millis();
        self.until_ms.store(
            u64::try_from(ms).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::SeqCst,
        );
    }

    /// Lapsed from now on, until renewed.
    pub fn expire(&self) {
        self.until_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn valid(&self) -> bool {
        let until = self.until_ms.load(std::sync::atomic::Ordering::SeqCst);
        until == u64::MAX || (self.origin.elapsed().as_millis() as u64) < until
    }
}

pub use crate::config::connector::TargetState;

/// A task's lifecycle as the coordinator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    Running,
    Paused,
    /// The task failed; the trace says why.
    Failed(String),
    /// The task stopped because it was asked to.
    Stopped,
    /// A task asked for its connector to regenerate task configs.
    RequestReconfiguration,
}

/// Everything one task needs to run.
pub struct TaskSpec {
    pub connector: Arc<ConnectorConfig>,
    /// The connector's transform chain (`transforms`, `predicates`), built when it was
    /// created.
    pub transforms: Arc<TransformChain>,
    pub task: u32,
    pub plugin: Arc<Plugin>,
    pub config: ConfigMap,
    /// Whether the plugin is built in (the file connectors get their `file`'s directory).
    pub builtin: bool,
    /// The compute budget its calls draw on (its tenant's); None = unbudgeted.
    pub budget: Option<Arc<dyn crate::runtime::ComputeBudget>>,
    /// Its tenant's open-connection slots; None = unlimited.
    pub http_connections: Option<Arc<tokio::sync::Semaphore>>,
    /// Its tenant's throughput budget in records (`quotas.records_per_second`): charged with
    /// every batch polled or put, the task waits while it is in debt. None = unlimited.
    pub throughput: Option<Arc<dyn crate::runtime::ComputeBudget>>,
}

/// How the coordinator steers a running task and hears from it.
pub struct TaskControl {
    pub shutdown: CancellationToken,
    pub target: watch::Receiver<TargetState>,
    pub events: mpsc::UnboundedSender<(u32, TaskEvent)>,
    pub metrics: Arc<TaskMetrics>,
}

impl TaskControl {
    fn emit(&self, task: u32, event: TaskEvent) {
        use crate::metrics::RunState;
        match &event {
            TaskEvent::Running => self.metrics.entered(RunState::Running),
            TaskEvent::Paused => self.metrics.entered(RunState::Paused),
            TaskEvent::Failed(_) | TaskEvent::Stopped => self.metrics.entered(RunState::Other),
            TaskEvent::RequestReconfiguration => {}
        }
        // The coordinator outlives its tasks; a closed channel only happens at shutdown.
        let _ = self.events.send((task, event));
    }
}

/// The log budget of a task (`sandbox.log.lines.per.second`, `sandbox.log.bytes.per.second`),
/// shared by its instances and by the host's own per-record lines about it.
fn task_log_budget(spec: &TaskSpec, services: &Services) -> Arc<crate::runtime::LogBudget> {
    let limits = services.worker.host_limits;
    Arc::new(crate::runtime::LogBudget::new(
        spec.connector.name.clone(),
        Some(spec.task),
        limits.log_lines_per_second,
        limits.log_bytes_per_second,
    ))
}

/// The task's own instances of the transform components in its connector's chain (None when
/// the chain has only built-in SMTs). Each gets the connector's sandbox limits and the task's
/// log budget, and nothing else: no directories, no network, no offsets.
async fn task_transforms(
    spec: &TaskSpec,
    log: &Arc<crate::runtime::LogBudget>,
    metrics: &Arc<TaskMetrics>,
) -> Result<Option<transforms::TaskTransforms>, TaskFailure> {
    let chain = &spec.transforms;
    if !chain.has_plugins() {
        return Ok(None);
    }
    // Transforms cannot reach `connector-context`, so nobody needs to hear its events.
    let mut context = crate::runtime::InstanceContext::detached(
        spec.connector.name.clone(),
        Some(spec.task),
        spec.connector.sandbox,
    );
    context.log = Some(log.clone());
    context.secrets = spec.connector.secrets.clone();
    context.budget = spec.budget.clone();
    context.http_connections = spec.http_connections.clone();
    context.tenant = spec.connector.tenant.clone();
    // Their calls (`apply`) count as the task's; their memory is not the task instance's.
    context.metrics = Some(metrics.clone());
    context.counts_memory = false;
    transforms::TaskTransforms::start(chain.clone(), context)
        .await
        .map(Some)
        .map_err(|error| TaskFailure::new(error.to_string()))
}

/// Charges `records` to the task's throughput budget and waits while it is in debt (or until
/// the task is told to stop), counting the wait.
async fn hold_to_throughput(spec: &TaskSpec, control: &TaskControl, records: usize) {
    let Some(budget) = &spec.throughput else {
        return;
    };
    budget.charge(records as u64);
    if let Some(wait) = budget.delay() {
        control.metrics.guest.budget_wait.fetch_add(
            u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        tokio::select! {
            () = control.shutdown.cancelled() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Handles what the guest asked through `connector-context` during the last call: a
/// reconfiguration request goes to the connector, `raise-error` fails the task.
fn check_events(
    events: &mut mpsc::UnboundedReceiver<crate::runtime::ContextEvent>,
    control: &TaskControl,
    task: u32,
) -> Result<(), TaskFailure> {
    while let Ok(event) = events.try_recv() {
        match event {
            crate::runtime::ContextEvent::RequestTaskReconfiguration => {
                control.emit(task, TaskEvent::RequestReconfiguration)
            }
            crate::runtime::ContextEvent::RaiseError(message) => {
                return Err(TaskFailure::new(format!("raise-error: {message}")));
            }
        }
    }
    Ok(())
}

pub use crate::metrics::TaskMetrics;

/// Why a task stopped running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{trace}")]
pub struct TaskFailure {
    pub trace: String,
}

impl TaskFailure {
    pub fn new(trace: impl Into<String>) -> Self {
        Self {
            trace: trace.into(),
        }
    }
}

impl From<crate::runtime::CallError> for TaskFailure {
    fn from(error: crate::runtime::CallError) -> Self {
        Self::new(error.to_string())
    }
}

impl From<crate::runtime::RuntimeError> for TaskFailure {
    fn from(error: crate::runtime::RuntimeError) -> Self {
        Self::new(crate::error_chain(&error))
    }
}

impl From<crate::log::LogError> for TaskFailure {
    fn from(error: crate::log::LogError) -> Self {
        Self::new(crate::error_chain(&error))
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicBool, Ordering},
        time::{Duration, Instant},
    };

    use super::*;

    /// Spins (never yielding) until `flag` is set; false after 10 s.
    fn spin_until(flag: &AtomicBool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !flag.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                return false;
            }
            std::hint::spin_loop();
        }
        true
    }

    /// Two stages that each compute without yielding must run at the same time once the
    /// first hands off: without it, the woken stage waits in the first one's thread.
    #[test]
    fn after_a_hand_off_the_woken_task_and_the_waker_run_in_parallel() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let upstream_running = Arc::new(AtomicBool::new(false));
        let downstream_running = Arc::new(AtomicBool::new(false));
        let (up, down) = (upstream_running.clone(), downstream_running.clone());
        let upstream = runtime.spawn(async move {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
            let (job_tx, job_rx) = tokio::sync::oneshot::channel::<()>();
            let downstream = tokio::spawn(async move {
                ready_tx.send(()).unwrap();
                job_rx.await.unwrap();
                downstream_running.store(true, Ordering::Release);
                spin_until(&upstream_running)
            });
            ready_rx.await.unwrap();
            // Wakes the downstream stage on this thread.
            job_tx.send(()).unwrap();
            hand_off().await;
            up.store(true, Ordering::Release);
            let saw_downstream = spin_until(&down);
            (saw_downstream, downstream)
        });
        let (saw_downstream, downstream) = runtime.block_on(upstream).unwrap();
        let saw_upstream = runtime.block_on(downstream).unwrap();
        assert!(
            saw_downstream && saw_upstream,
            "the stages did not run at the same time (upstream saw downstream: \
             {saw_downstream}, downstream saw upstream: {saw_upstream})"
        );
    }
}
