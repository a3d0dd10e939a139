//! The source task loop, Kafka Connect's `WorkerSourceTask`: poll the guest, convert, send to
//! the log without waiting, and store a source offset only once the log acknowledged that
//! record and every record polled before it. Offsets are flushed every
//! `offset.flush.interval.ms` and at shutdown, then the task's `commit` is called.
//!
//! The loop only calls the guest; a second stage ([`run_sender`]) checks and converts what it
//! returned and sends it, so the two overlap.
//!
//! Guest calls are never cancelled half-way (that would leave the instance in an unknown
//! state): shutdown, pause and flushes are handled between calls.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesOrdered};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::Instant,
};
use tracing::Instrument;

use super::{
    RecordConverters, Services, TargetState, TaskControl, TaskEvent, TaskFailure, TaskSpec,
    check_events,
    errors::{ErrorOperator, Outcome},
    preopens_for,
    transforms::{TaskTransforms, Transformed},
};
use crate::{
    config::connector::ErrorTolerance,
    data::{OffsetMap, RecordMetadata, SourceRecord},
    log::{Delivery, LogError, LogProducer, ProduceRecord},
    runtime::{
        CallError, InstanceContext, OffsetReader, PluginKind, PolledBatch, SourceTaskInstance,
    },
    storage::{
        OffsetBackingStore,
        offsets::{map_json_bytes, partition_key},
    },
    transforms::{Disposition, TransformChain},
};

/// How many records may wait for the log's acknowledgement before the task stops polling.
const MAX_IN_FLIGHT_RECORDS: usize = 200_000;
/// How long to wait after the first empty poll; the wait doubles with each further one, up to
/// `source.idle.backoff.max.ms`.
const IDLE_BACKOFF: Duration = Duration::from_millis(50);

/// Sleeps for `wait`, or forever when `wait` is beyond any deadline tokio can set (a task
/// that said it has nothing until it is stopped, paused or reconfigured).
async fn sleep_at_most(wait: Duration) {
    match tokio::time::Instant::now().checked_add(wait) {
        // tokio's timer wheel reaches about two years; beyond it, wait for the other events.
        Some(deadline) if wait < Duration::from_secs(60 * 60 * 24 * 365) => {
            tokio::time::sleep_until(deadline).await
        }
        _ => std::future::pending().await,
    }
}

/// The shortest wait a task's `poll-again-after` gets.
const MIN_IDLE_WAIT: Duration = Duration::from_millis(1);

/// The shortest wait before which an idle task's instance gives back its stack pages: giving
/// them back and faulting them in again costs about 10 µs on a VM (the page discard
/// interrupts the other cores), worth it for a task that waits seconds, not for one polled on
/// the back-off every second (`source.idle.backoff.max.ms`, 1 s by default), which keeps them.
const IDLE_STACK_RELEASE: Duration = Duration::from_secs(2);

/// The wait before polling again after polls that returned nothing: idle tasks cost little,
/// and a task that has data again polls at once.
#[derive(Debug)]
struct IdleBackoff {
    next: Duration,
    max: Duration,
}

impl IdleBackoff {
    fn new(max: Duration) -> Self {
        Self {
            next: IDLE_BACKOFF.min(max),
            max,
        }
    }

    /// The wait after one more empty poll.
    fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Records arrived (or the task changed state): start over.
    fn reset(&mut self) {
        self.next = IDLE_BACKOFF.min(self.max);
    }
}
/// How long to wait before polling again after a `retriable` error.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Reads this connector's committed offsets for `offset-storage-reader`.
pub struct StoreReader {
    pub store: Arc<dyn OffsetBackingStore>,
    pub connector: String,
}

impl OffsetReader for StoreReader {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.store.get(&self.connector, partition)
    }
}

/// A batch on its way to the log: how many records were polled.
struct InFlight {
    count: usize,
}

/// How many polled batches may wait for the sender; the poll loop waits when it is full. More
/// than two absorb either stage's hiccups (an epoch yield, a full producer queue) so the other
/// rarely waits: with 4, datagen → Kafka ran ~10% faster in the bench than with 2.
const SENDER_QUEUE_BATCHES: usize = 4;

/// A polled batch for the sender, which checks and converts it unless the loop did.
struct SendJob {
    batch: JobBatch,
    /// Whether to give the records back for `commit-records`.
    keep: bool,
    sent: oneshot::Sender<Result<Sent, TaskFailure>>,
}

/// A polled batch as the loop hands it over: as the guest returned it, or already checked
/// and converted when the sender was behind (see [`SourceLoop::send`]).
enum JobBatch {
    Polled(PolledBatch),
    Converted(Result<Vec<SourceRecord>, CallError>),
}

impl JobBatch {
    fn into_records(self) -> Result<Vec<SourceRecord>, CallError> {
        match self {
            Self::Polled(batch) => batch.into_records(),
            Self::Converted(records) => records,
        }
    }
}

/// A batch the sender handed to the log.
struct Sent {
    delivery: Delivery,
    /// The last source offset of each source partition in the batch.
    offsets: Vec<LastOffset>,
    /// The polled records, when kept, each with whether it was sent (false: skipped by
    /// `errors.tolerance=all`).
    records: Option<Vec<(SourceRecord, bool)>>,
}

/// A source partition's last offset in a batch, with the partition's normalized key.
type LastOffset = (String, Arc<OffsetMap>, OffsetMap);

