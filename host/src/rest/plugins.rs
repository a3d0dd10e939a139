//! `GET /connector-plugins`: the installed connector plugins as Kafka Connect's `PluginInfo`
//! entries (`class`, `type`, `version`).

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::coordinator::Herder;

/// `GET /connector-plugins`, sorted by class name and version. `version` is left out when
/// the plugin reports `undefined`, as Kafka Connect does.
pub async fn list(State(herder): State<Herder>) -> Json<Value> {
    let mut plugins = herder.registry().list();
    plugins.sort_by(|a, b| (&a.class_name, &a.version).cmp(&(&b.class_name, &b.version)));
    let entries: Vec<Value> = plugins
        .iter()
        .map(|plugin| {
            let mut entry = json!({"class": plugin.class_name, "type": plugin.kind.name()});
            if !plugin.version.is_empty() && plugin.version != "undefined" {
                entry["version"] = json!(plugin.version);
            }
            entry
        })
        .collect();
    Json(Value::Array(entries))
}
