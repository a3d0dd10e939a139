//! `/connectors` and `/connectors/{name}/...`: creating, reading, reconfiguring, restarting,
//! pausing, resuming, stopping and deleting connectors, their configs, tasks, statuses and
//! active topics, with Kafka Connect's paths, status codes and bodies (`ConnectorInfo`,
//! `ConnectorStateInfo`, `TaskInfo`).

use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::{ApiError, Caller, Query, parse_body};
use crate::{
    config::{ConfigError, ConnectorSubmission, InitialState, Settings, connector::json_settings},
    coordinator::{ConnectorStatus, Herder, State as RunState, StateInfo},
    worker::TargetState,
};

/// How long a request waits for the herder before answering 500, as Kafka Connect's
/// `rest.request.timeout.ms` default.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

pub(super) async fn timed<T>(future: impl Future<Output = T>) -> Result<T, ApiError> {
    tokio::time::timeout(REQUEST_TIMEOUT, future)
        .await
        .map_err(|_| ApiError::Internal("Request timed out.".into()))
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("Connector {name} not found"))
}

/// `GET /connectors`: the names, or with `?expand=status` / `?expand=info` (both may be given)
/// an object keyed by name. Unknown expansions are ignored.
pub async fn list(
    State(herder): State<Herder>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Response {
    let names: Vec<String> = herder
        .connector_names()
        .await
        .into_iter()
        .filter(|name| caller.owns(name))
        .collect();
    let (mut status, mut info) = (false, false);
    let query = Query::parse(query.as_deref());
    let expansions = query.all("expand");
    let expand = !expansions.is_empty();
    for value in expansions {
        match value.to_ascii_lowercase().as_str() {
            "status" => status = true,
            "info" => info = true,
            other => tracing::debug!(expand = other, "Ignoring an unknown expansion."),
        }
    }
    if !expand {
        let names: Vec<&str> = names.iter().map(|name| caller.external(name)).collect();
        return Json(names).into_response();
    }
    let mut expanded = Map::new();
    for name in names {
        let mut entry = Map::new();
        if status {
            match herder.status(&name) {
                Some(found) => {
                    entry.insert("status".into(), status_json(&found, &caller));
                }
                None => continue,
            }
        }
        if info {
            match connector_info(&herder, &caller, &name).await {
                Some(found) => {
                    entry.insert("info".into(), found);
                }
                None => continue,
            }
        }
        expanded.insert(caller.external(&name).to_owned(), Value::Object(entry));
    }
    Json(Value::Object(expanded)).into_response()
}

/// `POST /connectors`: 201 with `Location` and the `ConnectorInfo`.
pub async fn create(
    State(herder): State<Herder>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json = parse_body(&body)?;
    if !json.get("config").is_some_and(Value::is_object) {
        return Err(ApiError::BadRequest(
            "A connector must be a JSON object with a `config` object".into(),
        ));
    }
    let mut submission = ConnectorSubmission::from_json(&json).map_err(|error| match error {
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
    check_connector_type(&submission.config)?;
    caller.check_new_name(&submission.name)?;
    let own = submission.name.clone();
    let name = caller.internal(&own);
    submission.name.clone_from(&name);
    submission.config.insert("name".into(), name.clone());
    timed(herder.create_connector(submission)).await??;
    let info = connector_info(&herder, &caller, &name)
        .await
        .ok_or_else(|| not_found(&name))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location(&own))],
        Json(info),
    )
        .into_response())
}

/// A config as `caller` is shown it: its own connector name, and with tenancy on the values
/// of the plugin's `PASSWORD` keys as `[hidden]` (config-provider references show as written).
fn shown_config(herder: &Herder, caller: &Caller, name: &str, config: &Settings) -> Settings {
    let mut shown = caller.external_config(config);
    if herder.tenants().enabled() {
        for key in herder.password_keys(name) {
            if let Some(value) = shown.get_mut(&key)
                && !value.contains("${")
            {
                *value = crate::config::framework::HIDDEN.to_owned();
            }
        }
    }
    shown
}

