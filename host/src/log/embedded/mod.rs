//! The embedded log: a durable single-node record log in a local directory, the default when
//! `bootstrap.servers` is not set. Built on one redb database written by a single writer thread
//! with group commit (see the `store` module); consumer groups live inside the process (see the `group` module).
//!
//! Guarantees: an append is acknowledged only after its write transaction is committed with
//! `Durability::Immediate` (fsync), so acknowledged records survive `kill -9`. Offsets are dense
//! and start at 0 in every partition. Keyed records go where Kafka's Java client would put them
//! (murmur2); keyless ones rotate through the partitions one batch at a time.

mod group;
mod partitioner;
mod store;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use async_trait::async_trait;
use redb::Database;
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};

pub use partitioner::{murmur2, partition_for_key, validate_topic};
use store::{Command, Meta, read_lock};

use super::{
    ConsumedRecord, Delivery, LogConsumer, LogError, LogProducer, PartitionOffsets, Polled,
    ProduceRecord, Rebalance, RecordLog, TopicDescription, TopicPartition, TopicPartitionOffset,
};

/// How many commands (batches) may wait for the writer before `send` waits.
const COMMAND_QUEUE: usize = 256;

/// A durable log in a local directory. Cheap to clone; the writer thread stops when the last
/// clone, producer and consumer are dropped, or at [`EmbeddedLog::close`].
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: Arc<Database>,
    meta: Arc<Meta>,
    groups: Mutex<group::Groups>,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn sender(&self) -> Result<mpsc::Sender<Command>, LogError> {
        lock(&self.commands).clone().ok_or(LogError::Closed)
    }

    /// Sends a command to the writer and waits for its answer.
    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, LogError> {
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send(command(reply))
            .await
            .map_err(|_| LogError::Closed)?;
        answer.await.map_err(|_| LogError::Closed)
    }

    /// Stops accepting commands; the writer finishes what is queued, then exits.
    fn stop_writer(&self) -> Option<JoinHandle<()>> {
        lock(&self.commands).take();
        lock(&self.writer).take()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(writer) = self.stop_writer()
            && writer.join().is_err()
        {
            tracing::error!(dir = %self.dir.display(), "Embedded log writer panicked.");
        }
    }
}

/// Default `log.cache.bytes`: the page cache of the embedded log's database (redb's default).
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

impl EmbeddedLog {
    /// Opens the log in `dir`, creating the directory and the database if needed. Fails if
    /// another process (or another `EmbeddedLog` in this one) has the directory open.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// [`Self::open`] with a page cache of `cache_bytes` (`log.cache.bytes`).
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<Self, LogError> {
        let (db, writer, meta) = store::open(dir, cache_bytes)?;
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let handle = std::thread::Builder::new()
            .name("embedded-log-writer".into())
            .spawn(move || writer.run(receiver))?;
        tracing::info!(dir = %dir.display(), "Embedded log opened.");
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                db,
                meta,
                groups: Mutex::new(group::Groups::default()),
                commands: Mutex::new(Some(commands)),
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops the writer after it has written everything already sent; later sends, commits and
    /// topic creations fail with [`LogError::Closed`]. Reads keep working. The directory stays
    /// locked until every clone, producer and consumer is dropped.
    pub async fn close(&self) -> Result<(), LogError> {
        if let Some(writer) = self.inner.stop_writer() {
            tokio::task::spawn_blocking(move || writer.join())
                .await
                .map_err(|error| LogError::Other(format!("failed to stop the writer: {error}")))?
                .map_err(|_| LogError::Other("the embedded log writer panicked".into()))?;
        }
        Ok(())
    }
}

#[async_trait]
impl RecordLog for EmbeddedLog {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), LogError> {
        validate_topic(topic)?;
        let topic = topic.to_owned();
        self.inner
            .request(|reply| Command::CreateTopic {
                topic,
                partitions,
                reply,
            })
            .await?
    }

    async fn partition_count(&self, topic: &str) -> Result<Option<i32>, LogError> {
        Ok(self.inner.meta.partition_count(topic))
    }

