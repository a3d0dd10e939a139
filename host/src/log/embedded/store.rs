//! The embedded log's storage: one redb database, the record encoding, and the single writer
//! thread that appends with group commit. Every change (records, topics, committed offsets)
//! goes through the writer; readers open their own read transactions.
//!
//! Layout:
//! - `topics`: topic name → partition count.
//! - `records/<topic>/<partition>`: one table per partition of chunks: the offset of a chunk's
//!   first record → the chunk (u32 count, then per record u32 length + encoded record).
//! - `offsets`: (group, topic, partition) → the next offset to read.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{Arc, RwLock},
    time::{SystemTime, UNIX_EPOCH},
};

use redb::{
    Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition,
    TableError,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::partitioner::{partition_for_key, validate_topic};
use crate::log::{
    ConsumedRecord, LogError, LogHeader, ProduceRecord, RecordMetadata, TimestampType,
    TopicPartition, TopicPartitionOffset,
};

const TOPICS: TableDefinition<&str, u32> = TableDefinition::new("topics");
const OFFSETS: TableDefinition<(&str, &str, i32), i64> = TableDefinition::new("offsets");
type RecordTable<'txn> = Table<'txn, u64, &'static [u8]>;

/// How many records one write transaction takes at most. Bigger groups amortise the fsync
/// further but delay the acknowledgement of the first batch in the group.
const MAX_RECORDS_PER_COMMIT: usize = 64 * 1024;

/// The database file inside the log directory.
pub const DB_FILE: &str = "log.redb";

fn record_table_name(topic: &str, partition: i32) -> String {
    format!("records/{topic}/{partition}")
}

fn storage_error(context: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Storage(format!("{context}: {error}"))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What readers share with the writer: topic metadata, end offsets and committed offsets as of
/// the last durable commit, and a counter bumped after every commit or group change.
#[derive(Debug)]
pub struct Meta {
    /// Topic → end offset (the next offset to be written) of each partition. Only offsets below
    /// the end offset are durable and readable.
    pub topics: RwLock<BTreeMap<String, Vec<i64>>>,
    /// Bumped when a topic is created, so consumers recompute their assignment.
    pub topics_version: std::sync::atomic::AtomicU64,
    /// Group → partition → committed offset.
    pub committed: RwLock<HashMap<String, BTreeMap<TopicPartition, i64>>>,
    /// Bumped after every commit and every group change; consumers wait on it.
    pub changed: watch::Sender<u64>,
    /// The writer's transactions and what they appended, for `/metrics`.
    pub stats: Arc<crate::metrics::LogStats>,
}

impl Meta {
    pub fn bump(&self) {
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        read_lock(&self.topics)
            .get(topic)
            .map(|ends| ends.len() as i32)
    }

    #[cfg(test)]
    pub fn end_offset(&self, partition: &TopicPartition) -> Option<i64> {
        read_lock(&self.topics)
            .get(&partition.topic)
            .and_then(|ends| {
                ends.get(usize::try_from(partition.partition).ok()?)
                    .copied()
            })
    }

    pub fn committed_offset(&self, group: &str, partition: &TopicPartition) -> Option<i64> {
        read_lock(&self.committed)
            .get(group)
            .and_then(|offsets| offsets.get(partition).copied())
    }
}

pub fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A panic while holding the lock cannot leave these plain maps half-updated in a way that
    // matters more than stopping every consumer would, so poisoning is ignored.
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The outcome of each record of an append, in order.
pub type AppendReply = Vec<Result<RecordMetadata, LogError>>;

/// A request to the writer thread.
pub enum Command {
    Append {
        records: Vec<ProduceRecord>,
        reply: oneshot::Sender<AppendReply>,
    },
    CreateTopic {
        topic: String,
        partitions: i32,
        reply: oneshot::Sender<Result<(), LogError>>,
    },
    Commit {
        group: String,
        offsets: Vec<TopicPartitionOffset>,
        reply: oneshot::Sender<Result<(), LogError>>,
    },
    /// Removes committed offsets of a group.
    Uncommit {
        group: String,
        partitions: Vec<TopicPartition>,
        reply: oneshot::Sender<Result<(), LogError>>,
    },
    /// Answered once everything queued before it is durable.
    Flush { reply: oneshot::Sender<()> },
}

impl Command {
    fn record_count(&self) -> usize {
        match self {
            Self::Append { records, .. } => records.len(),
            _ => 1,
        }
    }
}

/// Opens (or creates) the database and loads the metadata.
pub fn open(
    dir: &Path,
    cache_bytes: usize,
) -> Result<(Arc<Database>, Writer, Arc<Meta>), LogError> {
    std::fs::create_dir_all(dir).map_err(|error| {
        storage_error(
            &format!(
                "failed to create embedded log directory `{}`",
                dir.display()
            ),
            error,
        )
    })?;
    let path = dir.join(DB_FILE);
    let db = Database::builder()
        .set_cache_size(cache_bytes)
        .create(&path)
        .map_err(|error| match error {
            DatabaseError::DatabaseAlreadyOpen => LogError::InUse(dir.to_owned()),
            error => storage_error(
                &format!("failed to open embedded log `{}`", path.display()),
                error,
            ),
        })?;
    let db = Arc::new(db);
    let (topics, committed) = load(&db).map_err(|error| {
        storage_error(
            &format!("failed to load embedded log `{}`", path.display()),
            error,
        )
    })?;
    let (changed, _) = watch::channel(0);
    let meta = Arc::new(Meta {
        topics: RwLock::new(topics.clone()),
        topics_version: std::sync::atomic::AtomicU64::new(0),
        committed: RwLock::new(committed),
        changed,
        stats: Arc::default(),
    });
    let writer = Writer {
        db: Arc::clone(&db),
        meta: Arc::clone(&meta),
        topics: topics.into_iter().collect(),
        round_robin: HashMap::new(),
    };
    Ok((db, writer, meta))
}

type Loaded = (
    BTreeMap<String, Vec<i64>>,
    HashMap<String, BTreeMap<TopicPartition, i64>>,
);

fn load(db: &Database) -> Result<Loaded, redb::Error> {
    // Make sure the fixed tables exist, so read transactions can open them.
    let txn = db.begin_write()?;
    txn.open_table(TOPICS)?;
    txn.open_table(OFFSETS)?;
    txn.commit()?;

    let txn = db.begin_read()?;
    let mut topics = BTreeMap::new();
    for entry in txn.open_table(TOPICS)?.iter()? {
        let (topic, partitions) = entry?;
        let topic = topic.value().to_owned();
        let mut ends = Vec::new();
        for partition in 0..partitions.value() as i32 {
            let name = record_table_name(&topic, partition);
            let end = match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
                Ok(table) => match table.last()? {
                    Some((base_offset, chunk)) => {
                        let count = chunk_count(chunk.value()).map_err(|error| {
                            redb::Error::Corrupted(format!(
                                "chunk at offset {} of {name}: {error}",
                                base_offset.value()
                            ))
                        })?;
                        (base_offset.value() + u64::from(count)) as i64
                    }
                    None => 0,
                },
                Err(TableError::TableDoesNotExist(_)) => 0,
                Err(error) => return Err(error.into()),
            };
            ends.push(end);
        }
        topics.insert(topic, ends);
    }
    let mut committed: HashMap<String, BTreeMap<TopicPartition, i64>> = HashMap::new();
    for entry in txn.open_table(OFFSETS)?.iter()? {
        let (key, offset) = entry?;
        let (group, topic, partition) = key.value();
        committed
            .entry(group.to_owned())
            .or_default()
            .insert(TopicPartition::new(topic, partition), offset.value());
    }
    Ok((topics, committed))
}

/// Reads up to `max` records of a partition from `from` (inclusive) to `end` (exclusive).
pub fn read(
    db: &Database,
    partition: &TopicPartition,
    from: i64,
    end: i64,
    max: usize,
    out: &mut Vec<ConsumedRecord>,
) -> Result<(), LogError> {
    if from >= end || max == 0 {
        return Ok(());
    }
    let context = || format!("failed to read partition {partition}");
    let txn = db
        .begin_read()
        .map_err(|error| storage_error(&context(), error))?;
    let name = record_table_name(&partition.topic, partition.partition);
    let table = match txn.open_table(TableDefinition::<u64, &[u8]>::new(&name)) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(error) => return Err(storage_error(&context(), error)),
    };
    let from = from.max(0) as u64;
    let end = end as u64;
    // Start at the chunk holding `from`: the last one whose first offset is not after it.
    let first_chunk = table
        .range(..=from)
        .map_err(|error| storage_error(&context(), error))?
        .next_back()
        .transpose()
        .map_err(|error| storage_error(&context(), error))?
        .map_or(from, |(base_offset, _)| base_offset.value());
    let chunks = table
        .range(first_chunk..end)
        .map_err(|error| storage_error(&context(), error))?;
    let mut taken = 0;
    // One allocation for the topic, shared by the records read.
    let topic: Arc<str> = Arc::from(partition.topic.as_str());
    for chunk in chunks {
        let (base_offset, bytes) = chunk.map_err(|error| storage_error(&context(), error))?;
        let base_offset = base_offset.value();
        let corrupt = |error: &str| {
            LogError::Storage(format!(
                "corrupt chunk at offset {base_offset} of partition {partition}: {error}"
            ))
        };
        for (offset, encoded) in chunk_records(base_offset, bytes.value()).map_err(corrupt)? {
            if offset < from {
                continue;
            }
            if offset >= end || taken >= max {
                return Ok(());
            }
            let record = decode(encoded).map_err(corrupt)?;
            out.push(ConsumedRecord {
                topic: topic.clone(),
                partition: partition.partition,
                offset: offset as i64,
                key: record.key,
                value: record.value,
                headers: record.headers,
                timestamp: Some(record.timestamp),
                timestamp_type: record.timestamp_type,
            });
            taken += 1;
        }
    }
    Ok(())
}

