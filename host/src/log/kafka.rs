//! The Kafka log backend, through rdkafka (librdkafka): producers, group consumers and topic
//! administration against the cluster named by `bootstrap.servers`.
//!
//! Producers use a `ThreadedProducer` whose delivery callback fills a per-batch state, found
//! by the record's sequence number, so a batch costs one future rather than one per record;
//! runs of records to one topic are enqueued with one librdkafka call (`batch`). Consumers are `BaseConsumer`s polled on
//! the blocking pool; a custom context turns librdkafka's rebalance callbacks into
//! [`Rebalance`] events returned by the next poll.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use rdkafka::{
    ClientConfig, ClientContext, Message, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance as KafkaRebalance},
    error::KafkaError,
    message::{BorrowedMessage, Header, Headers, OwnedHeaders},
    producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer},
    types::RDKafkaErrorCode,
};
use tokio::sync::oneshot;

mod batch;

use super::{
    ConsumedRecord, Delivery, LogConsumer, LogError, LogHeader, LogProducer, PartitionOffsets,
    Polled, ProduceRecord, Rebalance, RecordLog, RecordMetadata, TimestampType, TopicDescription,
    TopicPartition, TopicPartitionOffset,
};

/// Client properties for the Kafka log, without the worker's `producer.`/`consumer.`/`admin.`
/// prefixes. Later maps override earlier ones: defaults, then `common`, then the role's map.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Properties of every client, at least `bootstrap.servers`.
    pub common: BTreeMap<String, String>,
    /// Overrides for producers.
    pub producer: BTreeMap<String, String>,
    /// Overrides for consumers.
    pub consumer: BTreeMap<String, String>,
    /// Overrides for the admin client.
    pub admin: BTreeMap<String, String>,
    /// The replication factor of topics created by [`RecordLog::create_topic`].
    pub replication_factor: i32,
    /// How long admin and metadata requests, commits and committed-offset lookups may take.
    pub request_timeout: Duration,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            common: BTreeMap::new(),
            producer: BTreeMap::new(),
            consumer: BTreeMap::new(),
            admin: BTreeMap::new(),
            replication_factor: 1,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// How long librdkafka waits before fetching again for a partition whose prefetch queue was
/// full (see `KafkaSettings::consumer_config`).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

impl KafkaSettings {
    /// Settings with these common properties and the defaults for everything else.
    pub fn new(common: BTreeMap<String, String>) -> Self {
        Self {
            common,
            ..Self::default()
        }
    }

    fn config(
        &self,
        defaults: &[(&str, &str)],
        role: &BTreeMap<String, String>,
        forced: &[(&str, &str)],
    ) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in self.common.iter().chain(role) {
            config.set(key, value);
        }
        for (key, value) in forced {
            config.set(*key, *value);
        }
        config
    }

    /// Producer properties. Every replica acknowledges (`acks=all`), as for Kafka Connect's
    /// task producers. Unlike Connect's (one request in flight, no idempotence), the producer
    /// is idempotent with up to 5 requests in flight per connection: the broker's sequence
    /// numbers keep each partition in order and free of duplicates across retries, and
    /// pipelining is worth 20–30% of throughput (the bench's row (a)). No delivery timeout:
    /// Connect sets `delivery.timeout.ms` to
    /// `Integer.MAX_VALUE` so records are retried rather than dropped; librdkafka spells
    /// "forever" `message.timeout.ms=0`. `partitioner=murmur2_random` places keyed records
    /// where the Java client (and the embedded log) would; librdkafka's default hashes with
    /// CRC32. `linger.ms=5` batches for throughput. `enable.sparse.connections=false` connects
    /// to every broker the bootstrap metadata lists at once: with librdkafka's sparse default, a
    /// producer whose first record comes after the bootstrap connection may not connect to the
    /// partition leader for `reconnect.backoff.ms / 2` (50 ms), so a new task's first records
    /// waited about 50 ms (measured in the bench, from 7 ms to 60 ms to the first
    /// acknowledgement). All of these can be overridden.
    ///
    /// Public so a benchmark's raw-client baseline can run with exactly these properties.
    pub fn producer_config(&self, client_id: &str) -> ClientConfig {
        self.config(
            &[
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("max.in.flight.requests.per.connection", "5"),
                ("message.timeout.ms", "0"),
                ("linger.ms", "5"),
                ("enable.sparse.connections", "false"),
                ("partitioner", "murmur2_random"),
                ("client.id", client_id),
            ],
            &self.producer,
            &[],
        )
    }

    /// Consumer properties: the group and client id are the caller's, offsets are committed
    /// only explicitly, and a group without committed offsets starts at the earliest offset.
    /// `fetch.queue.backoff.ms=10` (librdkafka's default is 1000): once a partition's
    /// prefetch queue passes `queued.min.messages`, librdkafka postpones that partition's next
    /// fetch by this long however soon the task drains the queue, so a sink task slower than
    /// the fetcher stalled for most of a second every ~100,000 records (in the bench's row
    /// (k), timed from creation, 55 K records/s with these stalls and 78 K without; the raw
    /// consumer never fills its queue). It only matters when the queue is full, so an idle
    /// consumer costs nothing more.
    fn consumer_config(&self, group: &str, client_id: &str) -> ClientConfig {
        self.config(
            &[
                ("auto.offset.reset", "earliest"),
                ("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS),
                ("client.id", client_id),
            ],
            &self.consumer,
            &[("group.id", group), ("enable.auto.commit", "false")],
        )
    }

    /// Producer properties for a worker's internal topics (distributed mode): ordered and
    /// without duplicates (idempotent, up to 5 requests in flight), keys placed by murmur2 as
    /// Java places them, and a bounded delivery time so a write to an unreachable cluster
    /// fails rather than hangs.
    pub fn internal_producer_config(&self, client_id: &str) -> ClientConfig {
        self.config(
            &[
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("message.timeout.ms", "30000"),
                ("linger.ms", "0"),
                ("partitioner", "murmur2_random"),
                ("client.id", client_id),
            ],
            &self.producer,
            &[],
        )
    }

    /// Consumer properties for reading a worker's internal topic from its beginning, by
    /// assignment rather than in a group.
    pub fn internal_consumer_config(&self, client_id: &str) -> ClientConfig {
        self.config(
            &[
                ("auto.offset.reset", "earliest"),
                ("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS),
                ("client.id", client_id),
            ],
            &self.consumer,
            &[
                ("group.id", "wasm-connect-internal-reader"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
            ],
        )
    }

    /// Consumer properties of a member of group `group`, as the caller sets them.
    pub fn group_consumer_config(&self, group: &str, client_id: &str) -> ClientConfig {
        self.consumer_config(group, client_id)
    }

    /// Admin client properties.
    pub fn admin_client_config(&self) -> ClientConfig {
        self.admin_config()
    }

    /// Admin properties. Metadata requests must not create the topic they ask about.
    fn admin_config(&self) -> ClientConfig {
        self.config(
            &[("client.id", "wasm-connect-admin")],
            &self.admin,
            &[("allow.auto.create.topics", "false")],
        )
    }
}

/// A Kafka cluster as the record log.
#[derive(Clone)]
pub struct KafkaLog {
    settings: Arc<KafkaSettings>,
    admin: Arc<AdminClient<DefaultClientContext>>,
    /// The statistics of every producer and consumer made, while they live.
    clients: Arc<Mutex<Vec<std::sync::Weak<crate::metrics::ClientStats>>>>,
}

impl KafkaLog {
    /// Creates the admin client; connections are made lazily, so this does not check that the
    /// cluster is reachable.
    pub fn new(settings: KafkaSettings) -> Result<Self, LogError> {
        let admin = settings.admin_config().create()?;
        Ok(Self {
            settings: Arc::new(settings),
            admin: Arc::new(admin),
            clients: Arc::default(),
        })
    }
}

impl KafkaLog {
    /// New statistics for a client, kept (weakly) for `/metrics`.
    fn track(&self, kind: &'static str, client_id: &str) -> Arc<crate::metrics::ClientStats> {
        let stats = Arc::new(crate::metrics::ClientStats::new(kind, client_id));
        lock(&self.clients).push(Arc::downgrade(&stats));
        stats
    }
}

/// Statistics every 5 s, unless the worker's client settings say otherwise: the bytes and
/// records a client moved and its connections, and a consumer's lag, for `/metrics`.
fn with_statistics(config: &mut ClientConfig) {
    if config.get("statistics.interval.ms").is_none() {
        config.set("statistics.interval.ms", "5000");
    }
}

/// Copies a client's statistics into what `/metrics` shows.
fn record_statistics(stats: &crate::metrics::ClientStats, statistics: &rdkafka::Statistics) {
    let connections = statistics
        .brokers
        .values()
        .filter(|broker| broker.nodeid >= 0 && broker.state == "UP")
        .count();
    let count = |value: i64| u64::try_from(value).unwrap_or(0);
    stats.update(
        count(statistics.tx_bytes),
        count(statistics.rx_bytes),
        count(statistics.txmsgs),
        count(statistics.rxmsgs),
        connections as u64,
    );
}

fn kafka_partitions(partitions: &TopicPartitionList) -> Vec<TopicPartition> {
    partitions
        .elements()
        .iter()
        .map(|element| TopicPartition::new(element.topic(), element.partition()))
        .collect()
}

fn partition_list(partitions: &[TopicPartition]) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(partitions.len());
    for partition in partitions {
        list.add_partition(&partition.topic, partition.partition);
    }
    list
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| LogError::Other(format!("kafka client call failed: {error}")))?
}

