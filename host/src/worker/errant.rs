//! The errant record reporter (KIP-610) behind the WIT `errant-record-reporter` import: a
//! reported record is written, with its original key, value and headers, to the dead letter
//! queue topic (`errors.deadletterqueue.topic.name`), with the `__connect.errors.*` context
//! headers when `errors.deadletterqueue.context.headers.enable=true`. The sink loop waits for
//! every report before it commits offsets past it.
//!
//! What a guest can make the reporter hold is bounded: at most `sandbox.errant.reports.max`
//! reports unfinished (each holds a copy of its record until the log has it; `report` asks
//! the guest to `flush` beyond that) and as many finished statuses. Reports are logged only
//! as Kafka Connect's log reporter does (`errors.log.enable`), within the task's log budget.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    config::{ConnectorConfig, connector::ErrorTolerance},
    log::{ConsumedRecord, LogHeader, LogProducer, ProduceRecord},
    runtime::{ErrantRecordReporter, LogBudget, ReportStatus},
};

/// How long `flush` waits for outstanding reports.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// The stage names Kafka Connect writes to `__connect.errors.stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    TaskPoll,
    TaskPut,
    Transformation,
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::TaskPoll => "TASK_POLL",
            Self::TaskPut => "TASK_PUT",
            Self::Transformation => "TRANSFORMATION",
            Self::KeyConverter => "KEY_CONVERTER",
            Self::ValueConverter => "VALUE_CONVERTER",
            Self::HeaderConverter => "HEADER_CONVERTER",
            Self::KafkaProduce => "KAFKA_PRODUCE",
            Self::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

/// The reporter of one sink task.
pub struct DlqReporter {
    connector: Arc<ConnectorConfig>,
    task: u32,
    producer: Option<Arc<dyn LogProducer>>,
    /// The raw records of the current and previous `put` batches, which reports refer to,
    /// each with an index by position built on its first report.
    batches: Mutex<[Reportable; 2]>,
    statuses: Arc<Mutex<HashMap<u64, ReportStatus>>>,
    /// `sandbox.errant.reports.max`: unfinished reports (and kept statuses) at most.
    max_reports: usize,
    /// The task's log budget.
    log: Arc<LogBudget>,
    pending: Mutex<Vec<JoinHandle<()>>>,
    /// Reports handed to a task that has not finished them.
    in_flight: Arc<AtomicUsize>,
    /// Fires once the latest report was handed to the producer. Each report waits for the one
    /// before it, so reports reach the dead letter queue in the order they were made, as in
    /// Kafka Connect.
    enqueued: Mutex<Option<oneshot::Receiver<()>>>,
    next_id: AtomicU64,
    /// Set when a record was reported under `errors.tolerance=none`: the task must fail.
    fatal: Mutex<Option<String>>,
    /// The task's metrics: errant records, dead letter queue writes and their failures.
    metrics: Arc<super::TaskMetrics>,
    runtime: tokio::runtime::Handle,
}

/// A batch the guest may report records of.
#[derive(Default)]
struct Reportable {
    records: Arc<Vec<ConsumedRecord>>,
    /// (partition, offset) → positions in `records`, built on the batch's first report.
    index: Option<HashMap<(i32, i64), Vec<usize>>>,
}

impl Reportable {
    fn find(&mut self, topic: &str, partition: i32, offset: i64) -> Option<ConsumedRecord> {
        let records = &self.records;
        let index = self.index.get_or_insert_with(|| {
            let mut index: HashMap<(i32, i64), Vec<usize>> = HashMap::new();
            for (position, record) in records.iter().enumerate() {
                index
                    .entry((record.partition, record.offset))
                    .or_default()
                    .push(position);
            }
            index
        });
        index
            .get(&(partition, offset))?
            .iter()
            .map(|&position| &records[position])
            .find(|record| *record.topic == *topic)
            .cloned()
    }
}