/// The single writer: owns the authoritative end offsets and every write transaction.
pub struct Writer {
    db: Arc<Database>,
    meta: Arc<Meta>,
    topics: HashMap<String, Vec<i64>>,
    /// Topic → the partition for the next keyless batch.
    round_robin: HashMap<String, i32>,
}

/// What a write transaction changed, applied to the writer and published after the commit.
#[derive(Default)]
struct Staged {
    topics: HashMap<String, Vec<i64>>,
    new_topics: bool,
    committed: Vec<(String, TopicPartition, i64)>,
    uncommitted: Vec<(String, TopicPartition)>,
}

enum Outcome {
    Append(AppendReply),
    Done(Result<(), LogError>),
    Flushed,
}

impl Writer {
    /// Runs until every sender is dropped: takes one command, drains what else is queued, writes
    /// it all in one transaction, syncs once, then answers every command of the group.
    pub fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        while let Some(first) = commands.blocking_recv() {
            let mut records = first.record_count();
            let mut group = vec![first];
            while records < MAX_RECORDS_PER_COMMIT {
                match commands.try_recv() {
                    Ok(command) => {
                        records += command.record_count();
                        group.push(command);
                    }
                    Err(_) => break,
                }
            }
            self.process(group);
        }
        tracing::debug!("Embedded log writer stopped.");
    }

    fn process(&mut self, commands: Vec<Command>) {
        let mut staged = Staged::default();
        let outcomes = match self.write(&commands, &mut staged) {
            Ok(outcomes) => outcomes,
            Err(error) => {
                let message = format!("failed to write to the embedded log: {error}");
                tracing::error!(error = %error, "Embedded log write failed.");
                for command in commands {
                    fail(command, &message);
                }
                return;
            }
        };

        // Publish before answering, so a producer that saw its ack can read its records.
        if !staged.topics.is_empty() {
            let mut topics = write_lock(&self.meta.topics);
            for (topic, ends) in &staged.topics {
                topics.insert(topic.clone(), ends.clone());
            }
        }
        if !staged.committed.is_empty() {
            let mut committed = write_lock(&self.meta.committed);
            for (group, partition, offset) in staged.committed {
                committed
                    .entry(group)
                    .or_default()
                    .insert(partition, offset);
            }
        }
        if !staged.uncommitted.is_empty() {
            let mut committed = write_lock(&self.meta.committed);
            for (group, partition) in staged.uncommitted {
                if let Some(offsets) = committed.get_mut(&group) {
                    offsets.remove(&partition);
                    if offsets.is_empty() {
                        committed.remove(&group);
                    }
                }
            }
        }
        if staged.new_topics {
            self.meta
                .topics_version
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.topics.extend(staged.topics);
        self.meta.bump();

        for (command, outcome) in commands.into_iter().zip(outcomes) {
            // A dropped receiver means the caller stopped waiting; nothing to do.
            match (command, outcome) {
                (Command::Append { reply, .. }, Outcome::Append(results)) => {
                    let _ = reply.send(results);
                }
                (Command::CreateTopic { reply, .. }, Outcome::Done(result))
                | (Command::Commit { reply, .. }, Outcome::Done(result))
                | (Command::Uncommit { reply, .. }, Outcome::Done(result)) => {
                    let _ = reply.send(result);
                }
                (Command::Flush { reply }, Outcome::Flushed) => {
                    let _ = reply.send(());
                }
                (command, _) => fail(command, "embedded log writer mismatched an outcome"),
            }
        }
    }

    fn write(
        &mut self,
        commands: &[Command],
        staged: &mut Staged,
    ) -> Result<Vec<Outcome>, redb::Error> {
        let started = std::time::Instant::now();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let mut outcomes = Vec::with_capacity(commands.len());
        {
            let mut topics_table = txn.open_table(TOPICS)?;
            let mut offsets_table = txn.open_table(OFFSETS)?;
            let mut record_tables: HashMap<String, Vec<Option<RecordTable<'_>>>> = HashMap::new();
            for command in commands {
                let outcome = match command {
                    Command::Append { records, .. } => {
                        let mut results = Vec::with_capacity(records.len());
                        // Keyless records of one batch stick to one partition per topic.
                        let mut sticky: HashMap<&str, i32> = HashMap::new();
                        let mut chunks: Vec<Chunk<'_>> = Vec::new();
                        let mut open_chunks: HashMap<(&str, i32), usize> = HashMap::new();
                        let now = now_ms();
                        for record in records {
                            let placed = match self.place(
                                &mut topics_table,
                                staged,
                                &mut sticky,
                                record,
                                now,
                            )? {
                                Ok(placed) => placed,
                                Err(error) => {
                                    results.push(Err(error));
                                    continue;
                                }
                            };
                            let key = (&*record.topic, placed.partition);
                            let index = match open_chunks.get(&key) {
                                Some(&index) if !chunks[index].is_full() => index,
                                _ => {
                                    chunks.push(Chunk::new(key.0, key.1, placed.offset));
                                    open_chunks.insert(key, chunks.len() - 1);
                                    chunks.len() - 1
                                }
                            };
                            chunks[index].push(placed.timestamp_type, placed.timestamp, record);
                            results.push(Ok(RecordMetadata {
                                topic: record.topic.clone(),
                                partition: placed.partition,
                                offset: placed.offset,
                                timestamp: Some(placed.timestamp),
                            }));
                        }
                        for chunk in &chunks {
                            chunk.write(&txn, &mut record_tables)?;
                        }
                        Outcome::Append(results)
                    }
                    Command::CreateTopic {
                        topic, partitions, ..
                    } => Outcome::Done(self.create_topic(
                        &mut topics_table,
                        staged,
                        topic,
                        *partitions,
                    )?),
                    Command::Commit { group, offsets, .. } => {
                        for offset in offsets {
                            offsets_table.insert(
                                (group.as_str(), offset.topic.as_str(), offset.partition),
                                offset.offset,
                            )?;
                            staged.committed.push((
                                group.clone(),
                                TopicPartition::new(offset.topic.clone(), offset.partition),
                                offset.offset,
                            ));
                        }
                        Outcome::Done(Ok(()))
                    }
                    Command::Uncommit {
                        group, partitions, ..
                    } => {
                        for partition in partitions {
                            offsets_table.remove((
                                group.as_str(),
                                partition.topic.as_str(),
                                partition.partition,
                            ))?;
                            staged.uncommitted.push((group.clone(), partition.clone()));
                        }
                        Outcome::Done(Ok(()))
                    }
                    Command::Flush { .. } => Outcome::Flushed,
                };
                outcomes.push(outcome);
            }
        }
        let committing = std::time::Instant::now();
        txn.commit()?;
        let appended = commands
            .iter()
            .map(|command| match command {
                Command::Append { records, .. } => records.len(),
                _ => 0,
            })
            .sum();
        self.meta
            .stats
            .wrote(appended, started.elapsed(), committing.elapsed());
        Ok(outcomes)
    }

    /// The end offsets of a topic as staged in this transaction, if it exists.
    fn staged_ends<'s>(&'s self, staged: &'s mut Staged, topic: &str) -> Option<&'s mut Vec<i64>> {
        if !staged.topics.contains_key(topic) {
            let ends = self.topics.get(topic)?.clone();
            staged.topics.insert(topic.to_owned(), ends);
        }
        staged.topics.get_mut(topic)
    }

    fn create_topic(
        &mut self,
        topics_table: &mut Table<'_, &str, u32>,
        staged: &mut Staged,
        topic: &str,
        partitions: i32,
    ) -> Result<Result<(), LogError>, redb::Error> {
        if let Err(error) = validate_topic(topic) {
            return Ok(Err(error));
        }
        if partitions < 1 {
            return Ok(Err(LogError::Other(format!(
                "topic `{topic}` needs at least one partition, not {partitions}"
            ))));
        }
        if self.staged_ends(staged, topic).is_some() {
            // Existing topics are left as they are.
            return Ok(Ok(()));
        }
        topics_table.insert(topic, partitions as u32)?;
        staged
            .topics
            .insert(topic.to_owned(), vec![0; partitions as usize]);
        staged.new_topics = true;
        Ok(Ok(()))
    }

    /// Chooses the partition and offset of a record, creating its topic if needed.
    fn place<'r>(
        &mut self,
        topics_table: &mut Table<'_, &str, u32>,
        staged: &mut Staged,
        sticky: &mut HashMap<&'r str, i32>,
        record: &'r ProduceRecord,
        now: i64,
    ) -> Result<Result<Placed, LogError>, redb::Error> {
        let topic = &*record.topic;
        let partitions = match self.staged_ends(staged, topic) {
            Some(ends) => ends.len() as i32,
            None => {
                // Kafka's auto.create.topics.enable: a first produce creates the topic with one
                // partition.
                if let Err(error) = self.create_topic(topics_table, staged, topic, 1)? {
                    return Ok(Err(error));
                }
                1
            }
        };
        let partition = match (record.partition, &record.key) {
            (Some(partition), _) if (0..partitions).contains(&partition) => partition,
            (Some(partition), _) => {
                return Ok(Err(LogError::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                }));
            }
            (None, Some(key)) => partition_for_key(key, partitions),
            (None, None) => {
                if let Some(&partition) = sticky.get(topic) {
                    partition
                } else {
                    let next = self.round_robin.entry(topic.to_owned()).or_insert(0);
                    let partition = *next % partitions;
                    *next = (partition + 1) % partitions;
                    sticky.insert(topic, partition);
                    partition
                }
            }
        };
        let (timestamp, timestamp_type) = match record.timestamp {
            Some(timestamp) => (timestamp, TimestampType::CreateTime),
            None => (now, TimestampType::LogAppendTime),
        };
        let ends = self
            .staged_ends(staged, topic)
            .expect("the topic was staged above");
        let offset = ends[partition as usize];
        ends[partition as usize] += 1;
        Ok(Ok(Placed {
            partition,
            offset,
            timestamp,
            timestamp_type,
        }))
    }
}

