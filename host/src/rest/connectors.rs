//! `/connectors` and `/connectors/{name}/...`: creating, reading, pausing, resuming, stopping
//! and deleting connectors, their configs, tasks and statuses, with Kafka Connect's paths,
//! status codes and bodies (`ConnectorInfo`, `ConnectorStateInfo`, `TaskInfo`).

use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::ApiError;
use crate::{
    config::{ConfigError, ConnectorSubmission},
    coordinator::{ConnectorStatus, Herder, StateInfo},
    worker::TargetState,
};

/// How long a request waits for the herder before answering 500, as Kafka Connect's
/// `rest.request.timeout.ms` default.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

async fn timed<T>(future: impl Future<Output = T>) -> Result<T, ApiError> {
    tokio::time::timeout(REQUEST_TIMEOUT, future)
        .await
        .map_err(|_| ApiError::Internal("Request timed out.".into()))
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("Connector {name} not found"))
}

/// `GET /connectors`: the names, or with `?expand=status` / `?expand=info` (both may be given)
/// an object keyed by name. Unknown expansions are ignored.
pub async fn list(State(herder): State<Herder>, RawQuery(query): RawQuery) -> Response {
    let names = herder.connector_names().await;
    let (mut status, mut info) = (false, false);
    let mut expand = false;
    for pair in query.as_deref().unwrap_or("").split('&') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        if key != "expand" {
            continue;
        }
        expand = true;
        match value {
            "status" => status = true,
            "info" => info = true,
            other => tracing::debug!(expand = other, "Ignoring an unknown expansion."),
        }
    }
    if !expand {
        return Json(names).into_response();
    }
    let mut expanded = Map::new();
    for name in names {
        let mut entry = Map::new();
        if status {
            match herder.status(&name) {
                Some(found) => {
                    entry.insert("status".into(), status_json(&found));
                }
                None => continue,
            }
        }
        if info {
            match connector_info(&herder, &name).await {
                Some(found) => {
                    entry.insert("info".into(), found);
                }
                None => continue,
            }
        }
        expanded.insert(name, Value::Object(entry));
    }
    Json(Value::Object(expanded)).into_response()
}

/// `POST /connectors`: 201 with `Location` and the `ConnectorInfo`.
pub async fn create(State(herder): State<Herder>, body: Bytes) -> Result<Response, ApiError> {
    let json = parse_body(&body)?;
    if !json.get("config").is_some_and(Value::is_object) {
        return Err(ApiError::BadRequest(
            "A connector must be a JSON object with a `config` object".into(),
        ));
    }
    let submission = ConnectorSubmission::from_json(&json).map_err(|error| match error {
        ConfigError::Missing(key) if key == "name" => {
            ApiError::BadRequest("Connector name must not be empty".into())
        }
        other => other.into(),
    })?;
    if submission.name.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "Connector name must not be empty".into(),
        ));
    }
    if !submission.config.contains_key("connector.class") {
        let entries: Vec<String> = submission
            .config
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        return Err(ApiError::BadRequest(format!(
            "Connector config {{{}}} contains no connector type",
            entries.join(", ")
        )));
    }
    let name = submission.name.clone();
    timed(herder.create_connector(submission)).await??;
    let info = connector_info(&herder, &name)
        .await
        .ok_or_else(|| not_found(&name))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/connectors/{name}"))],
        Json(info),
    )
        .into_response())
}

/// A JSON request body; a malformed one is a 400 with the parser's message.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("Malformed JSON request body: {error}")))
}

/// `GET /connectors/{name}`.
pub async fn get(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    connector_info(&herder, &name)
        .await
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

/// `DELETE /connectors/{name}`: 204.
pub async fn delete(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    timed(herder.delete_connector(&name)).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/config`: the config as submitted.
pub async fn config(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let config = herder
        .connector_config(&name)
        .await
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(json!(config.settings)))
}

/// `GET /connectors/{name}/status`: `ConnectorStateInfo`.
pub async fn status(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    herder
        .status(&name)
        .map(|status| Json(status_json(&status)))
        .ok_or_else(|| ApiError::NotFound(format!("No status found for connector {name}")))
}

/// `GET /connectors/{name}/tasks`: each task's id and config.
pub async fn tasks(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let configs = herder
        .task_configs(&name)
        .await
        .ok_or_else(|| not_found(&name))?;
    let tasks: Vec<Value> = configs
        .iter()
        .enumerate()
        .map(|(task, config)| json!({"id": {"connector": name, "task": task}, "config": config}))
        .collect();
    Ok(Json(Value::Array(tasks)))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub async fn task_status(
    State(herder): State<Herder>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let missing = || ApiError::NotFound(format!("No status found for task {name}-{task}"));
    let id: u32 = task.parse().map_err(|_| missing())?;
    let status = herder.status(&name).ok_or_else(missing)?;
    let info = status.tasks.get(&id).ok_or_else(missing)?;
    Ok(Json(state_json(Some(id), info)))
}

/// `PUT /connectors/{name}/pause`: 202.
pub async fn pause(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&herder, &name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202.
pub async fn resume(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&herder, &name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop`: 204.
pub async fn stop(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&herder, &name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_target(herder: &Herder, name: &str, target: TargetState) -> Result<(), ApiError> {
    timed(herder.set_target_state(name, target))
        .await?
        .map_err(|_| ApiError::NotFound(format!("Unknown connector {name}")))
}

/// `ConnectorInfo`: name, config, task ids and type (`unknown` when the plugin is gone).
async fn connector_info(herder: &Herder, name: &str) -> Option<Value> {
    let config = herder.connector_config(name).await?;
    let tasks = herder.task_configs(name).await.unwrap_or_default();
    let kind = herder
        .registry()
        .resolve(&config.class, config.plugin_version.as_deref())
        .map_or("unknown", |plugin| plugin.info.kind.name());
    let tasks: Vec<Value> = (0..tasks.len())
        .map(|task| json!({"connector": name, "task": task}))
        .collect();
    Some(json!({
        "name": name,
        "config": config.settings,
        "tasks": tasks,
        "type": kind,
    }))
}

/// `ConnectorStateInfo` (tasks sorted by id, `trace` only when there is one).
fn status_json(status: &ConnectorStatus) -> Value {
    let tasks: Vec<Value> = status
        .tasks
        .iter()
        .map(|(id, info)| state_json(Some(*id), info))
        .collect();
    json!({
        "name": status.name,
        "connector": state_json(None, &status.connector),
        "tasks": tasks,
        "type": status.kind.name(),
    })
}

fn state_json(id: Option<u32>, info: &StateInfo) -> Value {
    let mut object = Map::new();
    if let Some(id) = id {
        object.insert("id".into(), json!(id));
    }
    object.insert("state".into(), json!(info.state.name()));
    object.insert("worker_id".into(), json!(info.worker_id));
    if let Some(trace) = info.trace.as_deref().filter(|trace| !trace.is_empty()) {
        object.insert("trace".into(), json!(trace));
    }
    Value::Object(object)
}