/// With tenancy on, a `PASSWORD` key written back as `[hidden]` (a config read, changed and
/// written again) keeps the value stored for it.
async fn restore_hidden(herder: &Herder, name: &str, config: &mut Settings) {
    if !herder.tenants().enabled() {
        return;
    }
    let Some(current) = herder.connector_config(name).await else {
        return;
    };
    for key in herder.password_keys(name) {
        if config.get(&key).map(String::as_str) == Some(crate::config::framework::HIDDEN)
            && let Some(stored) = current.raw.get(&key)
        {
            config.insert(key, stored.clone());
        }
    }
}

/// `Location` of a created connector: `/connectors/<name>` with the name percent-encoded as a
/// path segment (as Jersey's `UriBuilder` does), so any name makes a valid header.
fn location(name: &str) -> String {
    let mut location = String::from("/connectors/");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            location.push(char::from(byte));
        } else {
            location.push_str(&format!("%{byte:02X}"));
        }
    }
    location
}

/// 400 `Connector config {...} contains no connector type` without `connector.class`.
pub fn check_connector_type(config: &Settings) -> Result<(), ApiError> {
    if config.contains_key("connector.class") {
        return Ok(());
    }
    let entries: Vec<String> = config
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    Err(ApiError::BadRequest(format!(
        "Connector config {{{}}} contains no connector type",
        entries.join(", ")
    )))
}

/// A flat config map body, as Kafka Connect binds `Map<String, String>`.
fn config_body(body: &[u8]) -> Result<Settings, ApiError> {
    let json = parse_body(body)?;
    if !json.is_object() {
        return Err(ApiError::BadRequest(
            "A connector config must be a JSON object of strings".into(),
        ));
    }
    Ok(json_settings(&json)?)
}

/// Inserts `name` from the URL, or checks the one in the config matches it.
fn name_from_url(config: &mut Settings, name: &str) -> Result<(), ApiError> {
    match config.get("name") {
        Some(inner) if inner != name => Err(ApiError::BadRequest(format!(
            "Connector name configuration ({inner}) doesn't match connector name in the URL ({name})"
        ))),
        _ => {
            config.insert("name".into(), name.to_owned());
            Ok(())
        }
    }
}

/// `PUT /connectors/{name}/config`: creates the connector (201 with `Location`) or replaces
/// its config (200), answering its `ConnectorInfo`. A replaced connector is restarted with its
/// tasks on the new config.
pub async fn put_config(
    State(herder): State<Herder>,
    caller: Caller,
    Path(own): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut config = config_body(&body)?;
    name_from_url(&mut config, &own)?;
    // The name rules of `POST /connectors` (no control characters), before anything is created.
    ConnectorSubmission::from_config(config.clone(), InitialState::Running)?;
    check_connector_type(&config)?;
    caller.check_new_name(&own)?;
    let name = caller.internal(&own);
    config.insert("name".into(), name.clone());
    restore_hidden(&herder, &name, &mut config).await;
    let created = timed(herder.put_connector_config(&name, config)).await??;
    let info = connector_info(&herder, &caller, &name)
        .await
        .ok_or_else(|| not_found(&name))?;
    Ok(if created {
        (
            StatusCode::CREATED,
            [(header::LOCATION, location(&own))],
            Json(info),
        )
            .into_response()
    } else {
        Json(info).into_response()
    })
}

/// `PATCH /connectors/{name}/config` (KIP-477): merges the body into the config (`null`
/// removes a key), validates the result and applies it like `PUT`; 200 with `ConnectorInfo`,
/// 404 for an unknown connector.
pub async fn patch_config(
    State(herder): State<Herder>,
    caller: Caller,
    Path(own): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&own);
    let json = parse_body(&body)?;
    let patch = json.as_object().ok_or_else(|| {
        ApiError::BadRequest("A connector config patch must be a JSON object".into())
    })?;
    let current = herder
        .connector_config(&name)
        .await
        .ok_or_else(|| not_found(&name))?;
    let mut config = caller.external_config(&current.raw);
    let mut set = serde_json::Map::new();
    for (key, value) in patch {
        if value.is_null() {
            config.remove(key);
        } else {
            set.insert(key.clone(), value.clone());
        }
    }
    config.extend(json_settings(&Value::Object(set))?);
    name_from_url(&mut config, &own)?;
    check_connector_type(&config)?;
    config.insert("name".into(), name.clone());
    restore_hidden(&herder, &name, &mut config).await;
    // Applied only if the connector still has the config the patch was merged into.
    timed(herder.patch_connector_config(&name, &current, config)).await??;
    connector_info(&herder, &caller, &name)
        .await
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