/// What the log said about one in-flight batch.
struct Acked {
    outcomes: Vec<Result<RecordMetadata, LogError>>,
    offsets: Vec<LastOffset>,
    records: Option<Vec<(SourceRecord, bool)>>,
}

/// The second stage of the task's pipeline: checks and converts polled batches (the guest's
/// tables into host records, unless the loop did that already, then transforms and
/// converters) and hands them to the producer, in order, while the loop polls the guest for
/// the next batch (on another thread when one is free). Stops after the first batch that
/// fails.
///
/// `plugin_transforms` holds the task's transform component instances when the chain has
/// any (a wasm `Store` is not `Sync`, so it stays out of the shared [`SendStage`]).
async fn run_sender(
    mut jobs: mpsc::Receiver<Box<SendJob>>,
    stage: SendStage,
    mut plugin_transforms: Option<TaskTransforms>,
) {
    let mut partitions = PartitionGuard::new(&stage.services.worker.task_limits);
    while let Some(job) = jobs.recv().await {
        let job = *job;
        if !stage.services.lease.valid() {
            // The worker's membership lapsed: another worker may run this task now.
            break;
        }
        // Taking the job may have woken the poll loop (it waits while the queue is full):
        // let it poll the guest on another thread while this one sends.
        super::hand_off().await;
        // Boxed: converting and sending is by far the largest future here, and an idle task's
        // sender would otherwise keep room for it (about 5 KiB) between batches.
        let result = Box::pin(async {
            let records = job.batch.into_records()?;
            let offsets = last_offsets(&stage.connector, &records);
            partitions.check(&offsets)?;
            let mut sent = match plugin_transforms.as_mut() {
                Some(transforms) => {
                    stage
                        .transform_convert_and_send(transforms, records, job.keep)
                        .await?
                }
                None => stage.convert_and_send(records, job.keep).await?,
            };
            sent.offsets = offsets;
            Ok(sent)
        })
        .await;
        let failed = result.is_err();
        // The loop dropped its end only if it is gone; nothing to report to then.
        let _ = job.sent.send(result);
        if failed {
            // The task fails on this batch; send nothing polled after it.
            break;
        }
    }
}

/// What the sender needs to convert and send a batch.
struct SendStage {
    connector: String,
    /// The topic prefixes records may go to (the tenant's); None = any topic.
    namespace: Option<Arc<[String]>>,
    transforms: Arc<TransformChain>,
    converters: RecordConverters,
    producer: Arc<dyn LogProducer>,
    errors: ErrorOperator,
    metrics: Arc<super::TaskMetrics>,
    services: Arc<Services>,
    /// The task's in-flight budget: one permit per byte of converted records the log has not
    /// acknowledged yet.
    inflight: Arc<tokio::sync::Semaphore>,
    /// `sandbox.inflight.max.bytes`.
    inflight_max: usize,
}

impl SendStage {
    /// Notes the topics of a chunk as the connector's active topics, at most
    /// `sandbox.topics.max` of them.
    fn note_topics(&self, batch: &[ProduceRecord]) -> Result<(), TaskFailure> {
        let max = self.services.worker.task_limits.topics_max;
        self.services
            .topics
            .note(&self.connector, batch.iter().map(|r| &*r.topic), max)
            .map_err(|topic| {
                TaskFailure::new(format!(
                    "the connector writes to more than {max} topics (sandbox.topics.max); the \
                     next was `{}`",
                    crate::text::bounded(&topic, 255)
                ))
            })
    }

    /// [`Self::convert_and_send`] for a chain with transform components: the chain runs over
    /// the whole batch (one guest call per component step), then each record is converted.
    /// A record a transform fails on is tolerated or fails the task, without retries (a
    /// component's failure is not transient).
    async fn transform_convert_and_send(
        &self,
        transforms: &mut TaskTransforms,
        records: Vec<SourceRecord>,
        keep: bool,
    ) -> Result<Sent, TaskFailure> {
        let mut outbox = Outbox::new(self, records.len());
        let mut sent = Vec::with_capacity(if keep { records.len() } else { 0 });
        let mut kept = Vec::new();
        if keep {
            // `commit-records` gets the records as polled, before transforms.
            kept.clone_from(&records);
        }
        for outcome in transforms.apply_batch(records).await {
            let produced = match outcome {
                Transformed::Kept(record) => self.convert(record).await?,
                Transformed::Dropped => None,
                Transformed::Failed { record, error } => {
                    let outcome: Outcome<Option<ProduceRecord>> = self
                        .errors
                        .failed(&error, |include| describe_source(&record, include))?;
                    self.settle(outcome)
                }
            };
            if keep {
                sent.push(produced.is_some());
            }
            if let Some(produced) = produced {
                outbox.push(produced).await?;
            }
        }
        outbox
            .finish(keep.then(|| kept.into_iter().zip(sent).collect()))
            .await
    }

