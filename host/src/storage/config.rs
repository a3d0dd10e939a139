//! Connector configs behind the config store seam ([`ConfigBackingStore`], Kafka Connect's
//! `ConfigBackingStore`): every connector's config, target state, the exact plugin it runs and
//! its task configs. A standalone worker keeps them in `<data.dir>/connectors.json`
//! ([`FileConfigStore`]), a distributed one in the config topic.
//!
//! The file is a log of JSON lines (`super::json_lines`), so a change costs what changed, not
//! every connector stored: a header line `{"version":2}`, then one line per change holding the
//! connector's whole entry, `{"connector":"<name>","entry":{"config":{...},"state":"RUNNING",
//! "plugin":{...},"tasks":[{...}]}}` (`"entry":null` removes it), with `state` one of
//! `RUNNING`, `PAUSED`, `STOPPED` (as `initial_state`), `plugin` the plugin the connector runs
//! (class, version, digest, whether built in), so that it runs the same one after a restart
//! whatever was installed meanwhile, and `tasks` the task configs it generated last. A change
//! is appended and fsynced before it is acknowledged, on a blocking thread, never under a lock
//! anything else waits for; a crash tears at most the last line, which the next start drops.
//! When the log holds more than twice what is live (and at least 1 MiB) it is rewritten
//! compacted by atomic replace. The one-document file of earlier versions
//! (`{"version":1,"connectors":{...}}`) is read and rewritten in the new form.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::json_lines::{self, Contents, LogFile, ReadError};
use crate::{
    config::{ConnectorSubmission, InitialState, Settings, connector::TargetState},
    plugins::PluginRef,
    runtime::ConfigMap,
};

/// The file name inside `data.dir`.
pub const FILE_NAME: &str = "connectors.json";

/// The first line of a log in the current format.
const HEADER: &str = r#"{"version":2}"#;

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
    /// The config topic (distributed mode) could not be read or written.
    #[error("config topic: {0}")]
    Topic(String),
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

impl StoredConnector {
    /// The connector to start from it: its submission (the stored target state as
    /// `initial_state`), plugin and task configs; why not, when its config is no connector's.
    pub fn restored(self) -> Result<Restored, String> {
        let initial_state = match self.target {
            TargetState::Started => InitialState::Running,
            TargetState::Paused => InitialState::Paused,
            TargetState::Stopped => InitialState::Stopped,
        };
        let submission = ConnectorSubmission::from_config(self.config, initial_state)
            .map_err(|error| error.to_string())?;
        Ok(Restored {
            submission,
            plugin: self.plugin,
            tasks: self.tasks,
        })
    }
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

    /// Every stored tenant, as `tenancy` wrote it (this store keeps it as opaque JSON).
    async fn load_tenants(&self) -> Result<BTreeMap<String, Value>, StoreError>;

    /// Stores a tenant (None: forgets it).
    async fn put_tenant(&self, name: &str, tenant: Option<Value>) -> Result<(), StoreError>;
}

/// The config file of one standalone worker.
#[derive(Debug)]
pub struct FileConfigStore {
    path: PathBuf,
    /// What the file holds (after the last write).
    state: Mutex<Connectors>,
    /// Serializes writes, so changes reach the log in the order they were made.
    write_lock: tokio::sync::Mutex<()>,
    file: Arc<LogFile>,
}

/// The stored connectors and tenants, and the bytes of each one's line in the log.
#[derive(Debug, Default)]
struct Connectors {
    entries: BTreeMap<String, StoredConnector>,
    tenants: BTreeMap<String, Value>,
    /// By connector name, or `\0` and the tenant's name for a tenant.
    line_bytes: HashMap<String, u64>,
    /// The sum of `line_bytes`.
    live_bytes: u64,
}

/// The `line_bytes` key of a tenant's line.
fn tenant_key(name: &str) -> String {
    format!("\0{name}")
}

impl Connectors {
    /// Records that `key`'s line (None: it was removed) is now `line`.
    fn note_line(&mut self, key: &str, line: Option<&str>) {
        if let Some(old) = self.line_bytes.remove(key) {
            self.live_bytes -= old;
        }
        if let Some(line) = line {
            let bytes = line.len() as u64 + 1;
            self.line_bytes.insert(key.to_owned(), bytes);
            self.live_bytes += bytes;
        }
    }

