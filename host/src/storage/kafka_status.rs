//! The distributed status store ([`KafkaStatusStore`]): connector and task states in the
//! status topic (`status.storage.topic`, compacted), keyed and valued as Kafka Connect writes
//! them (`status-connector-<c>`, `status-task-<c>-<n>`: `{"state","trace","worker_id",
//! "generation"}`, plus `type` and `version`, which Kafka Connect ignores). Every worker
//! writes the states of what it runs and reads everyone's. The generation is the assignment
//! epoch the writer acts on: a state from another worker replaces the one shown only if its
//! generation is not older, so a worker that lost its work cannot overwrite what the new one
//! reports.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use serde_json::{Value, json};

use super::{
    status::{ConnectorStatus, State, StateInfo, StatusBackingStore},
    topic::{InternalTopic, TopicError, TopicRecord},
};
use crate::runtime::PluginKind;

#[derive(Debug, Clone)]
struct Stamped {
    info: StateInfo,
    generation: i64,
}

#[derive(Debug, Default)]
struct Entry {
    connector: Option<Stamped>,
    tasks: BTreeMap<u32, Stamped>,
    kind: Option<PluginKind>,
    version: Option<String>,
}

type Statuses = BTreeMap<String, Entry>;

/// States in the status topic.
pub struct KafkaStatusStore {
    worker_id: String,
    /// The assignment epoch this worker acts on.
    generation: Arc<AtomicI64>,
    topic: InternalTopic,
    state: Arc<Mutex<Statuses>>,
}

impl KafkaStatusStore {
    pub fn open(
        settings: &crate::log::kafka::KafkaSettings,
        topic: &str,
        partitions: i32,
        worker_id: String,
        generation: Arc<AtomicI64>,
        timeout: std::time::Duration,
    ) -> Result<Self, TopicError> {
        let state = Arc::new(Mutex::new(Statuses::new()));
        let topic = {
            let state = state.clone();
            InternalTopic::open(
                settings,
                topic,
                partitions,
                &format!("{worker_id}-statuses"),
                timeout,
                move |record| apply(&mut lock(&state), &record),
            )?
        };
        Ok(Self {
            worker_id,
            generation,
            topic,
            state,
        })
    }

    /// Waits until this worker read every state written before the call.
    pub async fn read_to_end(&self) -> Result<(), TopicError> {
        self.topic.read_to_end().await
    }

    fn stamped(&self, state: State, trace: Option<String>) -> Stamped {
        Stamped {
            info: StateInfo {
                state,
                trace,
                worker_id: self.worker_id.clone(),
            },
            generation: self.generation.load(Ordering::SeqCst),
        }
    }