    async fn convert_and_send(
        &self,
        records: Vec<SourceRecord>,
        keep: bool,
    ) -> Result<Sent, TaskFailure> {
        let mut outbox = Outbox::new(self, records.len());
        let mut sent = Vec::with_capacity(if keep { records.len() } else { 0 });
        let mut kept = Vec::with_capacity(if keep { records.len() } else { 0 });
        // Without retries or record logging nothing waits: each record goes through the
        // chain and the converters in place, not moved through a future per stage.
        let at_once = !(self.errors.retries() || self.errors.logs_records());
        for record in records {
            if keep {
                // `commit-records` gets the record as polled, before transforms.
                kept.push(record.clone());
            }
            let produced = if at_once {
                match self.transform_at_once(record)? {
                    Some(record) => self.convert_at_once(record)?,
                    None => None,
                }
            } else {
                match self.transform(record).await? {
                    Some(record) => self.convert(record).await?,
                    None => None,
                }
            };
            if keep {
                sent.push(produced.is_some());
            }
            if let Some(produced) = produced {
                outbox.push(produced).await?;
            }
        }
        outbox
            .finish(keep.then(|| kept.into_iter().zip(sent).collect()))
            .await
    }

    /// Runs the transform chain; None when a transform dropped the record or it failed
    /// under `errors.tolerance=all`.
    async fn transform(&self, record: SourceRecord) -> Result<Option<SourceRecord>, TaskFailure> {
        if self.transforms.is_empty() {
            return Ok(Some(record));
        }
        let outcome = if self.errors.retries() || self.errors.logs_records() {
            // Each attempt starts from the record as polled.
            self.errors
                .execute(
                    |include| describe_source(&record, include),
                    || {
                        let mut attempt = record.clone();
                        self.transforms
                            .apply_in_place(&mut attempt)
                            .map(|kept| (kept == Disposition::Keep).then_some(attempt))
                    },
                )
                .await?
        } else {
            return self.transform_at_once(record);
        };
        Ok(self.settle(outcome))
    }

    /// [`Self::transform`] without retries or record logging.
    fn transform_at_once(
        &self,
        mut record: SourceRecord,
    ) -> Result<Option<SourceRecord>, TaskFailure> {
        if self.transforms.is_empty() {
            return Ok(Some(record));
        }
        let outcome = match self.transforms.apply_in_place(&mut record) {
            Ok(kept) => Outcome::Done((kept == Disposition::Keep).then_some(record)),
            Err(error) => self.errors.failed(&error, |_| String::new())?,
        };
        Ok(self.settle(outcome))
    }

    /// Runs the converters; None when they failed under `errors.tolerance=all`.
    async fn convert(&self, record: SourceRecord) -> Result<Option<ProduceRecord>, TaskFailure> {
        if let Some(outside) = self.outside_namespace(&record) {
            let outcome = self
                .errors
                .failed(&outside, |include| describe_source(&record, include))?;
            return Ok(self.settle(outcome));
        }
        let outcome = if self.errors.retries() || self.errors.logs_records() {
            self.errors
                .execute(
                    |include| describe_source(&record, include),
                    || self.converters.to_log(&record),
                )
                .await?
                .map(Some)
        } else {
            return self.convert_at_once(record);
        };
        Ok(self.settle(outcome))
    }

    /// [`Self::convert`] without retries or record logging.
    fn convert_at_once(&self, record: SourceRecord) -> Result<Option<ProduceRecord>, TaskFailure> {
        if let Some(outside) = self.outside_namespace(&record) {
            let outcome = self.errors.failed(&outside, |_| String::new())?;
            return Ok(self.settle(outcome));
        }
        // Consumed, so bytes and text move into the log record instead of being copied.
        let outcome = match self.converters.into_log(record) {
            Ok(produce) => Outcome::Done(Some(produce)),
            Err(error) => self.errors.failed(&error, |_| String::new())?,
        };
        Ok(self.settle(outcome))
    }

    /// Why `record` may not be written: its topic (chosen by the task or a transform) lies
    /// outside the tenant's namespace.
    fn outside_namespace(&self, record: &SourceRecord) -> Option<OutsideNamespace> {
        let prefixes = self.namespace.as_ref()?;
        let topic = &*record.topic;
        (!prefixes
            .iter()
            .any(|prefix| topic.starts_with(prefix.as_str())))
        .then(|| OutsideNamespace {
            topic: crate::text::bounded(topic, 255),
            prefixes: prefixes.join(","),
        })
    }

    /// Counts a tolerated failure (`errors.tolerance=all`: the record is skipped).
    fn settle<T>(&self, outcome: Outcome<Option<T>>) -> Option<T> {
        match outcome {
            Outcome::Done(value) => value,
            Outcome::Skipped { .. } => {
                self.metrics
                    .errant_records
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                None
            }
        }
    }
}

/// A record bound for a topic outside its tenant's namespace: never written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the record's topic `{topic}` is outside the tenant's topics (prefixes {prefixes}); it was \
     not written"
)]
struct OutsideNamespace {
    topic: String,
    prefixes: String,
}

impl super::errors::StageError for OutsideNamespace {
    fn stage(&self) -> super::errant::Stage {
        super::errant::Stage::KafkaProduce
    }

    fn class(&self) -> String {
        "org.apache.kafka.connect.errors.ConnectException".into()
    }
}

/// Converted records on their way to the producer, sent in chunks of at most
/// [`CHUNK_BYTES`] as they are converted. Each chunk first takes its bytes from the task's
/// in-flight budget (`sandbox.inflight.max.bytes`), given back once the log acknowledged the
/// chunk, so however much a batch expands when converted (a schema written out with every
/// record), the task holds at most its budget in converted records and waits for the log
/// rather than growing. Converting yields to other tasks every [`YIELD_BYTES`] or
/// [`YIELD_AFTER`], so a batch that is expensive to convert does not hold a worker thread.
struct Outbox<'a> {
    stage: &'a SendStage,
    chunk: Vec<ProduceRecord>,
    chunk_bytes: usize,
    deliveries: Vec<Delivery>,
    since_yield: usize,
    last_yield: Instant,
    converted: usize,
}

