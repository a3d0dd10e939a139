//! `/connector-plugins`: the installed plugins as Kafka Connect's `PluginInfo` entries
//! (`class`, `type`, `version`), a connector plugin's config definitions (`ConfigKeyInfo`) and
//! config validation (`ConfigInfos`).

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
};
use serde_json::{Value, json};

use super::{
    ApiError, Query,
    config_infos::{config_infos_with, plugin_config},
    connectors::check_connector_type,
    parse_body,
};
use crate::{
    config::connector::json_settings,
    coordinator::Herder,
    plugins::{PluginError, Uploaded},
    runtime::Plugin,
    transforms,
};

/// The converters built into this host, as `(class, type)`: Kafka Connect lists a class that
/// is both a converter and a header converter once per type.
const CONVERTERS: &[(&str, &str)] = &[
    (
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        "converter",
    ),
    (
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        "header_converter",
    ),
    ("io.confluent.connect.avro.AvroConverter", "converter"),
    ("org.apache.kafka.connect.json.JsonConverter", "converter"),
    (
        "org.apache.kafka.connect.json.JsonConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.storage.StringConverter",
        "converter",
    ),
    (
        "org.apache.kafka.connect.storage.StringConverter",
        "header_converter",
    ),
];

/// `GET /connector-plugins?connectorsOnly=`, connectors sorted by class name and version.
/// `version` is left out when the plugin reports `undefined`, as Kafka Connect does. With
/// `connectorsOnly=false` the built-in converters, transformations and predicates follow.
pub async fn list(
    State(herder): State<Herder>,
    caller: super::Caller,
    RawQuery(query): RawQuery,
) -> Json<Value> {
    let query = Query::parse(query.as_deref());
    // `connectorsOnly` defaults to true; only `false` (any case) lists the other plugins.
    let connectors_only = !query
        .first("connectorsOnly")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("false"));
    let mut plugins = herder.plugins(caller.tenant());
    plugins.sort_by(|a, b| (&a.class_name, &a.version).cmp(&(&b.class_name, &b.version)));
    // Transform components are listed with the other transformations.
    let (connectors, components): (Vec<_>, Vec<_>) = plugins
        .iter()
        .partition(|plugin| plugin.kind.is_connector());
    let entry = |plugin: &crate::runtime::PluginInfo| {
        let mut entry = json!({"class": plugin.class_name, "type": plugin.kind.name()});
        if !plugin.version.is_empty() && plugin.version != "undefined" {
            entry["version"] = json!(plugin.version);
        }
        entry
    };
    let mut entries: Vec<Value> = connectors.into_iter().map(entry).collect();
    if !connectors_only {
        let version = env!("CARGO_PKG_VERSION");
        entries.extend(
            CONVERTERS
                .iter()
                .map(|(class, kind)| json!({"class": class, "type": kind, "version": version})),
        );
        entries.extend(transforms::supported_transforms().into_iter().map(|name| {
            json!({
                "class": format!("org.apache.kafka.connect.transforms.{name}"),
                "type": "transformation",
                "version": version,
            })
        }));
        entries.extend(components.into_iter().map(entry));
        entries.extend(transforms::supported_predicates().into_iter().map(|name| {
            json!({
                "class": format!("org.apache.kafka.connect.transforms.predicates.{name}"),
                "type": "predicate",
                "version": version,
            })
        }));
    }
    Json(Value::Array(entries))
}