#[async_trait]
impl RecordLog for KafkaLog {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    /// Creates the topic with `CreateTopics` unless the metadata already lists it (which also
    /// spares the request where the caller may not create topics). librdkafka's MockCluster
    /// does not implement `CreateTopics`: there, create topics with `MockCluster::create_topic`.
    async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), LogError> {
        if self.partition_count(topic).await?.is_some() {
            return Ok(());
        }
        let new_topic = NewTopic::new(
            topic,
            partitions,
            TopicReplication::Fixed(self.settings.replication_factor),
        );
        let options = AdminOptions::new().operation_timeout(Some(self.settings.request_timeout));
        let results = self.admin.create_topics([&new_topic], &options).await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, RDKafkaErrorCode::InvalidTopic)) => {
                    return Err(LogError::InvalidTopic(name));
                }
                Err((name, code)) => {
                    return Err(LogError::Other(format!(
                        "failed to create topic `{name}`: {code}"
                    )));
                }
            }
        }
        Ok(())
    }

    async fn partition_count(&self, topic: &str) -> Result<Option<i32>, LogError> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.settings.request_timeout;
        let topic = topic.to_owned();
        blocking(move || {
            let metadata = admin.inner().fetch_metadata(Some(&topic), timeout)?;
            Ok(metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().len() as i32)
                .filter(|&count| count > 0))
        })
        .await
    }

    fn producer(&self, client_id: &str) -> Result<Arc<dyn LogProducer>, LogError> {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let mut config = self.settings.producer_config(client_id);
        with_statistics(&mut config);
        let stats = self.track("producer", client_id);
        let producer: ThreadedProducer<DeliveryContext> =
            config.create_with_context(DeliveryContext {
                pending: Arc::clone(&pending),
                stats,
            })?;
        Ok(Arc::new(KafkaProducer::new(producer, pending)))
    }

    fn clients(&self) -> Vec<Arc<crate::metrics::ClientStats>> {
        let mut clients = lock(&self.clients);
        clients.retain(|client| client.strong_count() > 0);
        clients
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect()
    }

    fn consumer(&self, group: &str, client_id: &str) -> Result<Box<dyn LogConsumer>, LogError> {
        let mut config = self.settings.consumer_config(group, client_id);
        with_statistics(&mut config);
        let consumer: BaseConsumer<RebalanceRecorder> = config
            .create_with_context(RebalanceRecorder::new(self.track("consumer", client_id)))?;
        Ok(Box::new(KafkaConsumer {
            consumer: Some(Arc::new(consumer)),
        }))
    }

    /// Looks up the group's committed offsets for every partition of every non-internal topic
    /// in the cluster's metadata, with a short-lived consumer of the group that does not join
    /// it. Partitions without a committed offset are left out.
    async fn describe_topics(&self) -> Result<Vec<TopicDescription>, LogError> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.settings.request_timeout;
        blocking(move || {
            let client = admin.inner();
            let metadata = client.fetch_metadata(None, timeout)?;
            let mut topics = Vec::new();
            for topic in metadata.topics() {
                if topic.error().is_some() {
                    continue;
                }
                let mut partitions = Vec::new();
                for partition in topic.partitions() {
                    let (start_offset, end_offset) =
                        client.fetch_watermarks(topic.name(), partition.id(), timeout)?;
                    partitions.push(PartitionOffsets {
                        partition: partition.id(),
                        start_offset,
                        end_offset,
                    });
                }
                partitions.sort_by_key(|p| p.partition);
                topics.push(TopicDescription {
                    name: topic.name().to_owned(),
                    partitions,
                });
            }
            topics.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(topics)
        })
        .await
    }

    /// Assigns the partition to a consumer of no group (nothing is committed) and polls until
    /// it reaches the high watermark found at the start, `max` records, or the request timeout.
    async fn read(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>, LogError> {
        let config = self
            .settings
            .consumer_config("wasm-connect-topics", "wasm-connect-topics");
        let timeout = self.settings.request_timeout;
        let partition = partition.clone();
        blocking(move || {
            let consumer: BaseConsumer = config.create()?;
            let (low, high) =
                consumer.fetch_watermarks(&partition.topic, partition.partition, timeout)?;
            let from = offset.max(low);
            let until = high.min(from.saturating_add(i64::try_from(max).unwrap_or(i64::MAX)));
            let mut records = Vec::new();
            if from >= until {
                return Ok(records);
            }
            let mut assignment = TopicPartitionList::new();
            assignment.add_partition_offset(
                &partition.topic,
                partition.partition,
                Offset::Offset(from),
            )?;
            consumer.assign(&assignment)?;
            let deadline = std::time::Instant::now() + timeout;
            let mut topic = None;
            while records.len() < max {
                let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                    return Err(LogError::Timeout(timeout));
                };
                match consumer.poll(left.min(Duration::from_millis(200))) {
                    Some(Ok(message)) => {
                        let record = consumed(&message, &mut topic);
                        let last = record.offset + 1 >= until;
                        records.push(record);
                        if last {
                            break;
                        }
                    }
                    Some(Err(error)) => return Err(error.into()),
                    None => {}
                }
            }
            Ok(records)
        })
        .await
    }

    async fn committed_offsets(&self, group: &str) -> Result<Vec<TopicPartitionOffset>, LogError> {
        let config = self.settings.consumer_config(group, "wasm-connect-offsets");
        let timeout = self.settings.request_timeout;
        blocking(move || {
            let consumer: BaseConsumer = config.create()?;
            let metadata = consumer.fetch_metadata(None, timeout)?;
            let mut partitions = TopicPartitionList::new();
            for topic in metadata.topics() {
                if topic.name().starts_with("__") || topic.error().is_some() {
                    continue;
                }
                for partition in topic.partitions() {
                    partitions.add_partition(topic.name(), partition.id());
                }
            }
            if partitions.count() == 0 {
                return Ok(Vec::new());
            }
            let committed = consumer.committed_offsets(partitions, timeout)?;
            let mut offsets: Vec<TopicPartitionOffset> = committed
                .elements()
                .iter()
                .filter_map(|element| match element.offset() {
                    Offset::Offset(offset) => Some(TopicPartitionOffset {
                        topic: element.topic().to_owned(),
                        partition: element.partition(),
                        offset,
                    }),
                    _ => None,
                })
                .collect();
            offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            Ok(offsets)
        })
        .await
    }

    /// Sets offsets by committing them as a consumer of the group that does not join it (Kafka
    /// accepts such commits only while the group has no active members). Removing offsets
    /// deletes the group, so only all of them can be removed at once: librdkafka's Rust binding
    /// has no `DeleteConsumerGroupOffsets`.
    async fn alter_committed_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, Option<i64>)],
    ) -> Result<(), LogError> {
        let removed: Vec<&TopicPartition> = offsets
            .iter()
            .filter(|(_, offset)| offset.is_none())
            .map(|(partition, _)| partition)
            .collect();
        if !removed.is_empty() {
            let committed = self.committed_offsets(group).await?;
            let all = committed.iter().all(|offset| {
                removed.iter().any(|partition| {
                    partition.topic == offset.topic && partition.partition == offset.partition
                })
            });
            if !all {
                return Err(LogError::Other(format!(
                    "the Kafka backend can only remove all committed offsets of consumer group `{group}` at once"
                )));
            }
            if !committed.is_empty() {
                let options =
                    AdminOptions::new().operation_timeout(Some(self.settings.request_timeout));
                for result in self.admin.delete_groups(&[group], &options).await? {
                    match result {
                        Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                        Err((name, code)) => {
                            return Err(LogError::Other(format!(
                                "failed to delete consumer group `{name}`: {code}"
                            )));
                        }
                    }
                }
            }
        }
        let mut list = TopicPartitionList::new();
        for (partition, offset) in offsets {
            if let Some(offset) = offset {
                list.add_partition_offset(
                    &partition.topic,
                    partition.partition,
                    Offset::Offset(*offset),
                )?;
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        let config = self.settings.consumer_config(group, "wasm-connect-offsets");
        blocking(move || {
            let consumer: BaseConsumer = config.create()?;
            consumer.commit(&list, CommitMode::Sync)?;
            Ok(())
        })
        .await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Each record's outcome as the delivery callback reported it; none: not reported.
type Outcomes = Vec<Option<Result<Placed, LogError>>>;

/// The batches of one producer with records not yet reported. A record's delivery opaque is
/// its sequence number: the producer numbers records in the order it takes them, so a batch
/// owns a range of numbers and a report finds its batch by search, with no allocation or
/// reference count per record.
#[derive(Default)]
struct Pending {
    /// The number the next batch's first record gets.
    next: usize,
    /// Ordered by `first`.
    batches: VecDeque<PendingBatch>,
}

struct PendingBatch {
    first: usize,
    outcomes: Outcomes,
    remaining: usize,
    /// Gets the outcomes once every record was reported, or when the producer is dropped.
    done: Option<oneshot::Sender<Outcomes>>,
}

impl Drop for PendingBatch {
    fn drop(&mut self) {
        // The producer is going away: hand over what was reported; the rest stay unreported.
        if let Some(done) = self.done.take() {
            let _ = done.send(std::mem::take(&mut self.outcomes));
        }
    }
}

impl Pending {
    /// Registers a batch of `count` records; returns its first sequence number and where its
    /// outcomes will arrive.
    fn register(&mut self, count: usize) -> (usize, oneshot::Receiver<Outcomes>) {
        let (done, outcomes) = oneshot::channel();
        let first = self.next;
        self.next = self.next.wrapping_add(count);
        self.batches.push_back(PendingBatch {
            first,
            outcomes: (0..count).map(|_| None).collect(),
            remaining: count,
            done: Some(done),
        });
        (first, outcomes)
    }

    /// Records the outcome of record `seq`; the batch's receiver gets all outcomes with the
    /// last one. A number no pending batch owns, or reported twice, is ignored.
    fn complete(&mut self, seq: usize, result: Result<Placed, LogError>) {
        let index = self.batches.partition_point(|batch| batch.first <= seq);
        let Some(batch) = index.checked_sub(1).and_then(|i| self.batches.get_mut(i)) else {
            return;
        };
        let Some(slot @ None) = batch.outcomes.get_mut(seq - batch.first) else {
            return;
        };
        *slot = Some(result);
        batch.remaining -= 1;
        if batch.remaining == 0
            && let Some(done) = batch.done.take()
        {
            let _ = done.send(std::mem::take(&mut batch.outcomes));
        }
        while self
            .batches
            .front()
            .is_some_and(|batch| batch.done.is_none())
        {
            self.batches.pop_front();
        }
    }
}

/// The outcomes of a batch, in the order of `topics` (its records' topics).
fn batch_results(
    outcomes: Outcomes,
    topics: Vec<Arc<str>>,
) -> Vec<Result<RecordMetadata, LogError>> {
    let mut outcomes = outcomes.into_iter();
    topics
        .into_iter()
        .map(|topic| match outcomes.next().flatten() {
            Some(Ok(placed)) => Ok(RecordMetadata {
                topic,
                partition: placed.partition,
                offset: placed.offset,
                timestamp: placed.timestamp,
            }),
            Some(Err(error)) => Err(error),
            None => Err(LogError::Other(
                "the producer was dropped before reporting this record".into(),
            )),
        })
        .collect()
}

/// Where the log put a record: its [`RecordMetadata`] but the topic, which the batch keeps
/// (so a delivery report copies no string).
struct Placed {
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
}

/// Hands delivery reports to the producer's [`Pending`] batches.
struct DeliveryContext {
    pending: Arc<Mutex<Pending>>,
    stats: Arc<crate::metrics::ClientStats>,
}

impl ClientContext for DeliveryContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        record_statistics(&self.stats, &statistics);
    }
}

impl ProducerContext for DeliveryContext {
    /// The record's sequence number (see [`Pending`]).
    type DeliveryOpaque = usize;

    fn delivery(&self, delivery_result: &DeliveryResult<'_>, seq: Self::DeliveryOpaque) {
        let result = match delivery_result {
            Ok(message) => Ok(Placed {
                partition: message.partition(),
                offset: message.offset(),
                timestamp: message.timestamp().to_millis(),
            }),
            Err((error, _)) => Err(LogError::Kafka(error.clone())),
        };
        lock(&self.pending).complete(seq, result);
    }
}

/// How many topics a producer keeps a librdkafka topic handle for; records to further topics
/// are produced one by one (a task rarely writes to more than a few).
const MAX_TOPIC_HANDLES: usize = 64;

/// Produces through a `ThreadedProducer`, whose thread runs the delivery callbacks. Runs of
/// records to one topic without headers or timestamps are enqueued in one call
/// ([`batch::TopicHandle::produce`]); other records one by one.
pub struct KafkaProducer {
    producer: Arc<ThreadedProducer<DeliveryContext>>,
    /// Shared with the producer's [`DeliveryContext`].
    pending: Arc<Mutex<Pending>>,
    /// Topic handles by name, made on first use. Held for a whole `send`, so concurrent calls
    /// do not interleave their records while one waits for room.
    topics: tokio::sync::Mutex<HashMap<String, batch::TopicHandle>>,
}

impl KafkaProducer {
    fn new(producer: ThreadedProducer<DeliveryContext>, pending: Arc<Mutex<Pending>>) -> Self {
        Self {
            producer: Arc::new(producer),
            pending,
            topics: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The handle for `topic` in `topics`, made if there is room and librdkafka takes the name.
    fn topic_handle<'t>(
        &self,
        topics: &'t mut HashMap<String, batch::TopicHandle>,
        topic: &str,
    ) -> Option<&'t batch::TopicHandle> {
        if !topics.contains_key(topic) {
            if topics.len() >= MAX_TOPIC_HANDLES {
                return None;
            }
            topics.insert(
                topic.to_owned(),
                batch::TopicHandle::new(&self.producer, topic)?,
            );
        }
        topics.get(topic)
    }

    /// Enqueues record `seq` through rdkafka's `send`, waiting while the queue is full.
    async fn send_one(&self, record: &ProduceRecord, seq: usize) {
        loop {
            match self.producer.send(base_record(record, seq)) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // The queue drains as deliveries are reported; wait, never drop.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => {
                    lock(&self.pending).complete(seq, Err(LogError::Kafka(error)));
                    return;
                }
            }
        }
    }
}

