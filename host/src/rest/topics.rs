//! `/topics` (beyond Kafka Connect): the topics of the worker's record log, read and written
//! as `wasm-connect topics` does when a running worker holds the embedded log. Reads commit
//! nothing and join no consumer group; bodies are [`crate::topics`]'s JSON.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse as _, Response},
};
use serde::Deserialize;

use super::{ApiError, Query, parse_body};
use crate::{
    coordinator::Herder,
    log::{LogError, TopicDescription, TopicPartition},
    topics::{self, NewRecord, RecordView},
};

/// How many records a read returns when the request does not say.
const DEFAULT_MAX: usize = 500;

fn log_error(error: anyhow::Error) -> ApiError {
    if error.is::<topics::InvalidRecord>() {
        return ApiError::BadRequest(error.to_string());
    }
    match error.downcast_ref::<LogError>() {
        Some(LogError::UnknownTopic(_) | LogError::UnknownPartition { .. }) => {
            ApiError::NotFound(error.to_string())
        }
        Some(LogError::InvalidTopic(_)) => ApiError::BadRequest(error.to_string()),
        _ => ApiError::Internal(format!("{error:#}")),
    }
}

/// `GET /topics`: every topic with the start and end offset of each partition.
pub async fn list(State(herder): State<Herder>) -> Result<Json<Vec<TopicDescription>>, ApiError> {
    Ok(Json(
        herder
            .services()
            .log
            .describe_topics()
            .await
            .map_err(|error| log_error(error.into()))?,
    ))
}

/// `GET /topics/{topic}/partitions/{partition}/records?offset=O&max=N`: up to `max` records
/// (default 500, at most 10,000 and about 16 MiB) from `offset` (default 0).
pub async fn read(
    State(herder): State<Herder>,
    Path((topic, partition)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<RecordView>>, ApiError> {
    let partition: i32 = partition.parse().map_err(|_| {
        ApiError::BadRequest(format!("partition `{partition}` is not a partition number"))
    })?;
    let query = Query::parse(query.as_deref());
    let number =
        |key: &str| -> Result<Option<i64>, ApiError> {
            query
                .first(key)
                .map(|value| {
                    value.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "query parameter `{key}` must be a number of at least 0, not `{value}`"
                    ))
                })
                })
                .transpose()
        };
    let offset = number("offset")?.unwrap_or(0);
    let max = number("max")?.map_or(DEFAULT_MAX, |max| max as usize);
    let partition = TopicPartition::new(topic, partition);
    Ok(Json(
        topics::read_log(herder.services().log.as_ref(), &partition, offset, max)
            .await
            .map_err(log_error)?,
    ))
}

#[derive(Deserialize)]
struct WriteRequest {
    records: Vec<NewRecord>,
}

/// `POST /topics/{topic}/records` with `{"records": [{"key", "value", "partition", "headers"}]}`:
/// writes them, waits until each is acknowledged and answers `{"offsets": [{"partition",
/// "offset"}]}`. A topic that does not exist is created as the log creates topics on a write.
pub async fn write(
    State(herder): State<Herder>,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json = parse_body(&body)?;
    // serde would also take a record as an array of its fields.
    if let Some(index) = json
        .get("records")
        .and_then(serde_json::Value::as_array)
        .and_then(|records| {
            records.iter().position(|record| {
                let headers = record.get("headers").and_then(serde_json::Value::as_array);
                !record.is_object() || headers.is_some_and(|h| h.iter().any(|h| !h.is_object()))
            })
        })
    {
        return Err(ApiError::BadRequest(format!(
            "record {index} must be an object with `key`, `value`, `partition` and `headers` (objects with `key` and `value`)"
        )));
    }
    let request: WriteRequest = serde_json::from_value(json).map_err(|error| {
        ApiError::BadRequest(format!(
            "the body must be {{\"records\": [{{\"key\": ..., \"value\": ...}}]}}: {error}"
        ))
    })?;
    if let Some((index, partition)) = request
        .records
        .iter()
        .enumerate()
        .find_map(|(index, record)| Some((index, record.partition.filter(|p| *p < 0)?)))
    {
        return Err(ApiError::BadRequest(format!(
            "record {index}: partition {partition} is negative"
        )));
    }
    let offsets = topics::write_log(herder.services().log.as_ref(), &topic, request.records)
        .await
        .map_err(log_error)?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "offsets": offsets })),
    )
        .into_response())
}
