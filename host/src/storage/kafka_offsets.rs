//! The distributed offset store ([`KafkaOffsetStore`]): source offsets in the offsets topic
//! (`offset.storage.topic`, compacted), keyed and valued as Kafka Connect writes them (key
//! `["<connector>",{<partition>}]`, value the offset object, a tombstone to reset) and placed
//! by murmur2 as the Java producer places them. Every worker reads the whole topic, so a task
//! that moves to it finds what its previous worker committed ([`OffsetBackingStore::sync`]
//! reads to the end before the task starts).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use serde_json::Value as Json;

use super::{
    offsets::{
        OffsetBackingStore, StorageError, json_to_map, key_prefix, map_to_json, parse_key,
        partition_key,
    },
    topic::{InternalTopic, TopicError, TopicRecord},
};
use crate::data::OffsetMap;

#[derive(Debug, Default)]
struct State {
    /// By normalized key (see [`partition_key`]): connector, partition, offset.
    entries: BTreeMap<String, (String, OffsetMap, OffsetMap)>,
    counts: HashMap<String, usize>,
}

impl State {
    fn set(&mut self, connector: &str, partition: OffsetMap, offset: Option<OffsetMap>) {
        let key = partition_key(connector, &partition);
        match offset {
            Some(offset) => {
                if self
                    .entries
                    .insert(key, (connector.to_owned(), partition, offset))
                    .is_none()
                {
                    *self.counts.entry(connector.to_owned()).or_default() += 1;
                }
            }
            None => {
                if self.entries.remove(&key).is_some()
                    && let Some(count) = self.counts.get_mut(connector)
                {
                    *count = count.saturating_sub(1);
                }
            }
        }
    }
}

/// Source offsets in the offsets topic.
pub struct KafkaOffsetStore {
    topic: InternalTopic,
    state: Arc<Mutex<State>>,
}

impl KafkaOffsetStore {
    pub fn open(
        settings: &crate::log::kafka::KafkaSettings,
        topic: &str,
        partitions: i32,
        client_id: &str,
        timeout: std::time::Duration,
    ) -> Result<Self, TopicError> {
        let state = Arc::new(Mutex::new(State::default()));
        let topic = {
            let state = state.clone();
            InternalTopic::open(
                settings,
                topic,
                partitions,
                client_id,
                timeout,
                move |record| {
                    apply(&mut lock(&state), &record);
                },
            )?
        };
        Ok(Self { topic, state })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn apply(state: &mut State, record: &TopicRecord) {
    let Some(key) = record
        .key
        .as_deref()
        .and_then(|key| serde_json::from_slice::<Json>(key).ok())
        .and_then(|key| parse_key(&key))
    else {
        tracing::warn!(
            offset = record.offset,
            "Skipping an offsets topic record whose key is not [\"<connector>\",{{...}}]."
        );
        return;
    };
    let (connector, partition) = key;
    let offset = match &record.value {
        None => None,
        Some(bytes) => match serde_json::from_slice::<Json>(bytes)
            .ok()
            .and_then(|value| json_to_map(&value))
        {
            Some(offset) => Some(offset),
            None => {
                tracing::warn!(
                    connector,
                    "Skipping an offsets topic record whose value is not an offset object."
                );
                return;
            }
        },
    };
    state.set(&connector, partition, offset);
}

#[async_trait]
impl OffsetBackingStore for KafkaOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        lock(&self.state)
            .entries
            .get(&partition_key(connector, partition))
            .map(|(_, _, offset)| offset.clone())
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let prefix = key_prefix(connector);
        lock(&self.state)
            .entries
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .filter(|(_, (owner, _, _))| owner == connector)
            .map(|(_, (_, partition, offset))| (partition.clone(), offset.clone()))
            .collect()
    }

    fn partition_count(&self, connector: &str) -> usize {
        lock(&self.state)
            .counts
            .get(connector)
            .copied()
            .unwrap_or(0)
    }

    async fn put(
        &self,
        connector: &str,
        offsets: Vec<(OffsetMap, Option<OffsetMap>)>,
        max_partitions: usize,
    ) -> Result<(), StorageError> {
        let records: Vec<(Vec<u8>, Option<Vec<u8>>)> = {
            let mut state = lock(&self.state);
            let current = state.counts.get(connector).copied().unwrap_or(0);
            let added = offsets
                .iter()
                .filter(|(partition, offset)| {
                    offset.is_some()
                        && !state
                            .entries
                            .contains_key(&partition_key(connector, partition))
                })
                .count();
            if added > 0 && current + added > max_partitions {
                return Err(StorageError::TooManyPartitions {
                    connector: connector.to_owned(),
                    count: current + added,
                    max: max_partitions,
                });
            }
            offsets
                .into_iter()
                .map(|(partition, offset)| {
                    let key = Json::Array(vec![
                        Json::String(connector.to_owned()),
                        map_to_json(&partition),
                    ])
                    .to_string()
                    .into_bytes();
                    let value = offset
                        .as_ref()
                        .map(|o| map_to_json(o).to_string().into_bytes());
                    state.set(connector, partition, offset);
                    (key, value)
                })
                .collect()
        };
        let sends = records
            .iter()
            .map(|(key, value)| self.topic.send(key, value.as_deref()));
        for result in futures::future::join_all(sends).await {
            result.map_err(|error| StorageError::Topic(error.to_string()))?;
        }
        Ok(())
    }

    async fn sync(&self) -> Result<(), StorageError> {
        self.topic
            .read_to_end()
            .await
            .map_err(|error| StorageError::Topic(error.to_string()))
    }
}
