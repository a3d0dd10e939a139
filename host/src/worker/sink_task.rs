//! The sink task loop, Kafka Connect's `WorkerSinkTask`: consume from the log as group
//! `connect-<connector>`, convert, `put` into the guest, and every `offset.flush.interval.ms`
//! (or on `request-commit`) ask the guest which offsets are safe (`pre-commit`), wait for
//! dead-letter writes, and commit those offsets to the group. While a batch is put, the next
//! one is polled (at most one ahead); what the task pauses or seeks meanwhile is dropped from
//! it and read again.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

use super::{
    RecordConverters, Services, TargetState, TaskControl, TaskEvent, TaskFailure, TaskSpec,
    check_events,
    errant::DlqReporter,
    errors::{ErrorOperator, Outcome},
    preconvert::Preconverted,
    preopens_for,
    transforms::{TaskTransforms, Transformed},
};
use crate::{
    data::{SinkRecord, TopicPartition, TopicPartitionOffset},
    log::{ConsumedRecord, LogConsumer, LogError, Polled, Rebalance},
    runtime::{
        CallError, InstanceContext, PluginKind, SinkContext, SinkContextState, SinkTaskInstance,
    },
    transforms::TransformChain,
};

/// The shortest conversion of a batch that has the next batch converted ahead, on another
/// thread: below it the hand-off costs about what it saves.
const CONVERT_AHEAD_MIN: Duration = Duration::from_micros(250);

