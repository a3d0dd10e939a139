//! The standalone connector config store: every connector's config and target state in
//! `<data.dir>/connectors.json`, replaced atomically (temporary file, fsync, rename, fsync of
//! the directory) after each change, so connectors created, changed, paused, stopped or
//! deleted over REST are the same after a worker restart.
//!
//! The file is `{"version":1,"connectors":{"<name>":{"config":{...},"state":"RUNNING",
//! "plugin":{...}}}}` with `state` one of `RUNNING`, `PAUSED`, `STOPPED` (as
//! `initial_state`) and `plugin` the exact plugin the connector runs (class, version, digest,
//! whether built in), so that it runs the same one after a restart whatever was installed
//! meanwhile. Files written before `plugin` existed still load; such connectors resolve their
//! class again.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use serde_json::{Value, json};

use crate::{
    config::{ConnectorSubmission, InitialState, Settings},
    plugins::PluginRef,
    worker::TargetState,
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
}

/// A connector read back from the store: its submission (the stored target state as
/// `initial_state`) and the plugin it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub submission: ConnectorSubmission,
    pub plugin: Option<PluginRef>,
}

/// The config file of one worker.
#[derive(Debug)]
pub struct ConfigStore {
    path: PathBuf,
}

impl ConfigStore {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored connectors as submissions whose `initial_state` is their stored target
    /// state; none when the file does not exist.
    pub fn load(&self) -> Result<Vec<Restored>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let corrupt = |message: String| StoreError::Corrupt {
            path: self.path.clone(),
            message,
        };
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let connectors = json
            .get("connectors")
            .and_then(Value::as_object)
            .ok_or_else(|| corrupt("missing `connectors` object".into()))?;
        let mut submissions = Vec::new();
        for (name, entry) in connectors {
            let config: Settings = entry
                .get("config")
                .and_then(Value::as_object)
                .ok_or_else(|| corrupt(format!("connector {name} has no `config` object")))?
                .iter()
                .map(|(key, value)| {
                    value
                        .as_str()
                        .map(|value| (key.clone(), value.to_owned()))
                        .ok_or_else(|| {
                            corrupt(format!("connector {name}: `{key}` is not a string"))
                        })
                })
                .collect::<Result<_, _>>()?;
            let state = entry
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("RUNNING");
            let initial_state = InitialState::parse(state)
                .map_err(|_| corrupt(format!("connector {name}: unknown state `{state}`")))?;
            let submission = ConnectorSubmission::from_config(config, initial_state)
                .map_err(|error| corrupt(format!("connector {name}: {error}")))?;
            let plugin = match entry.get("plugin") {
                None | Some(Value::Null) => None,
                Some(plugin) => Some(plugin_ref(plugin).ok_or_else(|| {
                    corrupt(format!(
                        "connector {name}: `plugin` is not a plugin reference"
                    ))
                })?),
            };
            submissions.push(Restored { submission, plugin });
        }
        Ok(submissions)
    }

    /// Replaces the file with these connectors.
    pub fn save(&self, connectors: &BTreeMap<String, StoredConnector>) -> Result<(), StoreError> {
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
                    json!({"config": stored.config, "state": state, "plugin": plugin}),
                )
            })
            .collect();
        let json = json!({"version": 1, "connectors": entries});
        self.write_file(&json).map_err(|source| StoreError::Write {
            path: self.path.clone(),
            source,
        })
    }

    fn write_file(&self, json: &Value) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
        serde_json::to_writer_pretty(&mut temp, json)?;
        temp.flush()?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|error| error.error)?;
        std::fs::File::open(&dir)?.sync_all()
    }
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

    #[test]
    fn connectors_round_trip_with_their_target_states() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        assert!(store.load().unwrap().is_empty());
        let config = |name: &str| -> Settings {
            [("name", name), ("connector.class", "X")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let connectors = BTreeMap::from([
            (
                "a".to_owned(),
                StoredConnector {
                    config: config("a"),
                    target: TargetState::Stopped,
                    plugin: Some(PluginRef {
                        class: "X".into(),
                        version: "1.0".into(),
                        digest: "sha256:00".into(),
                        builtin: false,
                    }),
                },
            ),
            (
                "b".to_owned(),
                StoredConnector {
                    config: config("b"),
                    target: TargetState::Started,
                    plugin: None,
                },
            ),
        ]);
        store.save(&connectors).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].submission.name, "a");
        assert_eq!(loaded[0].submission.initial_state, InitialState::Stopped);
        assert_eq!(loaded[0].plugin, connectors["a"].plugin);
        assert_eq!(loaded[1].submission.config, config("b"));
        assert_eq!(loaded[1].submission.initial_state, InitialState::Running);
        assert_eq!(loaded[1].plugin, None);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(dir.path());
        std::fs::write(store.path(), "{").unwrap();
        let error = store.load().unwrap_err().to_string();
        assert!(error.contains("connectors.json"), "{error}");
    }
}