/// The most converted bytes one chunk holds before it is sent.
const CHUNK_BYTES: usize = 4 << 20;
/// Converted bytes after which the sender yields to other tasks.
const YIELD_BYTES: usize = 4 << 20;
/// Time after which the sender yields to other tasks (checked every 256 records).
const YIELD_AFTER: Duration = Duration::from_millis(5);

impl<'a> Outbox<'a> {
    fn new(stage: &'a SendStage, records: usize) -> Self {
        Self {
            stage,
            chunk: Vec::with_capacity(records),
            chunk_bytes: 0,
            deliveries: Vec::new(),
            since_yield: 0,
            last_yield: Instant::now(),
            converted: 0,
        }
    }

    async fn push(&mut self, record: ProduceRecord) -> Result<(), TaskFailure> {
        let bytes = super::convert::record_bytes(&record);
        self.chunk_bytes += bytes;
        self.since_yield += bytes;
        self.converted += 1;
        self.chunk.push(record);
        if self.chunk_bytes >= CHUNK_BYTES.min(self.stage.inflight_max) {
            self.flush().await?;
        }
        if self.since_yield >= YIELD_BYTES
            || (self.converted.is_multiple_of(256) && self.last_yield.elapsed() >= YIELD_AFTER)
        {
            tokio::task::yield_now().await;
            self.since_yield = 0;
            self.last_yield = Instant::now();
        }
        Ok(())
    }

    /// Sends the chunk once its bytes fit in the in-flight budget.
    async fn flush(&mut self) -> Result<(), TaskFailure> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let stage = self.stage;
        let batch = std::mem::take(&mut self.chunk);
        let bytes = std::mem::take(&mut self.chunk_bytes);
        stage.note_topics(&batch)?;
        // A chunk larger than the whole budget (one record at most) waits for all of it.
        let permits = u32::try_from(bytes.min(stage.inflight_max)).unwrap_or(u32::MAX);
        let permit = stage
            .inflight
            .clone()
            .acquire_many_owned(permits)
            .await
            .map_err(|_| TaskFailure::new("the task's in-flight budget was closed"))?;
        let count = batch.len();
        let delivery = stage.producer.send(batch).await?;
        // The budget comes back as soon as the log answers, not when the poll loop gets to
        // this batch: the sender may be waiting for it to send the rest of the batch.
        let (answered, answer) = oneshot::channel();
        tokio::spawn(async move {
            let outcomes = delivery.await;
            drop(permit);
            let _ = answered.send(outcomes);
        });
        self.deliveries.push(
            async move {
                answer.await.unwrap_or_else(|_| {
                    (0..count)
                        .map(|_| Err(LogError::Other("the delivery was lost".into())))
                        .collect()
                })
            }
            .boxed(),
        );
        Ok(())
    }

    /// Sends what is left; the batch's delivery is every chunk's, in order.
    async fn finish(
        mut self,
        records: Option<Vec<(SourceRecord, bool)>>,
    ) -> Result<Sent, TaskFailure> {
        self.flush().await?;
        let delivery = match self.deliveries.len() {
            0 => futures::future::ready(Vec::new()).boxed(),
            1 => self.deliveries.pop().expect("one delivery"),
            _ => {
                let deliveries = self.deliveries;
                async move {
                    let mut outcomes = Vec::new();
                    for delivery in deliveries {
                        outcomes.extend(delivery.await);
                    }
                    outcomes
                }
                .boxed()
            }
        };
        Ok(Sent {
            delivery,
            offsets: Vec::new(),
            records,
        })
    }
}

/// Runs one source task until shutdown or failure; reports its states through `control`.
#[tracing::instrument(name = "source_task", skip_all, fields(connector = %spec.connector.name, task = spec.task, tenant = spec.connector.tenant.as_deref()))]
pub async fn run(spec: TaskSpec, services: Arc<Services>, control: TaskControl) {
    match run_inner(&spec, &services, &control).await {
        Ok(()) => {
            tracing::info!("Task stopped.");
            control.emit(spec.task, TaskEvent::Stopped);
        }
        Err(failure) => {
            tracing::error!(error = %failure.trace, "Task failed.");
            control.emit(spec.task, TaskEvent::Failed(failure.trace));
        }
    }
}

