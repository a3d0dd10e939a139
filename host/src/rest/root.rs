//! `GET /`: the worker's version, the commit it was built from and the Kafka cluster id
//! (Kafka Connect's `ServerInfo`).

use axum::Json;
use serde_json::{Value, json};

/// The commit the binary was built from, when the build passed `WASM_CONNECT_GIT_SHA`.
const COMMIT: Option<&str> = option_env!("WASM_CONNECT_GIT_SHA");

/// `GET /`. The embedded log belongs to no Kafka cluster, and the cluster id of a Kafka log is
/// not looked up yet, so `kafka_cluster_id` is `null`.
pub async fn server_info() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": COMMIT.unwrap_or("unknown"),
        "kafka_cluster_id": null,
    }))
}
