//! A small blocking client for Confluent Schema Registry's REST API: register a schema under a
//! subject, look up a schema's id or a subject's latest version, and fetch a schema by id.
//!
//! Built on `ureq`, which does plain blocking I/O with no runtime of its own, so it may be called
//! from a tokio worker thread (`reqwest::blocking` panics there). Every request has a connect
//! timeout and an overall timeout. With several URLs (`schema.registry.url=a,b`), each request
//! tries them in order and uses the first that answers; an HTTP error answer is final.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value as Json, json};

/// How long to wait for a TCP (and TLS) connection to one registry URL.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request to one registry URL may take in all.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5";

/// Why a Schema Registry request failed. `what` says what was asked (`registering a schema
/// under subject `orders-value``).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no schema registry could be reached for {what}: {attempts}")]
    Unreachable { what: String, attempts: String },
    #[error("schema registry {url} answered HTTP {status} to {what}: {message}")]
    Status {
        url: String,
        what: String,
        status: u16,
        /// Confluent's `error_code` (e.g. 40401 subject not found, 40403 schema not found).
        error_code: Option<i64>,
        message: String,
    },
    #[error("schema registry {url} sent an invalid answer to {what}: {reason}")]
    InvalidResponse {
        url: String,
        what: String,
        reason: String,
    },
}

/// A schema as the registry returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredSchema {
    pub id: u32,
    pub schema: String,
}

/// The Schema Registry client of one converter.
pub struct RegistryClient {
    /// Base URLs without credentials or trailing slash.
    urls: Vec<String>,
    /// `Authorization` header value, if any.
    authorization: Option<String>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("urls", &self.urls)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "****"),
            )
            .finish_non_exhaustive()
    }
}

/// Where Basic authentication credentials come from (`basic.auth.credentials.source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicAuth {
    /// From the `user:password@` part of the URLs (Confluent's default, `URL`).
    FromUrl,
    /// `USER_INFO`: the given `user:password`.
    UserInfo(String),
}

impl RegistryClient {
    /// `urls` are the (already split, non-empty) `schema.registry.url` entries.
    pub fn new(urls: &[String], auth: BasicAuth) -> Self {
        let mut url_user_info = None;
        let urls = urls
            .iter()
            .map(|url| {
                let (url, user_info) = split_user_info(url);
                if url_user_info.is_none() {
                    url_user_info = user_info;
                }
                url.trim_end_matches('/').to_string()
            })
            .collect();
        let user_info = match auth {
            BasicAuth::FromUrl => url_user_info,
            BasicAuth::UserInfo(user_info) => Some(user_info),
        };
        let authorization = user_info.map(|user_info| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user_info)
            )
        });
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            urls,
            authorization,
            agent,
        }
    }

    /// `POST /subjects/{subject}/versions`: registers `schema` (or finds it already
    /// registered) and returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let what = format!("registering a schema under subject `{subject}`");
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let (url, answer) = self.request(&what, &path, Some(&json!({ "schema": schema })))?;
        schema_id(&answer).ok_or_else(|| invalid(&url, &what, "no integer `id`"))
    }

    /// `POST /subjects/{subject}`: the id of `schema` if it is registered under `subject`.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let what = format!("looking up a schema under subject `{subject}`");
        let path = format!("/subjects/{}", encode_segment(subject));
        let (url, answer) = self.request(&what, &path, Some(&json!({ "schema": schema })))?;
        schema_id(&answer).ok_or_else(|| invalid(&url, &what, "no integer `id`"))
    }

    /// `GET /subjects/{subject}/versions/latest`.
    pub fn latest(&self, subject: &str) -> Result<RegisteredSchema, RegistryError> {
        let what = format!("fetching the latest schema of subject `{subject}`");
        let path = format!("/subjects/{}/versions/latest", encode_segment(subject));
        let (url, answer) = self.request(&what, &path, None)?;
        let id = schema_id(&answer).ok_or_else(|| invalid(&url, &what, "no integer `id`"))?;
        let schema = avro_schema_text(&answer).map_err(|reason| invalid(&url, &what, reason))?;
        Ok(RegisteredSchema { id, schema })
    }

    /// `GET /schemas/ids/{id}`: the schema text with this id.
    pub fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        let what = format!("fetching schema id {id}");
        let (url, answer) = self.request(&what, &format!("/schemas/ids/{id}"), None)?;
        avro_schema_text(&answer).map_err(|reason| invalid(&url, &what, reason))
    }

    /// Sends one request (POST with `body`, else GET) to the first URL that answers and
    /// returns that URL and the JSON answer of a 2xx status.
    fn request(
        &self,
        what: &str,
        path: &str,
        body: Option<&Json>,
    ) -> Result<(String, Json), RegistryError> {
        let mut attempts = String::new();
        for base in &self.urls {
            let url = format!("{base}{path}");
            let sent = match body {
                Some(body) => self
                    .with_headers(self.agent.post(&url))
                    .header("Content-Type", CONTENT_TYPE)
                    .send(body.to_string()),
                None => self.with_headers(self.agent.get(&url)).call(),
            };
            let mut response = match sent {
                Ok(response) => response,
                Err(err) => {
                    if !attempts.is_empty() {
                        attempts.push_str("; ");
                    }
                    let _ = write!(attempts, "{url}: {err}");
                    continue;
                }
            };
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .read_to_string()
                .map_err(|err| invalid(&url, what, format!("cannot read the body: {err}")))?;
            if !(200..300).contains(&status) {
                let answer: Option<Json> = serde_json::from_str(&text).ok();
                let error_code = answer
                    .as_ref()
                    .and_then(|a| a.get("error_code"))
                    .and_then(Json::as_i64);
                let message = answer
                    .as_ref()
                    .and_then(|a| a.get("message"))
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| truncate(&text, 200));
                return Err(RegistryError::Status {
                    url,
                    what: what.to_string(),
                    status,
                    error_code,
                    message,
                });
            }
            let answer = serde_json::from_str(&text)
                .map_err(|err| invalid(&url, what, format!("not JSON: {err}")))?;
            return Ok((url, answer));
        }
        Err(RegistryError::Unreachable {
            what: what.to_string(),
            attempts,
        })
    }

    fn with_headers<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let request = request.header("Accept", ACCEPT);
        match &self.authorization {
            Some(authorization) => request.header("Authorization", authorization),
            None => request,
        }
    }
}