async fn run_inner(
    spec: &TaskSpec,
    services: &Arc<Services>,
    control: &TaskControl,
) -> Result<(), TaskFailure> {
    let connector = &spec.connector;
    let mut config = spec.config.clone();
    // The worker's filesystem policy covers the built-in file connectors' `file` too.
    let preopens = preopens_for(
        &connector.settings,
        &mut config,
        PluginKind::Source,
        spec.builtin,
        connector.fs(&services.worker),
    )
    .map_err(TaskFailure::new)?;
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let log = super::task_log_budget(spec, services);
    let context = InstanceContext {
        connector: connector.name.clone(),
        task: Some(spec.task),
        limits: connector.sandbox,
        preopens,
        events: events_tx,
        egress: connector.egress.clone(),
        tcp: connector.tcp.clone(),
        offsets: Some(Arc::new(StoreReader {
            store: services.offsets.clone(),
            connector: connector.name.clone(),
        })),
        sink_context: None,
        reporter: None,
        log: Some(log.clone()),
        metrics: Some(control.metrics.clone()),
        secrets: connector.secrets.clone(),
        budget: spec.budget.clone(),
        http_connections: spec.http_connections.clone(),
        tenant: connector.tenant.clone(),
        counts_memory: true,
    };
    let converters = RecordConverters::for_connector(connector)
        .map_err(|error| TaskFailure::new(crate::error_chain(&error)))?
        .with_record_max_bytes(services.worker.task_limits.record_max_bytes);
    // Boxed: instantiating is the largest future the task awaits, and an idle task's future
    // would otherwise keep room for it (about 2 KiB more for each task, for the task's life).
    let mut instance = Box::pin(spec.plugin.source_task(context)).await?;
    let plugin_transforms = Box::pin(super::task_transforms(spec, &log, &control.metrics)).await?;
    let options = instance.start(&config).await?;
    // Not needed again: freed now rather than held for the task's life.
    drop(config);
    check_events(&mut events, control, spec.task)?;
    let producer = services.log.producer(&format!(
        "connector-producer-{}-{}",
        connector.name, spec.task
    ))?;

    let (jobs, jobs_rx) = mpsc::channel(SENDER_QUEUE_BATCHES);
    let sender = tokio::spawn(
        run_sender(
            jobs_rx,
            SendStage {
                connector: connector.name.clone(),
                namespace: connector.topic_namespace.clone(),
                transforms: spec.transforms.clone(),
                converters,
                producer,
                errors: ErrorOperator::new(
                    connector.errors,
                    &connector.name,
                    spec.task,
                    control.shutdown.clone(),
                )
                .with_log_budget(log.clone())
                .with_metrics(control.metrics.clone()),
                metrics: control.metrics.clone(),
                services: services.clone(),
                inflight: Arc::new(tokio::sync::Semaphore::new(
                    services.worker.task_limits.inflight_max_bytes,
                )),
                inflight_max: services.worker.task_limits.inflight_max_bytes,
            },
            plugin_transforms,
        )
        .in_current_span(),
    );
    let sender = AbortOnDrop(Some(sender));
    let mut task = SourceLoop {
        spec,
        services,
        control,
        instance,
        jobs,
        wants_commit_records: options.wants_commit_records,
        in_flight: FuturesOrdered::new(),
        in_flight_batches: VecDeque::new(),
        in_flight_records: 0,
        acked: HashMap::new(),
        acked_records: Vec::new(),
        log: log.clone(),
        next_flush: Instant::now() + services.worker.offset_flush_interval,
    };
    let mut target = control.target.clone();
    let mut state = TargetState::Started;
    let mut idle = IdleBackoff::new(services.worker.source_idle_backoff_max);
    control.emit(spec.task, TaskEvent::Running);
    tracing::info!("Task started.");

    let result = loop {
        if control.shutdown.is_cancelled() {
            break Ok(());
        }
        if !services.lease.valid() {
            tracing::warn!(
                "This worker's membership lapsed; the task stops without committing, its next worker resumes from the last commit."
            );
            break Ok(());
        }
        let wanted = *target.borrow_and_update();
        if wanted != state {
            state = wanted;
            idle.reset();
            control.emit(
                spec.task,
                if state == TargetState::Paused {
                    TaskEvent::Paused
                } else {
                    TaskEvent::Running
                },
            );
        }
        if let Err(failure) = task.drain_acks(Drain::Ready).await {
            break Err(failure);
        }
        if let Err(failure) = task.maybe_flush(false).await {
            break Err(failure);
        }
        if state != TargetState::Started || task.in_flight_records >= MAX_IN_FLIGHT_RECORDS {
            // Paused, or too much waiting for the log: wait for the next acknowledgement, a
            // state change, shutdown, or the next flush.
            let next_flush = task.next_flush;
            let acked = tokio::select! {
                () = control.shutdown.cancelled() => Ok(()),
                _ = target.changed() => Ok(()),
                acked = task.drain_acks(Drain::AtLeastOne) => acked,
                () = tokio::time::sleep_until(next_flush) => Ok(()),
            };
            if let Err(failure) = acked {
                break Err(failure);
            }
            continue;
        }
        let poll_started = Instant::now();
        let polled = task.instance.poll_batch().await;
        if let Ok(batch) = &polled {
            control.metrics.polled(batch.len(), poll_started.elapsed());
        }
        if let Err(failure) = check_events(&mut events, control, spec.task) {
            break Err(failure);
        }
        match polled {
            Ok(batch) if batch.is_empty() => {
                // Wait as long as the task said it has nothing (`poll-again-after`), else
                // back off; keep taking acknowledgements; a state change ends the wait.
                let wait = match batch.idle_for() {
                    Some(idle_for) => {
                        idle.reset();
                        // At least a millisecond: empty polls the task asks for cost the host
                        // too, and none is worth more than a thousand a second.
                        idle_for.max(MIN_IDLE_WAIT)
                    }
                    None => idle.next_wait(),
                };
                if wait >= IDLE_STACK_RELEASE {
                    task.instance.idle();
                }
                let acked = tokio::select! {
                    () = control.shutdown.cancelled() => Ok(()),
                    _ = target.changed() => Ok(()),
                    acked = task.drain_acks(Drain::AtLeastOne) => acked,
                    () = sleep_at_most(wait) => Ok(()),
                };
                if let Err(failure) = acked {
                    break Err(failure);
                }
            }
            Ok(batch) => {
                idle.reset();
                let records = batch.len();
                if !services.lease.valid() {
                    // Polled while the membership lapsed: not sent, redone by the next worker.
                    continue;
                }
                if let Err(failure) = task.send(batch).await {
                    break Err(failure);
                }
                super::hold_to_throughput(spec, control, records).await;
            }
            Err(error) if error.is_retriable() => {
                tracing::warn!(error = %error, "Poll failed with a retriable error; retrying.");
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Err(error) => break Err(error.into()),
        }
    };

    // Graceful or not, store what the log acknowledged.
    let result = async {
        let timeout = services.worker.offset_flush_timeout;
        let drained = tokio::time::timeout(timeout, task.drain_acks(Drain::All)).await;
        let flushed = task.maybe_flush(true).await;
        if result.is_ok() {
            match drained {
                Err(_) => tracing::warn!(
                    pending = task.in_flight_records,
                    "Records were still unacknowledged at shutdown; their offsets were not committed."
                ),
                Ok(Err(failure)) => return Err(failure),
                Ok(Ok(())) => {}
            }
            flushed?;
            if let Err(error) = task.instance.stop().await {
                tracing::warn!(error = %error, "Task stop failed.");
            }
        }
        result
    }
    .await;
    // Closing the queue ends the sender after its current batch; wait for it, so nothing of
    // the task (its producer, the log) outlives the task.
    drop(task);
    sender.finish(services.worker.offset_flush_timeout).await;
    result
}

/// The sender task; aborted if the loop ends without [`AbortOnDrop::finish`] (a panic).
struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    /// Waits up to `timeout` for the sender to end (its queue must be closed), then aborts
    /// it: a log that accepts nothing must not keep the task from stopping.
    async fn finish(mut self, timeout: Duration) {
        if let Some(mut handle) = self.0.take() {
            // An error means it panicked or was aborted; either way it is gone.
            if tokio::time::timeout(timeout, &mut handle).await.is_err() {
                tracing::warn!("The record sender did not stop in time; aborting it.");
                handle.abort();
                let _ = handle.await;
            }
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// How long [`SourceLoop::drain_acks`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// Take only batches already acknowledged.
    Ready,
    /// Wait for one batch (forever if none is in flight), then take what is ready.
    AtLeastOne,
    /// Wait until nothing is in flight.
    All,
}

struct SourceLoop<'a> {
    spec: &'a TaskSpec,
    services: &'a Arc<Services>,
    control: &'a TaskControl,
    instance: SourceTaskInstance,
    /// Batches for [`run_sender`], boxed: tokio allocates a channel's slots 32 at a time,
    /// which for a `SendJob` itself would be 6 KiB per task, idle or not.
    jobs: mpsc::Sender<Box<SendJob>>,
    wants_commit_records: bool,
    in_flight: FuturesOrdered<BoxFuture<'static, Result<Acked, TaskFailure>>>,
    in_flight_batches: VecDeque<InFlight>,
    in_flight_records: usize,
    /// Offsets acknowledged since the last flush, one per source partition (by its
    /// normalized key).
    acked: HashMap<String, (Arc<OffsetMap>, OffsetMap)>,
    /// Records acknowledged since the last `commit-records`, for tasks that want them.
    acked_records: Vec<(SourceRecord, Option<RecordMetadata>)>,
    /// The task's log budget.
    log: Arc<crate::runtime::LogBudget>,
    next_flush: Instant,
}

impl SourceLoop<'_> {
    /// Hands a polled batch to the sender; waits only while the sender's queue is full.
    async fn send(&mut self, batch: PolledBatch) -> Result<(), TaskFailure> {
        let count = batch.len();
        let (sent, outcome) = oneshot::channel();
        // With batches already waiting, the sender is the slower stage: take the conversion
        // off its hands while the queue would make this loop wait anyway.
        let batch = if self.jobs.capacity() < self.jobs.max_capacity() {
            JobBatch::Converted(batch.into_records())
        } else {
            JobBatch::Polled(batch)
        };
        let job = Box::new(SendJob {
            batch,
            keep: self.wants_commit_records,
            sent,
        });
        if self.jobs.send(job).await.is_err() {
            // The sender stops after a batch fails: report that batch's failure.
            self.drain_acks(Drain::All).await?;
            return Err(TaskFailure::new(
                "the task's record sender stopped unexpectedly",
            ));
        }
        self.in_flight.push_back(
            async move {
                let sent = outcome.await.map_err(|_| {
                    TaskFailure::new("the task's record sender stopped unexpectedly")
                })??;
                Ok(Acked {
                    outcomes: sent.delivery.await,
                    offsets: sent.offsets,
                    records: sent.records,
                })
            }
            .boxed(),
        );
        self.in_flight_batches.push_back(InFlight { count });
        self.in_flight_records += count;
        self.control.metrics.active(self.in_flight_records);
        // The job may have woken the sender on this thread: poll the next batch on another.
        super::hand_off().await;
        Ok(())
    }

    /// Takes in acknowledged batches, in order, as `drain` says. Cancel safe: the only await
    /// is for the next batch's acknowledgement.
    async fn drain_acks(&mut self, drain: Drain) -> Result<(), TaskFailure> {
        let mut taken = 0usize;
        loop {
            let wait = match drain {
                Drain::Ready => false,
                Drain::AtLeastOne => taken == 0,
                Drain::All => true,
            };
            let next = if wait {
                if self.in_flight.is_empty() {
                    // Nothing to wait for: `AtLeastOne` must not return at once, or the caller
                    // would spin; `All` is done.
                    if drain == Drain::AtLeastOne {
                        futures::future::pending::<()>().await;
                    }
                    return Ok(());
                }
                self.in_flight.next().await
            } else {
                match self.in_flight.next().now_or_never() {
                    Some(next) => next,
                    None => return Ok(()),
                }
            };
            let Some(acked) = next else { return Ok(()) };
            let Acked {
                outcomes,
                offsets,
                records,
            } = acked?;
            taken += 1;
            let batch = self
                .in_flight_batches
                .pop_front()
                .expect("one entry per in-flight batch");
            self.in_flight_records -= batch.count;
            self.control.metrics.active(self.in_flight_records);
            let mut written = 0;
            let mut metadata =
                Vec::with_capacity(if records.is_some() { outcomes.len() } else { 0 });
            for outcome in outcomes {
                match outcome {
                    Ok(meta) => {
                        written += 1;
                        if records.is_some() {
                            metadata.push(Some(meta));
                        }
                    }
                    Err(error) => self.write_failed(error, &mut metadata, records.is_some())?,
                }
            }
            self.control.metrics.written(written);
            for (key, partition, offset) in offsets {
                self.acked.insert(key, (partition, offset));
            }
            if let Some(records) = records {
                // Records that failed conversion were never sent; they get no metadata.
                let mut metadata = metadata.into_iter();
                self.acked_records
                    .extend(records.into_iter().map(|(record, sent)| {
                        let meta = if sent {
                            metadata.next().flatten()
                        } else {
                            None
                        };
                        (record, meta)
                    }));
            }
        }
    }

    fn write_failed(
        &self,
        error: LogError,
        metadata: &mut Vec<Option<RecordMetadata>>,
        keep: bool,
    ) -> Result<(), TaskFailure> {
        if self.spec.connector.errors_tolerance == ErrorTolerance::All {
            let error = crate::error_chain(&error);
            if self.log.admit(error.len()) {
                tracing::warn!(error = %error, "Skipping a record the log did not accept.");
            }
            self.control
                .metrics
                .errant_records
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if keep {
                metadata.push(None);
            }
            Ok(())
        } else {
            Err(TaskFailure::new(format!(
                "KAFKA_PRODUCE failed: {}",
                crate::error_chain(&error)
            )))
        }
    }

    /// Stores acknowledged offsets when the flush interval has passed (or `force`), then
    /// calls the task's `commit` and, if wanted, `commit-records`.
    async fn maybe_flush(&mut self, force: bool) -> Result<(), TaskFailure> {
        if !force && Instant::now() < self.next_flush {
            return Ok(());
        }
        if !self.services.lease.valid() {
            // Another worker may run this task and commit its own offsets now.
            return Ok(());
        }
        self.next_flush = Instant::now() + self.services.worker.offset_flush_interval;
        if !self.acked_records.is_empty() {
            let records = std::mem::take(&mut self.acked_records);
            if let Err(error) = self.instance.commit_records(records).await {
                tracing::warn!(error = %error, "commit-records failed.");
                if !matches!(error, CallError::Connector { .. }) {
                    return Err(error.into());
                }
            }
        }
        if self.acked.is_empty() {
            return Ok(());
        }
        let offsets = std::mem::take(&mut self.acked);
        let count = offsets.len();
        let commit_started = Instant::now();
        let max_partitions = self
            .services
            .worker
            .task_limits
            .source_partitions_max
            .saturating_mul(self.spec.connector.tasks_max as usize);
        let stored = self
            .services
            .offsets
            .put(
                &self.spec.connector.name,
                offsets
                    .into_values()
                    .map(|(p, o)| (Arc::unwrap_or_clone(p), Some(o)))
                    .collect(),
                max_partitions,
            )
            .await;
        self.control
            .metrics
            .committed(stored.is_ok(), commit_started.elapsed());
        stored.map_err(|error| TaskFailure::new(crate::error_chain(&error)))?;
        tracing::debug!(partitions = count, "Committed source offsets.");
        if let Err(error) = self.instance.commit().await {
            tracing::warn!(error = %error, "Task commit failed.");
            if !matches!(error, CallError::Connector { .. }) {
                return Err(error.into());
            }
        }
        Ok(())
    }
}

