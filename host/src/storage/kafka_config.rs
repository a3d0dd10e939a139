//! The distributed config store ([`KafkaConfigStore`]): connector configs, target states, task
//! configs, restart requests and tenants in the config topic (`config.storage.topic`, one
//! partition, compacted), with Kafka Connect's record keys and JSON values
//! (`connector-<c>` `{"properties":{...}}`, `task-<c>-<n>`, `commit-<c>` `{"tasks":N}`,
//! `target-state-<c>` `{"state":..,"state.v2":..}`, `restart-connector-<c>`
//! `{"only-failed":..,"include-tasks":..}`), so tools that read Connect's topic read this one.
//!
//! What wasm-connect adds is carried in extra fields Kafka Connect ignores (`plugin` beside a
//! connector's `properties`; `connector` and `tasks` in a restart request, naming exactly what
//! to restart) and in keys of its own (`tenant-<t>`). Task configs take effect only with their
//! `commit-<c>` record: a commit for which some task record is missing (a writer that died
//! half-way) leaves the previous task configs in place. Every worker reads the whole topic;
//! a write returns once this worker has read it back, so its own view includes it.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    config::{ConfigBackingStore, Restored, StoreError, StoredConnector, plugin_json, plugin_ref},
    topic::{InternalTopic, TopicError, TopicRecord},
};
use crate::{
    config::{Settings, connector::TargetState},
    plugins::PluginRef,
    runtime::ConfigMap,
};

/// A restart asked for through the config topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequest {
    pub connector: String,
    /// Restart the connector instance.
    pub restart_connector: bool,
    /// Restart these tasks.
    pub tasks: Vec<u32>,
    /// Whether `restart_connector` and `tasks` say exactly what to restart (written by
    /// wasm-connect); else `only_failed` and `include_tasks` decide.
    pub explicit: bool,
    /// Kafka Connect's flags, for a request without an explicit list (written by a Java
    /// worker): the receiver decides from the statuses.
    pub only_failed: bool,
    pub include_tasks: bool,
    /// Where it is in the topic.
    pub offset: i64,
}

/// What changed in the config topic.
#[derive(Debug, Clone)]
pub enum ConfigEvent {
    /// Connectors, target states, task configs or tenants changed; the config offset after it.
    Changed(i64),
    Restart(RestartRequest),
    /// A tenant was created, changed or deleted.
    Tenants,
    /// A log level set with `scope=cluster` (KIP-976).
    Logger {
        namespace: String,
        level: String,
    },
}

/// What the config topic says.
#[derive(Debug, Default)]
struct ConfigState {
    connectors: BTreeMap<String, StoredConnector>,
    /// Target states written before their connector's config (Kafka Connect writes a new
    /// connector's initial state first).
    targets: BTreeMap<String, TargetState>,
    /// Task configs not yet committed.
    pending: BTreeMap<String, BTreeMap<u32, ConfigMap>>,
    tenants: BTreeMap<String, Value>,
    /// The offset after the last record applied.
    offset: i64,
}

/// Connector configs in the config topic.
pub struct KafkaConfigStore {
    topic: InternalTopic,
    state: Arc<Mutex<ConfigState>>,
    events: Arc<Mutex<Option<mpsc::UnboundedSender<ConfigEvent>>>>,
}

impl KafkaConfigStore {
    /// Starts reading `topic` (one partition) from its beginning.
    pub fn open(
        settings: &crate::log::kafka::KafkaSettings,
        topic: &str,
        client_id: &str,
        timeout: std::time::Duration,
    ) -> Result<Self, TopicError> {
        let state = Arc::new(Mutex::new(ConfigState::default()));
        let events: Arc<Mutex<Option<mpsc::UnboundedSender<ConfigEvent>>>> = Arc::default();
        let topic = {
            let state = state.clone();
            let events = events.clone();
            InternalTopic::open(settings, topic, 1, client_id, timeout, move |record| {
                let event = apply(&mut lock(&state), &record);
                if let Some(event) = event
                    && let Some(events) = lock(&events).as_ref()
                {
                    let _ = events.send(event);
                }
            })?
        };
        Ok(Self {
            topic,
            state,
            events,
        })
    }

