//! Connector and task states as Kafka Connect reports them (`UNASSIGNED`, `RUNNING`,
//! `PAUSED`, `STOPPED`, `FAILED` with a trace, `RESTARTING`), behind the status store seam
//! ([`StatusBackingStore`], Kafka Connect's `StatusBackingStore`): in memory for a standalone
//! worker ([`MemoryStatusStore`], as Kafka Connect's standalone worker keeps them), in the
//! status topic for a distributed one. Only the coordinator writes them; every transition is
//! logged.

use std::{collections::BTreeMap, sync::Mutex};

use crate::runtime::PluginKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            Self::Unassigned => "UNASSIGNED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Stopped => "STOPPED",
            Self::Failed => "FAILED",
            Self::Restarting => "RESTARTING",
        }
    }
}

/// The state of a connector or task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateInfo {
    pub state: State,
    /// Why it failed, for `FAILED`.
    pub trace: Option<String>,
    pub worker_id: String,
}

/// A connector's status, as `GET /connectors/{name}/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorStatus {
    pub name: String,
    pub kind: PluginKind,
    pub connector: StateInfo,
    pub tasks: BTreeMap<u32, StateInfo>,
    /// The version of the plugin the connector and its tasks run (KIP-891 shows it on both).
    pub version: Option<String>,
}

/// Where connector and task states are kept and read.
pub trait StatusBackingStore: Send + Sync {
    /// A connector's status, with every task's.
    fn get(&self, connector: &str) -> Option<ConnectorStatus>;

    /// Sets the connector's state (creating its status).
    fn set_connector(&self, connector: &str, kind: PluginKind, state: State, trace: Option<String>);

    /// Sets a task's state; nothing for a connector without a status.
    fn set_task(&self, connector: &str, task: u32, state: State, trace: Option<String>);

    fn set_version(&self, connector: &str, version: &str);

    /// Forgets tasks that no longer exist (after a reconfiguration to fewer tasks or a stop).
    fn retain_tasks(&self, connector: &str, count: u32);

    /// Forgets a connector's status.
    fn remove(&self, connector: &str);
}

/// The statuses of a standalone worker, in memory.
#[derive(Debug)]
pub struct MemoryStatusStore {
    worker_id: String,
    statuses: Mutex<BTreeMap<String, ConnectorStatus>>,
}

impl MemoryStatusStore {
    pub fn new(worker_id: String) -> Self {
        Self {
            worker_id,
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    fn info(&self, state: State, trace: Option<String>) -> StateInfo {
        StateInfo {
            state,
            trace,
            worker_id: self.worker_id.clone(),
        }
    }
}

impl StatusBackingStore for MemoryStatusStore {
    fn get(&self, connector: &str) -> Option<ConnectorStatus> {
        self.statuses
            .lock()
            .expect("status lock poisoned")
            .get(connector)
            .cloned()
    }

    fn set_connector(
        &self,
        connector: &str,
        kind: PluginKind,
        state: State,
        trace: Option<String>,
    ) {
        let mut statuses = self.statuses.lock().expect("status lock poisoned");
        let status = statuses
            .entry(connector.to_owned())
            .or_insert_with(|| ConnectorStatus {
                name: connector.to_owned(),
                kind,
                connector: self.info(State::Unassigned, None),
                tasks: BTreeMap::new(),
                version: None,
            });
        if status.connector.state != state || status.connector.trace != trace {
            match &trace {
                Some(trace) => {
                    tracing::error!(connector, state = state.name(), trace = %trace, "Connector state changed.")
                }
                None => tracing::info!(connector, state = state.name(), "Connector state changed."),
            }
        }
        status.connector = self.info(state, trace);
    }

    fn set_task(&self, connector: &str, task: u32, state: State, trace: Option<String>) {
        let mut statuses = self.statuses.lock().expect("status lock poisoned");
        let Some(status) = statuses.get_mut(connector) else {
            return;
        };
        let changed = status
            .tasks
            .get(&task)
            .is_none_or(|current| current.state != state || current.trace != trace);
        if changed {
            match &trace {
                Some(trace) => {
                    tracing::error!(connector, task, state = state.name(), trace = %trace, "Task state changed.")
                }
                None => {
                    tracing::info!(connector, task, state = state.name(), "Task state changed.")
                }
            }
        }
        status.tasks.insert(task, self.info(state, trace));
    }

    fn set_version(&self, connector: &str, version: &str) {
        let mut statuses = self.statuses.lock().expect("status lock poisoned");
        if let Some(status) = statuses.get_mut(connector) {
            status.version = Some(version.to_owned());
        }
    }

    fn retain_tasks(&self, connector: &str, count: u32) {
        let mut statuses = self.statuses.lock().expect("status lock poisoned");
        if let Some(status) = statuses.get_mut(connector) {
            status.tasks.retain(|task, _| *task < count);
        }
    }

    fn remove(&self, connector: &str) {
        self.statuses
            .lock()
            .expect("status lock poisoned")
            .remove(connector);
    }
}