/// Where a record goes.
struct Placed {
    partition: i32,
    offset: i64,
    timestamp: i64,
    timestamp_type: TimestampType,
}

/// Records with consecutive offsets of one partition, stored as one table entry under the
/// offset of the first (like Kafka's record batches): one B-tree insert per batch and partition
/// instead of one per record.
struct Chunk<'r> {
    topic: &'r str,
    partition: i32,
    base_offset: i64,
    count: u32,
    bytes: Vec<u8>,
}

/// A chunk is closed at this many records or bytes, which bounds what a read of one record
/// decodes.
const MAX_CHUNK_RECORDS: u32 = 4096;
const MAX_CHUNK_BYTES: usize = 1024 * 1024;

impl<'r> Chunk<'r> {
    fn new(topic: &'r str, partition: i32, base_offset: i64) -> Self {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&0u32.to_le_bytes());
        Self {
            topic,
            partition,
            base_offset,
            count: 0,
            bytes,
        }
    }

    fn is_full(&self) -> bool {
        self.count >= MAX_CHUNK_RECORDS || self.bytes.len() >= MAX_CHUNK_BYTES
    }

    fn push(&mut self, timestamp_type: TimestampType, timestamp: i64, record: &ProduceRecord) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&0u32.to_le_bytes());
        encode(&mut self.bytes, timestamp_type, timestamp, record);
        let len = (self.bytes.len() - start - 4) as u32;
        self.bytes[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
        self.bytes[..4].copy_from_slice(&self.count.to_le_bytes());
    }

    fn write<'txn>(
        &self,
        txn: &'txn redb::WriteTransaction,
        record_tables: &mut HashMap<String, Vec<Option<RecordTable<'txn>>>>,
    ) -> Result<(), redb::Error> {
        let tables = match record_tables.get_mut(self.topic) {
            Some(tables) => tables,
            None => record_tables.entry(self.topic.to_owned()).or_default(),
        };
        let index = self.partition as usize;
        if tables.len() <= index {
            tables.resize_with(index + 1, || None);
        }
        let table = match &mut tables[index] {
            Some(table) => table,
            slot => {
                let name = record_table_name(self.topic, self.partition);
                slot.insert(txn.open_table(TableDefinition::<u64, &[u8]>::new(&name))?)
            }
        };
        table.insert(self.base_offset as u64, self.bytes.as_slice())?;
        Ok(())
    }
}

