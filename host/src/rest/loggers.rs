//! `/admin/loggers` (KIP-495, KIP-976): the log levels set at run time and changing them.
//! Logger names are `tracing` targets (see [`crate::logging`]); a standalone worker is its
//! own cluster, so `scope=cluster` applies the level here too (answering 204 as Kafka
//! Connect does). A distributed worker also writes it to the config topic
//! (`logger-cluster-<name>`), and every worker applies it when it reads it.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::{ApiError, Query, parse_body};
use crate::logging::{self, LoggerLevel, LoggingError};

fn level_json(level: &LoggerLevel) -> Value {
    json!({"level": level.level, "last_modified": level.last_modified})
}

/// `GET /admin/loggers`: `root` and every logger whose level was set.
pub async fn list() -> Json<Value> {
    let all: Map<String, Value> = logging::levels()
        .all()
        .iter()
        .map(|(name, level)| (name.clone(), level_json(level)))
        .collect();
    Json(Value::Object(all))
}

/// `GET /admin/loggers/{name}`: its level, or the effective one it inherits.
pub async fn get(Path(name): Path<String>) -> Json<Value> {
    Json(level_json(&logging::levels().get(&name)))
}

/// `PUT /admin/loggers/{name}?scope=worker|cluster` with `{"level": "DEBUG"}`: 200 with the
/// loggers affected (`worker`, the default), or 204 (`cluster`).
pub async fn set(
    axum::extract::State(herder): axum::extract::State<crate::coordinator::Herder>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json = parse_body(&body)?;
    let level = json.get("level").and_then(Value::as_str).ok_or_else(|| {
        ApiError::BadRequest("Desired 'level' parameter was not specified in request.".into())
    })?;
    let affected = logging::levels()
        .set(&name, level)
        .map_err(|error| match error {
            LoggingError::InvalidLevel(_) => ApiError::NotFound(error.to_string()),
            LoggingError::InvalidName(_) => ApiError::BadRequest(error.to_string()),
            LoggingError::Apply(_) => ApiError::Internal(error.to_string()),
        })?;
    let scope = Query::parse(query.as_deref())
        .first("scope")
        .map(str::to_ascii_lowercase);
    match scope.as_deref() {
        Some("cluster") => {
            herder
                .put_cluster_log_level(&name, level)
                .await
                .map_err(|error| ApiError::Internal(crate::error_chain(&error)))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Some("worker") | None => Ok(Json(affected).into_response()),
        Some(other) => {
            tracing::warn!(scope = other, "Unknown logging scope; using `worker`.");
            Ok(Json(affected).into_response())
        }
    }
}