/// How long one consumer poll waits for records.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Backoff after a `retriable` put when the task set no timeout.
const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Runs one sink task until shutdown or failure; reports its states through `control`.
#[tracing::instrument(name = "sink_task", skip_all, fields(connector = %spec.connector.name, task = spec.task, tenant = spec.connector.tenant.as_deref()))]
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
    connector
        .validate_sink()
        .map_err(|error| TaskFailure::new(error.to_string()))?;
    let mut config = spec.config.clone();
    // The worker's filesystem policy covers the built-in file connectors' `file` too.
    let preopens = preopens_for(
        &connector.settings,
        &mut config,
        PluginKind::Sink,
        spec.builtin,
        connector.fs(&services.worker),
    )
    .map_err(TaskFailure::new)?;
    let converters = RecordConverters::for_connector(connector)
        .map_err(|error| TaskFailure::new(crate::error_chain(&error)))?;
    let dlq_producer = match &connector.dlq_topic {
        Some(topic) => {
            services.log.create_topic(topic, 1).await?;
            Some(services.log.producer(&format!(
                "connector-dlq-producer-{}-{}",
                connector.name, spec.task
            ))?)
        }
        None => None,
    };
    let log = super::task_log_budget(spec, services);
    let reporter = Arc::new(DlqReporter::new(
        connector.clone(),
        spec.task,
        dlq_producer,
        control.metrics.clone(),
        services.worker.task_limits.errant_reports_max,
        log.clone(),
    ));
    let sink_context: SinkContext = Arc::new(Mutex::new(SinkContextState::default()));
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let context = InstanceContext {
        connector: connector.name.clone(),
        task: Some(spec.task),
        limits: connector.sandbox,
        preopens,
        egress: connector.egress.clone(),
        tcp: connector.tcp.clone(),
        events: events_tx,
        offsets: None,
        sink_context: Some(sink_context.clone()),
        reporter: Some(reporter.clone()),
        log: Some(log.clone()),
        metrics: Some(control.metrics.clone()),
        secrets: connector.secrets.clone(),
        budget: spec.budget.clone(),
        http_connections: spec.http_connections.clone(),
        tenant: connector.tenant.clone(),
        counts_memory: true,
    };
    // Boxed: instantiating is the largest future the task awaits, and an idle task's future
    // would otherwise keep room for it (about 2 KiB more for each task, for the task's life).
    let mut instance = Box::pin(spec.plugin.sink_task(context)).await?;
    let plugin_transforms = Box::pin(super::task_transforms(spec, &log, &control.metrics)).await?;
    instance.start(&config).await?;
    // Not needed again: freed now rather than held for the task's life.
    drop(config);
    check_events(&mut events, control, spec.task)?;

    let mut consumer = services.log.consumer(
        &format!("connect-{}", connector.name),
        &format!("connector-consumer-{}-{}", connector.name, spec.task),
    )?;
    let topics = match &connector.topics_regex {
        Some(regex) => vec![format!("^({regex})$")],
        None => connector.topics.clone(),
    };
    consumer.subscribe(&topics).await?;
    let max_poll_records = services.worker.consumer_max_poll_records;

    let mut task = SinkLoop {
        lease: services.lease.clone(),
        spec,
        control,
        instance,
        consumer: Some(consumer),
        converters,
        plugin_transforms,
        errors: ErrorOperator::new(
            connector.errors,
            &connector.name,
            spec.task,
            control.shutdown.clone(),
        )
        .with_log_budget(log.clone())
        .with_metrics(control.metrics.clone()),
        reporter,
        sink_context,
        current: BTreeMap::new(),
        first_read: BTreeMap::new(),
        committed: BTreeMap::new(),
        interval: services.worker.offset_flush_interval,
        next_commit: Instant::now() + services.worker.offset_flush_interval,
        paused: false,
        conversion: Duration::ZERO,
    };
    let mut target = control.target.clone();
    control.emit(spec.task, TaskEvent::Running);
    tracing::info!(topics = ?topics, "Task started.");

    // A poll made while the previous batch was put: at most one batch ahead, with its
    // records converted ahead too when the chain has no transform components.
    let mut ahead: Option<Result<Polled, LogError>> = None;
    let mut ahead_converted: Option<Preconverted> = None;
    let result: Result<(), TaskFailure> = async {
        loop {
            if control.shutdown.is_cancelled() {
                return Ok(());
            }
            if !services.lease.valid() {
                tracing::warn!("This worker's membership lapsed; the task stops without committing, its next worker resumes from the last commit.");
                return Ok(());
            }
            let wanted = *target.borrow_and_update();
            task.apply_target(wanted, &mut ahead)?;
            let converted = ahead_converted.take();
            let polled = match ahead.take() {
                Some(polled) => polled?,
                None => tokio::select! {
                    () = control.shutdown.cancelled() => return Ok(()),
                    polled = task.consumer().poll(max_poll_records, POLL_TIMEOUT) => polled?,
                },
            };
            if let Some(lag) = task.consumer().lag() {
                control.metrics.lagging(lag);
            }
            let had_rebalances = !polled.rebalances.is_empty();
            for rebalance in polled.rebalances {
                task.rebalance(rebalance).await?;
            }
            if had_rebalances {
                control.metrics.partitions.store(
                    task.consumer().assignment().len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            let mut records = polled.records;
            if had_rebalances {
                // Offsets the task reset in `open` apply before anything is delivered, as in
                // Kafka Connect: records this poll fetched from before the reset are dropped
                // and read again from where the task asked.
                let changes = task.apply_context().await?;
                if !changes.seeked.is_empty() {
                    records.retain(|record| !changes.seeked.iter().any(|p| holds(p, record)));
                }
                task.fence(&mut records, &changes.paused)?;
            }
            if !records.is_empty() {
                control.metrics.read(records.len());
                // Topics the connector subscribed to, not ones its guest chose: no limit.
                let _ = services.topics.note(
                    &spec.connector.name,
                    records.iter().map(|r| &*r.topic),
                    usize::MAX,
                );
                // The next batch is polled while this one is put: librdkafka copies records
                // out on a blocking thread, and the next batch is converted on another, in
                // parallel with the guest.
                let mut consumer = task.consumer.take().expect("the consumer is home");
                let shutdown = &control.shutdown;
                let convert_ahead = (task.plugin_transforms.is_none()
                    && task.conversion >= CONVERT_AHEAD_MIN)
                    .then(|| (task.converters.clone(), spec.transforms.clone()));
                let poll_ahead = async move {
                    let mut polled = tokio::select! {
                        () = shutdown.cancelled() => None,
                        polled = consumer.poll(max_poll_records, POLL_TIMEOUT) => Some(polled),
                    };
                    let mut converted = None;
                    if let (Some((converters, transforms)), Some(Ok(polled))) =
                        (convert_ahead, &mut polled)
                        && !polled.records.is_empty()
                    {
                        let records = std::mem::take(&mut polled.records);
                        (polled.records, converted) =
                            Preconverted::spawn(converters, transforms, records).await;
                    }
                    (consumer, polled, converted)
                };
                let ((consumer, polled, converted), delivered) =
                    tokio::join!(poll_ahead, task.deliver(records, converted));
                task.consumer = Some(consumer);
                delivered?;
                ahead = polled;
                ahead_converted = converted;
            } else {
                // Nothing came: the instance gives back its stack's pages while it waits.
                task.instance.idle();
            }
            check_events(&mut events, control, spec.task)?;
            let changes = task.apply_context().await?;
            if let Some(Ok(polled)) = &mut ahead {
                // Read before the task seeked or paused these: not to be delivered.
                polled
                    .records
                    .retain(|record| !changes.seeked.iter().any(|p| holds(p, record)));
                task.fence(&mut polled.records, &changes.paused)?;
            }
            let requested = std::mem::take(
                &mut task
                    .sink_context
                    .lock()
                    .expect("sink context lock")
                    .commit_requested,
            );
            if requested || Instant::now() >= task.next_commit {
                let rewound = task.commit().await?;
                if let Some(Ok(polled)) = &mut ahead {
                    polled
                        .records
                        .retain(|record| !rewound.iter().any(|p| holds(p, record)));
                }
            }
        }
    }
    .await;

    if result.is_ok() {
        task.commit().await?;
        let assignment = task.consumer().assignment();
        if let Err(error) = task.instance.close(&assignment).await {
            tracing::warn!(error = %error, "Task close failed.");
        }
        if let Err(error) = task.instance.stop().await {
            tracing::warn!(error = %error, "Task stop failed.");
        }
    }
    if let Err(error) = task.consumer().close().await {
        tracing::warn!(error = %crate::error_chain(&error), "Consumer close failed.");
    }
    result
}

struct SinkLoop<'a> {
    spec: &'a TaskSpec,
    control: &'a TaskControl,
    instance: SinkTaskInstance,
    /// None only while it polls ahead, beside a `put`.
    consumer: Option<Box<dyn LogConsumer>>,
    converters: RecordConverters,
    /// The task's transform component instances, when the chain has any.
    plugin_transforms: Option<TaskTransforms>,
    errors: ErrorOperator,
    reporter: Arc<DlqReporter>,
    sink_context: SinkContext,
    /// Next offset to read per partition, for everything put so far.
    current: BTreeMap<TopicPartition, i64>,
    /// The first offset read of each partition with no committed offset yet.
    first_read: BTreeMap<TopicPartition, i64>,
    /// Last committed offsets, to rewind to when `pre-commit` fails.
    committed: BTreeMap<TopicPartition, i64>,
    interval: Duration,
    next_commit: Instant,
    paused: bool,
    /// How long converting the last batch took (ahead or not): the next batch is converted
    /// ahead only when that is worth a hand-off to another thread.
    conversion: Duration,
    /// Whether this worker may run the task now.
    lease: Arc<super::Lease>,
}

