//! A small blocking HTTP client for connectors, over `wasi:http/outgoing-handler` (so every
//! request goes through the host's egress policy), plus URL and retry helpers the HTTP
//! connectors share. Outside wasm32 [`send`] is unavailable and returns an error; the pure
//! helpers are tested natively.

use std::time::Duration;

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Connect, first-byte and between-bytes timeout (the host caps each).
    pub timeout: Option<Duration>,
}

/// The methods the connectors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Request {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// An HTTP response, body read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds, if present and numeric.
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }
}

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host's egress policy refused it (not on the allow-list, or a forbidden address):
    /// a configuration problem, not worth retrying.
    Denied(String),
    /// The URL cannot be used.
    InvalidUrl(String),
    /// Anything else (DNS, connection, timeout, protocol): worth retrying.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(message) => write!(f, "request denied by the sandbox: {message}"),
            Self::InvalidUrl(message) => write!(f, "invalid URL: {message}"),
            Self::Transport(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// A URL split into what `wasi:http` wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path_with_query: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| HttpError::InvalidUrl(format!("`{url}` has no scheme")))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            other => {
                return Err(HttpError::InvalidUrl(format!(
                    "`{url}`: scheme `{other}` is not http or https"
                )));
            }
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(HttpError::InvalidUrl(format!(
                "`{url}` has no host (or has user info)"
            )));
        }
        let path_with_query = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        let path_with_query = match path_with_query.split_once('#') {
            Some((before, _)) => before.to_owned(),
            None => path_with_query,
        };
        Ok(Self {
            https,
            authority: authority.to_owned(),
            path_with_query,
        })
    }
}