/// The last source offset of each source partition in a batch, cloned once per partition:
/// the records are scanned from the end, and a partition already seen (usually the very same
/// shared map, so one pointer lookup; else an equal map, by its normalized key) is skipped.
/// Linear in the batch, however many partitions it has.
fn last_offsets(connector: &str, records: &[SourceRecord]) -> Vec<LastOffset> {
    let mut offsets: Vec<LastOffset> = Vec::new();
    // The records outlive the scan, so no address is reused within it.
    let mut pointers: HashSet<*const OffsetMap> = HashSet::new();
    let mut keys: HashSet<String> = HashSet::new();
    for record in records.iter().rev() {
        if record.source_partition.is_empty() && record.source_offset.is_empty() {
            continue;
        }
        if !pointers.insert(Arc::as_ptr(&record.source_partition)) {
            continue;
        }
        let key = partition_key(connector, &record.source_partition);
        if keys.insert(key.clone()) {
            offsets.push((
                key,
                record.source_partition.clone(),
                record.source_offset.clone(),
            ));
        }
    }
    offsets
}

/// Holds a task to its source partition limits: the partitions it produced records for, at
/// most `sandbox.source.partitions.max`, and each partition and offset map at most
/// `sandbox.source.offset.max.bytes`. The offset store holds the connector to the same count
/// times `tasks.max`, across restarts.
struct PartitionGuard {
    /// Hashes of the normalized keys of the partitions seen.
    seen: HashSet<u64>,
    max: usize,
    max_bytes: usize,
}

