//! The REST API, compatible with Kafka Connect's: the same paths, methods, status codes and
//! JSON bodies, and errors as `{"error_code": <status>, "message": "..."}` ([`ApiError`]).
//! Handlers only call the [`Herder`]; they never wait on a connector beyond the herder's own
//! calls. Lenient where Kafka Connect is: trailing slashes are accepted (`/connectors/` is
//! `/connectors`), query booleans and expansions in any case. A request body that is not
//! `application/json` is a 415 and malformed JSON a 400 with the parser's message. Beyond
//! Kafka Connect, `POST /connector-plugins` uploads a component (`application/wasm`) and
//! `DELETE /connector-plugins/{plugin}` removes an uploaded one, `GET /metrics` serves the
//! metrics for Prometheus, `/ui/` serves the web console, and `/topics` reads and
//! writes the worker's record log (what `wasm-connect topics` uses when a worker holds the
//! embedded log).

mod audit;
mod auth;
mod config_infos;
mod connectors;
mod console;
mod error;
mod forward;
mod loggers;
mod metrics;
mod offsets;
pub mod openapi;
mod plugins;
mod root;
mod tenants;
mod topics;

use axum::{
    Router,
    extract::Request,
    http::{Method, Uri, header},
    middleware::Next,
    response::{IntoResponse as _, Response},
};
use serde_json::Value;
use tower::ServiceExt as _;

pub use self::{auth::Caller, error::ApiError};
use crate::coordinator::Herder;

/// Declares the API's routes once: [`ROUTES`] (each path with its methods, which the OpenAPI
/// document is checked against) and `routes()` (the router serving them), so a route cannot
/// be served without being listed.
macro_rules! routes {
    ($($path:literal => $first:ident($first_handler:path) $(.$method:ident($handler:path))*;)*) => {
        /// Every path the API serves, with its methods (lower-case, as in OpenAPI).
        pub const ROUTES: &[(&str, &[&str])] =
            &[$(($path, &[stringify!($first) $(, stringify!($method))*])),*];

        fn routes() -> Router<Herder> {
            Router::new()
                $(.route($path, axum::routing::$first($first_handler) $(.$method($handler))*))*
        }
    };
}

routes! {
    "/" => get(root::server_info);
    "/health" => get(root::health);
    "/openapi.json" => get(openapi::document);
    "/metrics" => get(metrics::scrape);
    "/connectors" => get(connectors::list).post(connectors::create);
    "/connectors/{name}" => get(connectors::get).delete(connectors::delete);
    "/connectors/{name}/config" =>
        get(connectors::config).put(connectors::put_config).patch(connectors::patch_config);
    "/connectors/{name}/status" => get(connectors::status);
    "/connectors/{name}/restart" => post(connectors::restart);
    "/connectors/{name}/tasks" => get(connectors::tasks);
    "/connectors/{name}/tasks/{task}/status" => get(connectors::task_status);
    "/connectors/{name}/tasks/{task}/restart" => post(connectors::restart_task);
    "/connectors/{name}/pause" => put(connectors::pause);
    "/connectors/{name}/resume" => put(connectors::resume);
    "/connectors/{name}/stop" => put(connectors::stop);
    "/connectors/{name}/topics" => get(connectors::topics);
    "/connectors/{name}/topics/reset" => put(connectors::reset_topics);
    "/connectors/{name}/offsets" => get(offsets::get).patch(offsets::alter).delete(offsets::reset);
    "/connector-plugins" => get(plugins::list).post(plugins::upload);
    "/connector-plugins/{plugin}" => delete(plugins::delete);
    "/connector-plugins/{plugin}/config" => get(plugins::config);
    "/connector-plugins/{plugin}/config/validate" => put(plugins::validate);
    "/admin/loggers" => get(loggers::list);
    "/admin/cluster" => get(root::cluster);
    "/topics" => get(topics::list);
    "/topics/{topic}/partitions/{partition}/records" => get(topics::read);
    "/topics/{topic}/records" => post(topics::write);
    "/admin/loggers/{name}" => get(loggers::get).put(loggers::set);
    "/admin/tenants" => get(tenants::list).post(tenants::create);
    "/secrets" => get(tenants::list_secrets);
    "/secrets/{name}" => put(tenants::put_secret).delete(tenants::delete_secret);
    "/admin/tenants/{tenant}" =>
        get(tenants::get).put(tenants::update).delete(tenants::delete);
}

/// The API on `herder`.
pub fn router(herder: Herder) -> Router {
    let audit = audit::AuditLog::new(herder.worker_config().audit_log.clone());
    let routes = routes()
        .route_layer(axum::middleware::from_fn(audit::note_route))
        .fallback(|| async { ApiError::NotFound("HTTP 404 Not Found".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("HTTP 405 Method Not Allowed".into())
        })
        .layer(axum::middleware::from_fn(require_json))
        .layer(axum::middleware::from_fn_with_state(
            herder.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(audit, audit::record))
        .layer(axum::middleware::from_fn_with_state(
            herder.clone(),
            forward::to_leader,
        ))
        .with_state(herder);
    // Routing happens inside `routes`, so the path is normalized before it is matched. The
    // console's assets need no credentials and are matched first.
    console::router().fallback_service(routes.map_request(trim_trailing_slash))
}

/// Kafka Connect's resources consume only `application/json`: a `POST`, `PUT` or `PATCH` with
/// another `Content-Type` is a 415 (no `Content-Type` is accepted, as Jersey does for an
/// empty body).
async fn require_json(request: Request, next: Next) -> Response {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if writes && let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // Uploads (beyond Kafka Connect) carry the component's bytes.
        let upload = *request.method() == Method::POST
            && request.uri().path() == "/connector-plugins"
            && (essence == "application/wasm" || essence == "application/octet-stream");
        if essence != "application/json" && !upload {
            return ApiError::UnsupportedMediaType("HTTP 415 Unsupported Media Type".into())
                .into_response();
        }
    }
    next.run(request).await
}

/// Every error is Kafka Connect's `{"error_code", "message"}`, also those axum's extractors
/// answer in plain text (a path segment that is not UTF-8 once decoded, a body over the
/// limit): their text becomes the message.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), message = %message, "REST request failed.");
    }
    let body = serde_json::json!({"error_code": status.as_u16(), "message": message});
    (status, axum::Json(body)).into_response()
}

/// A JSON request body; a malformed one is a 400 with the parser's message.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("Malformed JSON request body: {error}")))
}

/// A request's query parameters, percent-decoded, in order.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        Self(
            query
                .unwrap_or("")
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect(),
        )
    }

    /// Every value of `key`.
    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of `key`.
    fn first(&self, key: &str) -> Option<&str> {
        self.all(key).into_iter().next()
    }

    /// A boolean as JAX-RS binds it (`Boolean.valueOf`): `true` in any case, anything else
    /// (or nothing) false.
    fn flag(&self, key: &str) -> bool {
        self.first(key)
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    }
}

/// `application/x-www-form-urlencoded` decoding of one key or value.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |byte: u8| char::from(byte).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    fn queries_are_decoded_and_flags_lenient() {
        let query = Query::parse(Some(
            "includeTasks=TRUE&onlyFailed=yes&expand=a%20b&expand=c+d&x",
        ));
        assert!(query.flag("includeTasks"));
        assert!(!query.flag("onlyFailed"));
        assert!(!query.flag("missing"));
        assert_eq!(query.all("expand"), ["a b", "c d"]);
        assert_eq!(query.first("x"), Some(""));
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%41"), "%zzA");
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