/// `url` with query parameter `name=value` added (both percent-encoded).
pub fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut out = format!(
        "{base}{separator}{}={}",
        percent_encode(name),
        percent_encode(value)
    );
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Whether a status is worth retrying: 408, 429 and 5xx.
pub fn is_retriable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Exponential backoff: `base * 2^(attempt-1)`, capped at `max`.
pub fn backoff(base: Duration, attempt: u32, max: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// Most response body bytes read (the host caps it too).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// Sends `request` and reads the whole response.
#[cfg(target_arch = "wasm32")]
pub fn send(request: &Request) -> Result<Response, HttpError> {
    wasi_impl::send(request)
}

/// Sends every request at once (each on its own connection, as far as the host allows
/// concurrent requests) and reads the responses, in the order of `requests`.
#[cfg(target_arch = "wasm32")]
pub fn send_all(requests: &[Request]) -> Vec<Result<Response, HttpError>> {
    let pending: Vec<_> = requests.iter().map(wasi_impl::start).collect();
    pending
        .into_iter()
        .map(|pending| pending.and_then(wasi_impl::finish))
        .collect()
}

/// Outside wasm32 there is no `wasi:http`.
#[cfg(not(target_arch = "wasm32"))]
pub fn send(request: &Request) -> Result<Response, HttpError> {
    Err(HttpError::Transport(format!(
        "no wasi:http outside wasm32 ({})",
        request.url
    )))
}

/// Outside wasm32 there is no `wasi:http`.
#[cfg(not(target_arch = "wasm32"))]
pub fn send_all(requests: &[Request]) -> Vec<Result<Response, HttpError>> {
    requests.iter().map(send).collect()
}

#[cfg(target_arch = "wasm32")]
mod wasi_impl {
    use wasip2::http::{
        outgoing_handler::{self, FutureIncomingResponse},
        types::{
            ErrorCode, Fields, Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions,
            Scheme,
        },
    };

    use super::{HttpError, MAX_BODY_BYTES, Method, Request, Response, Url};

    fn error_code(code: ErrorCode) -> HttpError {
        match code {
            ErrorCode::HttpRequestDenied => {
                HttpError::Denied("the URL is not on the connector's allow-list".into())
            }
            ErrorCode::DestinationIpProhibited => HttpError::Denied(
                "the host resolves only to addresses the worker does not allow".into(),
            ),
            ErrorCode::HttpRequestUriInvalid => HttpError::InvalidUrl(format!("{code:?}")),
            other => HttpError::Transport(format!("{other:?}")),
        }
    }

    fn transport(what: &str) -> HttpError {
        HttpError::Transport(what.to_owned())
    }

    pub(super) fn send(request: &Request) -> Result<Response, HttpError> {
        finish(start(request)?)
    }

    /// Sends the request head and body; the response is still to come.
    pub(super) fn start(request: &Request) -> Result<FutureIncomingResponse, HttpError> {
        let url = Url::parse(&request.url)?;
        let mut entries = Vec::with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            entries.push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        }
        let headers = Fields::from_list(&entries)
            .map_err(|e| HttpError::InvalidUrl(format!("bad header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
        };
        outgoing
            .set_method(&method)
            .map_err(|()| transport("method rejected"))?;
        outgoing
            .set_scheme(Some(&if url.https {
                Scheme::Https
            } else {
                Scheme::Http
            }))
            .map_err(|()| transport("scheme rejected"))?;
        outgoing
            .set_authority(Some(&url.authority))
            .map_err(|()| HttpError::InvalidUrl(format!("bad authority `{}`", url.authority)))?;
        outgoing
            .set_path_with_query(Some(&url.path_with_query))
            .map_err(|()| HttpError::InvalidUrl(format!("bad path `{}`", url.path_with_query)))?;
        let body = outgoing
            .body()
            .map_err(|()| transport("request body taken twice"))?;
        let options = request.timeout.map(|timeout| {
            let options = RequestOptions::new();
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            options
        });
        let future = outgoing_handler::handle(outgoing, options).map_err(error_code)?;
        if let Some(bytes) = &request.body {
            let stream = body
                .write()
                .map_err(|()| transport("request body stream taken twice"))?;
            // At most 4096 bytes per blocking write.
            for chunk in bytes.chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| HttpError::Transport(format!("writing the body: {e:?}")))?;
            }
            drop(stream);
        }
        OutgoingBody::finish(body, None).map_err(error_code)?;
        Ok(future)
    }

    /// Waits for the response of a started request and reads it whole.
    pub(super) fn finish(future: FutureIncomingResponse) -> Result<Response, HttpError> {
        let response = loop {
            match future.get() {
                Some(result) => {
                    break result
                        .map_err(|()| transport("response taken twice"))?
                        .map_err(error_code)?;
                }
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| transport("response body taken twice"))?;
        let stream = incoming
            .stream()
            .map_err(|()| transport("response body stream taken twice"))?;
        let mut body = Vec::new();
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(transport("response body too large"));
                    }
                    body.extend_from_slice(&chunk);
                }
                Err(wasip2::io::streams::StreamError::Closed) => break,
                Err(wasip2::io::streams::StreamError::LastOperationFailed(error)) => {
                    return Err(HttpError::Transport(format!(
                        "reading the response: {}",
                        error.to_debug_string()
                    )));
                }
            }
        }
        drop(stream);
        drop(incoming);
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let url = Url::parse("http://127.0.0.1:8080/items?x=1#frag").unwrap();
        assert!(!url.https);
        assert_eq!(url.authority, "127.0.0.1:8080");
        assert_eq!(url.path_with_query, "/items?x=1");
        assert_eq!(Url::parse("https://h").unwrap().path_with_query, "/");
        assert_eq!(Url::parse("https://h?q").unwrap().path_with_query, "/?q");
        assert!(Url::parse("ftp://h").is_err());
        assert!(Url::parse("h/x").is_err());
        assert!(Url::parse("http://u@h/").is_err());
    }

    #[test]
    fn query_params_are_appended_and_encoded() {
        assert_eq!(
            with_query_param("http://h/a", "c", "x y"),
            "http://h/a?c=x%20y"
        );
        assert_eq!(
            with_query_param("http://h/a?b=1", "c", "&"),
            "http://h/a?b=1&c=%26"
        );
    }

    #[test]
    fn retries_and_backoff() {
        assert!(is_retriable_status(429));
        assert!(is_retriable_status(503));
        assert!(!is_retriable_status(400));
        assert!(!is_retriable_status(200));
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff(base, 1, max), base);
        assert_eq!(backoff(base, 3, max), Duration::from_millis(400));
        assert_eq!(backoff(base, 40, max), max);
        let response = Response {
            status: 429,
            headers: vec![("retry-after".into(), "2".into())],
            body: Vec::new(),
        };
        assert_eq!(response.retry_after(), Some(Duration::from_secs(2)));
    }
}
