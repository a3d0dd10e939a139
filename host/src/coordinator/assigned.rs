//! A distributed worker's side of the herder: its view of the desired state follows the
//! config topic ([`Herder::sync_desired`]), it runs exactly what the leader assigned it
//! ([`Herder::apply_assignment`]) and carries out restart requests for what it runs
//! ([`Herder::restart_assigned`]).

use std::{collections::BTreeMap, sync::Arc};

use super::{
    Herder, Prepared, State, StoredConnector, Units, connector::Command, desired::Desired,
};
use crate::storage::kafka_config::RestartRequest;

impl Herder {
    /// Brings this worker's view of the desired state up to what the config topic says, and
    /// tells the connectors it runs what changed for them: a new config restarts what runs of
    /// the connector here, a target state is applied, new task configs restart the tasks
    /// whose config changed. A connector deleted from the topic is stopped.
    pub async fn sync_desired(&self) {
        let Some(store) = &self.distributed else {
            return;
        };
        let _following = self.following.lock().await;
        let stored = store.snapshot();
        let removed: Vec<String> = self
            .desired
            .names()
            .into_iter()
            .filter(|name| !stored.contains_key(name))
            .collect();
        for name in removed {
            self.desired.forget(&name);
            if self.running_map().contains_key(&name) {
                self.stop(&name).await;
                self.statuses.remove(&name);
            }
            self.services.topics.reset(&name);
            tracing::info!(connector = %name, "Connector deleted.");
        }
        for (name, entry) in stored {
            let current = self.desired.get(&name);
            let Some(current) = current.filter(|current| {
                current.config.raw == entry.config
                    && entry
                        .plugin
                        .as_ref()
                        .is_none_or(|pin| *pin == current.plugin)
            }) else {
                self.set_stored(&name, entry).await;
                continue;
            };
            let target_changed = current.target != entry.target;
            let tasks_changed = current.tasks != entry.tasks;
            if !target_changed && !tasks_changed {
                continue;
            }
            self.desired.set(
                &name,
                Desired {
                    target: entry.target,
                    tasks: entry.tasks,
                    ..current
                },
            );
            if let Some(running) = self.running_map().get(&name) {
                if target_changed {
                    let _ = running.commands.send(Command::SetTarget(entry.target));
                }
                if tasks_changed {
                    let _ = running.commands.send(Command::TaskConfigs);
                }
            }
        }
    }

    /// A connector whose config (or plugin) the config topic changed: parsed and put in the
    /// view, and what runs of it here restarted with it.
    async fn set_stored(&self, name: &str, entry: StoredConnector) {
        let config = match self.parse_config(entry.config.clone()) {
            Ok(config) => config,
            Err(error) => {
                tracing::error!(connector = name, error = %crate::error_chain(&error), "A connector in the config topic cannot be used on this worker.");
                return;
            }
        };
        let plugin = match entry.plugin.clone() {
            Some(pin) => pin,
            None => match self.registry.resolve_in(
                self.tenant_of(name),
                &config.class,
                config.plugin_version.as_deref(),
            ) {
                Ok(plugin) => self.registry.pin(&plugin),
                Err(error) => {
                    tracing::error!(connector = name, error = %crate::error_chain(&error), "The plugin of a connector in the config topic is not on this worker.");
                    return;
                }
            },
        };
        self.desired.set(
            name,
            Desired {
                config: Arc::new(config),
                target: entry.target,
                plugin,
                tasks: entry.tasks,
            },
        );
        let units = self
            .running_map()
            .get(name)
            .and_then(|running| running.units.clone());
        if let Some(units) = units {
            self.stop(name).await;
            self.start_assigned(name, units).await;
        }
    }

    /// What of each connector this worker runs.
    pub fn running_units(&self) -> BTreeMap<String, Units> {
        self.running_map()
            .iter()
            .filter_map(|(name, running)| Some((name.clone(), running.units.clone()?)))
            .collect()
    }

    /// Runs exactly `assigned` (what of each connector the leader gave this worker): stops
    /// what is no longer assigned (and waits for it to stop), tells the connectors that keep
    /// running what they run now, and starts the new ones.
    pub async fn apply_assignment(&self, assigned: BTreeMap<String, Units>) {
        let _following = self.following.lock().await;
        let revoked: Vec<String> = self
            .running_map()
            .keys()
            .filter(|name| !assigned.contains_key(*name))
            .cloned()
            .collect();
        futures::future::join_all(revoked.iter().map(|name| self.stop(name))).await;
        for (name, units) in assigned {
            {
                let mut running = self.running_map();
                if let Some(running) = running.get_mut(&name) {
                    if running.units.as_ref() != Some(&units) {
                        running.units = Some(units.clone());
                        let _ = running.commands.send(Command::Assign(units));
                    }
                    continue;
                }
            }
            self.start_assigned(&name, units).await;
        }
    }

    /// Starts the actor of a connector assigned to this worker, running `units` of it.
    async fn start_assigned(&self, name: &str, units: Units) {
        let Some(desired) = self.desired.get(name) else {
            tracing::warn!(
                connector = name,
                "Assigned a connector this worker has not read from the config topic yet."
            );
            return;
        };
        self.plugins_loaded().await;
        let mut config = (*desired.config).clone();
        let parts = self
            .resolve_parts(&mut config, Some(&desired.plugin))
            .map_err(|error| super::conceal_error(error, &config.secrets));
        match parts {
            Ok((plugin, transforms)) => {
                let prepared = Prepared {
                    config: Arc::new(config),
                    plugin,
                    transforms,
                    instance: None,
                };
                let started = self.start(name, prepared, desired.target, Some(units));
                // Once the connector started (or failed), so a revocation that follows
                // finds it whole.
                let _ = started.await;
            }
            Err(error) => {
                let trace = crate::error_chain(&error);
                tracing::error!(connector = name, error = %trace, "An assigned connector cannot start on this worker.");
                if units.connector
                    && let Ok(plugin) = self
                        .registry
                        .resolve_pinned_in(self.tenant_of(name), &desired.plugin)
                {
                    self.statuses
                        .set_connector(name, plugin.info.kind, State::Failed, Some(trace));
                }
            }
        }
    }

    /// Carries out a restart request for what this worker runs of the connector.
    pub fn restart_assigned(&self, request: &RestartRequest) {
        let running = self.running_map();
        let Some(running) = running.get(&request.connector) else {
            return;
        };
        let Some(units) = &running.units else {
            return;
        };
        let status = self.statuses.get(&request.connector);
        let failed = |task: Option<u32>| {
            status.as_ref().is_some_and(|status| {
                let state = match task {
                    None => Some(status.connector.state),
                    Some(task) => status.tasks.get(&task).map(|info| info.state),
                };
                state == Some(State::Failed)
            })
        };
        let (connector, tasks): (bool, Vec<u32>) = if request.explicit {
            (
                request.restart_connector && units.connector,
                request
                    .tasks
                    .iter()
                    .copied()
                    .filter(|task| units.tasks.contains(task))
                    .collect(),
            )
        } else {
            (
                units.connector && (!request.only_failed || failed(None)),
                if request.include_tasks {
                    units
                        .tasks
                        .iter()
                        .copied()
                        .filter(|task| !request.only_failed || failed(Some(*task)))
                        .collect()
                } else {
                    Vec::new()
                },
            )
        };
        if !connector && tasks.is_empty() {
            return;
        }
        let (done, _) = tokio::sync::oneshot::channel();
        let _ = running.commands.send(Command::Restart {
            connector,
            tasks,
            done,
        });
    }
}
