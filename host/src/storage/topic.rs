//! One of a distributed worker's internal topics (config, offsets, status, cluster): made or
//! checked at start ([`ensure`]: compacted, the partitions it needs), read from its beginning
//! by a thread of its own that hands every record to the store owning the topic, and written
//! by an idempotent producer. [`InternalTopic::read_to_end`] waits until everything written
//! before it was called has been handed over, so a worker acts on the topic as it is.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    Message, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, Consumer},
    producer::{FutureProducer, FutureRecord},
};
use tokio::sync::watch;

use crate::log::kafka::KafkaSettings;

/// Why an internal topic could not be made, checked, read or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TopicError {
    #[error("internal topic `{topic}`: {message}")]
    Kafka { topic: String, message: String },
    #[error(
        "internal topic `{topic}` is not usable: {problem}; {fix} (or name another topic in `{key}`)"
    )]
    Unusable {
        topic: String,
        key: &'static str,
        problem: String,
        fix: String,
    },
    #[error(
        "timed out after {} ms reading internal topic `{topic}` to its end (worker.sync.timeout.ms)",
        .timeout.as_millis()
    )]
    Timeout { topic: String, timeout: Duration },
}

/// One record as read.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// None: a tombstone.
    pub value: Option<Vec<u8>>,
    /// The record's timestamp (the writer's clock), in ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// How long the cleanup.policy check waits for an answer.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What an internal topic must be.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    /// The worker setting that names it (for errors).
    pub key: &'static str,
    /// Partitions to create it with.
    pub partitions: i32,
    /// Whether it must have exactly one partition (the config and cluster topics: their
    /// order is the order of changes).
    pub single_partition: bool,
    pub replication_factor: i16,
    /// Topic-level settings to create it with (KIP-605's `<prefix>.*` settings), beside
    /// `cleanup.policy=compact`.
    pub configs: Vec<(String, String)>,
}

/// Creates the topic when it is missing and checks it when it exists: compacted, and one
/// partition where order matters. Returns its partition count. A cluster that cannot describe
/// topic configs (e.g. librdkafka's mock cluster) gets a warning instead of the compaction
/// check.
pub async fn ensure(settings: &KafkaSettings, spec: &TopicSpec) -> Result<i32, TopicError> {
    let kafka = |message: String| TopicError::Kafka {
        topic: spec.name.clone(),
        message,
    };
    let unusable = |problem: String, fix: String| TopicError::Unusable {
        topic: spec.name.clone(),
        key: spec.key,
        problem,
        fix,
    };
    let admin: AdminClient<DefaultClientContext> = settings
        .admin_client_config()
        .create()
        .map_err(|error| kafka(error.to_string()))?;
    let timeout = settings.request_timeout;
    let partitions = partition_count(&admin, &spec.name, timeout).await?;
    let partitions = match partitions {
        Some(count) => count,
        None => {
            let mut new = NewTopic::new(
                &spec.name,
                spec.partitions,
                TopicReplication::Fixed(i32::from(spec.replication_factor)),
            )
            .set("cleanup.policy", "compact");
            for (key, value) in &spec.configs {
                new = new.set(key, value);
            }
            let options = AdminOptions::new().operation_timeout(Some(timeout));
            let results = admin
                .create_topics([&new], &options)
                .await
                .map_err(|error| {
                    kafka(format!(
                        "it does not exist and could not be created ({error}); create it \
                         with cleanup.policy=compact and {} partition(s)",
                        spec.partitions
                    ))
                })?;
            for result in results {
                if let Err((_, code)) = result
                    && code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists
                {
                    return Err(kafka(format!(
                        "it does not exist and could not be created ({code}); create it with \
                         cleanup.policy=compact and {} partition(s)",
                        spec.partitions
                    )));
                }
            }
            tracing::info!(topic = %spec.name, partitions = spec.partitions, "Created internal topic.");
            spec.partitions
        }
    };
    if spec.single_partition && partitions != 1 {
        return Err(unusable(
            format!(
                "it has {partitions} partitions, and it must have exactly 1 so its records keep their order"
            ),
            "delete it and let the worker create it, or create it with 1 partition".into(),
        ));
    }
    // A cluster that cannot describe configs may not answer at all: a short wait.
    let options = AdminOptions::new().request_timeout(Some(timeout.min(DESCRIBE_TIMEOUT)));
    match admin
        .describe_configs([&ResourceSpecifier::Topic(&spec.name)], &options)
        .await
    {
        Ok(results) => {
            for resource in results.into_iter().flatten() {
                let policy = resource
                    .get("cleanup.policy")
                    .and_then(|entry| entry.value.clone())
                    .unwrap_or_default();
                if !policy.is_empty() && policy != "compact" {
                    return Err(unusable(
                        format!(
                            "its cleanup.policy is `{policy}`, and it must be `compact` or its history is deleted"
                        ),
                        format!(
                            "run `kafka-configs.sh --alter --entity-type topics --entity-name {} --add-config cleanup.policy=compact`",
                            spec.name
                        ),
                    ));
                }
            }
        }
        Err(error) => tracing::warn!(
            topic = %spec.name,
            %error,
            "Could not check the internal topic's cleanup.policy; make sure it is `compact`."
        ),
    }
    Ok(partitions)
}

