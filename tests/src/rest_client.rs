//! An HTTP client for a worker's REST API on 127.0.0.1 (in this process or a child process):
//! requests with a method, path, body and content type; replies as status, `Location` and a
//! JSON body.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, body::Bytes, header};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::Value;

/// One response: status, `Location` header and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: Value,
}

/// A client for the REST API at `base` (`http://127.0.0.1:<port>`).
#[derive(Clone)]
pub struct RestClient {
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    /// Sent as `Authorization` with every request.
    authorization: Option<String>,
}

impl RestClient {
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            authorization: None,
        }
    }

    /// This client sending `authorization` (e.g. `Bearer <token>`) with every request.
    pub fn with_authorization(&self, authorization: impl Into<String>) -> Self {
        Self {
            authorization: Some(authorization.into()),
            ..self.clone()
        }
    }

    /// This client sending HTTP Basic credentials with every request.
    pub fn with_basic(&self, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        self.with_authorization(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let content_type = body.map(|_| "application/json");
        self.send_typed(method, path, body, content_type).await
    }

    pub async fn send_typed(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> Reply {
        let body = Bytes::from(body.unwrap_or("").to_owned());
        self.send_bytes(method, path, body, content_type).await
    }

    /// Sends a request; panics if the worker does not answer or the body is not JSON.
    pub async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Reply {
        self.try_send_bytes(method, path, body, content_type)
            .await
            .unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    /// `GET path` with an `Accept` header, for bodies that are not JSON: the status, the
    /// `Content-Type` and the body as text.
    pub async fn get_text(&self, path: &str, accept: Option<&str>) -> (StatusCode, String, String) {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}{path}", self.base));
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::new())).expect("request"))
            .await
            .unwrap_or_else(|error| panic!("{path}: no response: {error}"));
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|error| panic!("{path}: body: {error}"))
            .to_bytes();
        (
            status,
            content_type,
            String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
        )
    }

    /// [`Self::send_bytes`] that says why instead of panicking.
    pub async fn try_send_bytes(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Reply, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("no response: {e}"))?;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|error| {
                format!("not JSON ({error}): {}", String::from_utf8_lossy(&bytes))
            })?
        };
        Ok(Reply {
            status,
            location,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str) -> Reply {
        self.send(Method::PUT, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(&body.to_string())).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(&body.to_string())).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(&body.to_string()))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// Uploads a component (`POST /connector-plugins`).
    pub async fn upload(&self, component: Vec<u8>) -> Reply {
        self.send_bytes(
            Method::POST,
            "/connector-plugins",
            Bytes::from(component),
            Some("application/wasm"),
        )
        .await
    }

    /// Polls `GET path` until its body satisfies `done`.
    pub async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
        let start = Instant::now();
        loop {
            let reply = self.get(path).await;
            if done(&reply) {
                return reply;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}; last reply {reply:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
