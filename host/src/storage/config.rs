//! Connector configs behind the config store seam ([`ConfigBackingStore`], Kafka Connect's
//! `ConfigBackingStore`): every connector's config, target state, the exact plugin it runs and
//! its task configs. A standalone worker keeps them in `<data.dir>/connectors.json`
//! ([`FileConfigStore`]), a distributed one in the config topic.
//!
//! The file is `{"version":1,"connectors":{"<name>":{"config":{...},"state":"RUNNING",
//! "plugin":{...},"tasks":[{...}]}}}` with `state` one of `RUNNING`, `PAUSED`, `STOPPED` (as
//! `initial_state`), `plugin` the plugin the connector runs (class, version, digest, whether
//! built in), so that it runs the same one after a restart whatever was installed meanwhile,
//! and `tasks` the task configs it generated last. Files written before `plugin` and `tasks`
//! existed still load. The file is replaced atomically (temporary file, fsync, rename, fsync
//! of the directory) after each change, on a blocking thread, never under a lock anything
//! else waits for.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{
    config::{ConnectorSubmission, InitialState, Settings, connector::TargetState},
    plugins::PluginRef,
    runtime::ConfigMap,
};

/// The file name inside `data.dir`.
pub const FILE_NAME: &str = "connectors.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to read connector configs from `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("connector config file `{path}` is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("failed to write connector configs to `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One stored connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConnector {
    pub config: Settings,
    pub target: TargetState,
    /// The plugin it runs.
    pub plugin: Option<PluginRef>,
    /// The task configs it generated last.
    pub tasks: Vec<ConfigMap>,
}

/// A connector read back from the store: its submission (the stored target state as
/// `initial_state`), the plugin it ran and its last task configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub submission: ConnectorSubmission,
    pub plugin: Option<PluginRef>,
    pub tasks: Vec<ConfigMap>,
}

/// Where connector configs are kept.
#[async_trait]
pub trait ConfigBackingStore: Send + Sync {
    /// Every stored connector.
    async fn load(&self) -> Result<Vec<Restored>, StoreError>;

    /// Stores a connector's config, target state and plugin, keeping its task configs.
    async fn put_connector(
        &self,
        name: &str,
        config: Settings,
        target: TargetState,
        plugin: Option<PluginRef>,
    ) -> Result<(), StoreError>;

    /// Stores a connector's target state; nothing for an unknown connector.
    async fn put_target_state(&self, name: &str, target: TargetState) -> Result<(), StoreError>;

    /// Stores a connector's task configs; nothing for an unknown connector.
    async fn put_task_configs(&self, name: &str, tasks: Vec<ConfigMap>) -> Result<(), StoreError>;

    /// Forgets a connector.
    async fn remove_connector(&self, name: &str) -> Result<(), StoreError>;
}

/// The config file of one standalone worker.
#[derive(Debug)]
pub struct FileConfigStore {
    path: PathBuf,
    /// What the file holds (after the last write).
    connectors: Mutex<BTreeMap<String, StoredConnector>>,
    /// Serializes writes, so an older snapshot never replaces a newer one.
    write_lock: tokio::sync::Mutex<()>,
}

