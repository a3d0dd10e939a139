//! `GET /metrics` (beyond Kafka Connect's REST API, where JMX serves them): the worker's
//! metrics in the Prometheus text format, or OpenMetrics when `Accept` asks for it.

use axum::{
    extract::State,
    http::{HeaderMap, header},
    response::IntoResponse,
};

use crate::{
    coordinator::Herder,
    metrics::{Format, render},
};

/// `GET /metrics`.
pub async fn scrape(State(herder): State<Herder>, headers: HeaderMap) -> impl IntoResponse {
    let format = Format::from_accept(
        headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok()),
    );
    let body = render(herder.metrics_snapshot().await, format);
    ([(header::CONTENT_TYPE, format.content_type())], body)
}