impl PartitionGuard {
    fn new(limits: &crate::config::worker::TaskLimits) -> Self {
        Self {
            seen: HashSet::new(),
            max: limits.source_partitions_max,
            max_bytes: limits.source_offset_max_bytes,
        }
    }

    fn check(&mut self, offsets: &[LastOffset]) -> Result<(), TaskFailure> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        for (key, partition, offset) in offsets {
            for (what, bytes) in [
                ("source partition", map_json_bytes(partition)),
                ("source offset", map_json_bytes(offset)),
            ] {
                if bytes > self.max_bytes {
                    return Err(TaskFailure::new(format!(
                        "a {what} of about {bytes} bytes is larger than the {} bytes a task may \
                         store (sandbox.source.offset.max.bytes)",
                        self.max_bytes
                    )));
                }
            }
            let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
            if self.seen.insert(hash) && self.seen.len() > self.max {
                return Err(TaskFailure::new(format!(
                    "the task produced records for more than {} source partitions \
                     (sandbox.source.partitions.max)",
                    self.max
                )));
            }
        }
        Ok(())
    }
}

/// A source record for error logs, with its contents when `include`
/// (`errors.log.include.messages`).
fn describe_source(record: &SourceRecord, include: bool) -> String {
    if include {
        format!(
            ", where source record is = SourceRecord{{sourcePartition={:?}, sourceOffset={:?}, topic='{}', kafkaPartition={:?}, key={:?}, value={:?}, timestamp={:?}}}",
            record.source_partition,
            record.source_offset,
            record.topic,
            record.partition,
            record.key,
            record.value,
            record.timestamp,
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scalar;

    fn record(partition: &Arc<OffsetMap>, position: i64) -> SourceRecord {
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: vec![("position".into(), Scalar::Int(position))],
            ..crate::transforms::test_util::source_record(None, None)
        }
    }

    fn map(file: &str) -> Arc<OffsetMap> {
        Arc::new(vec![("file".into(), Scalar::String(file.into()))])
    }

    #[test]
    fn idle_waits_double_up_to_the_maximum_and_start_over_on_reset() {
        let mut idle = IdleBackoff::new(Duration::from_millis(300));
        let waits: Vec<u128> = (0..5).map(|_| idle.next_wait().as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 300, 300]);
        idle.reset();
        assert_eq!(idle.next_wait(), Duration::from_millis(50));
        // A maximum below the first wait caps it too.
        let mut short = IdleBackoff::new(Duration::from_millis(10));
        assert_eq!(short.next_wait(), Duration::from_millis(10));
    }

    #[test]
    fn each_partition_keeps_its_last_offset() {
        let a = map("a");
        // Equal to `a` but not the same map: the same partition.
        let a_again = map("a");
        let b = map("b");
        let mut records = vec![
            record(&a, 1),
            record(&b, 10),
            record(&a, 2),
            record(&b, 11),
            record(&a_again, 3),
        ];
        // A record without partition and offset stores nothing.
        records.push(crate::transforms::test_util::source_record(None, None));
        let mut offsets: Vec<_> = last_offsets("c", &records)
            .into_iter()
            .map(|(key, partition, offset)| {
                assert_eq!(key, partition_key("c", &partition));
                (partition, offset)
            })
            .collect();
        offsets.sort_by(|x, y| format!("{:?}", x.0).cmp(&format!("{:?}", y.0)));
        assert_eq!(
            offsets,
            vec![
                (a, vec![("position".into(), Scalar::Int(3))]),
                (b, vec![("position".into(), Scalar::Int(11))]),
            ]
        );
        assert!(last_offsets("c", &[]).is_empty());
    }

    #[test]
    fn a_task_may_mint_only_so_many_partitions_of_bounded_size() {
        let limits = crate::config::worker::TaskLimits {
            source_partitions_max: 3,
            source_offset_max_bytes: 100,
            ..Default::default()
        };
        let mut guard = PartitionGuard::new(&limits);
        let batch = |from: i64, to: i64| -> Vec<LastOffset> {
            (from..to)
                .map(|i| {
                    let partition = vec![("p".into(), Scalar::Int(i))];
                    (partition_key("c", &partition), Arc::new(partition), vec![])
                })
                .collect()
        };
        guard.check(&batch(0, 2)).unwrap();
        // The same partitions again cost nothing.
        guard.check(&batch(0, 3)).unwrap();
        let error = guard.check(&batch(3, 4)).unwrap_err();
        assert_eq!(
            error.trace,
            "the task produced records for more than 3 source partitions \
             (sandbox.source.partitions.max)"
        );
        let big = vec![("p".into(), Scalar::String("x".repeat(200)))];
        let error = PartitionGuard::new(&limits)
            .check(&[(partition_key("c", &big), Arc::new(big), vec![])])
            .unwrap_err();
        assert!(
            error.trace.contains("sandbox.source.offset.max.bytes"),
            "{}",
            error.trace
        );
    }
}
