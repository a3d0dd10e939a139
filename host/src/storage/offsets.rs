//! The standalone source offset store: every connector's last committed source offset per
//! source partition, kept in memory and written to `offset.storage.file.filename` by atomic
//! replace (write a temporary file, fsync, rename, fsync the directory), so a crash leaves
//! either the old or the new file, never a torn one.
//!
//! Keys and values use Kafka Connect's JSON forms: key `["<connector>",{<partition>}]`, value
//! `{<offset>}`.
//!
//! Writes are coalesced: however many tasks flush at once, one of them writes a snapshot that
//! includes every update made before it started, and the others return as soon as a write
//! covering their update is durable. So a thousand tasks cost one file write at a time, not a
//! thousand.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::Value as Json;

use crate::data::{OffsetMap, Scalar};

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
}

#[derive(Debug, Clone)]
struct Entry {
    connector: String,
    partition: OffsetMap,
    offset: OffsetMap,
}

/// Source offsets in a file.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    /// Keyed by the normalized JSON key, so lookups ignore map order.
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Incremented by every update (under `entries`' lock).
    updated: AtomicU64,
    /// The last update included in a durable write.
    written: AtomicU64,
    /// Serializes file writes so an older snapshot never replaces a newer one.
    write_lock: tokio::sync::Mutex<()>,
}

impl FileOffsetStore {
    /// Opens the store, reading the file if it exists.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut entries = BTreeMap::new();
        match std::fs::read(path) {
            Ok(bytes) => {
                let corrupt = |message: String| StorageError::Corrupt {
                    path: path.to_path_buf(),
                    message,
                };
                let json: Json =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                let list = json
                    .get("offsets")
                    .and_then(Json::as_array)
                    .ok_or_else(|| corrupt("missing `offsets` array".into()))?;
                for item in list {
                    let key = item
                        .get("key")
                        .ok_or_else(|| corrupt("entry without `key`".into()))?;
                    let (connector, partition) =
                        parse_key(key).ok_or_else(|| corrupt(format!("bad key {key}")))?;
                    let offset = item
                        .get("value")
                        .and_then(json_to_map)
                        .ok_or_else(|| corrupt(format!("bad value for key {key}")))?;
                    entries.insert(
                        key_string(&connector, &partition),
                        Entry {
                            connector,
                            partition,
                            offset,
                        },
                    );
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StorageError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries: Mutex::new(entries),
            updated: AtomicU64::new(0),
            written: AtomicU64::new(0),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The committed offset of one source partition of a connector.
    pub fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        let entries = self.entries.lock().expect("offset store lock poisoned");
        entries
            .get(&key_string(connector, partition))
            .map(|entry| entry.offset.clone())
    }

    /// Every committed (partition, offset) of a connector.
    pub fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let entries = self.entries.lock().expect("offset store lock poisoned");
        entries
            .values()
            .filter(|entry| entry.connector == connector)
            .map(|entry| (entry.partition.clone(), entry.offset.clone()))
            .collect()
    }

    /// Stores offsets (None removes a partition) and returns once a durable write of the file
    /// includes them.
    pub async fn put(
        self: &Arc<Self>,
        connector: &str,
        offsets: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<(), StorageError> {
        let update = {
            let mut entries = self.entries.lock().expect("offset store lock poisoned");
            for (partition, offset) in offsets {
                let key = key_string(connector, &partition);
                match offset {
                    Some(offset) => {
                        entries.insert(
                            key,
                            Entry {
                                connector: connector.to_owned(),
                                partition,
                                offset,
                            },
                        );
                    }
                    None => {
                        entries.remove(&key);
                    }
                }
            }
            self.updated.fetch_add(1, Ordering::SeqCst) + 1
        };
        let _writing = self.write_lock.lock().await;
        if self.written.load(Ordering::SeqCst) >= update {
            // A write that started after our update already made it durable.
            return Ok(());
        }
        let (snapshot, covers) = {
            let entries = self.entries.lock().expect("offset store lock poisoned");
            let list: Vec<Json> = entries
                .values()
                .map(|entry| {
                    serde_json::json!({
                        "key": [entry.connector, map_to_json(&entry.partition)],
                        "value": map_to_json(&entry.offset),
                    })
                })
                .collect();
            (
                serde_json::json!({ "version": 1, "offsets": list }),
                self.updated.load(Ordering::SeqCst),
            )
        };
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.write_file(&snapshot))
            .await
            .map_err(|error| StorageError::Write {
                path: self.path.clone(),
                source: std::io::Error::other(error.to_string()),
            })?
            .map_err(|source| StorageError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.written.store(covers, Ordering::SeqCst);
        Ok(())
    }

    fn write_file(&self, json: &Json) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
        serde_json::to_writer(&mut temp, json)?;
        temp.flush()?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|error| error.error)?;
        std::fs::File::open(&dir)?.sync_all()
    }
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

fn parse_key(key: &Json) -> Option<(String, OffsetMap)> {
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
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Scalar)]) -> OffsetMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[tokio::test]
    async fn offsets_survive_reopen_and_lookups_ignore_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/connect.offsets");
        let store = Arc::new(FileOffsetStore::open(&path).unwrap());
        let partition = map(&[("a", Scalar::Int(1)), ("b", Scalar::String("x".into()))]);
        store
            .put(
                "c1",
                vec![(
                    partition.clone(),
                    Some(map(&[("position", Scalar::Int(42))])),
                )],
            )
            .await
            .unwrap();
        store
            .put(
                "c2",
                vec![(
                    partition.clone(),
                    Some(map(&[("position", Scalar::Int(7))])),
                )],
            )
            .await
            .unwrap();
        drop(store);

        let store = Arc::new(FileOffsetStore::open(&path).unwrap());
        let reordered = map(&[("b", Scalar::String("x".into())), ("a", Scalar::Int(1))]);
        assert_eq!(
            store.get("c1", &reordered),
            Some(map(&[("position", Scalar::Int(42))]))
        );
        assert_eq!(
            store.get("c2", &partition),
            Some(map(&[("position", Scalar::Int(7))]))
        );
        assert_eq!(store.connector_offsets("c1").len(), 1);
        store
            .put("c1", vec![(partition.clone(), None)])
            .await
            .unwrap();
        assert_eq!(
            FileOffsetStore::open(&path).unwrap().get("c1", &partition),
            None
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_puts_are_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets");
        let store = Arc::new(FileOffsetStore::open(&path).unwrap());
        let puts = (0..50).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let partition = map(&[("task", Scalar::Int(i))]);
                store
                    .put(
                        "c",
                        vec![(partition, Some(map(&[("seq", Scalar::Int(i * 10))])))],
                    )
                    .await
            })
        });
        for put in futures::future::join_all(puts).await {
            put.unwrap().unwrap();
        }
        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(reopened.connector_offsets("c").len(), 50);
        assert!(store.written.load(Ordering::SeqCst) == 50);
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o");
        std::fs::write(&path, "{not json").unwrap();
        let error = FileOffsetStore::open(&path).unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
}