/// `POST /connectors/{name}/restart?includeTasks=&onlyFailed=` (KIP-745): without either
/// flag the connector instance alone is restarted and the answer is 204 once it was; otherwise
/// 202 with the status in which every instance being restarted is `RESTARTING`.
pub async fn restart(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let name = caller.internal(&name);
    let query = Query::parse(query.as_deref());
    let include_tasks = query.flag("includeTasks");
    let only_failed = query.flag("onlyFailed");
    let unknown = || ApiError::NotFound(format!("Unknown connector: {name}"));
    if herder.connector_config(&name).await.is_none() {
        return Err(unknown());
    }
    if !include_tasks && !only_failed {
        let done = herder
            .restart(&name, true, Vec::new())
            .await
            .map_err(|_| unknown())?;
        let _ = timed(done).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut status = herder.status(&name).ok_or_else(unknown)?;
    let restarting = |info: &mut StateInfo| {
        info.state = RunState::Restarting;
        info.trace = None;
    };
    let connector = !only_failed || status.connector.state == RunState::Failed;
    if connector {
        restarting(&mut status.connector);
    }
    let mut tasks = Vec::new();
    if include_tasks {
        for (id, info) in &mut status.tasks {
            if !only_failed || info.state == RunState::Failed {
                tasks.push(*id);
                restarting(info);
            }
        }
    }
    if connector || !tasks.is_empty() {
        herder
            .restart(&name, connector, tasks)
            .await
            .map_err(|_| unknown())?;
    }
    Ok((StatusCode::ACCEPTED, Json(status_json(&status, &caller))).into_response())
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204 once the task was restarted.
pub async fn restart_task(
    State(herder): State<Herder>,
    caller: Caller,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let name = caller.internal(&name);
    let configs = herder
        .task_configs(&name)
        .await
        .ok_or_else(|| ApiError::NotFound(format!("Unknown connector: {name}")))?;
    let unknown_task = || ApiError::NotFound(format!("Unknown task: {name}-{task}"));
    let id: u32 = task.parse().map_err(|_| unknown_task())?;
    if id as usize >= configs.len() {
        return Err(unknown_task());
    }
    let done = herder
        .restart(&name, false, vec![id])
        .await
        .map_err(|_| ApiError::NotFound(format!("Unknown connector: {name}")))?;
    let _ = timed(done).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the worker tracks active topics (`topic.tracking.enable`, default true) and allows
/// resetting them (`topic.tracking.allow.reset`, default true).
fn topic_tracking(herder: &Herder, reset: bool) -> Result<(), ApiError> {
    let worker = herder.worker_config();
    if !worker.topic_tracking_enable {
        return Err(ApiError::Forbidden("Topic tracking is disabled.".into()));
    }
    if reset && !worker.topic_tracking_allow_reset {
        return Err(ApiError::Forbidden(
            "Topic tracking reset is disabled.".into(),
        ));
    }
    Ok(())
}

/// `GET /connectors/{name}/topics` (KIP-558): `{"<name>":{"topics":[...]}}`, empty for an
/// unknown connector as in Kafka Connect.
pub async fn topics(
    State(herder): State<Herder>,
    caller: Caller,
    Path(own): Path<String>,
) -> Result<Json<Value>, ApiError> {
    topic_tracking(&herder, false)?;
    let topics = herder.active_topics(&caller.internal(&own));
    let mut body = Map::new();
    body.insert(own, json!({"topics": topics}));
    Ok(Json(Value::Object(body)))
}

/// `PUT /connectors/{name}/topics/reset`: 202, also for an unknown connector.
pub async fn reset_topics(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    topic_tracking(&herder, true)?;
    herder.reset_active_topics(&caller.internal(&name));
    Ok(StatusCode::ACCEPTED)
}

/// `GET /connectors/{name}`.
pub async fn get(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    connector_info(&herder, &caller, &name)
        .await
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

/// `DELETE /connectors/{name}`: 204.
pub async fn delete(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    timed(herder.delete_connector(&caller.internal(&name))).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/config`: the config as submitted (config-provider references
/// unresolved).
pub async fn config(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    let config = herder
        .connector_config(&name)
        .await
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(json!(shown_config(
        &herder,
        &caller,
        &name,
        &config.raw
    ))))
}

/// `GET /connectors/{name}/status`: `ConnectorStateInfo`.
pub async fn status(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    herder
        .status(&name)
        .map(|status| Json(status_json(&status, &caller)))
        .ok_or_else(|| ApiError::NotFound(format!("No status found for connector {name}")))
}

/// `GET /connectors/{name}/tasks`: each task's id and config.
pub async fn tasks(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    let configs = herder
        .task_configs(&name)
        .await
        .ok_or_else(|| not_found(&name))?;
    let tasks: Vec<Value> = configs
        .iter()
        .enumerate()
        .map(|(task, config)| {
            json!({"id": {"connector": caller.external(&name), "task": task},
                   "config": shown_config(&herder, &caller, &name, config)})
        })
        .collect();
    Ok(Json(Value::Array(tasks)))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub async fn task_status(
    State(herder): State<Herder>,
    caller: Caller,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let name = caller.internal(&name);
    let missing = || ApiError::NotFound(format!("No status found for task {name}-{task}"));
    let id: u32 = task.parse().map_err(|_| missing())?;
    let status = herder.status(&name).ok_or_else(missing)?;
    let info = status.tasks.get(&id).ok_or_else(missing)?;
    Ok(Json(versioned(
        state_json(Some(id), info),
        status.version.as_deref(),
    )))
}

/// `PUT /connectors/{name}/pause`: 202.
pub async fn pause(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&herder, &caller.internal(&name), TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202.
pub async fn resume(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&herder, &caller.internal(&name), TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop`: 204.
pub async fn stop(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&herder, &caller.internal(&name), TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_target(herder: &Herder, name: &str, target: TargetState) -> Result<(), ApiError> {
    timed(herder.set_target_state(name, target))
        .await?
        .map_err(|_| ApiError::NotFound(format!("Unknown connector {name}")))
}

/// `ConnectorInfo`: name, config, task ids and type (`unknown` when the plugin is gone).
async fn connector_info(herder: &Herder, caller: &Caller, name: &str) -> Option<Value> {
    let config = herder.connector_config(name).await?;
    let tasks = herder.task_configs(name).await.unwrap_or_default();
    let kind = herder
        .connector_kind(name)
        .await
        .map_or("unknown", |kind| kind.name());
    let own = caller.external(name);
    let tasks: Vec<Value> = (0..tasks.len())
        .map(|task| json!({"connector": own, "task": task}))
        .collect();
    Some(json!({
        "name": own,
        "config": shown_config(herder, caller, name, &config.raw),
        "tasks": tasks,
        "type": kind,
    }))
}

/// `ConnectorStateInfo` (tasks sorted by id, `trace` only when there is one, the plugin
/// `version` on the connector and each task as Kafka Connect 4.1 shows it).
fn status_json(status: &ConnectorStatus, caller: &Caller) -> Value {
    let version = status.version.as_deref();
    let tasks: Vec<Value> = status
        .tasks
        .iter()
        .map(|(id, info)| versioned(state_json(Some(*id), info), version))
        .collect();
    json!({
        "name": caller.external(&status.name),
        "connector": versioned(state_json(None, &status.connector), version),
        "tasks": tasks,
        "type": status.kind.name(),
    })
}

/// A connector or task state with the plugin version it runs (KIP-891), when known.
fn versioned(mut state: Value, version: Option<&str>) -> Value {
    if let (Some(version), Value::Object(object)) = (version, &mut state) {
        object.insert("version".into(), json!(version));
    }
    state
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_encode_the_name_as_one_path_segment() {
        assert_eq!(location("file-source_1.x~"), "/connectors/file-source_1.x~");
        assert_eq!(location("a/b c"), "/connectors/a%2Fb%20c");
        assert_eq!(location("é?#%"), "/connectors/%C3%A9%3F%23%25");
    }
}
