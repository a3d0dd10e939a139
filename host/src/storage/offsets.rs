//! The standalone source offset store: every connector's last committed source offset per
//! source partition, kept in memory and in `offset.storage.file.filename`.
//!
//! The file is a log of JSON lines (`super::json_lines`), so a flush costs what changed, not
//! everything ever stored: a header line `{"version":2}`, then one line per change,
//! `{"key":["<connector>",{<partition>}],"value":{<offset>}}` (`"value":null` removes the
//! partition), Kafka Connect's key and value forms. A flush appends its lines and fsyncs; a
//! crash in the middle leaves a torn last line, which the next open drops (that flush was
//! never acknowledged). When the log holds more than twice what is live (and at least
//! [`MIN_COMPACTION_BYTES`]), the next flush rewrites it compacted by atomic replace
//! (temporary file, fsync, rename, fsync of the directory), so the file stays within a small
//! multiple of the live offsets and the rewrite's cost is paid for by the appends before it.
//! The one-document file of earlier versions (`{"version":1,"offsets":[...]}`) is read and
//! rewritten in the new form.
//!
//! Writes are coalesced: however many tasks flush at once, one of them writes every change
//! made before it started, and the others return as soon as a write covering their change is
//! durable. The in-memory map is locked only to apply or collect changes, never across a
//! write or a rewrite, so a task with many partitions cannot stall another's lookups.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use serde_json::Value as Json;

use super::json_lines::{self, Contents, LogFile, ReadError};
use crate::data::{OffsetMap, Scalar};

pub use super::json_lines::MIN_COMPACTION_BYTES;

/// The first line of a log in the current format.
const HEADER: &str = r#"{"version":2}"#;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("failed to read offsets from `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("offset file `{path}` is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("failed to write offsets to `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The offsets topic (distributed mode) could not be read or written.
    #[error("offsets topic: {0}")]
    Topic(String),
    /// A connector would have more source partitions than it may.
    #[error(
        "connector {connector} would have offsets for {count} source partitions, more than the {max} it may have (sandbox.source.partitions.max times tasks.max)"
    )]
    TooManyPartitions {
        connector: String,
        count: usize,
        max: usize,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    connector: String,
    partition: OffsetMap,
    offset: OffsetMap,
    /// Bytes of the entry's line in the log.
    line_bytes: u64,
}

/// What the in-memory map holds, and the changes not yet in the log.
#[derive(Debug, Default)]
struct State {
    /// Keyed by the normalized JSON key, so lookups ignore map order and one connector's
    /// entries are a range (`["<connector>",` is their common prefix).
    entries: BTreeMap<String, Entry>,
    /// Source partitions per connector.
    counts: HashMap<String, usize>,
    /// Bytes of the lines of every live entry: what a compacted log holds.
    live_bytes: u64,
    /// Lines to append, by key (a later change of a key replaces an earlier one).
    pending: BTreeMap<String, String>,
}

/// Where source offsets are kept: Kafka Connect's `OffsetBackingStore`, by connector.
#[async_trait]
pub trait OffsetBackingStore: Send + Sync {
    /// The committed offset of one source partition of a connector.
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap>;

    /// Every committed (partition, offset) of a connector.
    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)>;

    /// How many source partitions a connector has offsets for.
    fn partition_count(&self, connector: &str) -> usize;

    /// Stores offsets (None removes a partition) and returns once they are durable. Refused,
    /// with nothing stored, when the connector would then have more than `max_partitions`
    /// source partitions.
    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(OffsetMap, Option<OffsetMap>)>,
        max_partitions: usize,
    ) -> Result<(), StorageError>;

    /// Waits until this store holds every offset committed anywhere before the call (another
    /// worker's, in distributed mode); at once for a store only this worker writes.
    async fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Source offsets in a file.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    state: Mutex<State>,
    /// Incremented by every update (under `state`'s lock).
    updated: AtomicU64,
    /// The last update included in a durable write.
    written: AtomicU64,
    /// Serializes file writes, so changes reach the log in the order they were made.
    write_lock: tokio::sync::Mutex<()>,
    file: Arc<LogFile>,
}