    fn lines(&self) -> Vec<String> {
        self.tenants
            .iter()
            .map(|(name, tenant)| tenant_line(name, Some(tenant)))
            .chain(
                self.entries
                    .iter()
                    .map(|(name, stored)| line_for(name, Some(stored))),
            )
            .collect()
    }
}

/// The log line of tenant `name` (None: removed).
fn tenant_line(name: &str, tenant: Option<&Value>) -> String {
    json!({"tenant": name, "entry": tenant}).to_string()
}

impl FileConfigStore {
    /// The store of `<data_dir>/connectors.json`, read now (empty if it does not exist).
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let corrupt = |message: String| StoreError::Corrupt {
            path: path.clone(),
            message,
        };
        let mut connectors = Connectors::default();
        let (bytes, rewrite) = match json_lines::read(&path, HEADER) {
            Ok(Contents::Lines { lines, bytes, torn }) => {
                for (number, json) in lines {
                    if let Some(tenant) = json.get("tenant").and_then(Value::as_str) {
                        let key = tenant_key(tenant);
                        match json.get("entry") {
                            Some(Value::Null) | None => {
                                connectors.note_line(&key, None);
                                connectors.tenants.remove(tenant);
                            }
                            Some(entry) => {
                                connectors.note_line(&key, Some(&json.to_string()));
                                connectors.tenants.insert(tenant.to_owned(), entry.clone());
                            }
                        }
                        continue;
                    }
                    let (name, entry) = parse_line(&json)
                        .map_err(|error| corrupt(format!("line {number}: {error}")))?;
                    match entry {
                        Some(stored) => {
                            connectors.note_line(&name, Some(&json.to_string()));
                            connectors.entries.insert(name, stored);
                        }
                        None => {
                            connectors.note_line(&name, None);
                            connectors.entries.remove(&name);
                        }
                    }
                }
                (bytes, torn)
            }
            Ok(Contents::Document(json)) => {
                connectors.entries = read_v1(&json).map_err(corrupt)?;
                let lines: Vec<(String, String)> = connectors
                    .entries
                    .iter()
                    .map(|(name, stored)| (name.clone(), line_for(name, Some(stored))))
                    .collect();
                for (name, line) in lines {
                    connectors.note_line(&name, Some(&line));
                }
                (0, true)
            }
            Err(ReadError::Corrupt(message)) => return Err(corrupt(message)),
            Err(ReadError::Io(source)) => return Err(StoreError::Read { path, source }),
        };
        let file = Arc::new(LogFile::new(&path, HEADER, bytes));
        if rewrite {
            file.rewrite(&connectors.lines())
                .map_err(|source| StoreError::Write {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(Self {
            path,
            state: Mutex::new(connectors),
            write_lock: tokio::sync::Mutex::new(()),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets tenant `name` (None: removes it) and writes its line, or the whole log compacted
    /// when it is due.
    async fn change_tenant(&self, name: &str, tenant: Option<Value>) -> Result<(), StoreError> {
        let _writing = self.write_lock.lock().await;
        let (lines, compact) = {
            let mut connectors = self.state.lock().expect("config store lock poisoned");
            let line = tenant_line(name, tenant.as_ref());
            let key = tenant_key(name);
            match tenant {
                Some(tenant) => {
                    connectors.note_line(&key, Some(&line));
                    connectors.tenants.insert(name.to_owned(), tenant);
                }
                None => {
                    connectors.note_line(&key, None);
                    connectors.tenants.remove(name);
                }
            }
            self.lines_to_write(&connectors, line)
        };
        self.write(lines, compact).await
    }

    /// What to write after a change whose line is `line`: that line, or every line when
    /// compaction is due (the bool).
    fn lines_to_write(&self, connectors: &Connectors, line: String) -> (Vec<String>, bool) {
        if self
            .file
            .due_compaction(line.len() as u64 + 1, connectors.live_bytes)
        {
            (connectors.lines(), true)
        } else {
            (vec![line], false)
        }
    }

    async fn write(&self, lines: Vec<String>, compact: bool) -> Result<(), StoreError> {
        self.file
            .write(lines, compact)
            .await
            .map_err(|source| StoreError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Applies `change` to connector `name` (None: absent) and writes its new line, or the
    /// whole log compacted when it is due.
    async fn change(
        &self,
        name: &str,
        change: impl FnOnce(&mut Option<StoredConnector>),
    ) -> Result<(), StoreError> {
        let _writing = self.write_lock.lock().await;
        let (lines, compact) = {
            let mut connectors = self.state.lock().expect("config store lock poisoned");
            let mut entry = connectors.entries.remove(name);
            change(&mut entry);
            let line = line_for(name, entry.as_ref());
            match entry {
                Some(stored) => {
                    connectors.note_line(name, Some(&line));
                    connectors.entries.insert(name.to_owned(), stored);
                }
                None => connectors.note_line(name, None),
            }
            self.lines_to_write(&connectors, line)
        };
        self.write(lines, compact).await
    }
}

#[async_trait]
impl ConfigBackingStore for FileConfigStore {
    async fn load(&self) -> Result<Vec<Restored>, StoreError> {
        let connectors = self.state.lock().expect("config store lock poisoned");
        connectors
            .entries
            .iter()
            .map(|(name, stored)| {
                stored
                    .clone()
                    .restored()
                    .map_err(|error| StoreError::Corrupt {
                        path: self.path.clone(),
                        message: format!("connector {name}: {error}"),
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
        self.change(name, |entry| {
            let tasks = entry.take().map(|old| old.tasks).unwrap_or_default();
            *entry = Some(StoredConnector {
                config,
                target,
                plugin,
                tasks,
            });
        })
        .await
    }

    async fn put_target_state(&self, name: &str, target: TargetState) -> Result<(), StoreError> {
        self.change(name, |entry| {
            if let Some(stored) = entry {
                stored.target = target;
            }
        })
        .await
    }

    async fn put_task_configs(&self, name: &str, tasks: Vec<ConfigMap>) -> Result<(), StoreError> {
        self.change(name, |entry| {
            if let Some(stored) = entry {
                stored.tasks = tasks;
            }
        })
        .await
    }

    async fn remove_connector(&self, name: &str) -> Result<(), StoreError> {
        self.change(name, |entry| *entry = None).await
    }

    async fn load_tenants(&self) -> Result<BTreeMap<String, Value>, StoreError> {
        Ok(self
            .state
            .lock()
            .expect("config store lock poisoned")
            .tenants
            .clone())
    }

    async fn put_tenant(&self, name: &str, tenant: Option<Value>) -> Result<(), StoreError> {
        self.change_tenant(name, tenant).await
    }
}

/// The connectors of a one-document file of the earlier format.
fn read_v1(json: &Value) -> Result<BTreeMap<String, StoredConnector>, String> {
    let entries = json
        .get("connectors")
        .and_then(Value::as_object)
        .ok_or("the first line is neither the log's header nor a connectors document")?;
    entries
        .iter()
        .map(|(name, entry)| Ok((name.clone(), parse_entry(name, entry)?)))
        .collect()
}

/// A log line: the connector's name and its entry (None: removed).
fn parse_line(json: &Value) -> Result<(String, Option<StoredConnector>), String> {
    let name = json
        .get("connector")
        .and_then(Value::as_str)
        .ok_or("a line without `connector`")?;
    match json.get("entry") {
        Some(Value::Null) => Ok((name.to_owned(), None)),
        Some(entry) => Ok((name.to_owned(), Some(parse_entry(name, entry)?))),
        None => Err(format!("no `entry` for connector {name}")),
    }
}

fn parse_entry(name: &str, entry: &Value) -> Result<StoredConnector, String> {
    let config = string_map(entry.get("config"))
        .ok_or_else(|| format!("connector {name} has no `config` object of strings"))?;
    let state = entry
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("RUNNING");
    let target = InitialState::parse(state)
        .map_err(|_| format!("connector {name}: unknown state `{state}`"))?
        .into();
    let plugin = match entry.get("plugin") {
        None | Some(Value::Null) => None,
        Some(plugin) => Some(
            plugin_ref(plugin)
                .ok_or_else(|| format!("connector {name}: `plugin` is not a plugin reference"))?,
        ),
    };
    let tasks = match entry.get("tasks") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tasks)) => tasks
            .iter()
            .map(|task| string_map(Some(task)))
            .collect::<Option<Vec<ConfigMap>>>()
            .ok_or_else(|| format!("connector {name}: `tasks` holds a non-config entry"))?,
        Some(_) => return Err(format!("connector {name}: `tasks` is not a list")),
    };
    Ok(StoredConnector {
        config,
        target,
        plugin,
        tasks,
    })
}

/// A JSON object of strings as a map.
fn string_map(json: Option<&Value>) -> Option<BTreeMap<String, String>> {
    json?
        .as_object()?
        .iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect()
}

/// The log line of connector `name` holding `stored` (None: removed).
fn line_for(name: &str, stored: Option<&StoredConnector>) -> String {
    let entry = stored.map(|stored| {
        let state = match stored.target {
            TargetState::Started => "RUNNING",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        };
        let plugin = stored.plugin.as_ref().map(plugin_json);
        json!({
            "config": stored.config,
            "state": state,
            "plugin": plugin,
            "tasks": stored.tasks,
        })
    });
    json!({"connector": name, "entry": entry}).to_string()
}

/// A plugin pin as stored (beside a connector's config, in the file and in the config topic).
pub(super) fn plugin_json(plugin: &PluginRef) -> Value {
    json!({
        "class": plugin.class,
        "version": plugin.version,
        "digest": plugin.digest,
        "builtin": plugin.builtin,
    })
}

/// [`plugin_json`] read back.
pub(super) fn plugin_ref(json: &Value) -> Option<PluginRef> {
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
        let stored = &store.state.lock().unwrap().entries["a"];
        assert_eq!(stored.target, TargetState::Paused);
        assert!(stored.plugin.is_none() && stored.tasks.is_empty());
        // Rewritten in the current form.
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
    }

    #[tokio::test]
    async fn a_change_appends_one_line_and_the_log_is_compacted_when_mostly_dead() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileConfigStore::open(dir.path()).unwrap();
        for name in ["a", "b", "c"] {
            store
                .put_connector(name, config(name), TargetState::Started, None)
                .await
                .unwrap();
        }
        let size = || std::fs::metadata(store.path()).unwrap().len();
        let before = size();
        store
            .put_target_state("b", TargetState::Paused)
            .await
            .unwrap();
        let line = line_for(
            "b",
            Some(&StoredConnector {
                config: config("b"),
                target: TargetState::Paused,
                plugin: None,
                tasks: Vec::new(),
            }),
        );
        assert_eq!(size(), before + line.len() as u64 + 1);
        // Rewriting one connector's tasks over and over keeps the file a small multiple of
        // what is live.
        let tasks: Vec<ConfigMap> = (0..20)
            .map(|i| {
                [
                    ("task.id".to_owned(), i.to_string()),
                    ("x".into(), "y".repeat(500)),
                ]
                .into()
            })
            .collect();
        for _ in 0..300 {
            store.put_task_configs("a", tasks.clone()).await.unwrap();
        }
        let live: u64 = store.state.lock().unwrap().live_bytes;
        assert!(
            size() <= (2 * live).max(json_lines::MIN_COMPACTION_BYTES) + (32 << 10),
            "{} bytes for {live} live",
            size()
        );
        let loaded = FileConfigStore::open(dir.path())
            .unwrap()
            .load()
            .await
            .unwrap();
        assert_eq!(loaded.len(), 3);
        assert_eq!(loaded[0].tasks, tasks);
        assert_eq!(loaded[1].submission.initial_state, InitialState::Paused);
    }

    #[tokio::test]
    async fn a_torn_last_change_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileConfigStore::open(dir.path()).unwrap();
        store
            .put_connector("a", config("a"), TargetState::Started, None)
            .await
            .unwrap();
        drop(store);
        let path = dir.path().join(FILE_NAME);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"connector":"b","entry":{"con"#);
        std::fs::write(&path, text).unwrap();
        let store = FileConfigStore::open(dir.path()).unwrap();
        store
            .put_connector("c", config("c"), TargetState::Started, None)
            .await
            .unwrap();
        let loaded = FileConfigStore::open(dir.path())
            .unwrap()
            .load()
            .await
            .unwrap();
        let names: Vec<&str> = loaded.iter().map(|r| r.submission.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{").unwrap();
        let error = FileConfigStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("connectors.json"), "{error}");
    }
}
