//! Request forwarding in distributed mode, as Kafka Connect does it: a change to a connector
//! (`POST`, `PUT`, `PATCH` or `DELETE` under `/connectors`) received by a worker that does not
//! lead the cluster is sent on to the leader's REST API with `forward=false`, and the
//! leader's answer returned as is. Reads are answered by any worker from its own view. While
//! there is no leader, or the one named last no longer leads (a rebalance), a change waits
//! up to 30 s and then gets Kafka Connect's 409; a forwarded request reaching a worker that
//! does not lead gets the 409 at once (marked, so the forwarding worker retries it).

use axum::{
    body::Body,
    extract::{Request, State},
    http::{Method, Uri},
    middleware::Next,
    response::{IntoResponse as _, Response},
};

use std::time::Duration;

use super::ApiError;
use crate::coordinator::Herder;

/// The most of a request body forwarded (a connector config; uploads are not forwarded).
const MAX_FORWARDED_BYTES: usize = 16 << 20;

/// Whether a request changes the cluster's connectors.
fn is_change(method: &Method, path: &str) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && (path == "/connectors" || path.starts_with("/connectors/"))
}

/// Marks a 409 that only says "not the leader (any more)", which the forwarding worker
/// retries, unlike a conflict the request itself caused.
const NOT_LEADER: &str = "x-wasm-connect-not-leader";

/// How long a change waits for a leader (a rebalance) before Kafka Connect's 409.
const LEADER_WAIT: Duration = Duration::from_secs(30);

pub async fn to_leader(State(herder): State<Herder>, request: Request, next: Next) -> Response {
    if !herder.is_distributed() || !is_change(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let forwarded = request
        .uri()
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "forward=false"));
    if forwarded {
        if herder.cluster_info().is_leader {
            return next.run(request).await;
        }
        let mut response = ApiError::Conflict(
            "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"
                .into(),
        )
        .into_response();
        response
            .headers_mut()
            .insert(NOT_LEADER, axum::http::HeaderValue::from_static("true"));
        return response;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_FORWARDED_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::BadRequest(format!("failed to read the request body: {error}"))
                .into_response();
        }
    };
    let me = herder.worker_config().worker_id.clone();
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    let mut last = None;
    // During a rebalance there is no leader, or the one named last no longer leads: wait.
    loop {
        let cluster = herder.cluster_info();
        if cluster.is_leader {
            return next.run(Request::from_parts(parts, Body::from(body))).await;
        }
        let leader = cluster
            .leader_url
            .filter(|url| !url.is_empty() && cluster.leader_id.as_deref() != Some(me.as_str()));
        if let Some(leader) = leader {
            match forward(&parts, body.clone(), &leader).await {
                Ok(response) if response.headers().contains_key(NOT_LEADER) => {
                    last = Some(format!("{leader} no longer leads"));
                }
                Ok(response) => return response,
                Err(message) => {
                    tracing::debug!(leader = %leader, error = %message, "Forwarding a request to the leader failed.");
                    last = Some(format!("the leader at {leader} did not answer ({message})"));
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let message = match last {
                Some(last) => format!(
                    "Cannot complete request momentarily: {last}, likely because a rebalance is underway; try again"
                ),
                None => "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.".to_owned(),
            };
            return ApiError::Conflict(message).into_response();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn forward(
    parts: &axum::http::request::Parts,
    body: axum::body::Bytes,
    leader: &str,
) -> Result<Response, String> {
    let path = parts.uri.path();
    let query = match parts.uri.query() {
        Some(query) => format!("?{query}&forward=false"),
        None => "?forward=false".to_owned(),
    };
    let uri: Uri = format!("{}{path}{query}", leader.trim_end_matches('/'))
        .parse()
        .map_err(|error| format!("the leader URL: {error}"))?;
    let mut request = Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        if name != axum::http::header::HOST {
            request = request.header(name, value);
        }
    }
    let request = request
        .body(Body::from(body))
        .map_err(|error| error.to_string())?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let response = tokio::time::timeout(Duration::from_secs(90), client.request(request))
        .await
        .map_err(|_| "no answer within 90 s".to_owned())?
        .map_err(|error| error.to_string())?;
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_to_connectors_are_forwarded() {
        assert!(is_change(&Method::POST, "/connectors"));
        assert!(is_change(&Method::PUT, "/connectors/a/config"));
        assert!(is_change(&Method::DELETE, "/connectors/a"));
        assert!(!is_change(&Method::GET, "/connectors/a"));
        assert!(!is_change(&Method::POST, "/connector-plugins"));
        assert!(!is_change(&Method::PUT, "/admin/loggers/x"));
    }
}