    fn stats(&self) -> Option<Arc<crate::metrics::LogStats>> {
        Some(Arc::clone(&self.inner.meta.stats))
    }

    async fn describe_topics(&self) -> Result<Vec<TopicDescription>, LogError> {
        Ok(read_lock(&self.inner.meta.topics)
            .iter()
            .map(|(name, ends)| TopicDescription {
                name: name.clone(),
                partitions: (0..)
                    .zip(ends)
                    .map(|(partition, &end_offset)| PartitionOffsets {
                        partition,
                        // Nothing is deleted: every partition starts at 0.
                        start_offset: 0,
                        end_offset,
                    })
                    .collect(),
            })
            .collect())
    }

    async fn read(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>, LogError> {
        let end = read_lock(&self.inner.meta.topics)
            .get(&partition.topic)
            .ok_or_else(|| LogError::UnknownTopic(partition.topic.clone()))?
            .get(usize::try_from(partition.partition).unwrap_or(usize::MAX))
            .copied()
            .ok_or_else(|| LogError::UnknownPartition {
                topic: partition.topic.clone(),
                partition: partition.partition,
            })?;
        let db = Arc::clone(&self.inner.db);
        let partition = partition.clone();
        tokio::task::spawn_blocking(move || {
            let mut records = Vec::new();
            store::read(&db, &partition, offset, end, max, &mut records)?;
            Ok(records)
        })
        .await
        .map_err(|error| LogError::Other(format!("reading the embedded log failed: {error}")))?
    }

    fn producer(&self, client_id: &str) -> Result<Arc<dyn LogProducer>, LogError> {
        tracing::debug!(client_id, "Embedded log producer created.");
        Ok(Arc::new(EmbeddedProducer {
            inner: Arc::clone(&self.inner),
        }))
    }

    fn consumer(&self, group: &str, client_id: &str) -> Result<Box<dyn LogConsumer>, LogError> {
        let member = lock(&self.inner.groups).join(group);
        self.inner.meta.bump();
        tracing::debug!(
            group,
            client_id,
            member,
            "Embedded log consumer joined its group."
        );
        Ok(Box::new(EmbeddedConsumer {
            changed: self.inner.meta.changed.subscribe(),
            inner: Arc::clone(&self.inner),
            group: group.to_owned(),
            member: Some(member),
            positions: BTreeMap::new(),
            paused: BTreeSet::new(),
            last_sync: None,
            releasing: false,
            next_start: 0,
        }))
    }

    async fn committed_offsets(&self, group: &str) -> Result<Vec<TopicPartitionOffset>, LogError> {
        Ok(read_lock(&self.inner.meta.committed)
            .get(group)
            .map(|offsets| {
                offsets
                    .iter()
                    .map(|(partition, &offset)| TopicPartitionOffset {
                        topic: partition.topic.clone(),
                        partition: partition.partition,
                        offset,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn alter_committed_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, Option<i64>)],
    ) -> Result<(), LogError> {
        if lock(&self.inner.groups).has_members(group) {
            return Err(LogError::Other(format!(
                "consumer group `{group}` still has active members"
            )));
        }
        let set: Vec<TopicPartitionOffset> = offsets
            .iter()
            .filter_map(|(partition, offset)| {
                offset.map(|offset| TopicPartitionOffset {
                    topic: partition.topic.clone(),
                    partition: partition.partition,
                    offset,
                })
            })
            .collect();
        let removed: Vec<TopicPartition> = offsets
            .iter()
            .filter(|(_, offset)| offset.is_none())
            .map(|(partition, _)| partition.clone())
            .collect();
        if !set.is_empty() {
            let group = group.to_owned();
            self.inner
                .request(|reply| Command::Commit {
                    group,
                    offsets: set,
                    reply,
                })
                .await??;
        }
        if !removed.is_empty() {
            let group = group.to_owned();
            self.inner
                .request(|reply| Command::Uncommit {
                    group,
                    partitions: removed,
                    reply,
                })
                .await??;
        }
        Ok(())
    }
}

/// Appends through the log's writer thread.
pub struct EmbeddedProducer {
    inner: Arc<Inner>,
}

#[async_trait]
impl LogProducer for EmbeddedProducer {
    async fn send(&self, records: Vec<ProduceRecord>) -> Result<Delivery, LogError> {
        let count = records.len();
        if count == 0 {
            return Ok(Box::pin(async { Vec::new() }));
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .sender()?
            .send(Command::Append { records, reply })
            .await
            .map_err(|_| LogError::Closed)?;
        Ok(Box::pin(async move {
            answer
                .await
                .unwrap_or_else(|_| (0..count).map(|_| Err(LogError::Closed)).collect())
        }))
    }

    async fn flush(&self, timeout: Duration) -> Result<(), LogError> {
        tokio::time::timeout(
            timeout,
            self.inner.request(|reply| Command::Flush { reply }),
        )
        .await
        .map_err(|_| LogError::Timeout(timeout))?
    }
}

/// A member of an in-process consumer group.
pub struct EmbeddedConsumer {
    inner: Arc<Inner>,
    group: String,
    /// None once closed.
    member: Option<u64>,
    /// The owned partitions and the next offset to read in each.
    positions: BTreeMap<TopicPartition, i64>,
    paused: BTreeSet<TopicPartition>,
    changed: watch::Receiver<u64>,
    /// The group generation and topics version at the last sync.
    last_sync: Option<(u64, u64)>,
    /// Whether the last sync revoked partitions that the next one releases.
    releasing: bool,
    /// Rotates the partition read first, so one busy partition cannot starve the others.
    next_start: usize,
}

impl EmbeddedConsumer {
    fn member(&self) -> Result<u64, LogError> {
        self.member.ok_or(LogError::Closed)
    }

    /// Applies group changes to this member; returns the rebalance events to report.
    fn sync(&mut self) -> Result<Vec<Rebalance>, LogError> {
        let member = self.member()?;
        let topics_version = self
            .inner
            .meta
            .topics_version
            .load(std::sync::atomic::Ordering::SeqCst);
        let sync = {
            let mut groups = lock(&self.inner.groups);
            let current = (groups.generation(&self.group), topics_version);
            if !self.releasing && self.last_sync == Some(current) {
                return Ok(Vec::new());
            }
            let sync = groups.sync(&self.group, member, &read_lock(&self.inner.meta.topics));
            self.last_sync = Some((groups.generation(&self.group), topics_version));
            sync
        };
        self.releasing = !sync.revoked.is_empty();
        if sync.released || self.releasing {
            // Wake the members waiting for these partitions.
            self.inner.meta.bump();
        }
        let mut events = Vec::new();
        if !sync.revoked.is_empty() {
            for partition in &sync.revoked {
                self.positions.remove(partition);
                self.paused.remove(partition);
            }
            events.push(Rebalance::Revoked(sync.revoked));
        }
        if !sync.assigned.is_empty() {
            for partition in &sync.assigned {
                let offset = self
                    .inner
                    .meta
                    .committed_offset(&self.group, partition)
                    .unwrap_or(0);
                self.positions.insert(partition.clone(), offset);
            }
            events.push(Rebalance::Assigned(sync.assigned));
        }
        Ok(events)
    }

    /// Reads up to `max` available records from the unpaused owned partitions.
    async fn fetch(&mut self, max: usize) -> Result<Vec<ConsumedRecord>, LogError> {
        let plan: Vec<(TopicPartition, i64, i64)> = {
            let topics = read_lock(&self.inner.meta.topics);
            let count = self.positions.len();
            let start = if count == 0 {
                0
            } else {
                self.next_start % count
            };
            self.positions
                .iter()
                .skip(start)
                .chain(self.positions.iter().take(start))
                .filter(|(partition, _)| !self.paused.contains(*partition))
                .filter_map(|(partition, &position)| {
                    let end = *topics
                        .get(&partition.topic)?
                        .get(usize::try_from(partition.partition).ok()?)?;
                    (position < end).then(|| (partition.clone(), position, end))
                })
                .collect()
        };
        self.next_start = self.next_start.wrapping_add(1);
        if plan.is_empty() || max == 0 {
            return Ok(Vec::new());
        }
        let db = Arc::clone(&self.inner.db);
        let records = tokio::task::spawn_blocking(move || {
            let mut records = Vec::new();
            for (partition, from, end) in plan {
                let room = max - records.len();
                if room == 0 {
                    break;
                }
                store::read(&db, &partition, from, end, room, &mut records)?;
            }
            Ok::<_, LogError>(records)
        })
        .await
        .map_err(|error| LogError::Other(format!("embedded log read failed: {error}")))??;
        // A partition's records are one run: its position moves past the run's last one.
        for run in records.chunk_by(|a, b| a.partition == b.partition && a.topic == b.topic) {
            let last = &run[run.len() - 1];
            let partition = TopicPartition::new(last.topic.to_string(), last.partition);
            if let Some(position) = self.positions.get_mut(&partition) {
                *position = last.offset + 1;
            }
        }
        Ok(records)
    }

    fn leave(&mut self) {
        if let Some(member) = self.member.take() {
            lock(&self.inner.groups).leave(&self.group, member);
            self.inner.meta.bump();
            self.positions.clear();
            self.paused.clear();
        }
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        self.leave();
    }
}

#[async_trait]
impl LogConsumer for EmbeddedConsumer {
    async fn subscribe(&mut self, topics: &[String]) -> Result<(), LogError> {
        let mut subscription = group::Subscription::default();
        for topic in topics {
            if topic.starts_with('^') {
                let pattern = regex::Regex::new(topic).map_err(|error| {
                    LogError::Other(format!("invalid topic pattern `{topic}`: {error}"))
                })?;
                subscription.patterns.push(pattern);
            } else {
                validate_topic(topic)?;
                subscription.names.insert(topic.clone());
            }
        }
        let member = self.member()?;
        lock(&self.inner.groups).subscribe(&self.group, member, subscription);
        self.inner.meta.bump();
        Ok(())
    }

    async fn poll(&mut self, max: usize, timeout: Duration) -> Result<Polled, LogError> {
        let deadline = Instant::now() + timeout;
        loop {
            // Mark the current version seen before looking, so no change is missed.
            self.changed.borrow_and_update();
            let rebalances = self.sync()?;
            let records = self.fetch(max).await?;
            if !rebalances.is_empty() || !records.is_empty() {
                return Ok(Polled {
                    rebalances,
                    records,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Polled::default());
            }
            match tokio::time::timeout(deadline - now, self.changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(LogError::Closed),
                Err(_) => return Ok(Polled::default()),
            }
        }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    fn lag(&self) -> Option<i64> {
        let topics = read_lock(&self.inner.meta.topics);
        self.positions
            .iter()
            .filter_map(|(partition, &position)| {
                let end = *topics
                    .get(&partition.topic)?
                    .get(usize::try_from(partition.partition).ok()?)?;
                Some((end - position).max(0))
            })
            .max()
    }

    async fn commit(&mut self, offsets: &[TopicPartitionOffset]) -> Result<(), LogError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let group = self.group.clone();
        let offsets = offsets.to_vec();
        self.inner
            .request(|reply| Command::Commit {
                group,
                offsets,
                reply,
            })
            .await?
    }

    fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<(), LogError> {
        if offset < 0 {
            return Err(LogError::Other(format!(
                "cannot seek partition {partition} to negative offset {offset}"
            )));
        }
        match self.positions.get_mut(partition) {
            Some(position) => {
                *position = offset;
                Ok(())
            }
            None => Err(LogError::Other(format!(
                "cannot seek partition {partition}: it is not assigned to this consumer"
            ))),
        }
    }

    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), LogError> {
        // Like librdkafka, partitions not assigned are ignored; revocation clears the pause.
        self.paused.extend(
            partitions
                .iter()
                .filter(|partition| self.positions.contains_key(*partition))
                .cloned(),
        );
        Ok(())
    }

    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), LogError> {
        for partition in partitions {
            self.paused.remove(partition);
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<(), LogError> {
        self.leave();
        Ok(())
    }
}