/// Whether `produce_batch` can carry `record` (it takes no headers or timestamps).
fn plain(record: &ProduceRecord) -> bool {
    record.headers.is_empty() && record.timestamp.is_none()
}

fn base_record(record: &ProduceRecord, seq: usize) -> BaseRecord<'_, [u8], [u8], usize> {
    let mut base = BaseRecord::with_opaque_to(&record.topic, seq);
    if let Some(partition) = record.partition {
        base = base.partition(partition);
    }
    if let Some(key) = &record.key {
        base = base.key(key.as_slice());
    }
    if let Some(value) = &record.value {
        base = base.payload(value.as_slice());
    }
    if let Some(timestamp) = record.timestamp {
        base = base.timestamp(timestamp);
    }
    if !record.headers.is_empty() {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for header in &record.headers {
            headers = headers.insert(Header {
                key: &header.key,
                value: header.value.as_deref(),
            });
        }
        base = base.headers(headers);
    }
    base
}

#[async_trait]
impl LogProducer for KafkaProducer {
    async fn send(&self, records: Vec<ProduceRecord>) -> Result<Delivery, LogError> {
        if records.is_empty() {
            return Ok(Box::pin(async { Vec::new() }));
        }
        let mut topics = self.topics.lock().await;
        let (first, outcomes) = lock(&self.pending).register(records.len());
        let mut next = 0;
        while next < records.len() {
            let record = &records[next];
            let handle = if plain(record) {
                self.topic_handle(&mut topics, &record.topic)
            } else {
                None
            };
            let Some(handle) = handle else {
                self.send_one(record, first.wrapping_add(next)).await;
                next += 1;
                continue;
            };
            // The run of plain records to this topic from here.
            let end = next
                + records[next..]
                    .iter()
                    .take_while(|r| plain(r) && r.topic == record.topic)
                    .count();
            while next < end {
                next += handle.produce(
                    &records[next..end],
                    first.wrapping_add(next),
                    |seq, error| {
                        lock(&self.pending).complete(seq, Err(error));
                    },
                );
                if next < end {
                    // The queue drains as deliveries are reported; wait, never drop.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        // The records' topic strings become their metadata's (librdkafka copied the rest).
        let topics = records.into_iter().map(|record| record.topic).collect();
        Ok(Box::pin(async move {
            // Sent with the last report, or when the producer is dropped; the receiver only
            // fails if the batch was never registered, which cannot be.
            let outcomes = outcomes.await.unwrap_or_default();
            batch_results(outcomes, topics)
        }))
    }

    async fn flush(&self, timeout: Duration) -> Result<(), LogError> {
        let producer = Arc::clone(&self.producer);
        blocking(move || {
            producer.flush(timeout).map_err(|error| match error {
                KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut) => {
                    LogError::Timeout(timeout)
                }
                error => LogError::Kafka(error),
            })
        })
        .await
    }
}

/// Records librdkafka's rebalance callbacks for the next poll to report, and the consumer lag
/// its statistics report.
struct RebalanceRecorder {
    rebalances: Mutex<Vec<Rebalance>>,
    /// The largest lag of an assigned partition in the last statistics; -1 before any (or
    /// when librdkafka knows none).
    lag: std::sync::atomic::AtomicI64,
    stats: Arc<crate::metrics::ClientStats>,
}

impl RebalanceRecorder {
    fn new(stats: Arc<crate::metrics::ClientStats>) -> Self {
        Self {
            rebalances: Mutex::default(),
            lag: std::sync::atomic::AtomicI64::new(-1),
            stats,
        }
    }
}

/// How far a partition is behind: the last stable offset (else the high watermark) less the
/// offset after the last record handed out (else the committed offset); None when either is
/// unknown (librdkafka reports -1).
fn partition_lag(last_stable: i64, high: i64, handed_out: i64, committed: i64) -> Option<i64> {
    let end = if last_stable >= 0 { last_stable } else { high };
    let position = if handed_out >= 0 {
        handed_out
    } else {
        committed
    };
    (end >= 0 && position >= 0).then(|| (end - position).max(0))
}

impl ClientContext for RebalanceRecorder {
    /// librdkafka's statistics (every `statistics.interval.ms`): how far each partition it
    /// fetches is behind, from the high watermark (the last stable offset under
    /// `isolation.level=read_committed`) of its last fetch and the offset after the last
    /// record handed to the task. (librdkafka's own `consumer_lag` counts from the committed
    /// offset instead, which a sink commits only every `offset.flush.interval.ms`.)
    fn stats(&self, statistics: rdkafka::Statistics) {
        record_statistics(&self.stats, &statistics);
        let lag = statistics
            .topics
            .values()
            .flat_map(|topic| topic.partitions.values())
            .filter(|partition| partition.partition >= 0 && partition.desired)
            .filter_map(|partition| {
                partition_lag(
                    partition.ls_offset,
                    partition.hi_offset,
                    partition.app_offset,
                    partition.committed_offset,
                )
            })
            .max()
            .unwrap_or(-1);
        self.lag.store(lag, std::sync::atomic::Ordering::Relaxed);
    }
}

impl ConsumerContext for RebalanceRecorder {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &KafkaRebalance<'_>) {
        match rebalance {
            KafkaRebalance::Revoke(partitions) if partitions.count() > 0 => {
                lock(&self.rebalances).push(Rebalance::Revoked(kafka_partitions(partitions)));
            }
            KafkaRebalance::Error(error) => {
                tracing::warn!(error = %error, "Consumer rebalance failed.");
            }
            _ => {}
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &KafkaRebalance<'_>) {
        if let KafkaRebalance::Assign(partitions) = rebalance
            && partitions.count() > 0
        {
            lock(&self.rebalances).push(Rebalance::Assigned(kafka_partitions(partitions)));
        }
    }
}

impl RebalanceRecorder {
    fn len(&self) -> usize {
        lock(&self.rebalances).len()
    }

    fn take(&self) -> Vec<Rebalance> {
        std::mem::take(&mut *lock(&self.rebalances))
    }

    /// Partitions revoked by the events from `from` on.
    fn revoked_since(&self, from: usize) -> HashSet<TopicPartition> {
        lock(&self.rebalances)
            .iter()
            .skip(from)
            .filter_map(|event| match event {
                Rebalance::Revoked(partitions) => Some(partitions.iter().cloned()),
                Rebalance::Assigned(_) => None,
            })
            .flatten()
            .collect()
    }
}

/// `message` as a record; `topic` holds the last topic seen, which the records of a poll share.
fn consumed(message: &BorrowedMessage<'_>, topic: &mut Option<Arc<str>>) -> ConsumedRecord {
    let (timestamp, timestamp_type) = match message.timestamp() {
        rdkafka::Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        rdkafka::Timestamp::CreateTime(ms) => (Some(ms), TimestampType::CreateTime),
        rdkafka::Timestamp::LogAppendTime(ms) => (Some(ms), TimestampType::LogAppendTime),
    };
    let topic = match topic {
        Some(last) if **last == *message.topic() => last.clone(),
        _ => topic.insert(Arc::from(message.topic())).clone(),
    };
    ConsumedRecord {
        topic,
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers: message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| LogHeader {
                        key: header.key.to_owned(),
                        value: header.value.map(<[u8]>::to_vec),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        timestamp,
        timestamp_type,
    }
}

/// A group consumer on the blocking pool.
pub struct KafkaConsumer {
    /// None once closed.
    consumer: Option<Arc<BaseConsumer<RebalanceRecorder>>>,
}

impl KafkaConsumer {
    fn consumer(&self) -> Result<&Arc<BaseConsumer<RebalanceRecorder>>, LogError> {
        self.consumer.as_ref().ok_or(LogError::Closed)
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // Dropping a consumer leaves the group, which blocks: not on the async runtime.
        if let Some(consumer) = self.consumer.take() {
            let _ = std::thread::Builder::new()
                .name("kafka-consumer-close".into())
                .spawn(move || drop(consumer));
        }
    }
}

#[async_trait]
impl LogConsumer for KafkaConsumer {
    async fn subscribe(&mut self, topics: &[String]) -> Result<(), LogError> {
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.consumer()?.subscribe(&topics)?;
        Ok(())
    }

    async fn poll(&mut self, max: usize, timeout: Duration) -> Result<Polled, LogError> {
        let consumer = Arc::clone(self.consumer()?);
        let max = max.max(1);
        blocking(move || {
            let events = consumer.context();
            let mut seen_events = events.len();
            let mut records: Vec<ConsumedRecord> = Vec::new();
            let mut error = None;
            let mut wait = timeout;
            let mut topic = None;
            while records.len() < max {
                match consumer.poll(wait) {
                    None => break,
                    Some(Ok(message)) => records.push(consumed(&message, &mut topic)),
                    Some(Err(kafka_error)) => {
                        error = Some(kafka_error);
                        break;
                    }
                }
                wait = Duration::ZERO;
                // Records fetched before a revocation belong to the partition's next owner
                // (or to this consumer again, from the committed offset): drop them.
                if events.len() != seen_events {
                    let revoked = events.revoked_since(seen_events);
                    seen_events = events.len();
                    records.retain(|record| {
                        !revoked.contains(&TopicPartition::new(
                            record.topic.to_string(),
                            record.partition,
                        ))
                    });
                }
            }
            let rebalances = events.take();
            match error {
                // Report the error only when nothing else came back, so no record is lost.
                Some(error) if records.is_empty() && rebalances.is_empty() => {
                    Err(LogError::Kafka(error))
                }
                Some(error) => {
                    tracing::warn!(error = %error, "Kafka consumer poll reported an error.");
                    Ok(Polled {
                        rebalances,
                        records,
                    })
                }
                None => Ok(Polled {
                    rebalances,
                    records,
                }),
            }
        })
        .await
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.consumer()
            .and_then(|consumer| Ok(consumer.assignment()?))
            .map(|partitions| kafka_partitions(&partitions))
            .unwrap_or_default()
    }

    fn lag(&self) -> Option<i64> {
        let lag = self
            .consumer()
            .ok()?
            .context()
            .lag
            .load(std::sync::atomic::Ordering::Relaxed);
        (lag >= 0).then_some(lag)
    }

    async fn commit(&mut self, offsets: &[TopicPartitionOffset]) -> Result<(), LogError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::with_capacity(offsets.len());
        for offset in offsets {
            list.add_partition_offset(
                &offset.topic,
                offset.partition,
                Offset::Offset(offset.offset),
            )?;
        }
        let consumer = Arc::clone(self.consumer()?);
        blocking(move || Ok(consumer.commit(&list, CommitMode::Sync)?)).await
    }

    fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<(), LogError> {
        // A zero timeout makes the seek asynchronous: it does not block the runtime, and
        // messages fetched before it are discarded by librdkafka.
        self.consumer()?.seek(
            &partition.topic,
            partition.partition,
            Offset::Offset(offset),
            Duration::ZERO,
        )?;
        Ok(())
    }

    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), LogError> {
        self.consumer()?.pause(&partition_list(partitions))?;
        Ok(())
    }

    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), LogError> {
        self.consumer()?.resume(&partition_list(partitions))?;
        Ok(())
    }