    /// Every change from now on (one listener).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ConfigEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.events) = Some(tx);
        rx
    }

    /// The offset after the last record this worker applied.
    pub fn offset(&self) -> i64 {
        lock(&self.state).offset
    }

    /// Waits until this worker read the topic to its end.
    pub async fn read_to_end(&self) -> Result<(), StoreError> {
        self.topic.read_to_end().await.map_err(topic_error)
    }

    /// Waits until this worker read the topic up to `offset` (exclusive).
    pub async fn read_to(&self, offset: i64) -> Result<(), StoreError> {
        self.topic.wait_read(0, offset).await.map_err(topic_error)
    }

    /// Every connector as stored now, without reading further.
    pub fn snapshot(&self) -> BTreeMap<String, StoredConnector> {
        lock(&self.state).connectors.clone()
    }

    /// Sets a log level on every worker (KIP-976's `logger-cluster-<namespace>`).
    pub async fn put_log_level(&self, namespace: &str, level: &str) -> Result<(), StoreError> {
        self.write(
            &format!("logger-cluster-{namespace}"),
            Some(&json!({ "level": level })),
        )
        .await
    }

    /// Asks every worker to restart a connector instance and/or some of its tasks.
    pub async fn put_restart(
        &self,
        name: &str,
        connector: bool,
        tasks: &[u32],
    ) -> Result<(), StoreError> {
        let value = json!({
            "only-failed": false,
            "include-tasks": !tasks.is_empty(),
            "connector": connector,
            "tasks": tasks,
        });
        self.write(&format!("restart-connector-{name}"), Some(&value))
            .await
    }

    async fn write(&self, key: &str, value: Option<&Value>) -> Result<(), StoreError> {
        let bytes = value.map(|value| value.to_string().into_bytes());
        self.topic
            .send_and_read(key.as_bytes(), bytes.as_deref())
            .await
            .map(drop)
            .map_err(topic_error)
    }
}

fn topic_error(error: TopicError) -> StoreError {
    StoreError::Topic(error.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Kafka Connect's `target-state-<c>` value.
fn target_json(target: TargetState) -> Value {
    let (v1, v2) = match target {
        TargetState::Started => ("STARTED", "STARTED"),
        TargetState::Paused => ("PAUSED", "PAUSED"),
        TargetState::Stopped => ("PAUSED", "STOPPED"),
    };
    json!({"state": v1, "state.v2": v2})
}

fn parse_target(value: &Value) -> Option<TargetState> {
    let state = value
        .get("state.v2")
        .or_else(|| value.get("state"))
        .and_then(Value::as_str)?;
    Some(match state {
        "STARTED" => TargetState::Started,
        "PAUSED" => TargetState::Paused,
        "STOPPED" => TargetState::Stopped,
        _ => return None,
    })
}

fn properties(value: &Value) -> Option<BTreeMap<String, String>> {
    value
        .get("properties")?
        .as_object()?
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((key.clone(), text))
        })
        .collect()
}

/// Splits `task-<c>-<n>`'s `<c>-<n>` (a connector name may contain `-`).
fn task_key(rest: &str) -> Option<(&str, u32)> {
    let (connector, task) = rest.rsplit_once('-')?;
    Some((connector, task.parse().ok()?))
}