/// The records of a stored chunk: (offset, encoded record) in order.
fn chunk_records(base_offset: u64, bytes: &[u8]) -> Result<Vec<(u64, &[u8])>, &'static str> {
    let mut reader = Reader(bytes);
    let count = reader.u32()?;
    let mut records = Vec::with_capacity(count as usize);
    for index in 0..u64::from(count) {
        let len = reader.u32()? as usize;
        records.push((base_offset + index, reader.take(len)?));
    }
    Ok(records)
}

/// The number of records in a stored chunk.
fn chunk_count(bytes: &[u8]) -> Result<u32, &'static str> {
    Reader(bytes).u32()
}

/// Answers a command with an error.
fn fail(command: Command, message: &str) {
    match command {
        Command::Append { records, reply } => {
            let _ = reply.send(
                records
                    .iter()
                    .map(|_| Err(LogError::Storage(message.to_owned())))
                    .collect(),
            );
        }
        Command::CreateTopic { reply, .. }
        | Command::Commit { reply, .. }
        | Command::Uncommit { reply, .. } => {
            let _ = reply.send(Err(LogError::Storage(message.to_owned())));
        }
        // Dropping the sender tells the flusher the log failed.
        Command::Flush { .. } => {}
    }
}

// Record encoding (little endian):
//   u8 timestamp type (0 create time, 1 log append time), i64 timestamp,
//   key and value as optional bytes, u32 header count, then per header
//   u32 key length + key, value as optional bytes.
// Optional bytes: u32 length, u32::MAX for None, then the bytes.