impl FileConfigStore {
    /// The store of `<data_dir>/connectors.json`, read now (empty if it does not exist).
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let connectors = read_file(&path)?;
        Ok(Self {
            path,
            connectors: Mutex::new(connectors),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `change` to the connectors and writes the file.
    async fn change(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, StoredConnector>),
    ) -> Result<(), StoreError> {
        let _writing = self.write_lock.lock().await;
        let json = {
            let mut connectors = self.connectors.lock().expect("config store lock poisoned");
            change(&mut connectors);
            to_json(&connectors)
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_file(&path, &json))
            .await
            .map_err(|error| std::io::Error::other(error.to_string()))
            .and_then(|written| written)
            .map_err(|source| StoreError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

#[async_trait]
impl ConfigBackingStore for FileConfigStore {
    async fn load(&self) -> Result<Vec<Restored>, StoreError> {
        let connectors = self.connectors.lock().expect("config store lock poisoned");
        connectors
            .iter()
            .map(|(name, stored)| {
                let initial_state = match stored.target {
                    TargetState::Started => InitialState::Running,
                    TargetState::Paused => InitialState::Paused,
                    TargetState::Stopped => InitialState::Stopped,
                };
                let submission =
                    ConnectorSubmission::from_config(stored.config.clone(), initial_state)
                        .map_err(|error| StoreError::Corrupt {
                            path: self.path.clone(),
                            message: format!("connector {name}: {error}"),
                        })?;
                Ok(Restored {
                    submission,
                    plugin: stored.plugin.clone(),
                    tasks: stored.tasks.clone(),
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
        self.change(|connectors| {
            let tasks = connectors
                .remove(name)
                .map(|old| old.tasks)
                .unwrap_or_default();
            connectors.insert(
                name.to_owned(),
                StoredConnector {
                    config,
                    target,
                    plugin,
                    tasks,
                },
            );
        })
        .await
    }

    async fn put_target_state(&self, name: &str, target: TargetState) -> Result<(), StoreError> {
        self.change(|connectors| {
            if let Some(stored) = connectors.get_mut(name) {
                stored.target = target;
            }
        })
        .await
    }

    async fn put_task_configs(&self, name: &str, tasks: Vec<ConfigMap>) -> Result<(), StoreError> {
        self.change(|connectors| {
            if let Some(stored) = connectors.get_mut(name) {
                stored.tasks = tasks;
            }
        })
        .await
    }

    async fn remove_connector(&self, name: &str) -> Result<(), StoreError> {
        self.change(|connectors| {
            connectors.remove(name);
        })
        .await
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, StoredConnector>, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(StoreError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let corrupt = |message: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let entries = json
        .get("connectors")
        .and_then(Value::as_object)
        .ok_or_else(|| corrupt("missing `connectors` object".into()))?;
    let mut connectors = BTreeMap::new();
    for (name, entry) in entries {
        let config = string_map(entry.get("config")).ok_or_else(|| {
            corrupt(format!(
                "connector {name} has no `config` object of strings"
            ))
        })?;
        let state = entry
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("RUNNING");
        let target = InitialState::parse(state)
            .map_err(|_| corrupt(format!("connector {name}: unknown state `{state}`")))?
            .into();
        let plugin = match entry.get("plugin") {
            None | Some(Value::Null) => None,
            Some(plugin) => Some(plugin_ref(plugin).ok_or_else(|| {
                corrupt(format!(
                    "connector {name}: `plugin` is not a plugin reference"
                ))
            })?),
        };
        let tasks = match entry.get("tasks") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(tasks)) => tasks
                .iter()
                .map(|task| string_map(Some(task)))
                .collect::<Option<Vec<ConfigMap>>>()
                .ok_or_else(|| {
                    corrupt(format!(
                        "connector {name}: `tasks` holds a non-config entry"
                    ))
                })?,
            Some(_) => return Err(corrupt(format!("connector {name}: `tasks` is not a list"))),
        };
        connectors.insert(
            name.clone(),
            StoredConnector {
                config,
                target,
                plugin,
                tasks,
            },
        );
    }
    Ok(connectors)
}

/// A JSON object of strings as a map.
fn string_map(json: Option<&Value>) -> Option<BTreeMap<String, String>> {
    json?
        .as_object()?
        .iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect()
}

fn to_json(connectors: &BTreeMap<String, StoredConnector>) -> Value {
    let entries: serde_json::Map<String, Value> = connectors
        .iter()
        .map(|(name, stored)| {
            let state = match stored.target {
                TargetState::Started => "RUNNING",
                TargetState::Paused => "PAUSED",
                TargetState::Stopped => "STOPPED",
            };
            let plugin = stored.plugin.as_ref().map(|plugin| {
                json!({
                    "class": plugin.class,
                    "version": plugin.version,
                    "digest": plugin.digest,
                    "builtin": plugin.builtin,
                })
            });
            (
                name.clone(),
                json!({
                    "config": stored.config,
                    "state": state,
                    "plugin": plugin,
                    "tasks": stored.tasks,
                }),
            )
        })
        .collect();
    json!({"version": 1, "connectors": entries})
}

fn write_file(path: &Path, json: &Value) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
    // Serialized whole first: written token by token it takes a system call each.
    temp.write_all(&serde_json::to_vec_pretty(json)?)?;
    temp.flush()?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    std::fs::File::open(&dir)?.sync_all()
}

fn plugin_ref(json: &Value) -> Option<PluginRef> {
    let text = |key: &str| json.get(key)?.as_str().map(str::to_owned);
    Some(PluginRef {
        class: text("class")?,
        version: text("version")?,
        digest: text("digest")?,
        builtin: json.get("builtin")?.as_bool()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str) -> Settings {
        [("name", name), ("connector.class", "X")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn connectors_round_trip_with_their_states_plugins_and_task_configs() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileConfigStore::open(dir.path()).unwrap();
        assert!(store.load().await.unwrap().is_empty());
        let pin = PluginRef {
            class: "X".into(),
            version: "1.0".into(),
            digest: "sha256:00".into(),
            builtin: false,
        };
        store
            .put_connector("a", config("a"), TargetState::Started, Some(pin.clone()))
            .await
            .unwrap();
        store
            .put_connector("b", config("b"), TargetState::Started, None)
            .await
            .unwrap();
        let task: ConfigMap = [("task.id".to_owned(), "0".to_owned())].into();
        store
            .put_task_configs("a", vec![task.clone()])
            .await
            .unwrap();
        store
            .put_target_state("a", TargetState::Stopped)
            .await
            .unwrap();
        // A new config keeps the task configs until the connector generates new ones.
        store
            .put_connector("a", config("a"), TargetState::Stopped, Some(pin.clone()))
            .await
            .unwrap();

        let loaded = FileConfigStore::open(dir.path())
            .unwrap()
            .load()
            .await
            .unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].submission.name, "a");
        assert_eq!(loaded[0].submission.initial_state, InitialState::Stopped);
        assert_eq!(loaded[0].plugin, Some(pin));
        assert_eq!(loaded[0].tasks, vec![task]);
        assert_eq!(loaded[1].submission.config, config("b"));
        assert_eq!(loaded[1].submission.initial_state, InitialState::Running);
        assert_eq!(loaded[1].plugin, None);

        store.remove_connector("b").await.unwrap();
        let loaded = FileConfigStore::open(dir.path())
            .unwrap()
            .load()
            .await
            .unwrap();
        assert_eq!(loaded.len(), 1);
    }

    #[test]
    fn a_file_of_an_earlier_version_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            r#"{"version":1,"connectors":{"a":{"config":{"name":"a","connector.class":"X"},"state":"PAUSED"}}}"#,
        )
        .unwrap();
        let store = FileConfigStore::open(dir.path()).unwrap();
        let stored = &store.connectors.lock().unwrap()["a"];
        assert_eq!(stored.target, TargetState::Paused);
        assert!(stored.plugin.is_none() && stored.tasks.is_empty());
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{").unwrap();
        let error = FileConfigStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("connectors.json"), "{error}");
    }
}
