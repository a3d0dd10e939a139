//! The source task loop, Kafka Connect's `WorkerSourceTask`: poll the guest, convert, send to
//! the log without waiting, and store a source offset only once the log acknowledged that
//! record and every record polled before it. Offsets are flushed every
//! `offset.flush.interval.ms` and at shutdown, then the task's `commit` is called.
//!
//! Guest calls are never cancelled half-way (that would leave the instance in an unknown
//! state): shutdown, pause and flushes are handled between calls.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use futures::{FutureExt, StreamExt, stream::FuturesOrdered};
use tokio::{sync::mpsc, time::Instant};

use super::{
    RecordConverters, Services, TargetState, TaskControl, TaskEvent, TaskFailure, TaskSpec,
    check_events, preopens_for,
};
use crate::{
    config::connector::ErrorTolerance,
    data::{OffsetMap, RecordMetadata, SourceRecord},
    log::{Delivery, LogError, LogProducer},
    runtime::{CallError, InstanceContext, OffsetReader, PluginKind, SourceTaskInstance},
    storage::FileOffsetStore,
};

/// How many records may wait for the log's acknowledgement before the task stops polling.
const MAX_IN_FLIGHT_RECORDS: usize = 200_000;
/// How long to wait after an empty poll.
const IDLE_BACKOFF: Duration = Duration::from_millis(50);
/// How long to wait before polling again after a `retriable` error.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Reads this connector's committed offsets for `offset-storage-reader`.
pub struct StoreReader {
    pub store: Arc<FileOffsetStore>,
    pub connector: String,
}

impl OffsetReader for StoreReader {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.store.get(&self.connector, partition)
    }
}

/// A batch on its way to the log.
struct InFlight {
    /// The last source offset of each source partition in the batch.
    offsets: Vec<(OffsetMap, OffsetMap)>,
    /// The polled records, kept only when the task wants `commit-records`.
    records: Option<Vec<SourceRecord>>,
}

/// Runs one source task until shutdown or failure; reports its states through `control`.
#[tracing::instrument(name = "source_task", skip_all, fields(connector = %spec.connector.name, task = spec.task))]
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
    let preopens = preopens_for(
        &connector.settings,
        &mut config,
        PluginKind::Source,
        spec.builtin,
    );
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let context = InstanceContext {
        connector: connector.name.clone(),
        task: Some(spec.task),
        limits: connector.sandbox,
        preopens,
        events: events_tx,
        offsets: Some(Arc::new(StoreReader {
            store: services.offsets.clone(),
            connector: connector.name.clone(),
        })),
        sink_context: None,
        reporter: None,
    };
    let converters = RecordConverters::for_connector(connector)
        .map_err(|error| TaskFailure::new(crate::error_chain(&error)))?;
    let mut instance = spec.plugin.source_task(context).await?;
    let options = instance.start(&config).await?;
    check_events(&mut events, control, spec.task)?;
    let producer = services.log.producer(&format!(
        "connector-producer-{}-{}",
        connector.name, spec.task
    ))?;

    let mut task = SourceLoop {
        spec,
        services,
        control,
        instance,
        converters,
        producer,
        wants_commit_records: options.wants_commit_records,
        in_flight: FuturesOrdered::new(),
        in_flight_batches: VecDeque::new(),
        in_flight_records: 0,
        acked: Vec::new(),
        acked_records: Vec::new(),
        next_flush: Instant::now() + services.worker.offset_flush_interval,
    };
    let mut target = control.target.clone();
    let mut state = TargetState::Started;
    control.emit(spec.task, TaskEvent::Running);
    tracing::info!("Task started.");

    let result = loop {
        if control.shutdown.is_cancelled() {
            break Ok(());
        }
        let wanted = *target.borrow_and_update();
        if wanted != state {
            state = wanted;
            control.emit(
                spec.task,
                if state == TargetState::Paused {
                    TaskEvent::Paused
                } else {
                    TaskEvent::Running
                },
            );
        }
        if let Err(failure) = task.drain_acks(false).await {
            break Err(failure);
        }
        if let Err(failure) = task.maybe_flush(false).await {
            break Err(failure);
        }
        if state != TargetState::Started || task.in_flight_records >= MAX_IN_FLIGHT_RECORDS {
            // Paused, or too much waiting for the log: wait for acks, a state change or shutdown.
            tokio::select! {
                () = control.shutdown.cancelled() => {}
                _ = target.changed() => {}
                () = tokio::time::sleep(IDLE_BACKOFF) => {}
            }
            continue;
        }
        let polled = task.instance.poll().await;
        if let Err(failure) = check_events(&mut events, control, spec.task) {
            break Err(failure);
        }
        match polled {
            Ok(records) if records.is_empty() => {
                tokio::select! {
                    () = control.shutdown.cancelled() => {}
                    () = tokio::time::sleep(IDLE_BACKOFF) => {}
                }
            }
            Ok(records) => {
                if let Err(failure) = task.send(records).await {
                    break Err(failure);
                }
            }
            Err(error) if error.is_retriable() => {
                tracing::warn!(error = %error, "Poll failed with a retriable error; retrying.");
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Err(error) => break Err(error.into()),
        }
    };

    // Graceful or not, store what the log acknowledged.
    let timeout = services.worker.offset_flush_timeout;
    let drained = tokio::time::timeout(timeout, task.drain_acks(true)).await;
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

struct SourceLoop<'a> {
    spec: &'a TaskSpec,
    services: &'a Arc<Services>,
    control: &'a TaskControl,
    instance: SourceTaskInstance,
    converters: RecordConverters,
    producer: Arc<dyn LogProducer>,
    wants_commit_records: bool,
    in_flight: FuturesOrdered<Delivery>,
    in_flight_batches: VecDeque<InFlight>,
    in_flight_records: usize,
    /// Offsets acknowledged since the last flush, one per source partition.
    acked: Vec<(OffsetMap, OffsetMap)>,
    /// Records acknowledged since the last `commit-records`, for tasks that want them.
    acked_records: Vec<(SourceRecord, Option<RecordMetadata>)>,
    next_flush: Instant,
}