    fn write(&self, key: &str, stamped: &Stamped, kind: Option<PluginKind>, version: Option<&str>) {
        let value = json!({
            "state": stamped.info.state.name(),
            "trace": stamped.info.trace,
            "worker_id": stamped.info.worker_id,
            "generation": stamped.generation,
            "type": kind.map(PluginKind::name),
            "version": version,
        });
        self.topic
            .send_nowait(key.as_bytes(), Some(value.to_string().as_bytes()));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `new` may replace `current` (Kafka Connect's rule: same worker, or a generation
/// no older).
fn replaces(current: Option<&Stamped>, new: &Stamped) -> bool {
    current.is_none_or(|current| {
        current.info.worker_id == new.info.worker_id || new.generation >= current.generation
    })
}

fn parse_state(name: &str) -> Option<State> {
    Some(match name {
        "UNASSIGNED" => State::Unassigned,
        "RUNNING" => State::Running,
        "PAUSED" => State::Paused,
        "STOPPED" => State::Stopped,
        "FAILED" => State::Failed,
        "RESTARTING" => State::Restarting,
        "DESTROYED" => return None,
        _ => return None,
    })
}

fn parse_kind(name: &str) -> Option<PluginKind> {
    match name {
        "source" => Some(PluginKind::Source),
        "sink" => Some(PluginKind::Sink),
        _ => None,
    }
}

fn apply(statuses: &mut Statuses, record: &TopicRecord) {
    let Some(key) = record.key.as_deref().map(String::from_utf8_lossy) else {
        return;
    };
    let value: Option<Value> = record
        .value
        .as_deref()
        .and_then(|bytes| serde_json::from_slice(bytes).ok());
    let stamped = value.as_ref().and_then(|value| {
        Some(Stamped {
            info: StateInfo {
                state: parse_state(value.get("state")?.as_str()?)?,
                trace: value
                    .get("trace")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                worker_id: value
                    .get("worker_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
            generation: value.get("generation").and_then(Value::as_i64).unwrap_or(0),
        })
    });
    let kind = value
        .as_ref()
        .and_then(|value| value.get("type")?.as_str())
        .and_then(parse_kind);
    let version = value
        .as_ref()
        .and_then(|value| value.get("version")?.as_str())
        .map(str::to_owned);
    if let Some(name) = key.strip_prefix("status-connector-") {
        match stamped {
            None => {
                if let Some(entry) = statuses.get_mut(name) {
                    entry.connector = None;
                    if entry.tasks.is_empty() {
                        statuses.remove(name);
                    }
                }
            }
            Some(stamped) => {
                let entry = statuses.entry(name.to_owned()).or_default();
                if replaces(entry.connector.as_ref(), &stamped) {
                    entry.connector = Some(stamped);
                    entry.kind = kind.or(entry.kind);
                    entry.version = version.or(entry.version.take());
                }
            }
        }
    } else if let Some(rest) = key.strip_prefix("status-task-") {
        let Some((name, task)) = rest
            .rsplit_once('-')
            .and_then(|(name, task)| Some((name, task.parse::<u32>().ok()?)))
        else {
            return;
        };
        match stamped {
            None => {
                if let Some(entry) = statuses.get_mut(name) {
                    entry.tasks.remove(&task);
                    if entry.tasks.is_empty() && entry.connector.is_none() {
                        statuses.remove(name);
                    }
                }
            }
            Some(stamped) => {
                let entry = statuses.entry(name.to_owned()).or_default();
                if replaces(entry.tasks.get(&task), &stamped) {
                    entry.tasks.insert(task, stamped);
                    entry.kind = entry.kind.or(kind);
                    if entry.version.is_none() {
                        entry.version = version;
                    }
                }
            }
        }
    }
}

impl StatusBackingStore for KafkaStatusStore {
    fn get(&self, connector: &str) -> Option<ConnectorStatus> {
        let statuses = lock(&self.state);
        let entry = statuses.get(connector)?;
        Some(ConnectorStatus {
            name: connector.to_owned(),
            kind: entry.kind.unwrap_or(PluginKind::Source),
            connector: entry
                .connector
                .as_ref()
                .map(|stamped| stamped.info.clone())
                .unwrap_or(StateInfo {
                    state: State::Unassigned,
                    trace: None,
                    worker_id: String::new(),
                }),
            tasks: entry
                .tasks
                .iter()
                .map(|(id, stamped)| (*id, stamped.info.clone()))
                .collect(),
            version: entry.version.clone(),
        })
    }

    fn set_connector(
        &self,
        connector: &str,
        kind: PluginKind,
        state: State,
        trace: Option<String>,
    ) {
        let stamped = self.stamped(state, trace);
        let version = {
            let mut statuses = lock(&self.state);
            let entry = statuses.entry(connector.to_owned()).or_default();
            let changed = entry.connector.as_ref().is_none_or(|current| {
                current.info.state != state || current.info.trace != stamped.info.trace
            });
            if changed {
                match &stamped.info.trace {
                    Some(trace) => {
                        tracing::error!(connector, state = state.name(), trace = %trace, "Connector state changed.")
                    }
                    None => {
                        tracing::info!(connector, state = state.name(), "Connector state changed.")
                    }
                }
            }
            entry.connector = Some(stamped.clone());
            entry.kind = Some(kind);
            entry.version.clone()
        };
        self.write(
            &format!("status-connector-{connector}"),
            &stamped,
            Some(kind),
            version.as_deref(),
        );
    }

    fn set_task(&self, connector: &str, task: u32, state: State, trace: Option<String>) {
        let stamped = self.stamped(state, trace);
        let (kind, version) = {
            let mut statuses = lock(&self.state);
            let entry = statuses.entry(connector.to_owned()).or_default();
            let changed = entry.tasks.get(&task).is_none_or(|current| {
                current.info.state != state
                    || current.info.trace != stamped.info.trace
                    || current.info.worker_id != stamped.info.worker_id
            });
            if changed {
                match &stamped.info.trace {
                    Some(trace) => {
                        tracing::error!(connector, task, state = state.name(), trace = %trace, "Task state changed.")
                    }
                    None => {
                        tracing::info!(connector, task, state = state.name(), "Task state changed.")
                    }
                }
            }
            entry.tasks.insert(task, stamped.clone());
            (entry.kind, entry.version.clone())
        };
        self.write(
            &format!("status-task-{connector}-{task}"),
            &stamped,
            kind,
            version.as_deref(),
        );
    }

    fn set_version(&self, connector: &str, version: &str) {
        let mut statuses = lock(&self.state);
        statuses.entry(connector.to_owned()).or_default().version = Some(version.to_owned());
    }

    fn retain_tasks(&self, connector: &str, count: u32) {
        let removed: Vec<u32> = {
            let mut statuses = lock(&self.state);
            let Some(entry) = statuses.get_mut(connector) else {
                return;
            };
            let removed = entry
                .tasks
                .keys()
                .copied()
                .filter(|task| *task >= count)
                .collect();
            entry.tasks.retain(|task, _| *task < count);
            removed
        };
        for task in removed {
            self.topic
                .send_nowait(format!("status-task-{connector}-{task}").as_bytes(), None);
        }
    }

    fn remove(&self, connector: &str) {
        let tasks: Vec<u32> = lock(&self.state)
            .remove(connector)
            .map(|entry| entry.tasks.into_keys().collect())
            .unwrap_or_default();
        for task in tasks {
            self.topic
                .send_nowait(format!("status-task-{connector}-{task}").as_bytes(), None);
        }
        self.topic
            .send_nowait(format!("status-connector-{connector}").as_bytes(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, value: Value) -> TopicRecord {
        TopicRecord {
            partition: 0,
            offset: 0,
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.to_string().into_bytes()),
            timestamp_ms: None,
        }
    }

    #[test]
    fn an_older_generation_from_another_worker_does_not_replace_a_state() {
        let mut statuses = Statuses::new();
        let state = |worker: &str, generation: i64, state: &str| json!({"state": state, "trace": null, "worker_id": worker, "generation": generation});
        apply(
            &mut statuses,
            &record("status-task-c-1-0", state("a:1", 3, "RUNNING")),
        );
        // The worker that ran it before, writing late with the generation it had.
        apply(
            &mut statuses,
            &record("status-task-c-1-0", state("b:1", 2, "FAILED")),
        );
        let task = &statuses["c-1"].tasks[&0];
        assert_eq!(
            (task.info.worker_id.as_str(), task.info.state),
            ("a:1", State::Running)
        );
        // The same worker always replaces its own; a newer generation anyone's.
        apply(
            &mut statuses,
            &record("status-task-c-1-0", state("a:1", 1, "PAUSED")),
        );
        assert_eq!(statuses["c-1"].tasks[&0].info.state, State::Paused);
        apply(
            &mut statuses,
            &record("status-task-c-1-0", state("b:1", 4, "RUNNING")),
        );
        assert_eq!(statuses["c-1"].tasks[&0].info.worker_id, "b:1");
    }
}