/// The topic's partition count, None when it does not exist.
async fn partition_count(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    timeout: Duration,
) -> Result<Option<i32>, TopicError> {
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), timeout)
        .map_err(|error| TopicError::Kafka {
            topic: topic.to_owned(),
            message: format!("failed to read its metadata: {error}"),
        })?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32))
}

/// An internal topic: its reader thread and its producer.
pub struct InternalTopic {
    name: String,
    partitions: i32,
    producer: FutureProducer,
    reader: Arc<BaseConsumer>,
    /// The next offset to read, per partition.
    read: watch::Sender<Vec<i64>>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    timeout: Duration,
}

impl std::fmt::Debug for InternalTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalTopic")
            .field("name", &self.name)
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl InternalTopic {
    /// Starts reading `topic` (of `partitions` partitions) from its beginning, handing every
    /// record to `handler` on the reader's thread, in order per partition. `timeout` bounds
    /// [`Self::read_to_end`] and writes.
    pub fn open(
        settings: &KafkaSettings,
        topic: &str,
        partitions: i32,
        client_id: &str,
        timeout: Duration,
        mut handler: impl FnMut(TopicRecord) + Send + 'static,
    ) -> Result<Self, TopicError> {
        let kafka = |message: String| TopicError::Kafka {
            topic: topic.to_owned(),
            message,
        };
        let producer: FutureProducer = settings
            .internal_producer_config(&format!("{client_id}-producer"))
            .create()
            .map_err(|error| kafka(error.to_string()))?;
        let reader: BaseConsumer = settings
            .internal_consumer_config(&format!("{client_id}-reader"))
            .create()
            .map_err(|error| kafka(error.to_string()))?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .map_err(|error| kafka(error.to_string()))?;
        }
        reader
            .assign(&assignment)
            .map_err(|error| kafka(error.to_string()))?;
        let reader = Arc::new(reader);
        let (read, _) = watch::channel(vec![0i64; partitions as usize]);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let reader = reader.clone();
            let read = read.clone();
            let stop = stop.clone();
            let topic = topic.to_owned();
            std::thread::Builder::new()
                .name(format!("read-{topic}"))
                .spawn(move || {
                    let mut last_error = None::<String>;
                    while !stop.load(Ordering::Relaxed) {
                        match reader.poll(Duration::from_millis(100)) {
                            Some(Ok(message)) => {
                                let record = TopicRecord {
                                    partition: message.partition(),
                                    offset: message.offset(),
                                    key: message.key().map(<[u8]>::to_vec),
                                    value: message.payload().map(<[u8]>::to_vec),
                                    timestamp_ms: message.timestamp().to_millis(),
                                };
                                let (partition, offset) = (record.partition, record.offset);
                                handler(record);
                                read.send_modify(|read| {
                                    if let Some(next) = read.get_mut(partition as usize) {
                                        *next = (*next).max(offset + 1);
                                    }
                                });
                            }
                            Some(Err(error)) => {
                                let text = error.to_string();
                                if last_error.as_ref() != Some(&text) {
                                    tracing::warn!(topic = %topic, error = %text, "Reading an internal topic failed; retrying.");
                                    last_error = Some(text);
                                }
                            }
                            None => {
                                // Past control records and compacted gaps: the fetch position.
                                if let Ok(positions) = reader.position() {
                                    read.send_if_modified(|read| {
                                        let mut changed = false;
                                        for element in positions.elements() {
                                            if let (Offset::Offset(position), Some(next)) = (
                                                element.offset(),
                                                read.get_mut(element.partition() as usize),
                                            ) && position > *next
                                            {
                                                *next = position;
                                                changed = true;
                                            }
                                        }
                                        changed
                                    });
                                }
                            }
                        }
                    }
                })
                .map_err(|error| kafka(format!("failed to start its reader: {error}")))?
        };
        Ok(Self {
            name: topic.to_owned(),
            partitions,
            producer,
            reader,
            read,
            stop,
            thread: Mutex::new(Some(thread)),
            timeout,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// Writes a record (`value` None: a tombstone) and returns its partition and offset once
    /// the cluster acknowledged it.
    pub async fn send(&self, key: &[u8], value: Option<&[u8]>) -> Result<(i32, i64), TopicError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.name).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        match self.producer.send(record, self.timeout).await {
            Ok(delivery) => Ok((delivery.partition, delivery.offset)),
            Err((error, _)) => Err(TopicError::Kafka {
                topic: self.name.clone(),
                message: format!("write failed: {error}"),
            }),
        }
    }

    /// Enqueues a record now (so records enqueued one after another keep their order) and
    /// logs, without waiting, if the cluster refuses it.
    pub fn send_nowait(&self, key: &[u8], value: Option<&[u8]>) {
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.name).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        let topic = self.name.clone();
        match self.producer.send_result(record) {
            Ok(delivery) => {
                if tokio::runtime::Handle::try_current().is_ok() {
                    tokio::spawn(async move {
                        match delivery.await {
                            Ok(Ok(_)) => {}
                            Ok(Err((error, _))) => {
                                tracing::warn!(topic = %topic, %error, "A write to an internal topic failed.")
                            }
                            Err(_) => {
                                tracing::warn!(topic = %topic, "A write to an internal topic was cancelled.")
                            }
                        }
                    });
                }
            }
            Err((error, _)) => {
                tracing::warn!(topic = %topic, %error, "A write to an internal topic could not be queued.")
            }
        }
    }

    /// [`Self::send`], returning once the reader has handed the record over.
    pub async fn send_and_read(&self, key: &[u8], value: Option<&[u8]>) -> Result<i64, TopicError> {
        let (partition, offset) = self.send(key, value).await?;
        self.wait_read(partition, offset + 1).await?;
        Ok(offset)
    }

    /// Waits until the reader read `partition` up to `next` (exclusive).
    pub async fn wait_read(&self, partition: i32, next: i64) -> Result<(), TopicError> {
        let mut read = self.read.subscribe();
        let wait = read.wait_for(|read| read.get(partition as usize).is_none_or(|n| *n >= next));
        match tokio::time::timeout(self.timeout, wait).await {
            Ok(_) => Ok(()),
            Err(_) => Err(TopicError::Timeout {
                topic: self.name.clone(),
                timeout: self.timeout,
            }),
        }
    }

    /// The next offset the reader will hand over, per partition.
    pub fn read_positions(&self) -> Vec<i64> {
        self.read.borrow().clone()
    }

    /// Waits until the reader handed over every record written before this call.
    pub async fn read_to_end(&self) -> Result<(), TopicError> {
        let reader = self.reader.clone();
        let (topic, partitions, timeout) = (self.name.clone(), self.partitions, self.timeout);
        let ends = tokio::task::spawn_blocking(move || {
            (0..partitions)
                .map(|partition| {
                    reader
                        .fetch_watermarks(&topic, partition, timeout)
                        .map(|(low, high)| if low >= high { 0 } else { high })
                })
                .collect::<Result<Vec<i64>, _>>()
        })
        .await
        .map_err(|error| TopicError::Kafka {
            topic: self.name.clone(),
            message: error.to_string(),
        })?
        .map_err(|error| TopicError::Kafka {
            topic: self.name.clone(),
            message: format!("failed to read its end offsets: {error}"),
        })?;
        for (partition, end) in ends.into_iter().enumerate() {
            self.wait_read(partition as i32, end).await?;
        }
        Ok(())
    }
}

impl Drop for InternalTopic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = thread.join();
        }
    }
}
