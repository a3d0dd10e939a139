//! Connector offsets (KIP-875) as the herder exposes them: a source connector's offsets from
//! the worker's offset store, a sink connector's from its consumer group `connect-<name>` in
//! the log. Altering and resetting them requires the connector to be STOPPED with no tasks.

use serde_json::{Value, json};

use super::{Herder, HerderError};
use crate::{
    data::OffsetMap,
    log::TopicPartition,
    runtime::PluginKind,
    storage::offsets::{json_to_map, map_to_json},
    worker::TargetState,
};

/// Kafka Connect's answer when the connector cannot report whether it manages offsets itself.
const ALTERED: &str = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.";
const RESET: &str = "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.";

/// A sink connector's consumer group.
pub fn sink_group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// The offsets of an alter request, checked for the connector's type.
enum Offsets {
    Source(Vec<(OffsetMap, Option<OffsetMap>)>),
    Sink(Vec<(TopicPartition, Option<i64>)>),
}

fn bad(message: &str) -> HerderError {
    HerderError::BadOffsets(message.to_owned())
}

/// A number or a numeric string, as Kafka Connect accepts for sink partitions and offsets.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn parse_sink(entries: &[Value]) -> Result<Offsets, HerderError> {
    let mut offsets = Vec::new();
    for entry in entries {
        let partition = entry
            .get("partition")
            .and_then(Value::as_object)
            .filter(|p| p.contains_key("kafka_topic") && p.contains_key("kafka_partition"))
            .ok_or_else(|| {
                bad("The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'")
            })?;
        let topic = partition
            .get("kafka_topic")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("Kafka topic names must be valid strings and may not be null"))?;
        let index = number(partition.get("kafka_partition"))
            .and_then(|index| i32::try_from(index).ok())
            .ok_or_else(|| bad("Kafka partitions must be valid numbers and may not be null"))?;
        let offset = match entry.get("offset") {
            None | Some(Value::Null) => None,
            Some(Value::Object(offset)) => {
                if !offset.contains_key("kafka_offset") {
                    return Err(bad(
                        "The offset for a sink connector should either be null or contain the key 'kafka_offset'",
                    ));
                }
                let offset = number(offset.get("kafka_offset"))
                    .filter(|offset| *offset >= 0)
                    .ok_or_else(|| {
                        bad("Kafka offsets must be valid numbers and may not be null")
                    })?;
                Some(offset)
            }
            Some(_) => {
                return Err(bad(
                    "The offset for a sink connector should either be null or contain the key 'kafka_offset'",
                ));
            }
        };
        offsets.push((TopicPartition::new(topic.to_owned(), index), offset));
    }
    Ok(Offsets::Sink(offsets))
}

fn parse_source(entries: &[Value]) -> Result<Offsets, HerderError> {
    let mut offsets = Vec::new();
    for entry in entries {
        let partition = match entry.get("partition") {
            None | Some(Value::Null) => return Err(bad("Source partitions may not be null")),
            Some(partition) => json_to_map(partition)
                .ok_or_else(|| bad("Source partitions must be JSON objects of primitive values"))?,
        };
        let offset = match entry.get("offset") {
            None | Some(Value::Null) => None,
            Some(offset) => Some(json_to_map(offset).ok_or_else(|| {
                bad("Source offsets must be null or JSON objects of primitive values")
            })?),
        };
        offsets.push((partition, offset));
    }
    Ok(Offsets::Source(offsets))
}

impl Herder {
    /// The connector's type (never `Transform`), or NotFound.
    async fn kind_of(&self, name: &str) -> Result<PluginKind, HerderError> {
        let config = self
            .connector_config(name)
            .await
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let kind = self
            .registry
            .resolve(&config.class, config.plugin_version.as_deref())?
            .info
            .kind;
        if !kind.is_connector() {
            return Err(HerderError::Validation(format!(
                "{} is a transformation, not a connector",
                config.class
            )));
        }
        Ok(kind)
    }

    /// `ConnectorOffsets`: `{"offsets":[{"partition":{...},"offset":{...}}]}`, in any state.
    pub async fn offsets(&self, name: &str) -> Result<Value, HerderError> {
        let entries: Vec<Value> = match self.kind_of(name).await? {
            PluginKind::Source => self
                .services
                .offsets
                .connector_offsets(name)
                .iter()
                .map(|(partition, offset)| {
                    json!({"partition": map_to_json(partition), "offset": map_to_json(offset)})
                })
                .collect(),
            PluginKind::Sink | PluginKind::Transform => self
                .services
                .log
                .committed_offsets(&sink_group(name))
                .await
                .map_err(|error| HerderError::OffsetsFailed(crate::error_chain(&error)))?
                .iter()
                .map(|offset| {
                    json!({
                        "partition": {"kafka_topic": offset.topic, "kafka_partition": offset.partition},
                        "offset": {"kafka_offset": offset.offset},
                    })
                })
                .collect(),
        };
        Ok(json!({ "offsets": entries }))
    }

    /// Checks that the connector is STOPPED with no task configs left.
    async fn require_stopped(&self, name: &str) -> Result<PluginKind, HerderError> {
        let kind = self.kind_of(name).await?;
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

    /// `PATCH /connectors/{name}/offsets`: adds or overwrites (null: removes) the listed
    /// partitions' offsets; returns Kafka Connect's success message.
    pub async fn alter_offsets(&self, name: &str, body: &Value) -> Result<String, HerderError> {
        let kind = self.kind_of(name).await?;
        let entries = body
            .get("offsets")
            .and_then(Value::as_array)
            .filter(|entries| !entries.is_empty())
            .ok_or_else(|| {
                bad("Partitions / offsets need to be provided for an alter offsets request")
            })?;
        let offsets = match kind {
            PluginKind::Source => parse_source(entries)?,
            PluginKind::Sink | PluginKind::Transform => parse_sink(entries)?,
        };
        self.require_stopped(name).await?;
        self.write_offsets(name, offsets).await?;
        Ok(ALTERED.to_owned())
    }

    /// `DELETE /connectors/{name}/offsets`: removes every offset of the connector.
    pub async fn reset_offsets(&self, name: &str) -> Result<String, HerderError> {
        let offsets = match self.require_stopped(name).await? {
            PluginKind::Source => Offsets::Source(
                self.services
                    .offsets
                    .connector_offsets(name)
                    .into_iter()
                    .map(|(partition, _)| (partition, None))
                    .collect(),
            ),
            PluginKind::Sink | PluginKind::Transform => Offsets::Sink(
                self.services
                    .log
                    .committed_offsets(&sink_group(name))
                    .await
                    .map_err(|error| HerderError::OffsetsFailed(crate::error_chain(&error)))?
                    .into_iter()
                    .map(|offset| (TopicPartition::new(offset.topic, offset.partition), None))
                    .collect(),
            ),
        };
        self.write_offsets(name, offsets).await?;
        Ok(RESET.to_owned())
    }

    async fn write_offsets(&self, name: &str, offsets: Offsets) -> Result<(), HerderError> {
        match offsets {
            Offsets::Source(offsets) => {
                if offsets.is_empty() {
                    return Ok(());
                }
                self.services
                    .offsets
                    .put(name, offsets, usize::MAX)
                    .await
                    .map_err(|error| HerderError::OffsetsFailed(crate::error_chain(&error)))
            }
            Offsets::Sink(offsets) => {
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