/// Applies one record; what to tell the herder.
fn apply(state: &mut ConfigState, record: &TopicRecord) -> Option<ConfigEvent> {
    state.offset = state.offset.max(record.offset + 1);
    let key = String::from_utf8_lossy(record.key.as_deref()?).into_owned();
    let value: Option<Value> = match &record.value {
        None => None,
        Some(bytes) => match serde_json::from_slice(bytes) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::error!(key, %error, "Skipping a config topic record whose value is not JSON.");
                return None;
            }
        },
    };
    let changed = Some(ConfigEvent::Changed(state.offset));
    if let Some(name) = key.strip_prefix("connector-") {
        match value.as_ref().and_then(properties) {
            None => {
                if value.is_some() {
                    tracing::error!(
                        connector = name,
                        "Skipping a connector record without properties."
                    );
                    return None;
                }
                state.connectors.remove(name);
                state.pending.remove(name);
                state.targets.remove(name);
            }
            Some(config) => {
                let plugin = value
                    .as_ref()
                    .and_then(|value| value.get("plugin"))
                    .and_then(plugin_ref);
                let target = state.targets.remove(name);
                let entry =
                    state
                        .connectors
                        .entry(name.to_owned())
                        .or_insert_with(|| StoredConnector {
                            config: Settings::new(),
                            target: TargetState::Started,
                            plugin: None,
                            tasks: Vec::new(),
                        });
                entry.config = config;
                entry.plugin = plugin;
                if let Some(target) = target {
                    entry.target = target;
                }
            }
        }
        return changed;
    }
    if let Some(name) = key.strip_prefix("target-state-") {
        let Some(target) = value.as_ref().and_then(parse_target) else {
            state.targets.remove(name);
            return None;
        };
        match state.connectors.get_mut(name) {
            Some(entry) => entry.target = target,
            None => {
                state.targets.insert(name.to_owned(), target);
            }
        }
        return changed;
    }
    if let Some(rest) = key.strip_prefix("task-") {
        let (name, task) = task_key(rest)?;
        if let Some(config) = value.as_ref().and_then(properties) {
            state
                .pending
                .entry(name.to_owned())
                .or_default()
                .insert(task, config);
        }
        return None;
    }
    if let Some(name) = key.strip_prefix("commit-") {
        let count = value
            .as_ref()
            .and_then(|value| value.get("tasks"))
            .and_then(Value::as_u64)?;
        let pending = state.pending.remove(name).unwrap_or_default();
        let tasks: Option<Vec<ConfigMap>> = (0..count as u32)
            .map(|task| pending.get(&task).cloned())
            .collect();
        match (tasks, state.connectors.get_mut(name)) {
            (Some(tasks), Some(entry)) => entry.tasks = tasks,
            (None, Some(_)) => tracing::warn!(
                connector = name,
                tasks = count,
                "Task configs were committed without every task's record; keeping the previous ones until the connector generates them again."
            ),
            (_, None) => {}
        }
        return changed;
    }
    if let Some(name) = key.strip_prefix("restart-connector-") {
        let value = value?;
        let flag = |key: &str| value.get(key).and_then(Value::as_bool).unwrap_or(false);
        let tasks = value
            .get("tasks")
            .and_then(Value::as_array)
            .map(|tasks| {
                tasks
                    .iter()
                    .filter_map(|task| task.as_u64().and_then(|t| u32::try_from(t).ok()))
                    .collect()
            })
            .unwrap_or_default();
        return Some(ConfigEvent::Restart(RestartRequest {
            connector: name.to_owned(),
            restart_connector: value
                .get("connector")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            tasks,
            explicit: value.get("tasks").is_some(),
            only_failed: flag("only-failed"),
            include_tasks: flag("include-tasks"),
            offset: record.offset,
        }));
    }
    if let Some(name) = key.strip_prefix("tenant-") {
        match value {
            Some(tenant) => state.tenants.insert(name.to_owned(), tenant),
            None => state.tenants.remove(name),
        };
        return Some(ConfigEvent::Tenants);
    }
    if let Some(namespace) = key.strip_prefix("logger-cluster-") {
        let level = value?.get("level")?.as_str()?.to_owned();
        return Some(ConfigEvent::Logger {
            namespace: namespace.to_owned(),
            level,
        });
    }
    // session-key, tasks-fencing-*: not used by this worker.
    None
}

#[async_trait]
impl ConfigBackingStore for KafkaConfigStore {
    async fn load(&self) -> Result<Vec<Restored>, StoreError> {
        self.read_to_end().await?;
        let connectors = self.snapshot();
        connectors
            .into_iter()
            .map(|(name, stored)| {
                stored.restored().map_err(|error| {
                    StoreError::Topic(format!("connector {name} in the config topic: {error}"))
                })
            })
            .collect()
    }

    async fn put_connector(
        &self,
        name: &str,
        config: Settings,
        target: TargetState,
        plugin: Option<PluginRef>,
    ) -> Result<(), StoreError> {
        let current = lock(&self.state)
            .connectors
            .get(name)
            .map(|entry| entry.target);
        if current != Some(target) {
            self.write(&format!("target-state-{name}"), Some(&target_json(target)))
                .await?;
        }
        let mut value = json!({ "properties": config });
        if let Some(plugin) = &plugin {
            value["plugin"] = plugin_json(plugin);
        }
        self.write(&format!("connector-{name}"), Some(&value)).await
    }

    async fn put_target_state(&self, name: &str, target: TargetState) -> Result<(), StoreError> {
        self.write(&format!("target-state-{name}"), Some(&target_json(target)))
            .await
    }