impl DlqReporter {
    pub fn new(
        connector: Arc<ConnectorConfig>,
        task: u32,
        producer: Option<Arc<dyn LogProducer>>,
        metrics: Arc<super::TaskMetrics>,
        max_reports: usize,
        log: Arc<LogBudget>,
    ) -> Self {
        Self {
            connector,
            task,
            producer,
            batches: Mutex::new([Reportable::default(), Reportable::default()]),
            statuses: Arc::new(Mutex::new(HashMap::new())),
            max_reports,
            log,
            pending: Mutex::new(Vec::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            enqueued: Mutex::new(None),
            next_id: AtomicU64::new(1),
            fatal: Mutex::new(None),
            metrics,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The records the next `put` delivers; the batch before it stays reportable too.
    pub fn set_batch(&self, batch: Arc<Vec<ConsumedRecord>>) {
        let mut batches = self.batches.lock().expect("reporter lock poisoned");
        batches[1] = std::mem::replace(
            &mut batches[0],
            Reportable {
                records: batch,
                index: None,
            },
        );
    }

    /// The failure a report under `errors.tolerance=none` caused, if any.
    pub fn take_fatal(&self) -> Option<String> {
        self.fatal.lock().expect("reporter lock poisoned").take()
    }

    /// Writes a raw record to the dead letter queue (also used for conversion failures under
    /// `errors.tolerance=all`). Returns the report id.
    /// `class` is the class that was executing (`__connect.errors.class.name`).
    pub fn send(&self, record: &ConsumedRecord, stage: Stage, class: &str, error: &str) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.metrics.errant_records.fetch_add(1, Ordering::Relaxed);
        let (Some(producer), Some(topic)) = (&self.producer, &self.connector.dlq_topic) else {
            self.statuses
                .lock()
                .expect("reporter lock poisoned")
                .insert(id, ReportStatus::Written);
            return id;
        };
        let mut headers = record.headers.clone();
        if self.connector.dlq_context_headers {
            headers.extend(self.context_headers(record, stage, class, error));
        }
        let dlq_record = ProduceRecord {
            topic: topic.as_str().into(),
            partition: None,
            key: record.key.clone(),
            value: record.value.clone(),
            headers,
            timestamp: record.timestamp,
        };
        self.statuses
            .lock()
            .expect("reporter lock poisoned")
            .insert(id, ReportStatus::Pending);
        let producer = producer.clone();
        let statuses = self.statuses.clone();
        let metrics = self.metrics.clone();
        metrics.dlq_requests.fetch_add(1, Ordering::Relaxed);
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (enqueued_tx, enqueued_rx) = oneshot::channel();
        let previous = self
            .enqueued
            .lock()
            .expect("reporter lock poisoned")
            .replace(enqueued_rx);
        let handle = self.runtime.spawn(async move {
            if let Some(previous) = previous {
                // An error only means the previous report's task is gone; go ahead.
                let _ = previous.await;
            }
            let sent = producer.send(vec![dlq_record]).await;
            let _ = enqueued_tx.send(());
            let status = match sent {
                Ok(delivery) => match delivery.await.pop() {
                    Some(Ok(_)) => ReportStatus::Written,
                    Some(Err(error)) => ReportStatus::Failed(crate::error_chain(&error)),
                    None => ReportStatus::Failed("the log returned no outcome".into()),
                },
                Err(error) => ReportStatus::Failed(crate::error_chain(&error)),
            };
            if matches!(status, ReportStatus::Failed(_)) {
                metrics.dlq_failures.fetch_add(1, Ordering::Relaxed);
            }
            statuses
                .lock()
                .expect("reporter lock poisoned")
                .insert(id, status);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
        let mut pending = self.pending.lock().expect("reporter lock poisoned");
        pending.push(handle);
        // Finished reports' handles go once there are many (a guest reporting without ever
        // flushing), so the list stays within twice the bound.
        if pending.len() > 2 * self.max_reports {
            pending.retain(|handle| !handle.is_finished());
        }
        id
    }

    fn context_headers(
        &self,
        record: &ConsumedRecord,
        stage: Stage,
        class: &str,
        error: &str,
    ) -> Vec<LogHeader> {
        let header = |key: &str, value: String| LogHeader {
            key: format!("__connect.errors.{key}"),
            value: Some(value.into_bytes()),
        };
        // Converters and transforms fail with Kafka's DataException; the task with a
        // ConnectException.
        let exception = match stage {
            Stage::KeyConverter
            | Stage::ValueConverter
            | Stage::HeaderConverter
            | Stage::Transformation => "org.apache.kafka.connect.errors.DataException",
            _ => "org.apache.kafka.connect.errors.ConnectException",
        };
        vec![
            header("topic", record.topic.to_string()),
            header("partition", record.partition.to_string()),
            header("offset", record.offset.to_string()),
            header("connector.name", self.connector.name.clone()),
            header("task.id", self.task.to_string()),
            header("stage", stage.name().into()),
            header("class.name", class.to_owned()),
            header("exception.class.name", exception.into()),
            header("exception.message", error.to_owned()),
            header("exception.stacktrace", format!("{exception}: {error}")),
        ]
    }

    /// Waits for every report so far; the first failure, if any.
    pub async fn wait(&self) -> Result<(), String> {
        let handles: Vec<_> =
            std::mem::take(&mut *self.pending.lock().expect("reporter lock poisoned"));
        let all = futures::future::join_all(handles);
        tokio::time::timeout(FLUSH_TIMEOUT, all)
            .await
            .map_err(|_| {
                format!("dead letter queue writes did not finish within {FLUSH_TIMEOUT:?}")
            })?;
        let statuses = self.statuses.lock().expect("reporter lock poisoned");
        match statuses.values().find_map(|status| match status {
            ReportStatus::Failed(message) => Some(message.clone()),
            _ => None,
        }) {
            Some(message) => Err(format!(
                "failed to write to the dead letter queue: {message}"
            )),
            None => Ok(()),
        }
    }

    /// Forgets finished reports (called after each commit) so the status map stays small.
    pub fn forget_finished(&self) {
        let mut statuses = self.statuses.lock().expect("reporter lock poisoned");
        statuses.retain(|_, status| *status == ReportStatus::Pending);
    }

    /// Reports not yet finished (handed to the log and acknowledged, or failed).
    fn unfinished(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Once there are twice `max_reports` statuses, drops the oldest finished ones down to
    /// `max_reports`: the guest only asks about the reports it just made.
    fn trim_statuses(&self) {
        let mut statuses = self.statuses.lock().expect("reporter lock poisoned");
        if statuses.len() <= 2 * self.max_reports {
            return;
        }
        let mut finished: Vec<u64> = statuses
            .iter()
            .filter(|(_, status)| **status != ReportStatus::Pending)
            .map(|(id, _)| *id)
            .collect();
        finished.sort_unstable();
        let excess = statuses.len() - self.max_reports;
        for id in finished.into_iter().take(excess) {
            statuses.remove(&id);
        }
    }
}

#[async_trait::async_trait]
impl ErrantRecordReporter for DlqReporter {
    fn report(&self, topic: &str, partition: i32, offset: i64, error: &str) -> Result<u64, String> {
        let record = {
            let mut batches = self.batches.lock().expect("reporter lock poisoned");
            batches
                .iter_mut()
                .find_map(|batch| batch.find(topic, partition, offset))
        };
        let Some(record) = record else {
            return Err(format!(
                "no record at {topic}-{partition}@{offset} in the current or previous put batch"
            ));
        };
        if self.connector.errors_tolerance == ErrorTolerance::None {
            let message = format!(
                "errant record {topic}-{partition}@{offset} reported with errors.tolerance=none: {error}"
            );
            self.fatal
                .lock()
                .expect("reporter lock poisoned")
                .get_or_insert(message.clone());
            return Err(message);
        }
        if self.unfinished() >= self.max_reports {
            return Err(format!(
                "{} errant record reports are still being written, the most a task may have \
                 (sandbox.errant.reports.max); call flush before reporting more",
                self.max_reports
            ));
        }
        super::errors::log_failure(
            &self.connector.errors,
            Some(&self.log),
            &format!("{}-{}", self.connector.name, self.task),
            Stage::TaskPut,
            &self.connector.class,
            error,
            |include| {
                if include {
                    format!(
                        ", where consumed record is {{topic='{}', partition={}, offset={}}}",
                        record.topic, record.partition, record.offset
                    )
                } else {
                    String::new()
                }
            },
        );
        let id = self.send(&record, Stage::TaskPut, &self.connector.class, error);
        self.trim_statuses();
        Ok(id)
    }

    fn status(&self, id: u64) -> ReportStatus {
        self.statuses
            .lock()
            .expect("reporter lock poisoned")
            .get(&id)
            .cloned()
            .unwrap_or(ReportStatus::Written)
    }

    async fn flush(&self) -> Result<(), String> {
        self.wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Settings, WorkerConfig};

    /// A log that accepts records and never acknowledges them.
    struct Silent;

    #[async_trait::async_trait]
    impl LogProducer for Silent {
        async fn send(
            &self,
            _records: Vec<ProduceRecord>,
        ) -> Result<crate::log::Delivery, crate::log::LogError> {
            Ok(Box::pin(futures::future::pending()))
        }

        async fn flush(&self, _timeout: Duration) -> Result<(), crate::log::LogError> {
            Ok(())
        }
    }

    fn record(offset: i64) -> ConsumedRecord {
        ConsumedRecord {
            topic: "t".into(),
            partition: 0,
            offset,
            key: None,
            value: Some(vec![0; 1000]),
            headers: Vec::new(),
            timestamp: None,
            timestamp_type: crate::log::TimestampType::CreateTime,
        }
    }

    #[tokio::test]
    async fn a_guest_may_have_only_so_many_reports_unfinished() {
        let settings: Settings = [
            ("name", "c"),
            ("connector.class", "X"),
            ("topics", "t"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let config = Arc::new(ConnectorConfig::parse(settings, &worker).unwrap());
        let reporter = DlqReporter::new(
            config,
            0,
            Some(Arc::new(Silent)),
            Arc::new(crate::worker::TaskMetrics::default()),
            3,
            Arc::new(LogBudget::new("c", Some(0), 1000, 1 << 20)),
        );
        reporter.set_batch(Arc::new((0..10).map(record).collect()));
        for offset in 0..3 {
            reporter.report("t", 0, offset, "bad").unwrap();
        }
        // The reports' tasks are waiting for the log: none has finished.
        tokio::task::yield_now().await;
        let error = reporter.report("t", 0, 3, "bad").unwrap_err();
        assert_eq!(
            error,
            "3 errant record reports are still being written, the most a task may have \
             (sandbox.errant.reports.max); call flush before reporting more"
        );
        // A record that is in neither batch is refused, naming it.
        assert!(
            reporter
                .report("t", 0, 99, "bad")
                .unwrap_err()
                .contains("t-0@99")
        );
    }
}
