//! The REST API, compatible with Kafka Connect's: the same paths, methods, status codes and
//! JSON bodies, and errors as `{"error_code": <status>, "message": "..."}` ([`ApiError`]).
//! Handlers only call the [`Herder`]; they never wait on a connector beyond the herder's own
//! calls. Trailing slashes are accepted (`/connectors/` is `/connectors`).

mod connectors;
mod error;
mod plugins;
mod root;

use axum::{
    Router,
    extract::Request,
    http::Uri,
    routing::{get, put},
};
use tower::ServiceExt as _;

pub use self::error::ApiError;
use crate::{config::ConfigError, coordinator::Herder};

/// Kafka Connect's default `listeners`.
pub const DEFAULT_LISTENER: &str = "http://127.0.0.1:8083";

/// The API on `herder`.
pub fn router(herder: Herder) -> Router {
    let routes = Router::new()
        .route("/", get(root::server_info))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::get).delete(connectors::delete),
        )
        .route("/connectors/{name}/config", get(connectors::config))
        .route("/connectors/{name}/status", get(connectors::status))
        .route("/connectors/{name}/tasks", get(connectors::tasks))
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(connectors::task_status),
        )
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route("/connector-plugins", get(plugins::list))
        .fallback(|| async { ApiError::NotFound("HTTP 404 Not Found".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("HTTP 405 Method Not Allowed".into())
        })
        .with_state(herder);
    // Routing happens inside `routes`, so the path is normalized before it is matched.
    Router::new().fallback_service(routes.map_request(trim_trailing_slash))
}

/// `/connectors/` → `/connectors` (the query is kept); `/` stays.
fn trim_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(path_and_query) = path_and_query.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// The host and port of the first of the worker's `listeners` (`http://host:port`,
/// comma-separated; an empty host means all interfaces), for `TcpListener::bind`. Only `http`
/// is served.
pub fn listener_address(listeners: Option<&str>) -> Result<(String, u16), ConfigError> {
    let listeners = listeners.unwrap_or(DEFAULT_LISTENER);
    let invalid = || ConfigError::Invalid {
        key: "listeners".into(),
        value: listeners.into(),
        expected: "http://host:port",
    };
    let first = listeners.split(',').next().unwrap_or("").trim();
    let authority = first.strip_prefix("http://").ok_or_else(invalid)?;
    let authority = authority.trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    if host.contains(['/', '@', ' ']) {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    herder: Herder,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(herder))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_parsed() {
        let parse =
            |listeners| listener_address(listeners).map(|(host, port)| format!("{host} {port}"));
        assert_eq!(parse(None).unwrap(), "127.0.0.1 8083");
        assert_eq!(parse(Some("http://:8084")).unwrap(), "0.0.0.0 8084");
        assert_eq!(
            parse(Some("http://localhost:0, http://other:1")).unwrap(),
            "localhost 0"
        );
        assert_eq!(parse(Some("http://[::1]:8083/")).unwrap(), "::1 8083");
        assert!(parse(Some("https://a:1")).is_err());
        assert!(parse(Some("http://a")).is_err());
    }

    #[test]
    fn trailing_slashes_are_trimmed() {
        let request = Request::builder()
            .uri("/connectors/?expand=status")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            trim_trailing_slash(request).uri().to_string(),
            "/connectors?expand=status"
        );
    }
}
