//! `GET /`: the worker's version, the commit it was built from and the Kafka cluster id
//! (Kafka Connect's `ServerInfo`), plus its wasm instance capacity; `GET /health`: whether the worker is ready (KIP-1017's
//! `WorkerStatus`); `GET /admin/cluster`: the worker's cluster, its leader and what each
//! worker runs (beyond Kafka Connect).

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{config::worker::LogBackend, coordinator::Herder};

/// The commit the binary was built from, when the build passed `WASM_CONNECT_GIT_SHA`.
const COMMIT: Option<&str> = option_env!("WASM_CONNECT_GIT_SHA");

/// How long `GET /health` waits for the herder, as Kafka Connect's health check timeout.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /`. The embedded log belongs to no Kafka cluster, and the cluster id of a Kafka log is
/// not looked up yet, so `kafka_cluster_id` is `null`. `capacity` (this host's own) says how
/// many wasm instances run, how many may, and what sets that.
pub async fn server_info(State(herder): State<Herder>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": COMMIT.unwrap_or("unknown"),
        "kafka_cluster_id": null,
        "capacity": herder.instance_capacity(),
    }))
}

/// `GET /health`: 200 `healthy` when the herder answers a no-op request within 10 s; 503
/// `starting` while the worker still starts its connectors; 500 `unhealthy` when the herder
/// does not answer.
pub async fn health(State(herder): State<Herder>) -> Response {
    if !herder.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "starting",
                "message": "Worker is still starting up. The worker is starting its connectors.",
            })),
        )
            .into_response();
    }
    match tokio::time::timeout(HEALTH_TIMEOUT, herder.connector_names()).await {
        Ok(_) => Json(json!({
            "status": "healthy",
            "message": "Worker has completed startup and is ready to handle requests.",
        }))
        .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({
                "status": "unhealthy",
                "message": "Worker was unable to handle this request and may be unable to handle other requests. The worker is busy changing its connectors.",
            })),
        )
            .into_response(),
    }
}

/// `GET /admin/cluster`: standalone, or the distributed cluster as this worker sees it (its
/// leader, the assignment epoch it acts on, each worker's REST URL and what it runs), and
/// which record log the worker uses (`log`: `embedded` or `kafka`).
pub async fn cluster(State(herder): State<Herder>) -> Json<Value> {
    let me = herder.worker_config().worker_id.clone();
    let log = match &herder.worker_config().log {
        LogBackend::Embedded { .. } => "embedded",
        LogBackend::Kafka { .. } => "kafka",
    };
    if !herder.is_distributed() {
        return Json(json!({"mode": "standalone", "worker_id": me, "log": log}));
    }
    let info = herder.cluster_info();
    Json(json!({
        "mode": "distributed",
        "worker_id": me,
        "log": log,
        "leader": info.leader_id,
        "leader_url": info.leader_url,
        "is_leader": info.is_leader,
        "epoch": info.epoch,
        "workers": info.workers,
    }))
}