impl FileOffsetStore {
    /// Opens the store, reading the file if it exists (and dropping a torn last line, or
    /// converting a file of the earlier format).
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let corrupt = |message: String| StorageError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let mut state = State::default();
        let (file_bytes, rewrite) = match json_lines::read(path, HEADER) {
            Ok(Contents::Lines { lines, bytes, torn }) => {
                for (number, json) in lines {
                    apply_line(&mut state, &json)
                        .map_err(|error| corrupt(format!("line {number}: {error}")))?;
                }
                (bytes, torn)
            }
            // The earlier format: one document.
            Ok(Contents::Document(json)) => {
                let list = json.get("offsets").ok_or_else(|| {
                    corrupt(format!(
                        "the first line is neither {HEADER} nor an offsets document"
                    ))
                })?;
                load_v1(&mut state, list).map_err(corrupt)?;
                (0, true)
            }
            Err(ReadError::Corrupt(message)) => return Err(corrupt(message)),
            Err(ReadError::Io(source)) => {
                return Err(StorageError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let store = Self {
            path: path.to_path_buf(),
            state: Mutex::new(state),
            updated: AtomicU64::new(0),
            written: AtomicU64::new(0),
            write_lock: tokio::sync::Mutex::new(()),
            file: Arc::new(LogFile::new(path, HEADER, file_bytes)),
        };
        if rewrite {
            let lines = store.snapshot();
            store
                .file
                .rewrite(&lines)
                .map_err(|source| StorageError::Write {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every live entry's line.
    fn snapshot(&self) -> Vec<String> {
        let state = self.state.lock().expect("offset store lock poisoned");
        lines_of(&state)
    }
}

#[async_trait]
impl OffsetBackingStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        let state = self.state.lock().expect("offset store lock poisoned");
        state
            .entries
            .get(&key_string(connector, partition))
            .map(|entry| entry.offset.clone())
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let prefix = key_prefix(connector);
        let state = self.state.lock().expect("offset store lock poisoned");
        state
            .entries
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter(|(_, entry)| entry.connector == connector)
            .map(|(_, entry)| (entry.partition.clone(), entry.offset.clone()))
            .collect()
    }

    fn partition_count(&self, connector: &str) -> usize {
        let state = self.state.lock().expect("offset store lock poisoned");
        state.counts.get(connector).copied().unwrap_or(0)
    }

    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(OffsetMap, Option<OffsetMap>)>,
        max_partitions: usize,
    ) -> Result<(), StorageError> {
        let update = {
            let mut state = self.state.lock().expect("offset store lock poisoned");
            let changes: Vec<(String, OffsetMap, Option<OffsetMap>)> = offsets
                .into_iter()
                .map(|(partition, offset)| (key_string(connector, &partition), partition, offset))
                .collect();
            let current = state.counts.get(connector).copied().unwrap_or(0);
            let added = changes
                .iter()
                .filter(|(key, _, offset)| offset.is_some() && !state.entries.contains_key(key))
                .count();
            if added > 0 && current + added > max_partitions {
                return Err(StorageError::TooManyPartitions {
                    connector: connector.to_owned(),
                    count: current + added,
                    max: max_partitions,
                });
            }
            for (key, partition, offset) in changes {
                let line = line_for(connector, &partition, offset.as_ref());
                match offset {
                    Some(offset) => {
                        let entry = Entry {
                            connector: connector.to_owned(),
                            partition,
                            offset,
                            line_bytes: line.len() as u64 + 1,
                        };
                        state.live_bytes += entry.line_bytes;
                        match state.entries.insert(key.clone(), entry) {
                            Some(old) => state.live_bytes -= old.line_bytes,
                            None => *state.counts.entry(connector.to_owned()).or_default() += 1,
                        }
                    }
                    None => {
                        if let Some(old) = state.entries.remove(&key) {
                            state.live_bytes -= old.line_bytes;
                            if let Some(count) = state.counts.get_mut(connector) {
                                *count = count.saturating_sub(1);
                            }
                        }
                    }
                }
                state.pending.insert(key, line);
            }
            self.updated.fetch_add(1, Ordering::SeqCst) + 1
        };
        let _writing = self.write_lock.lock().await;
        if self.written.load(Ordering::SeqCst) >= update {
            // A write that started after our update already made it durable.
            return Ok(());
        }
        let (lines, covers, compact) = {
            let mut state = self.state.lock().expect("offset store lock poisoned");
            let covers = self.updated.load(Ordering::SeqCst);
            let pending = std::mem::take(&mut state.pending);
            let appended: u64 = pending.values().map(|line| line.len() as u64 + 1).sum();
            let compact = self.file.due_compaction(appended, state.live_bytes);
            let lines: Vec<String> = if compact {
                // The whole live map, collected under the lock; written outside it.
                lines_of(&state)
            } else {
                pending.into_values().collect()
            };
            (lines, covers, compact)
        };
        self.file
            .write(lines, compact)
            .await
            .map_err(|source| StorageError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.written.store(covers, Ordering::SeqCst);
        Ok(())
    }
}

fn lines_of(state: &State) -> Vec<String> {
    state
        .entries
        .values()
        .map(|entry| line_for(&entry.connector, &entry.partition, Some(&entry.offset)))
        .collect()
}

/// One log line: a partition's offset, or its removal.
fn line_for(connector: &str, partition: &OffsetMap, offset: Option<&OffsetMap>) -> String {
    serde_json::json!({
        "key": [connector, map_to_json(partition)],
        "value": offset.map_or(Json::Null, map_to_json),
    })
    .to_string()
}

/// Applies one line of the log to the map.
fn apply_line(state: &mut State, json: &Json) -> Result<(), String> {
    let key = json.get("key").ok_or("a line without `key`")?;
    let (connector, partition) = parse_key(key).ok_or_else(|| format!("bad key {key}"))?;
    let line_bytes = json.to_string().len() as u64 + 1;
    let map_key = key_string(&connector, &partition);
    match json.get("value") {
        Some(Json::Null) => {
            if let Some(old) = state.entries.remove(&map_key) {
                state.live_bytes -= old.line_bytes;
                if let Some(count) = state.counts.get_mut(&connector) {
                    *count = count.saturating_sub(1);
                }
            }
        }
        Some(value) => {
            let offset = json_to_map(value).ok_or_else(|| format!("bad value for key {key}"))?;
            state.live_bytes += line_bytes;
            let entry = Entry {
                connector: connector.clone(),
                partition,
                offset,
                line_bytes,
            };
            match state.entries.insert(map_key, entry) {
                Some(old) => state.live_bytes -= old.line_bytes,
                None => *state.counts.entry(connector).or_default() += 1,
            }
        }
        None => return Err(format!("no `value` for key {key}")),
    }
    Ok(())
}

/// Reads the one-document file of the earlier format.
fn load_v1(state: &mut State, list: &Json) -> Result<(), String> {
    let list = list.as_array().ok_or("`offsets` is not an array")?;
    for item in list {
        apply_line(state, item)?;
    }
    Ok(())
}

fn key_string(connector: &str, partition: &OffsetMap) -> String {
    let mut sorted: Vec<_> = partition.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let object: serde_json::Map<String, Json> = sorted
        .into_iter()
        .map(|(key, value)| (key.clone(), scalar_to_json(value)))
        .collect();
    Json::Array(vec![
        Json::String(connector.to_owned()),
        Json::Object(object),
    ])
    .to_string()
}

/// What every key of `connector` starts with.
pub(super) fn key_prefix(connector: &str) -> String {
    format!("[{},", Json::String(connector.to_owned()))
}

/// The normalized key of a connector's source partition: equal for equal partitions,
/// whatever their keys' order (what the store and the tasks count partitions by).
pub fn partition_key(connector: &str, partition: &OffsetMap) -> String {
    key_string(connector, partition)
}

pub(super) fn parse_key(key: &Json) -> Option<(String, OffsetMap)> {
    let array = key.as_array()?;
    match array.as_slice() {
        [Json::String(connector), partition] => Some((connector.clone(), json_to_map(partition)?)),
        _ => None,
    }
}

/// An offset map as a JSON object.
pub fn map_to_json(map: &OffsetMap) -> Json {
    Json::Object(
        map.iter()
            .map(|(key, value)| (key.clone(), scalar_to_json(value)))
            .collect(),
    )
}

/// A JSON object of primitives as an offset map; None for anything else.
pub fn json_to_map(json: &Json) -> Option<OffsetMap> {
    json.as_object()?
        .iter()
        .map(|(key, value)| Some((key.clone(), json_to_scalar(value)?)))
        .collect()
}

/// Roughly the bytes of an offset map's JSON form, without building it.
pub fn map_json_bytes(map: &OffsetMap) -> usize {
    2 + map
        .iter()
        .map(|(key, value)| {
            key.len()
                + 4
                + match value {
                    Scalar::String(text) => text.len() + 2,
                    _ => 24,
                }
        })
        .sum::<usize>()
}

fn scalar_to_json(scalar: &Scalar) -> Json {
    match scalar {
        Scalar::Null => Json::Null,
        Scalar::Boolean(value) => Json::Bool(*value),
        Scalar::Int(value) => Json::from(*value),
        Scalar::Float(value) => {
            serde_json::Number::from_f64(*value).map_or(Json::Null, Json::Number)
        }
        Scalar::String(value) => Json::String(value.clone()),
    }
}

fn json_to_scalar(json: &Json) -> Option<Scalar> {
    Some(match json {
        Json::Null => Scalar::Null,
        Json::Bool(value) => Scalar::Boolean(*value),
        Json::Number(number) => match number.as_i64() {
            Some(value) => Scalar::Int(value),
            None => Scalar::Float(number.as_f64()?),
        },
        Json::String(value) => Scalar::String(value.clone()),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

#[cfg(test)]
mod tests;