    async fn put_task_configs(&self, name: &str, tasks: Vec<ConfigMap>) -> Result<(), StoreError> {
        for (id, task) in tasks.iter().enumerate() {
            let value = json!({ "properties": task }).to_string();
            self.topic
                .send(
                    format!("task-{name}-{id}").as_bytes(),
                    Some(value.as_bytes()),
                )
                .await
                .map_err(topic_error)?;
        }
        self.write(
            &format!("commit-{name}"),
            Some(&json!({"tasks": tasks.len()})),
        )
        .await
    }

    async fn remove_connector(&self, name: &str) -> Result<(), StoreError> {
        self.write(&format!("target-state-{name}"), None).await?;
        self.write(&format!("connector-{name}"), None).await
    }

    async fn load_tenants(&self) -> Result<BTreeMap<String, Value>, StoreError> {
        self.read_to_end().await?;
        Ok(lock(&self.state).tenants.clone())
    }

    async fn put_tenant(&self, name: &str, tenant: Option<Value>) -> Result<(), StoreError> {
        self.write(&format!("tenant-{name}"), tenant.as_ref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, key: &str, value: Option<Value>) -> TopicRecord {
        TopicRecord {
            partition: 0,
            offset,
            key: Some(key.as_bytes().to_vec()),
            value: value.map(|value| value.to_string().into_bytes()),
            timestamp_ms: None,
        }
    }

    #[test]
    fn records_in_kafka_connects_format_build_the_config_state() {
        let mut state = ConfigState::default();
        // Kafka Connect writes a new connector's initial state before its config.
        apply(
            &mut state,
            &record(
                0,
                "target-state-my-conn",
                Some(json!({"state": "PAUSED", "state.v2": "STOPPED"})),
            ),
        );
        apply(
            &mut state,
            &record(
                1,
                "connector-my-conn",
                Some(json!({"properties": {"connector.class": "X", "tasks.max": "2"}})),
            ),
        );
        let entry = &state.connectors["my-conn"];
        assert_eq!(entry.target, TargetState::Stopped);
        assert_eq!(entry.config["tasks.max"], "2");
        // Task configs count only once committed, and only complete.
        apply(
            &mut state,
            &record(2, "task-my-conn-0", Some(json!({"properties": {"a": "0"}}))),
        );
        assert!(state.connectors["my-conn"].tasks.is_empty());
        apply(
            &mut state,
            &record(3, "commit-my-conn", Some(json!({"tasks": 2}))),
        );
        assert!(
            state.connectors["my-conn"].tasks.is_empty(),
            "task 1 is missing"
        );
        apply(
            &mut state,
            &record(4, "task-my-conn-0", Some(json!({"properties": {"a": "0"}}))),
        );
        apply(
            &mut state,
            &record(5, "task-my-conn-1", Some(json!({"properties": {"a": "1"}}))),
        );
        apply(
            &mut state,
            &record(6, "commit-my-conn", Some(json!({"tasks": 2}))),
        );
        assert_eq!(state.connectors["my-conn"].tasks.len(), 2);
        assert_eq!(state.connectors["my-conn"].tasks[1]["a"], "1");
        // A restart request of a Java worker (no explicit list) and one of ours.
        let Some(ConfigEvent::Restart(request)) = apply(
            &mut state,
            &record(
                7,
                "restart-connector-my-conn",
                Some(json!({"only-failed": true, "include-tasks": true})),
            ),
        ) else {
            panic!("a restart event");
        };
        assert!(request.only_failed && request.include_tasks && request.tasks.is_empty());
        let Some(ConfigEvent::Restart(request)) = apply(
            &mut state,
            &record(
                8,
                "restart-connector-my-conn",
                Some(json!({"connector": false, "tasks": [1]})),
            ),
        ) else {
            panic!("a restart event");
        };
        assert!(!request.restart_connector);
        assert_eq!(request.tasks, [1]);
        // A tombstone deletes it.
        apply(&mut state, &record(9, "connector-my-conn", None));
        assert!(state.connectors.is_empty());
        assert_eq!(state.offset, 10);
    }

    #[test]
    fn values_are_written_as_kafka_connect_writes_them() {
        assert_eq!(
            target_json(TargetState::Stopped),
            json!({"state": "PAUSED", "state.v2": "STOPPED"})
        );
        assert_eq!(
            parse_target(&json!({"state": "PAUSED"})),
            Some(TargetState::Paused)
        );
        assert_eq!(task_key("a-b-12"), Some(("a-b", 12)));
    }
}