fn invalid(url: &str, what: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidResponse {
        url: url.to_string(),
        what: what.to_string(),
        reason: reason.into(),
    }
}

fn schema_id(answer: &Json) -> Option<u32> {
    answer
        .get("id")
        .and_then(Json::as_u64)
        .and_then(|id| u32::try_from(id).ok())
}

/// The `schema` text of an answer, refusing schemas of another type (`schemaType` is absent
/// for Avro).
fn avro_schema_text(answer: &Json) -> Result<String, String> {
    if let Some(ty) = answer.get("schemaType").and_then(Json::as_str)
        && !ty.eq_ignore_ascii_case("AVRO")
    {
        return Err(format!("the schema is of type {ty}, not AVRO"));
    }
    answer
        .get("schema")
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| "no string `schema`".to_string())
}

/// Splits `http://user:pass@host:8081` into `http://host:8081` and `user:pass`.
fn split_user_info(url: &str) -> (String, Option<String>) {
    let url = url.trim();
    let Some(scheme_end) = url.find("://") else {
        return (url.to_string(), None);
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let user_info = percent_decode(&authority[..at]);
            let stripped = format!(
                "{}{}{}",
                &url[..authority_start],
                &authority[at + 1..],
                &rest[authority_end..]
            );
            (stripped, Some(user_info))
        }
        None => (url.to_string(), None),
    }
}

/// Percent-encodes a URL path segment (everything but RFC 3986 unreserved characters).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_split_from_urls() {
        assert_eq!(
            split_user_info("https://us%40r:p@ss@sr.example:8081/base"),
            (
                "https://sr.example:8081/base".to_string(),
                Some("us@r:p@ss".to_string())
            )
        );
        assert_eq!(
            split_user_info("http://localhost:8081"),
            ("http://localhost:8081".to_string(), None)
        );
    }

    #[test]
    fn subjects_are_percent_encoded() {
        assert_eq!(encode_segment("a b/c-value"), "a%20b%2Fc-value");
    }
}
