//! Connector offsets (KIP-875) as the herder exposes them: a source connector's offsets from
//! the worker's offset store, a sink connector's from its consumer group `connect-<name>` in
//! the log. Altering and resetting them requires the connector to be STOPPED with no tasks.
//! Typed: the REST layer reads and writes their JSON.

use super::{Herder, HerderError};
use crate::{data::OffsetMap, log::TopicPartition, runtime::PluginKind, worker::TargetState};

/// A sink connector's consumer group.
pub fn sink_group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// A connector's offsets, by its type.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorOffsets {
    /// Source partitions and their offsets.
    Source(Vec<(OffsetMap, OffsetMap)>),
    /// Topic partitions and the next offset to read.
    Sink(Vec<(TopicPartition, i64)>),
}

/// Offsets to write: a partition's new offset, or None to remove it.
#[derive(Debug, Clone, PartialEq)]
pub enum OffsetChange {
    Source(Vec<(OffsetMap, Option<OffsetMap>)>),
    Sink(Vec<(TopicPartition, Option<i64>)>),
}

impl Herder {
    /// The keys of connector `name`'s config its plugin declares `PASSWORD`.
    pub fn password_keys(&self, name: &str) -> Vec<String> {
        let Some(desired) = self.desired.get(name) else {
            return Vec::new();
        };
        self.registry
            .resolve_pinned_in(self.tenant_of(name), &desired.plugin)
            .map(|plugin| {
                plugin
                    .info
                    .config_def
                    .iter()
                    .filter(|key| key.ty == crate::config::def::ConfigType::Password)
                    .map(|key| key.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The connector's type (never `Transform`), or NotFound: that of the plugin it runs.
    pub async fn connector_kind(&self, name: &str) -> Result<PluginKind, HerderError> {
        let desired = self
            .desired
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let kind = self
            .registry
            .resolve_pinned_in(self.tenant_of(name), &desired.plugin)?
            .info
            .kind;
        if !kind.is_connector() {
            return Err(HerderError::Validation(format!(
                "{} is a transformation, not a connector",
                desired.config.class
            )));
        }
        Ok(kind)
    }

    /// A connector's offsets, in any state.
    pub async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, HerderError> {
        Ok(match self.connector_kind(name).await? {
            PluginKind::Source => {
                ConnectorOffsets::Source(self.services.offsets.connector_offsets(name))
            }
            PluginKind::Sink | PluginKind::Transform => {
                ConnectorOffsets::Sink(self.sink_offsets(name).await?)
            }
        })
    }

    /// A sink connector's consumer group's committed offsets.
    async fn sink_offsets(&self, name: &str) -> Result<Vec<(TopicPartition, i64)>, HerderError> {
        Ok(self
            .services
            .log
            .committed_offsets(&sink_group(name))
            .await
            .map_err(|error| HerderError::OffsetsFailed(crate::error_chain(&error)))?
            .into_iter()
            .map(|offset| {
                (
                    TopicPartition::new(offset.topic, offset.partition),
                    offset.offset,
                )
            })
            .collect())
    }

    /// Checks that the connector is STOPPED with no task configs left.
    async fn require_stopped(&self, name: &str) -> Result<PluginKind, HerderError> {
        let kind = self.connector_kind(name).await?;
        let stopped = self.target_state(name).await == Some(TargetState::Stopped)
            && self
                .task_configs(name)
                .await
                .is_some_and(|configs| configs.is_empty());
        if !stopped {
            return Err(HerderError::NotStopped(name.to_owned()));
        }
        Ok(kind)
    }

    /// Adds or overwrites (None: removes) the listed partitions' offsets of a STOPPED
    /// connector; the change must fit the connector's type.
    pub async fn alter_offsets(&self, name: &str, change: OffsetChange) -> Result<(), HerderError> {
        let kind = self.connector_kind(name).await?;
        match (&change, kind) {
            (OffsetChange::Source(_), PluginKind::Source)
            | (OffsetChange::Sink(_), PluginKind::Sink) => {}
            _ => {
                return Err(HerderError::BadOffsets(format!(
                    "the offsets are not a {} connector's",
                    kind.name()
                )));
            }
        }
        self.require_stopped(name).await?;
        self.write_offsets(name, change).await
    }

    /// Removes every offset of a STOPPED connector.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        let change = match self.require_stopped(name).await? {
            PluginKind::Source => OffsetChange::Source(
                self.services
                    .offsets
                    .connector_offsets(name)
                    .into_iter()
                    .map(|(partition, _)| (partition, None))
                    .collect(),
            ),
            PluginKind::Sink | PluginKind::Transform => OffsetChange::Sink(
                self.sink_offsets(name)
                    .await?
                    .into_iter()
                    .map(|(partition, _)| (partition, None))
                    .collect(),
            ),
        };
        self.write_offsets(name, change).await
    }

    async fn write_offsets(&self, name: &str, change: OffsetChange) -> Result<(), HerderError> {
        match change {
            OffsetChange::Source(offsets) => {
                if offsets.is_empty() {
                    return Ok(());
                }
                self.services
                    .offsets
                    .put(name, offsets, usize::MAX)
                    .await
                    .map_err(|error| HerderError::OffsetsFailed(crate::error_chain(&error)))
            }
            OffsetChange::Sink(offsets) => {
                if offsets.is_empty() {
                    return Ok(());
                }
                self.services
                    .log
                    .alter_committed_offsets(&sink_group(name), &offsets)
                    .await
                    .map_err(|error| {
                        HerderError::OffsetsFailed(format!(
                            "Failed to alter consumer group offsets for connector {name} either because its tasks haven't stopped completely yet or the connector was resumed before the request to alter its offsets could be successfully completed. If the connector is in a stopped state, this operation can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be restarted to get rid of the zombie sink tasks. ({})",
                            crate::error_chain(&error)
                        ))
                    })
            }
        }
    }
}