const NONE_LEN: u32 = u32::MAX;

fn put_bytes(buffer: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => {
            buffer.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            buffer.extend_from_slice(bytes);
        }
        None => buffer.extend_from_slice(&NONE_LEN.to_le_bytes()),
    }
}

fn encode(
    buffer: &mut Vec<u8>,
    timestamp_type: TimestampType,
    timestamp: i64,
    record: &ProduceRecord,
) {
    buffer.push(match timestamp_type {
        TimestampType::LogAppendTime => 1,
        _ => 0,
    });
    buffer.extend_from_slice(&timestamp.to_le_bytes());
    put_bytes(buffer, record.key.as_deref());
    put_bytes(buffer, record.value.as_deref());
    buffer.extend_from_slice(&(record.headers.len() as u32).to_le_bytes());
    for header in &record.headers {
        put_bytes(buffer, Some(header.key.as_bytes()));
        put_bytes(buffer, header.value.as_deref());
    }
}

pub struct Decoded {
    pub timestamp_type: TimestampType,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<LogHeader>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < len {
            return Err("truncated");
        }
        let (head, tail) = self.0.split_at(len);
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn bytes(&mut self) -> Result<Option<&'a [u8]>, &'static str> {
        match self.u32()? {
            NONE_LEN => Ok(None),
            len => self.take(len as usize).map(Some),
        }
    }
}