impl SourceLoop<'_> {
    async fn send(&mut self, records: Vec<SourceRecord>) -> Result<(), TaskFailure> {
        let tolerance = self.spec.connector.errors_tolerance;
        let mut batch = Vec::with_capacity(records.len());
        let mut offsets: Vec<(OffsetMap, OffsetMap)> = Vec::new();
        for record in &records {
            match self.converters.to_log(record) {
                Ok(produce) => batch.push(produce),
                Err(error) if tolerance == ErrorTolerance::All => {
                    tracing::warn!(error = %crate::error_chain(&error), "Skipping a record that failed conversion.");
                    self.control
                        .metrics
                        .errant_records
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(error) => return Err(TaskFailure::new(crate::error_chain(&error))),
            }
            remember_offset(&mut offsets, record);
        }
        let count = batch.len();
        let delivery = if batch.is_empty() {
            futures::future::ready(Vec::new()).boxed()
        } else {
            self.producer.send(batch).await?
        };
        self.in_flight.push_back(delivery);
        self.in_flight_batches.push_back(InFlight {
            offsets,
            records: self.wants_commit_records.then_some(records),
        });
        self.in_flight_records += count;
        Ok(())
    }

    /// Takes in every acknowledged batch, in order; with `wait`, until nothing is in flight.
    async fn drain_acks(&mut self, wait: bool) -> Result<(), TaskFailure> {
        loop {
            let next = if wait {
                self.in_flight.next().await
            } else {
                match self.in_flight.next().now_or_never() {
                    Some(next) => next,
                    None => return Ok(()),
                }
            };
            let Some(outcomes) = next else { return Ok(()) };
            let batch = self
                .in_flight_batches
                .pop_front()
                .expect("one entry per in-flight batch");
            self.in_flight_records -= outcomes.len();
            let mut written = 0;
            let mut metadata = Vec::with_capacity(if batch.records.is_some() {
                outcomes.len()
            } else {
                0
            });
            for outcome in outcomes {
                match outcome {
                    Ok(meta) => {
                        written += 1;
                        if batch.records.is_some() {
                            metadata.push(Some(meta));
                        }
                    }
                    Err(error) => {
                        self.write_failed(error, &mut metadata, batch.records.is_some())?
                    }
                }
            }
            self.control.metrics.add_records(written);
            for (partition, offset) in batch.offsets {
                match self.acked.iter_mut().find(|(p, _)| *p == partition) {
                    Some(entry) => entry.1 = offset,
                    None => self.acked.push((partition, offset)),
                }
            }
            if let Some(records) = batch.records {
                // Records that failed conversion were never sent; they get no metadata.
                let mut metadata = metadata.into_iter();
                self.acked_records.extend(
                    records
                        .into_iter()
                        .map(|record| (record, metadata.next().flatten())),
                );
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
            tracing::warn!(error = %crate::error_chain(&error), "Skipping a record the log did not accept.");
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
        self.services
            .offsets
            .put(
                &self.spec.connector.name,
                offsets.into_iter().map(|(p, o)| (p, Some(o))).collect(),
            )
            .await
            .map_err(|error| TaskFailure::new(crate::error_chain(&error)))?;
        self.control
            .metrics
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

/// Keeps the last offset of each source partition of a batch (records of one partition are
/// usually consecutive, so the common case is one comparison).
fn remember_offset(offsets: &mut Vec<(OffsetMap, OffsetMap)>, record: &SourceRecord) {
    if record.source_partition.is_empty() && record.source_offset.is_empty() {
        return;
    }
    match offsets
        .iter_mut()
        .rev()
        .find(|(partition, _)| *partition == record.source_partition)
    {
        Some(entry) => entry.1.clone_from(&record.source_offset),
        None => offsets.push((
            record.source_partition.clone(),
            record.source_offset.clone(),
        )),
    }
}