/// The connector plugin `{plugin}` names (class name or alias, optionally `?version=`).
async fn resolve(
    herder: &Herder,
    caller: &super::Caller,
    plugin: &str,
    version: Option<&str>,
) -> Result<std::sync::Arc<Plugin>, ApiError> {
    herder
        .plugin(caller.tenant(), plugin, version)
        .await
        .map_err(|error| match error {
            PluginError::Unknown { .. } | PluginError::NotBuilt(_) => {
                ApiError::NotFound(format!("Unknown plugin {plugin}."))
            }
            invalid @ PluginError::InvalidVersion { .. } => {
                ApiError::BadRequest(invalid.to_string())
            }
            other => ApiError::NotFound(other.to_string()),
        })
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's own definitions, then the
/// framework's (the plugin's win on a name clash). 404 `Unknown plugin <p>.`.
pub async fn config(
    State(herder): State<Herder>,
    caller: super::Caller,
    Path(plugin): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = Query::parse(query.as_deref());
    let found = resolve(&herder, &caller, &plugin, query.first("version")).await?;
    Ok(Json(plugin_config(
        &found.info.config_def,
        found.info.kind,
        herder.worker_config(),
    )))
}

/// Kafka Connect's `normalizedPluginName`: the name without a `Connector` suffix.
fn normalized(name: &str) -> &str {
    name.strip_suffix("Connector").unwrap_or(name)
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 200 with `ConfigInfos` even when the
/// config is invalid; 400 without `connector.class` or when it names another plugin.
pub async fn validate(
    State(herder): State<Herder>,
    caller: super::Caller,
    Path(plugin): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let json = parse_body(&body)?;
    if !json.is_object() {
        return Err(ApiError::BadRequest(
            "A connector config must be a JSON object of strings".into(),
        ));
    }
    let settings = json_settings(&json)?;
    check_connector_type(&settings)?;
    let class = settings.get("connector.class").cloned().unwrap_or_default();
    if !normalized(&class).ends_with(normalized(&plugin)) {
        return Err(ApiError::BadRequest(format!(
            "Included connector type {class} does not match request type {plugin}"
        )));
    }
    let found = herder
        .plugin(
            caller.tenant(),
            &class,
            settings.get("connector.plugin.version").map(String::as_str),
        )
        .await
        .map_err(|error| ApiError::BadRequest(crate::error_chain(&error)))?;
    // Validated as it would run: with its config-provider references resolved, and every
    // value they brought in shown as its reference again.
    let worker = herder.worker_config();
    if caller.tenant().is_some()
        && let Some((key, reference)) = worker.config_providers.first_reference(&settings)
    {
        return Err(ApiError::BadRequest(format!(
            "{key}: `{reference}` uses one of the worker's config providers, which read the \
             operator's files and environment; a tenant's connector may not use them"
        )));
    }
    let lookup = |name: &str| {
        herder
            .tenants()
            .secret_value(caller.tenant().unwrap_or_default(), name)
    };
    let tenant_secrets: Option<&crate::config::providers::SecretLookup<'_>> =
        caller.tenant().map(|_| &lookup as _);
    let resolved = worker
        .config_providers
        .resolve_with(&settings, &worker.fs, tenant_secrets)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let values = super::connectors::timed(herder.validate_with_connector(
        &found,
        &resolved.settings,
        &resolved.secrets,
        caller.tenant(),
    ))
    .await??;
    let mut infos = config_infos_with(
        &class,
        found.info.kind,
        &found.info.config_def,
        values,
        &resolved.settings,
        worker,
        &herder.transform_plugins(caller.tenant()),
    );
    conceal_config_infos(&mut infos, &resolved.secrets);
    Ok(Json(infos))
}

/// Puts config-provider references back in a `ConfigInfos`: each value, and each error
/// message (a connector's may echo what it was given).
fn conceal_config_infos(infos: &mut Value, secrets: &crate::config::providers::Secrets) {
    if secrets.is_empty() {
        return;
    }
    let Some(configs) = infos.get_mut("configs").and_then(Value::as_array_mut) else {
        return;
    };
    for config in configs {
        let Some(value) = config.get_mut("value").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(Value::String(shown)) = value.get_mut("value") {
            *shown = secrets.conceal_value(shown);
        }
        if let Some(errors) = value.get_mut("errors").and_then(Value::as_array_mut) {
            for error in errors {
                if let Value::String(message) = error {
                    secrets.conceal_in_place(message);
                }
            }
        }
    }
}

/// `POST /connector-plugins` (beyond Kafka Connect): uploads a connector component, the body
/// being its bytes. Runs the sandbox's admission check, precompiles and stores it; 201 with
/// `class`, `type`, `version` and `digest`, or 200 when the same bytes were already there.
/// 400 says why a component was refused; 409 if another component has the class and version,
/// or the component claims a name that belongs to another plugin (every built-in and
/// `plugin.path` name, and Kafka's `org.apache.kafka.` namespace, are taken).
pub async fn upload(
    State(herder): State<Herder>,
    caller: super::Caller,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let limit = herder.worker_config().plugin_max_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::BadRequest(format!(
            "The component is larger than this worker's limit of {limit} bytes (plugin.max.bytes)."
        ))
    })?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest(
            "The request body is empty: send the component's bytes with Content-Type: application/wasm."
                .into(),
        ));
    }
    // A tenant's uploads count against its `quotas.plugin_bytes`.
    if let Some(tenant) = caller.tenant()
        && let Some(max) = herder
            .tenants()
            .get(tenant)
            .and_then(|record| record.quotas.plugin_bytes)
    {
        let used = herder.uploaded_bytes(tenant);
        if used + bytes.len() as u64 > max {
            return Err(ApiError::Forbidden(format!(
                "the component's {} bytes would take tenant {tenant} over its quota of {max} \
                 bytes of uploaded plugins (quotas.plugin_bytes; {used} in use); delete an \
                 upload or ask the operator to raise it",
                bytes.len()
            )));
        }
    }
    let (plugin, outcome) = herder
        .upload_plugin(caller.tenant(), &bytes)
        .await
        .map_err(|error| match error {
            PluginError::Rejected(source @ crate::runtime::RuntimeError::AtCapacity { .. }) => {
                ApiError::Conflict(crate::error_chain(&source))
            }
            PluginError::Rejected(source) => ApiError::BadRequest(crate::error_chain(&source)),
            conflict @ (PluginError::Conflict { .. } | PluginError::NameTaken { .. }) => {
                ApiError::Conflict(conflict.to_string())
            }
            other => ApiError::Internal(crate::error_chain(&other)),
        })?;
    let status = match outcome {
        Uploaded::Created => StatusCode::CREATED,
        Uploaded::Existing => StatusCode::OK,
    };
    let info = &plugin.info;
    Ok((
        status,
        Json(json!({
            "class": info.class_name,
            "type": info.kind.name(),
            "version": info.version,
            "digest": info.digest,
        })),
    ))
}

/// `DELETE /connector-plugins/{plugin}?version=` (beyond Kafka Connect): removes an uploaded
/// plugin version (the newest without `version`). 204; 404 unknown; 400 for a built-in or
/// `plugin.path` plugin; 409 while a connector uses it.
pub async fn delete(
    State(herder): State<Herder>,
    caller: super::Caller,
    Path(plugin): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, ApiError> {
    let query = Query::parse(query.as_deref());
    let version = query.first("version");
    herder
        .delete_plugin(caller.tenant(), &plugin, version)
        .await
        .map_err(|error| match error {
            PluginError::Unknown { .. } | PluginError::UnknownVersion { .. } => {
                ApiError::NotFound(error.to_string())
            }
            in_use @ PluginError::InUse { .. } => ApiError::Conflict(in_use.to_string()),
            share @ PluginError::Share(_) => ApiError::Internal(share.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
