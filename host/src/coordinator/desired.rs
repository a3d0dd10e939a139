//! The cluster's desired state: which connectors exist, with which config, target state,
//! plugin and task configs, as the config store says. Every change is written to the store
//! first and then to this view, so what a worker acts on is always durable; reads come from
//! the view and wait for nothing but a short lock. What this worker actually runs is the
//! herder's assignment (`Herder`'s running connectors), which follows this state.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use crate::{
    config::{ConnectorConfig, connector::TargetState},
    plugins::PluginRef,
    runtime::ConfigMap,
    storage::{ConfigBackingStore, Restored, StoreError},
};

/// One connector as the cluster wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub config: Arc<ConnectorConfig>,
    pub target: TargetState,
    /// The exact plugin it runs.
    pub plugin: PluginRef,
    /// Its task configs, as it generated them last (empty while stopped), with what
    /// config-provider references resolved to put back as the references.
    pub tasks: Vec<ConfigMap>,
}

/// The config store and the view of it this worker reads.
pub struct DesiredState {
    store: Arc<dyn ConfigBackingStore>,
    view: RwLock<BTreeMap<String, Desired>>,
    /// Distributed mode: writes go to the store only, and the view follows what the store
    /// reads back ([`Self::set`], [`Self::forget`]), so every worker, the writer included,
    /// acts on a change the same way.
    follows_store: bool,
}

impl DesiredState {
    pub fn new(store: Arc<dyn ConfigBackingStore>, follows_store: bool) -> Self {
        Self {
            store,
            view: RwLock::new(BTreeMap::new()),
            follows_store,
        }
    }

    /// What the store holds (to start a worker from).
    pub async fn stored(&self) -> Result<Vec<Restored>, StoreError> {
        self.store.load().await
    }

    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<Desired> {
        self.read().get(name).cloned()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// Creates or replaces a connector (its task configs are kept until it generates new
    /// ones).
    pub async fn put_connector(
        &self,
        name: &str,
        config: Arc<ConnectorConfig>,
        target: TargetState,
        plugin: PluginRef,
    ) -> Result<(), StoreError> {
        self.store
            .put_connector(name, config.raw.clone(), target, Some(plugin.clone()))
            .await?;
        if self.follows_store {
            return Ok(());
        }
        let mut view = self.write();
        let tasks = view.remove(name).map(|old| old.tasks).unwrap_or_default();
        view.insert(
            name.to_owned(),
            Desired {
                config,
                target,
                plugin,
                tasks,
            },
        );
        Ok(())
    }

    pub async fn put_target_state(
        &self,
        name: &str,
        target: TargetState,
    ) -> Result<(), StoreError> {
        self.store.put_target_state(name, target).await?;
        if self.follows_store {
            return Ok(());
        }
        if let Some(desired) = self.write().get_mut(name) {
            desired.target = target;
        }
        Ok(())
    }

    pub async fn put_task_configs(
        &self,
        name: &str,
        tasks: Vec<ConfigMap>,
    ) -> Result<(), StoreError> {
        self.store.put_task_configs(name, tasks.clone()).await?;
        if self.follows_store {
            return Ok(());
        }
        if let Some(desired) = self.write().get_mut(name) {
            desired.tasks = tasks;
        }
        Ok(())
    }

    pub async fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.store.remove_connector(name).await?;
        if !self.follows_store {
            self.write().remove(name);
        }
        Ok(())
    }

    /// Sets a connector's entry as the store already holds it (distributed mode: read from
    /// the config topic).
    pub fn set(&self, name: &str, desired: Desired) {
        self.write().insert(name.to_owned(), desired);
    }

    /// Forgets a connector the store no longer holds (distributed mode).
    pub fn forget(&self, name: &str) {
        self.write().remove(name);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Desired>> {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Desired>> {
        self.view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