pub fn decode(bytes: &[u8]) -> Result<Decoded, &'static str> {
    let mut reader = Reader(bytes);
    let timestamp_type = match reader.take(1)?[0] {
        0 => TimestampType::CreateTime,
        1 => TimestampType::LogAppendTime,
        _ => return Err("unknown timestamp type"),
    };
    let timestamp = i64::from_le_bytes(
        reader
            .take(8)?
            .try_into()
            .map_err(|_| "truncated timestamp")?,
    );
    let key = reader.bytes()?.map(<[u8]>::to_vec);
    let value = reader.bytes()?.map(<[u8]>::to_vec);
    let count = reader.u32()? as usize;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let key = reader.bytes()?.ok_or("header without key")?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| "header key is not UTF-8")?;
        let value = reader.bytes()?.map(<[u8]>::to_vec);
        headers.push(LogHeader { key, value });
    }
    if !reader.0.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Decoded {
        timestamp_type,
        timestamp,
        key,
        value,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_encoding() {
        let record = ProduceRecord {
            topic: "t".into(),
            partition: None,
            key: None,
            value: Some(b"value".to_vec()),
            headers: vec![
                LogHeader {
                    key: "h1".into(),
                    value: Some(vec![]),
                },
                LogHeader {
                    key: "h2".into(),
                    value: None,
                },
            ],
            timestamp: Some(42),
        };
        let mut buffer = Vec::new();
        encode(&mut buffer, TimestampType::CreateTime, 42, &record);
        let decoded = decode(&buffer).unwrap();
        assert_eq!(decoded.timestamp, 42);
        assert_eq!(decoded.timestamp_type, TimestampType::CreateTime);
        assert_eq!(decoded.key, None);
        assert_eq!(decoded.value, record.value);
        assert_eq!(decoded.headers, record.headers);
        assert!(decode(&buffer[..buffer.len() - 1]).is_err());
    }
}
