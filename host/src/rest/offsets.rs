//! `/connectors/{name}/offsets` (KIP-875): reading a connector's offsets in any state, and
//! altering (`PATCH`) or resetting (`DELETE`) them while it is STOPPED, with Kafka Connect's
//! bodies (`ConnectorOffsets`, `{"message": ...}`) and messages.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{ApiError, connectors::timed, parse_body};
use crate::{
    coordinator::{ConnectorOffsets, Herder, OffsetChange},
    log::TopicPartition,
    runtime::PluginKind,
    storage::offsets::{json_to_map, map_to_json},
};

/// Kafka Connect's answer when the connector cannot report whether it manages offsets itself.
const ALTERED: &str = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.";
const RESET: &str = "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.";

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

/// A number or a numeric string, as Kafka Connect accepts for sink partitions and offsets.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn parse_sink(entries: &[Value]) -> Result<OffsetChange, ApiError> {
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
    Ok(OffsetChange::Sink(offsets))
}

fn parse_source(entries: &[Value]) -> Result<OffsetChange, ApiError> {
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
    Ok(OffsetChange::Source(offsets))
}

/// `GET /connectors/{name}/offsets`: `{"offsets":[{"partition":{...},"offset":{...}}]}`.
pub async fn get(
    State(herder): State<Herder>,
    caller: super::Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    let entries: Vec<Value> = match timed(herder.offsets(&name)).await?? {
        ConnectorOffsets::Source(offsets) => offsets
            .iter()
            .map(|(partition, offset)| {
                json!({"partition": map_to_json(partition), "offset": map_to_json(offset)})
            })
            .collect(),
        ConnectorOffsets::Sink(offsets) => offsets
            .iter()
            .map(|(partition, offset)| {
                json!({
                    "partition": {"kafka_topic": partition.topic, "kafka_partition": partition.partition},
                    "offset": {"kafka_offset": offset},
                })
            })
            .collect(),
    };
    Ok(Json(json!({ "offsets": entries })))
}

/// `PATCH /connectors/{name}/offsets`: 200 `{"message": ...}`.
pub async fn alter(
    State(herder): State<Herder>,
    caller: super::Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(NONE_GIVEN));
    }
    let body = parse_body(&body)?;
    let kind = timed(herder.connector_kind(&name)).await??;
    let entries = body
        .get("offsets")
        .and_then(Value::as_array)
        .filter(|entries| !entries.is_empty())
        .ok_or_else(|| bad(NONE_GIVEN))?;
    let change = match kind {
        PluginKind::Source => parse_source(entries)?,
        PluginKind::Sink | PluginKind::Transform => parse_sink(entries)?,
    };
    timed(herder.alter_offsets(&name, change)).await??;
    Ok(Json(json!({ "message": ALTERED })))
}

/// `DELETE /connectors/{name}/offsets`: 200 `{"message": ...}`.
pub async fn reset(
    State(herder): State<Herder>,
    caller: super::Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    timed(herder.reset_offsets(&caller.internal(&name))).await??;
    Ok(Json(json!({ "message": RESET })))
}

/// Kafka Connect's answer to an alter request without offsets.
const NONE_GIVEN: &str = "Partitions / offsets need to be provided for an alter offsets request";