    async fn close(&mut self) -> Result<(), LogError> {
        if let Some(consumer) = self.consumer.take() {
            blocking(move || {
                // The last reference: dropping closes the consumer and leaves the group.
                drop(consumer);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use futures::{StreamExt, stream::FuturesOrdered};
    use rdkafka::mocking::MockCluster;

    use super::*;

    fn log_for(cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>) -> KafkaLog {
        let mut common = BTreeMap::new();
        common.insert("bootstrap.servers".to_owned(), cluster.bootstrap_servers());
        // After a member leaves, the mock keeps the group rebalancing for the session timeout
        // minus a second (real brokers finish at once), so a new member of the same group
        // would wait 44 s with the default.
        let consumer = BTreeMap::from([("session.timeout.ms".to_owned(), "6000".to_owned())]);
        KafkaLog::new(KafkaSettings {
            consumer,
            request_timeout: Duration::from_secs(10),
            ..KafkaSettings::new(common)
        })
        .unwrap()
    }

    fn record(topic: &str, key: &str, value: String) -> ProduceRecord {
        ProduceRecord {
            topic: topic.into(),
            partition: None,
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.into_bytes()),
            headers: vec![LogHeader {
                key: "h".into(),
                value: Some(b"v".to_vec()),
            }],
            timestamp: Some(1_700_000_000_000),
        }
    }

    async fn poll_records(
        consumer: &mut dyn LogConsumer,
        count: usize,
    ) -> (Vec<Rebalance>, Vec<ConsumedRecord>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut rebalances = Vec::new();
        let mut records = Vec::new();
        while records.len() < count {
            assert!(
                Instant::now() < deadline,
                "got {} of {count} records",
                records.len()
            );
            let polled = consumer
                .poll(count - records.len(), Duration::from_millis(500))
                .await
                .unwrap();
            rebalances.extend(polled.rebalances);
            records.extend(polled.records);
        }
        (rebalances, records)
    }

    /// A one-broker mock cluster with these topics. The mock does not implement
    /// `CreateTopics`, so topics are created through it rather than through the log.
    fn cluster_with(
        topics: &[(&str, i32)],
    ) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
        let cluster = MockCluster::new(1).unwrap();
        for (topic, partitions) in topics {
            cluster.create_topic(topic, *partitions, 1).unwrap();
        }
        cluster
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_thousand_records_come_back_in_order() {
        let cluster = cluster_with(&[("orders", 3)]);
        let log = log_for(&cluster);
        let producer = log.producer("p").unwrap();

        let mut deliveries = FuturesOrdered::new();
        for batch in 0..10 {
            let records = (0..1000)
                .map(|i| {
                    let n = batch * 1000 + i;
                    record("orders", &format!("key-{}", n % 7), n.to_string())
                })
                .collect();
            deliveries.push_back(producer.send(records).await.unwrap());
        }
        let mut sent: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
        let mut n = 0;
        while let Some(results) = deliveries.next().await {
            for result in results {
                let metadata = result.unwrap();
                assert_eq!(&*metadata.topic, "orders");
                // The mock answers every produce with log-append time 1234; a broker with
                // create-time topics reports the record's own timestamp.
                assert!(metadata.timestamp.is_some());
                sent.entry(metadata.partition)
                    .or_default()
                    .push((metadata.offset, n.to_string()));
                n += 1;
            }
        }
        producer.flush(Duration::from_secs(10)).await.unwrap();
        for records in sent.values() {
            let offsets: Vec<i64> = records.iter().map(|(offset, _)| *offset).collect();
            assert_eq!(offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
        }
        // Keys land where the Java client would put them.
        let key_partition = crate::log::embedded::partition_for_key(b"key-0", 3);
        assert!(sent[&key_partition].iter().any(|(_, value)| value == "0"));

        let mut consumer = log.consumer("g", "c").unwrap();
        consumer.subscribe(&["orders".into()]).await.unwrap();
        let (rebalances, records) = poll_records(consumer.as_mut(), 10_000).await;
        assert_eq!(
            rebalances,
            vec![Rebalance::Assigned(
                (0..3).map(|p| TopicPartition::new("orders", p)).collect()
            )]
        );
        let mut received: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
        for record in &records {
            received.entry(record.partition).or_default().push((
                record.offset,
                String::from_utf8(record.value.clone().unwrap()).unwrap(),
            ));
        }
        assert_eq!(received, sent);
        // The records of a poll share one allocation of their topic's name.
        assert!(
            records
                .windows(2)
                .any(|pair| Arc::ptr_eq(&pair[0].topic, &pair[1].topic))
        );
        let first = &records[0];
        assert_eq!(first.timestamp, Some(1_700_000_000_000));
        assert_eq!(first.timestamp_type, TimestampType::CreateTime);
        assert_eq!(
            first.headers,
            vec![LogHeader {
                key: "h".into(),
                value: Some(b"v".to_vec())
            }]
        );
        consumer.close().await.unwrap();
    }

    fn plain_record(topic: &str, key: Option<&str>, value: &str) -> ProduceRecord {
        ProduceRecord {
            topic: topic.into(),
            partition: None,
            key: key.map(|key| key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A log on `cluster` whose producers have `key` set to `value`.
    fn log_with_producer_setting(
        cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
        key: &str,
        value: &str,
    ) -> KafkaLog {
        let mut common = BTreeMap::new();
        common.insert("bootstrap.servers".to_owned(), cluster.bootstrap_servers());
        KafkaLog::new(KafkaSettings {
            producer: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            ..KafkaSettings::new(common)
        })
        .unwrap()
    }

    /// Sends `records` as one batch and waits for every outcome.
    async fn send_all(
        producer: &dyn LogProducer,
        records: Vec<ProduceRecord>,
    ) -> Vec<Result<RecordMetadata, LogError>> {
        tokio::time::timeout(
            Duration::from_secs(30),
            producer.send(records).await.unwrap(),
        )
        .await
        .expect("every record is reported within 30 s")
    }

    fn placed(offset: i64) -> Result<Placed, LogError> {
        Ok(Placed {
            partition: 0,
            offset,
            timestamp: None,
        })
    }

    fn offsets(results: Vec<Result<RecordMetadata, LogError>>) -> Vec<Result<i64, String>> {
        results
            .into_iter()
            .map(|r| r.map(|m| m.offset).map_err(|e| crate::error_chain(&e)))
            .collect()
    }

    /// Reports find their batch by sequence number in any order; a batch resolves with its
    /// last report, and what is still pending when the producer goes resolves as unreported.
    #[tokio::test]
    async fn reports_reach_their_batch_by_sequence_number() {
        let topics = |n: usize| vec![Arc::<str>::from("t"); n];
        let mut pending = Pending::default();
        let (a, mut a_done) = pending.register(2);
        let (b, b_done) = pending.register(3);
        let (c, c_done) = pending.register(1);
        assert_eq!((a, b, c), (0, 2, 5));
        pending.complete(b + 2, placed(12));
        pending.complete(a + 1, placed(11));
        pending.complete(b, Err(LogError::Other("refused".into())));
        // Unknown numbers and second reports change nothing.
        pending.complete(99, placed(0));
        pending.complete(a + 1, placed(0));
        assert!(a_done.try_recv().is_err(), "a is still missing a report");
        pending.complete(a, placed(10));
        assert_eq!(
            offsets(batch_results(a_done.await.unwrap(), topics(2))),
            [Ok(10), Ok(11)]
        );
        // `a` is done and dropped from the front; `b` and `c` still wait.
        assert_eq!(pending.batches.len(), 2);
        pending.complete(c, placed(20));
        assert_eq!(
            offsets(batch_results(c_done.await.unwrap(), topics(1))),
            [Ok(20)]
        );
        drop(pending);
        assert_eq!(
            offsets(batch_results(b_done.await.unwrap(), topics(3))),
            [
                Err("refused".into()),
                Err("the producer was dropped before reporting this record".into()),
                Ok(12)
            ]
        );
    }

    /// Runs of plain records go out in one librdkafka call each, the others one by one: a batch
    /// mixing both, several topics, an explicit partition, keys and a tombstone keeps its order
    /// and every record's own placement.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_mixed_batch_keeps_order_and_placement() {
        let cluster = cluster_with(&[("a", 3), ("b", 1)]);
        let log = log_for(&cluster);
        let producer = log.producer("p").unwrap();
        let mut records = Vec::new();
        for i in 0..30 {
            records.push(plain_record(
                "a",
                Some(&format!("k{}", i % 5)),
                &format!("a{i}"),
            ));
        }
        records.push(record("a", "k0", "with-headers".into()));
        records.push(ProduceRecord {
            partition: Some(2),
            ..plain_record("a", None, "to-partition-2")
        });
        for i in 0..10 {
            records.push(plain_record("b", None, &format!("b{i}")));
        }
        records.push(ProduceRecord {
            value: None,
            ..plain_record("b", Some("gone"), "")
        });
        records.push(plain_record("a", Some("k1"), "last"));
        let sent = records.clone();

        let results = send_all(producer.as_ref(), records).await;
        assert_eq!(results.len(), sent.len());
        let mut next_offset: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for (record, result) in sent.iter().zip(&results) {
            let metadata = result.as_ref().unwrap();
            assert_eq!(metadata.topic, record.topic);
            let expected = match (&record.partition, &record.key) {
                (Some(partition), _) => Some(*partition),
                (None, Some(key)) if &*record.topic == "a" => {
                    Some(crate::log::embedded::partition_for_key(key, 3))
                }
                _ => None,
            };
            if let Some(partition) = expected {
                assert_eq!(metadata.partition, partition, "{record:?}");
            }
            // Within a partition, records are placed in the order they were sent.
            let offset = next_offset
                .entry((metadata.topic.to_string(), metadata.partition))
                .or_insert(0);
            assert_eq!(metadata.offset, *offset, "{record:?}");
            *offset += 1;
        }

        let mut consumer = log.consumer("g", "c").unwrap();
        consumer.subscribe(&["a".into(), "b".into()]).await.unwrap();
        let (_, consumed) = poll_records(consumer.as_mut(), sent.len()).await;
        let found = |value: Option<&[u8]>| {
            consumed
                .iter()
                .find(|r| r.value.as_deref() == value)
                .unwrap()
        };
        let with_headers = found(Some(b"with-headers".as_slice()));
        assert_eq!(with_headers.headers.len(), 1);
        assert_eq!(with_headers.timestamp, Some(1_700_000_000_000));
        let tombstone = found(None);
        assert_eq!(tombstone.key.as_deref(), Some(b"gone".as_slice()));
        assert!(found(Some(b"b9".as_slice())).headers.is_empty());
        consumer.close().await.unwrap();
    }

    /// A batch far larger than the producer's queue waits for room instead of failing or
    /// dropping records, and still arrives in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_larger_than_the_queue_waits_for_room() {
        let cluster = cluster_with(&[("t", 1)]);
        let log = log_with_producer_setting(&cluster, "queue.buffering.max.messages", "50");
        let producer = log.producer("p").unwrap();
        let records = (0..2_000)
            .map(|i| plain_record("t", None, &i.to_string()))
            .collect();
        let results = send_all(producer.as_ref(), records).await;
        let offsets: Vec<i64> = results.iter().map(|r| r.as_ref().unwrap().offset).collect();
        assert_eq!(offsets, (0..2_000).collect::<Vec<_>>());
    }

    /// A record librdkafka refuses (here: larger than `message.max.bytes`) fails alone; the
    /// records around it in the same run are delivered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_record_fails_alone() {
        let cluster = cluster_with(&[("t", 1)]);
        let log = log_with_producer_setting(&cluster, "message.max.bytes", "1000");
        let producer = log.producer("p").unwrap();
        let big = "x".repeat(5_000);
        let mut records: Vec<ProduceRecord> = (0..5)
            .map(|i| plain_record("t", None, &i.to_string()))
            .collect();
        records.insert(2, plain_record("t", None, &big));
        // The same record with a header goes through the one-by-one path.
        records.push(record("t", "k", big.clone()));
        records.push(plain_record("t", None, "after"));
        let results = send_all(producer.as_ref(), records).await;
        let outcomes: Vec<Result<i64, String>> = results
            .into_iter()
            .map(|r| r.map(|m| m.offset).map_err(|e| crate::error_chain(&e)))
            .collect();
        assert_eq!(outcomes[..2], [Ok(0), Ok(1)]);
        assert!(
            outcomes[2].as_ref().unwrap_err().contains("too large"),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[3..6], [Ok(2), Ok(3), Ok(4)]);
        assert!(outcomes[6].as_ref().unwrap_err().contains("too large"));
        assert_eq!(outcomes[7], Ok(5));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_consumer_resumes_from_the_committed_offset() {
        let cluster = cluster_with(&[("t", 1)]);
        let log = log_for(&cluster);
        let producer = log.producer("p").unwrap();
        let records = (0..20).map(|i| record("t", "k", i.to_string())).collect();
        let results = producer.send(records).await.unwrap().await;
        assert!(results.iter().all(Result::is_ok));

        let mut consumer = log.consumer("g", "c1").unwrap();
        consumer.subscribe(&["t".into()]).await.unwrap();
        let (_, records) = poll_records(consumer.as_mut(), 20).await;
        assert_eq!(records.len(), 20);
        consumer
            .commit(&[TopicPartitionOffset {
                topic: "t".into(),
                partition: 0,
                offset: 10,
            }])
            .await
            .unwrap();
        consumer.close().await.unwrap();
        assert_eq!(
            log.committed_offsets("g").await.unwrap(),
            vec![TopicPartitionOffset {
                topic: "t".into(),
                partition: 0,
                offset: 10
            }]
        );
        assert!(log.committed_offsets("other").await.unwrap().is_empty());

        let mut consumer = log.consumer("g", "c2").unwrap();
        consumer.subscribe(&["t".into()]).await.unwrap();
        let (_, records) = poll_records(consumer.as_mut(), 10).await;
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (10..20).collect::<Vec<_>>());

        // Seek back, then pause: nothing more arrives until resumed.
        let partition = TopicPartition::new("t", 0);
        consumer.seek(&partition, 18).unwrap();
        let (_, records) = poll_records(consumer.as_mut(), 2).await;
        assert_eq!(
            records.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [18, 19]
        );
        consumer.close().await.unwrap();
    }

    #[tokio::test]
    async fn create_topic_is_idempotent_and_partitions_are_counted() {
        let cluster = cluster_with(&[("x", 3)]);
        let log = log_for(&cluster);
        assert_eq!(log.kind(), "kafka");
        assert_eq!(log.partition_count("missing").await.unwrap(), None);
        // Existing topics are left as they are.
        log.create_topic("x", 5).await.unwrap();
        assert_eq!(log.partition_count("x").await.unwrap(), Some(3));
        assert_eq!(log.partition_count("missing").await.unwrap(), None);
    }

    #[test]
    fn task_producers_are_idempotent_with_five_in_flight_unless_overridden() {
        let config = KafkaSettings::default().producer_config("p");
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(
            config.get("max.in.flight.requests.per.connection"),
            Some("5")
        );
        assert_eq!(config.get("acks"), Some("all"));
        let mut settings = KafkaSettings::default();
        for (key, value) in [
            ("enable.idempotence", "false"),
            ("max.in.flight.requests.per.connection", "1"),
        ] {
            settings.producer.insert(key.into(), value.into());
        }
        let config = settings.producer_config("p");
        assert_eq!(config.get("enable.idempotence"), Some("false"));
        assert_eq!(
            config.get("max.in.flight.requests.per.connection"),
            Some("1")
        );
    }

    #[test]
    fn consumers_fetch_again_soon_after_their_queue_drains_unless_overridden() {
        let settings = KafkaSettings::default();
        for config in [
            settings.group_consumer_config("g", "c"),
            settings.internal_consumer_config("c"),
        ] {
            assert_eq!(config.get("fetch.queue.backoff.ms"), Some("10"));
        }
        let mut settings = KafkaSettings::default();
        settings
            .consumer
            .insert("fetch.queue.backoff.ms".into(), "500".into());
        let config = settings.group_consumer_config("g", "c");
        assert_eq!(config.get("fetch.queue.backoff.ms"), Some("500"));
        assert_eq!(config.get("group.id"), Some("g"));
    }

    #[test]
    fn partition_lag_counts_from_the_last_record_handed_out() {
        // 10 records, 3 handed out, nothing committed.
        assert_eq!(partition_lag(10, 10, 3, -1), Some(7));
        // Under read_committed the last stable offset bounds it.
        assert_eq!(partition_lag(8, 10, 3, -1), Some(5));
        // Before anything was handed out, from the committed offset.
        assert_eq!(partition_lag(-1, 10, -1, 4), Some(6));
        assert_eq!(partition_lag(-1, -1, 3, -1), None);
        assert_eq!(partition_lag(10, 10, -1, -1), None);
    }

    /// The consumer lag comes from librdkafka's statistics: unknown at first, then what is
    /// left to read (nothing, once everything was read).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_consumer_lag_comes_from_librdkafka_statistics() {
        let cluster = cluster_with(&[("lagging", 1)]);
        let mut common = BTreeMap::new();
        common.insert("bootstrap.servers".to_owned(), cluster.bootstrap_servers());
        let log = KafkaLog::new(KafkaSettings {
            consumer: BTreeMap::from([
                ("session.timeout.ms".to_owned(), "6000".to_owned()),
                ("statistics.interval.ms".to_owned(), "100".to_owned()),
            ]),
            ..KafkaSettings::new(common)
        })
        .unwrap();
        let producer = log.producer("p").unwrap();
        let records = (0..10)
            .map(|n| plain_record("lagging", None, &n.to_string()))
            .collect();
        for result in send_all(producer.as_ref(), records).await {
            result.unwrap();
        }
        let mut consumer = log.consumer("lag-group", "c").unwrap();
        assert_eq!(consumer.lag(), None);
        consumer.subscribe(&["lagging".into()]).await.unwrap();
        let (_, records) = poll_records(consumer.as_mut(), 10).await;
        assert_eq!(records.len(), 10);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while consumer.lag() != Some(0) {
            assert!(
                std::time::Instant::now() < deadline,
                "lag {:?}",
                consumer.lag()
            );
            let polled = consumer.poll(1, Duration::from_millis(100)).await.unwrap();
            assert!(polled.records.is_empty());
        }
        consumer.close().await.unwrap();
    }

    /// `wasm-connect topics` on Kafka: topics with their watermarks, and browsing reads that
    /// start where asked, stop at the end and commit nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn topics_are_described_and_read_outside_any_group() {
        let cluster = cluster_with(&[("browse", 2), ("empty", 1)]);
        let log = log_for(&cluster);
        let producer = log.producer("p").unwrap();
        let records = (0..5)
            .map(|n| ProduceRecord {
                partition: Some(1),
                ..plain_record("browse", None, &format!("v{n}"))
            })
            .collect();
        for result in send_all(producer.as_ref(), records).await {
            result.unwrap();
        }
        let described = log.describe_topics().await.unwrap();
        let browse = described.iter().find(|t| t.name == "browse").unwrap();
        assert_eq!(
            browse.partitions,
            [
                PartitionOffsets {
                    partition: 0,
                    start_offset: 0,
                    end_offset: 0
                },
                PartitionOffsets {
                    partition: 1,
                    start_offset: 0,
                    end_offset: 5
                }
            ]
        );
        assert!(described.iter().any(|t| t.name == "empty"));
        let partition = TopicPartition::new("browse", 1);
        let values = |records: Vec<ConsumedRecord>| -> Vec<(i64, String)> {
            records
                .into_iter()
                .map(|r| (r.offset, String::from_utf8(r.value.unwrap()).unwrap()))
                .collect()
        };
        assert_eq!(
            values(log.read(&partition, 1, 2).await.unwrap()),
            [(1, "v1".into()), (2, "v2".into())]
        );
        // To the end and no further, however many are asked for.
        assert_eq!(
            values(log.read(&partition, 3, 100).await.unwrap()),
            [(3, "v3".into()), (4, "v4".into())]
        );
        assert!(log.read(&partition, 5, 100).await.unwrap().is_empty());
        assert!(
            log.read(&TopicPartition::new("browse", 0), 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            log.committed_offsets("wasm-connect-topics")
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// Prints the producer's throughput next to a raw `BaseProducer` on the same mock cluster
    /// (300,000 100-byte records, batches of 1,000). Asserts nothing about speed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn producer_throughput_is_reported() {
        const RECORDS: usize = 300_000;
        const BATCH: usize = 1_000;
        let cluster = cluster_with(&[("raw", 1), ("bench", 1)]);
        let value = vec![b'x'; 100];

        let raw: rdkafka::producer::BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("linger.ms", "5")
            .create()
            .unwrap();
        let started = Instant::now();
        for _ in 0..RECORDS {
            let mut record = BaseRecord::<[u8], [u8]>::to("raw").payload(value.as_slice());
            loop {
                match raw.send(record) {
                    Ok(()) => break,
                    Err((_, returned)) => {
                        record = returned;
                        raw.poll(Duration::from_millis(1));
                    }
                }
            }
        }
        raw.flush(Duration::from_secs(30)).unwrap();
        let raw_rate = RECORDS as f64 / started.elapsed().as_secs_f64();

        let log = log_for(&cluster);
        let producer = log.producer("p").unwrap();
        let started = Instant::now();
        let mut deliveries = FuturesOrdered::new();
        let mut acked = 0;
        for _ in 0..RECORDS / BATCH {
            let records = (0..BATCH)
                .map(|_| ProduceRecord {
                    topic: "bench".into(),
                    partition: None,
                    key: None,
                    value: Some(value.clone()),
                    headers: Vec::new(),
                    timestamp: None,
                })
                .collect();
            deliveries.push_back(producer.send(records).await.unwrap());
            if deliveries.len() >= 32 {
                acked += deliveries.next().await.unwrap().len();
            }
        }
        while let Some(results) = deliveries.next().await {
            acked += results.into_iter().map(Result::unwrap).count();
        }
        assert_eq!(acked, RECORDS);
        let rate = RECORDS as f64 / started.elapsed().as_secs_f64();
        println!(
            "kafka log (mock): {rate:.0} records/s; raw BaseProducer: {raw_rate:.0} records/s"
        );
    }
}