impl SinkLoop<'_> {
    fn consumer(&mut self) -> &mut dyn LogConsumer {
        self.consumer
            .as_deref_mut()
            .expect("the consumer is home between polls ahead")
    }

    /// Pauses or resumes every partition as the connector's target state says; a batch
    /// polled ahead is not delivered while paused (it is read again on resume).
    fn apply_target(
        &mut self,
        wanted: TargetState,
        ahead: &mut Option<Result<Polled, LogError>>,
    ) -> Result<(), TaskFailure> {
        let pause = wanted != TargetState::Started;
        if pause != self.paused {
            let assignment = self.consumer().assignment();
            if pause {
                self.consumer().pause(&assignment)?;
                if let Some(Ok(polled)) = ahead {
                    self.fence(&mut polled.records, &assignment)?;
                }
                self.control.emit(self.spec.task, TaskEvent::Paused);
            } else {
                self.consumer().resume(&assignment)?;
                self.control.emit(self.spec.task, TaskEvent::Running);
            }
            self.paused = pause;
        }
        Ok(())
    }

    async fn rebalance(&mut self, rebalance: Rebalance) -> Result<(), TaskFailure> {
        match rebalance {
            Rebalance::Revoked(partitions) => {
                self.commit().await?;
                self.instance.close(&partitions).await?;
                for partition in &partitions {
                    self.current.remove(partition);
                    self.committed.remove(partition);
                }
            }
            Rebalance::Assigned(partitions) => {
                // The task may reset the offsets of the new partitions in `open`, and only
                // assigned partitions count.
                self.sink_context
                    .lock()
                    .expect("sink context lock")
                    .assignment = self.consumer().assignment();
                self.instance.open(&partitions).await?;
                if self.paused {
                    self.consumer().pause(&partitions)?;
                }
            }
        }
        self.sink_context
            .lock()
            .expect("sink context lock")
            .assignment = self.consumer().assignment();
        Ok(())
    }

    /// Drops the records of `partitions` (paused after `records` were polled) and seeks each
    /// back to its first dropped record, so it is read again once resumed.
    fn fence(
        &mut self,
        records: &mut Vec<ConsumedRecord>,
        partitions: &[TopicPartition],
    ) -> Result<(), TaskFailure> {
        for partition in partitions {
            if let Some(first) = records.iter().find(|record| holds(partition, record)) {
                let offset = first.offset;
                records.retain(|record| !holds(partition, record));
                self.consumer().seek(partition, offset)?;
            }
        }
        Ok(())
    }

    /// Converts and puts one batch, retrying it while the task says `retriable`.
    /// `converted`: the batch's records converted ahead, if they were.
    async fn deliver(
        &mut self,
        raw: Vec<ConsumedRecord>,
        mut converted: Option<Preconverted>,
    ) -> Result<(), TaskFailure> {
        let raw = Arc::new(raw);
        self.reporter.set_batch(raw.clone());
        // Per run of one partition's records (a poll returns them so), not per record.
        let mut start = 0;
        while let Some(first) = raw.get(start) {
            let run = raw[start..]
                .iter()
                .take_while(|r| r.partition == first.partition && r.topic == first.topic)
                .count();
            let last = &raw[start + run - 1];
            let partition = TopicPartition::new(first.topic.to_string(), first.partition);
            if !self.committed.contains_key(&partition) {
                self.first_read
                    .entry(partition.clone())
                    .or_insert(first.offset);
            }
            self.current.insert(partition, last.offset + 1);
            start += run;
        }
        self.note_active();
        loop {
            let started = Instant::now();
            let ahead = converted
                .as_ref()
                .map_or(Duration::ZERO, Preconverted::took);
            let records = match self.plugin_transforms.as_mut() {
                Some(transforms) => {
                    Self::convert_batched(
                        &self.errors,
                        &self.converters,
                        transforms,
                        &self.reporter,
                        &raw,
                    )
                    .await?
                }
                None => {
                    // Converted ahead for the first attempt only: a retried put converts again.
                    Self::convert(
                        &self.errors,
                        &self.converters,
                        &self.spec.transforms,
                        &self.reporter,
                        &raw,
                        converted.take(),
                    )
                    .await?
                }
            };
            self.conversion = started.elapsed() + ahead;
            let count = records.len();
            if count == 0 {
                return Ok(());
            }
            super::hold_to_throughput(self.spec, self.control, count).await;
            if !self.lease.valid() {
                // Not put: the next worker gets them again from the last commit.
                return Ok(());
            }
            let put_started = Instant::now();
            match self.instance.put(records).await {
                Ok(()) => {
                    if let Some(fatal) = self.reporter.take_fatal() {
                        return Err(TaskFailure::new(fatal));
                    }
                    self.control.metrics.put(count, put_started.elapsed());
                    return Ok(());
                }
                Err(error) if error.is_retriable() => {
                    let backoff = self
                        .sink_context
                        .lock()
                        .expect("sink context lock")
                        .timeout
                        .unwrap_or(DEFAULT_RETRY_BACKOFF);
                    tracing::warn!(error = %error, backoff_ms = backoff.as_millis() as u64, "Put failed with a retriable error; redelivering the batch.");
                    tokio::select! {
                        () = self.control.shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                }
                Err(error) => {
                    if let Some(fatal) = self.reporter.take_fatal() {
                        return Err(TaskFailure::new(fatal));
                    }
                    return Err(error.into());
                }
            }
        }
    }

    /// Converts a batch; a record that fails is retried and tolerated as `errors.*` says,
    /// and a tolerated one goes to the dead letter queue.
    /// (Takes its parts rather than `&self`, which is not `Sync`, to stay `Send`.)
    async fn convert(
        errors: &ErrorOperator,
        converters: &RecordConverters,
        transforms: &TransformChain,
        reporter: &DlqReporter,
        raw: &[ConsumedRecord],
        mut converted: Option<Preconverted>,
    ) -> Result<Vec<SinkRecord>, TaskFailure> {
        let mut records = Vec::with_capacity(raw.len());
        for record in raw {
            if let Some(done) = converted.as_mut().and_then(|c| c.take(record)) {
                // Converted and transformed ahead; None if a transform dropped it.
                records.extend(done);
                continue;
            }
            let outcome = errors
                .execute(
                    |include| describe_consumed(record, include),
                    || converters.to_sink(record),
                )
                .await
                .map_err(|failure| at_record(failure, record))?;
            let outcome = match outcome {
                Outcome::Done(converted) if transforms.is_empty() => Outcome::Done(Some(converted)),
                Outcome::Done(converted) if errors.retries() || errors.logs_records() => {
                    // Each attempt starts from the converted record.
                    errors
                        .execute(
                            |include| describe_consumed(record, include),
                            || transforms.apply(converted.clone()),
                        )
                        .await
                        .map_err(|failure| at_record(failure, record))?
                }
                Outcome::Done(converted) => match transforms.apply(converted) {
                    Ok(transformed) => Outcome::Done(transformed),
                    Err(error) => errors
                        .failed(&error, |include| describe_consumed(record, include))
                        .map_err(|failure| at_record(failure, record))?,
                },
                Outcome::Skipped {
                    stage,
                    class,
                    error,
                } => Outcome::Skipped {
                    stage,
                    class,
                    error,
                },
            };
            match outcome {
                // None: a transform (e.g. Filter) dropped it.
                Outcome::Done(transformed) => records.extend(transformed),
                Outcome::Skipped {
                    stage,
                    class,
                    error,
                } => {
                    // The dead letter queue gets the record as consumed, as in Kafka Connect.
                    reporter.send(record, stage, &class, &error);
                }
            }
        }
        Ok(records)
    }

    /// [`Self::convert`] for a chain with transform components: converts every record, then
    /// runs the chain over the batch (one guest call per component step). A record a
    /// transform fails on is tolerated (to the dead letter queue) or fails the task, without
    /// retries.
    async fn convert_batched(
        errors: &ErrorOperator,
        converters: &RecordConverters,
        transforms: &mut TaskTransforms,
        reporter: &DlqReporter,
        raw: &[ConsumedRecord],
    ) -> Result<Vec<SinkRecord>, TaskFailure> {
        let mut converted = Vec::with_capacity(raw.len());
        let mut origin = Vec::with_capacity(raw.len());
        for record in raw {
            let outcome = errors
                .execute(
                    |include| describe_consumed(record, include),
                    || converters.to_sink(record),
                )
                .await
                .map_err(|failure| at_record(failure, record))?;
            match outcome {
                Outcome::Done(sink_record) => {
                    converted.push(sink_record);
                    origin.push(record);
                }
                Outcome::Skipped {
                    stage,
                    class,
                    error,
                } => {
                    reporter.send(record, stage, &class, &error);
                }
            }
        }
        let mut records = Vec::with_capacity(converted.len());
        for (outcome, record) in transforms
            .apply_batch(converted)
            .await
            .into_iter()
            .zip(origin)
        {
            match outcome {
                Transformed::Kept(transformed) => records.push(transformed),
                Transformed::Dropped => {}
                Transformed::Failed { error, .. } => {
                    let outcome: Outcome<()> = errors
                        .failed(&error, |include| describe_consumed(record, include))
                        .map_err(|failure| at_record(failure, record))?;
                    if let Outcome::Skipped {
                        stage,
                        class,
                        error,
                    } = outcome
                    {
                        // The dead letter queue gets the record as consumed.
                        reporter.send(record, stage, &class, &error);
                    }
                }
            }
        }
        Ok(records)
    }

    /// Seeks, pauses and resumes as the task asked through `sink-task-context`; returns the
    /// partitions it seeked and paused.
    async fn apply_context(&mut self) -> Result<ContextChanges, TaskFailure> {
        let (resets, pause, resume) = {
            let mut state = self.sink_context.lock().expect("sink context lock");
            (
                std::mem::take(&mut state.reset_offsets),
                std::mem::take(&mut state.pause),
                std::mem::take(&mut state.resume),
            )
        };
        let mut seeked = Vec::with_capacity(resets.len());
        for reset in resets {
            let partition = TopicPartition::new(reset.topic, reset.partition);
            self.consumer().seek(&partition, reset.offset)?;
            self.current.insert(partition.clone(), reset.offset);
            seeked.push(partition);
        }
        if !pause.is_empty() {
            self.consumer().pause(&pause)?;
        }
        if !resume.is_empty() && !self.paused {
            self.consumer().resume(&resume)?;
        }
        Ok(ContextChanges {
            seeked,
            paused: pause,
        })
    }

    /// `pre-commit`, wait for dead-letter writes, then commit what the task said is safe.
    /// Returns the partitions rewound to their last commit (when `pre-commit` failed).
    async fn commit(&mut self) -> Result<Vec<TopicPartition>, TaskFailure> {
        self.next_commit = Instant::now() + self.interval;
        if !self.lease.valid() {
            // Another worker may consume these partitions and commit its own offsets now.
            return Ok(Vec::new());
        }
        let offsets: Vec<TopicPartitionOffset> = self
            .current
            .iter()
            .filter(|(partition, offset)| self.committed.get(*partition) != Some(offset))
            .map(|(partition, offset)| TopicPartitionOffset {
                topic: partition.topic.clone(),
                partition: partition.partition,
                offset: *offset,
            })
            .collect();
        if offsets.is_empty() {
            return Ok(Vec::new());
        }
        let safe = match self.instance.pre_commit(offsets).await {
            Ok(safe) => safe,
            Err(error @ CallError::Connector { .. }) => {
                tracing::warn!(error = %error, "pre-commit failed; rewinding to the last committed offsets.");
                return self.rewind();
            }
            Err(error) => return Err(error.into()),
        };
        self.reporter.wait().await.map_err(TaskFailure::new)?;
        if safe.is_empty() {
            return Ok(Vec::new());
        }
        let commit_started = Instant::now();
        let committed = self.consumer().commit(&safe).await;
        self.control
            .metrics
            .committed(committed.is_ok(), commit_started.elapsed());
        committed?;
        for offset in safe {
            self.committed.insert(
                TopicPartition::new(offset.topic, offset.partition),
                offset.offset,
            );
        }
        self.reporter.forget_finished();
        self.note_active();
        Ok(Vec::new())
    }

    /// Records read and not yet committed (`sink-record-active-count`): per partition, the
    /// next offset to read less the committed one (or the first offset read, before any
    /// commit).
    fn note_active(&self) {
        let active: i64 = self
            .current
            .iter()
            .map(|(partition, &next)| {
                let base = self
                    .committed
                    .get(partition)
                    .or_else(|| self.first_read.get(partition))
                    .copied()
                    .unwrap_or(next);
                (next - base).max(0)
            })
            .sum();
        self.control.metrics.active(active as usize);
    }

    /// Seeks every partition back to its last commit; returns them.
    fn rewind(&mut self) -> Result<Vec<TopicPartition>, TaskFailure> {
        let committed: Vec<(TopicPartition, i64)> = self
            .committed
            .iter()
            .map(|(partition, offset)| (partition.clone(), *offset))
            .collect();
        for (partition, offset) in &committed {
            self.consumer().seek(partition, *offset)?;
            self.current.insert(partition.clone(), *offset);
        }
        Ok(committed
            .into_iter()
            .map(|(partition, _)| partition)
            .collect())
    }
}

/// What `apply_context` changed: records read before it from these partitions must not be
/// delivered.
struct ContextChanges {
    seeked: Vec<TopicPartition>,
    paused: Vec<TopicPartition>,
}

/// Whether `record` was read from `partition`.
fn holds(partition: &TopicPartition, record: &ConsumedRecord) -> bool {
    record.partition == partition.partition && *record.topic == *partition.topic
}

/// Names the record a failure happened on in its trace.
fn at_record(failure: TaskFailure, record: &ConsumedRecord) -> TaskFailure {
    TaskFailure::new(format!(
        "{} (record {}-{}@{})",
        failure.trace, record.topic, record.partition, record.offset
    ))
}

/// A consumed record for error logs: where it is, and with `include` (as
/// `errors.log.include.messages`) its timestamp too, as Kafka Connect's log reporter.
fn describe_consumed(record: &ConsumedRecord, include: bool) -> String {
    if include {
        format!(
            ", where consumed record is {{topic='{}', partition={}, offset={}, timestamp={}}}",
            record.topic,
            record.partition,
            record.offset,
            record.timestamp.map_or("null".into(), |t| t.to_string()),
        )
    } else {
        String::new()
    }
}
