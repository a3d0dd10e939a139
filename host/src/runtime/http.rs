//! Outgoing HTTP for guests (`wasi:http/outgoing-handler`) through the host's own sender,
//! which enforces egress: deny by default; a request must match the connector's allow-list
//! (`scheme://host:port` rules with `*` wildcards), and the host resolves the name itself and
//! dials only addresses outside the special ranges (loopback, private, link-local, CGNAT, …)
//! unless the operator allows private networks. It connects to the exact address it checked
//! (no second resolution, so no DNS rebinding), follows no redirects, uses no proxy, bounds
//! every phase by a timeout and caps the response body. Each instance has at most
//! `sandbox.http.concurrent.requests` connections open; HTTPS servers must be certified by
//! Mozilla's roots or the operator's `sandbox.http.tls.ca.file`.

use std::{
    future::poll_fn,
    net::{IpAddr, SocketAddr},
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http::uri::Scheme as UriScheme;
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks, io::TokioIo,
};

pub use crate::config::egress::{
    AllowRule, DEFAULT_HTTP_CONCURRENT_REQUESTS, DEFAULT_HTTP_RESPONSE_MAX_BYTES,
    DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_HTTP_CONCURRENT_REQUESTS, EgressPolicy, HttpScheme,
    TlsTrust, parse_allow_list, special_range,
};

/// The most of a request's URL a log line shows.
const MAX_LOGGED_URL_BYTES: usize = 2 << 10;

/// The `wasi:http` hooks of one instance: every outgoing request goes through
/// [`send_checked`], with this instance's policy.
pub(crate) struct EgressHooks {
    pub(crate) policy: Option<Arc<EgressPolicy>>,
    pub(crate) connector: String,
    pub(crate) task: Option<u32>,
    /// One permit per open connection of this instance.
    pub(crate) open: Arc<tokio::sync::Semaphore>,
    /// One permit per open connection of its tenant (`quotas.http_connections`), if limited.
    pub(crate) tenant_open: Option<Arc<tokio::sync::Semaphore>>,
    /// The task's log budget: a guest sending denied requests in a loop must not flood the
    /// worker's log with their warnings.
    pub(crate) log: Arc<super::LogBudget>,
    /// Where the task counts its requests by outcome; None for instances of no task.
    pub(crate) metrics: Option<Arc<crate::metrics::TaskMetrics>>,
}

impl EgressHooks {
    pub(crate) fn new(
        policy: Option<Arc<EgressPolicy>>,
        connector: String,
        task: Option<u32>,
        log: Arc<super::LogBudget>,
        metrics: Option<Arc<crate::metrics::TaskMetrics>>,
    ) -> Self {
        let permits = policy
            .as_ref()
            .map_or(0, |policy| policy.concurrent_requests);
        Self {
            policy,
            connector,
            task,
            open: Arc::new(tokio::sync::Semaphore::new(permits)),
            tenant_open: None,
            log,
            metrics,
        }
    }

    /// The hooks also holding each connection to a slot of its tenant's.
    pub(crate) fn with_tenant_slots(mut self, slots: Option<Arc<tokio::sync::Semaphore>>) -> Self {
        self.tenant_open = slots;
        self
    }

    /// Logs a request that failed on the way (within the log budget) and maps it to the
    /// error code the guest sees.
    fn failed(
        &self,
        what: &str,
        error: &dyn std::fmt::Display,
        code: wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        let message = error.to_string();
        if self.log.admit(message.len()) {
            tracing::debug!(connector = %self.connector, task = self.task, error = %message, "HTTP {what} error.");
        }
        code
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

impl WasiHttpHooks for EgressHooks {
    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        super::state::HTTP_BODY_CHUNK_BYTES
    }

    fn p2_error_from_hyper(
        &mut self,
        error: &hyper::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
        self.failed("protocol", error, ErrorCode::HttpProtocolError)
    }

    fn p2_error_from_connect(
        &mut self,
        error: &std::io::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
        self.failed("connect", error, ErrorCode::ConnectionRefused)
    }

    fn p2_error_from_tls(
        &mut self,
        error: &std::io::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
        self.failed("TLS", error, ErrorCode::TlsProtocolError)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        let policy = self.policy.clone();
        let connector = self.connector.clone();
        let task = self.task;
        let open = self.open.clone();
        let tenant_open = self.tenant_open.clone();
        let log = self.log.clone();
        let metrics = self.metrics.clone();
        let count = move |outcome: &str| {
            if let Some(metrics) = &metrics {
                metrics.guest.egress(outcome);
            }
        };
        Box::new(async move {
            // For logs only: a guest's URL can be as long as it likes.
            let url = crate::text::bounded(&request.uri().to_string(), MAX_LOGGED_URL_BYTES);
            let Some(policy) = policy else {
                let denial = Denial::NoGrant;
                denial.warn(&log, &connector, task, &url);
                count(denial.outcome());
                return Err(denial.error());
            };
            // Wait for a free connection slot, at most as long as a connect may take.
            let wait = bounded(
                options.as_ref().and_then(|o| o.connect_timeout),
                policy.timeout,
            );
            let Ok(Ok(permit)) = tokio::time::timeout(wait, open.acquire_owned()).await else {
                count("refused_concurrency");
                if log.admit(url.len()) {
                    tracing::warn!(
                    connector = %connector,
                    task,
                    url = %url,
                    limit = policy.concurrent_requests,
                    "HTTP request refused: the task already has sandbox.http.concurrent.requests \
                     connections open."
                    );
                }
                return Err(HttpError::InternalError(Some(format!(
                    "too many concurrent HTTP requests: this task already has {} connections \
                     open (sandbox.http.concurrent.requests)",
                    policy.concurrent_requests
                ))));
            };
            // And a slot of its tenant's, waiting as long again at most.
            let tenant_permit = match &tenant_open {
                None => None,
                Some(slots) => {
                    let Ok(Ok(permit)) =
                        tokio::time::timeout(wait, slots.clone().acquire_owned()).await
                    else {
                        count("refused_concurrency");
                        if log.admit(url.len()) {
                            tracing::warn!(
                                connector = %connector,
                                task,
                                url = %url,
                                "HTTP request refused: the tenant already has \
                                 quotas.http_connections connections open."
                            );
                        }
                        return Err(HttpError::InternalError(Some(
                            "too many concurrent HTTP requests: the tenant already has all the \
                             connections its quota allows open (quotas.http_connections)"
                                .to_owned(),
                        )));
                    };
                    Some(permit)
                }
            };
            match send_checked(&policy, request, options).await {
                Ok((response, io)) => {
                    count("allowed");
                    // The slot is taken until the connection closes.
                    let io: IoFuture = Box::new(async move {
                        let result = Box::into_pin(io).await;
                        drop(permit);
                        drop(tenant_permit);
                        result
                    });
                    Ok((response, io))
                }
                Err(SendError::Denied(denial)) => {
                    denial.warn(&log, &connector, task, &url);
                    count(denial.outcome());
                    Err(denial.error())
                }
                Err(SendError::Http(error)) => {
                    count(match error {
                        HttpError::ConnectionTimeout
                        | HttpError::ConnectionReadTimeout
                        | HttpError::ConnectionWriteTimeout
                        | HttpError::HttpResponseTimeout => "timed_out",
                        _ => "failed",
                    });
                    Err(error)
                }
            }
        })
    }
}

/// Why the egress policy refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("the connector has no network grant (sandbox.http.allow is empty)")]
    NoGrant,
    #[error("the URL is not on the connector's allow-list (sandbox.http.allow)")]
    NotAllowed,
    #[error("the URL has no host or an unsupported scheme")]
    BadUrl,
    #[error(
        "{host} resolves only to addresses the worker does not allow ({reasons}; see sandbox.http.allow.private.networks)"
    )]
    Address { host: String, reasons: String },
}

impl Denial {
    fn warn(&self, log: &super::LogBudget, connector: &str, task: Option<u32>, url: &str) {
        if !log.admit(url.len()) {
            return;
        }
        tracing::warn!(
            connector = %connector,
            task,
            url = %url,
            reason = %self,
            "HTTP request denied by the egress policy."
        );
    }

    /// The outcome label in `/metrics` (`wasm_connect_task_http_requests_total{outcome}`).
    fn outcome(&self) -> &'static str {
        match self {
            Self::Address { .. } => "denied_address",
            _ => "denied_allow_list",
        }
    }

    /// The `wasi:http` error code the guest sees.
    fn error(&self) -> HttpError {
        match self {
            Self::Address { .. } => HttpError::DestinationIpProhibited,
            _ => HttpError::HttpRequestDenied,
        }
    }
}

enum SendError {
    Denied(Denial),
    Http(HttpError),
}

impl From<HttpError> for SendError {
    fn from(error: HttpError) -> Self {
        Self::Http(error)
    }
}

/// The smaller of the guest's wish and the policy's cap.
fn bounded(wish: Option<Duration>, cap: Duration) -> Duration {
    wish.map_or(cap, |wish| wish.min(cap))
        .max(Duration::from_millis(1))
}

/// Checks `request` against `policy`, resolves and checks its addresses, and sends it to the
/// first allowed address that accepts a connection.
async fn send_checked(
    policy: &EgressPolicy,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), SendError> {
    let uri = request.uri();
    let scheme = match uri.scheme() {
        Some(s) if *s == UriScheme::HTTP => HttpScheme::Http,
        Some(s) if *s == UriScheme::HTTPS => HttpScheme::Https,
        _ => return Err(SendError::Denied(Denial::BadUrl)),
    };
    let Some(authority) = uri.authority() else {
        return Err(SendError::Denied(Denial::BadUrl));
    };
    let host = authority.host().to_owned();
    if host.is_empty() {
        return Err(SendError::Denied(Denial::BadUrl));
    }
    let port = authority.port_u16().unwrap_or(scheme.default_port());
    if !policy.allows_url(scheme, &host, port) {
        return Err(SendError::Denied(Denial::NotAllowed));
    }
    let options = options.unwrap_or_default();
    let connect_timeout = bounded(options.connect_timeout, policy.timeout);
    let first_byte_timeout = bounded(options.first_byte_timeout, policy.timeout);
    let between_bytes_timeout = bounded(options.between_bytes_timeout, policy.timeout);

    // Resolve once, ourselves; dial only the addresses checked here.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match bare_host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            match tokio::time::timeout(connect_timeout, tokio::net::lookup_host((bare_host, port)))
                .await
            {
                Err(_) => return Err(HttpError::DnsTimeout.into()),
                Ok(Err(error)) => {
                    return Err(HttpError::DnsError {
                        rcode: Some(error.to_string()),
                        info_code: None,
                    }
                    .into());
                }
                Ok(Ok(addresses)) => addresses.collect(),
            }
        }
    };
    let mut reasons = Vec::new();
    let allowed: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|address| match policy.denies_ip(address.ip()) {
            Some(reason) => {
                reasons.push(format!("{} is {reason}", address.ip()));
                false
            }
            None => true,
        })
        .collect();
    if allowed.is_empty() {
        if reasons.is_empty() {
            return Err(HttpError::DestinationNotFound.into());
        }
        return Err(SendError::Denied(Denial::Address {
            host,
            reasons: reasons.join(", "),
        }));
    }

    let stream = tokio::time::timeout(connect_timeout, connect_any(&allowed))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(HttpError::Connect)?;
    let stream: Box<dyn Stream> = match scheme {
        HttpScheme::Http => Box::new(stream),
        HttpScheme::Https => {
            let name = tls_server_name(bare_host).map_err(|_| HttpError::HttpRequestUriInvalid)?;
            let tls = tokio::time::timeout(
                connect_timeout,
                policy.tls.connector().connect(name, stream),
            )
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(HttpError::Tls)?;
            Box::new(tls)
        }
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(HttpError::from)?;

    // Origin form on the wire: the authority goes only into the Host header.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let max_bytes = policy.max_response_bytes;
    let send = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(HttpError::from)?;
        if let Some(length) = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && length > max_bytes
        {
            return Err(HttpError::HttpResponseBodySize(Some(length)));
        }
        Ok(response.map(|incoming| {
            let mut timer = tokio::time::interval(between_bytes_timeout);
            timer.reset();
            BoundedBody {
                incoming,
                timer,
                remaining: max_bytes,
                limit: max_bytes,
            }
            .boxed_unsync()
        }))
    };
    let mut send = pin!(send);
    let mut conn = Some(conn);
    // Drive the connection while waiting for the response head.
    let response = poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => {
            let Some(fut) = conn.as_mut() else {
                return Poll::Pending;
            };
            let result = ready!(Pin::new(fut).poll(cx));
            conn = None;
            match result {
                Ok(()) => send.as_mut().poll(cx),
                Err(error) => Poll::Ready(Err(HttpError::from(error))),
            }
        }
    })
    .await?;
    let io: IoFuture = Box::new(async move {
        match conn {
            Some(conn) => conn.await.map_err(HttpError::from),
            None => Ok(()),
        }
    });
    Ok((response, io))
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> Stream for T where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static
{
}

/// Connects to the first address that accepts, in order.
async fn connect_any(addresses: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address to connect to")))
}

fn tls_server_name(
    host: &str,
) -> Result<
    tokio_rustls::rustls::pki_types::ServerName<'static>,
    tokio_rustls::rustls::pki_types::InvalidDnsNameError,
> {
    use tokio_rustls::rustls::pki_types::ServerName;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::from(ip));
    }
    Ok(ServerName::try_from(host)?.to_owned())
}

/// A response body with the between-bytes timeout and the size cap.
struct BoundedBody {
    incoming: hyper::body::Incoming,
    timer: tokio::time::Interval,
    remaining: u64,
    limit: u64,
}

impl http_body::Body for BoundedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(if error.is_timeout() {
                HttpError::HttpResponseTimeout
            } else {
                HttpError::from(error)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > self.remaining {
                        self.remaining = 0;
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                            self.limit,
                        )))));
                    }
                    self.remaining -= len;
                }
                self.timer.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timer.poll_tick(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> AllowRule {
        AllowRule::parse(text).unwrap()
    }

    #[test]
    fn rules_parse_scheme_host_and_port() {
        let r = rule("https://api.example.com");
        assert_eq!(r.scheme, HttpScheme::Https);
        assert_eq!(r.port, Some(443));
        assert_eq!(rule("http://x:*").port, None);
        assert_eq!(rule("http://[::1]:8080").port, Some(8080));
        assert_eq!(rule("HTTP://Example.COM:80/").port, Some(80));
        for bad in [
            "example.com",
            "ftp://example.com",
            "http://",
            "http://example.com:0",
            "http://example.com:99999",
            "http://example.com/path",
            "http://user@example.com",
            "http://exa mple.com",
            "http://[::1",
            "http://[nope]:80",
        ] {
            assert!(AllowRule::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn rules_match_hosts_ports_and_wildcards() {
        let r = rule("https://api.example.com:443");
        assert!(r.matches(HttpScheme::Https, "api.example.com", 443));
        assert!(r.matches(HttpScheme::Https, "API.Example.com.", 443));
        assert!(!r.matches(HttpScheme::Http, "api.example.com", 443));
        assert!(!r.matches(HttpScheme::Https, "api.example.com", 8443));
        assert!(!r.matches(HttpScheme::Https, "evil.com", 443));
        assert!(!r.matches(HttpScheme::Https, "api.example.com.evil.com", 443));

        let r = rule("https://*.example.com:*");
        assert!(r.matches(HttpScheme::Https, "a.example.com", 1));
        assert!(r.matches(HttpScheme::Https, "a.b.example.com", 443));
        assert!(!r.matches(HttpScheme::Https, "example.com", 443));
        assert!(!r.matches(HttpScheme::Https, "example.com.evil", 443));
        assert!(!r.matches(HttpScheme::Https, "notexample.com", 443));

        let r = rule("http://api.*.example.com:8080");
        assert!(r.matches(HttpScheme::Http, "api.eu.example.com", 8080));
        assert!(!r.matches(HttpScheme::Http, "api.a.b.example.com", 8080));

        let r = rule("http://*:*");
        assert!(r.matches(HttpScheme::Http, "anything.at.all", 1234));
        assert!(r.matches(HttpScheme::Http, "[::1]", 1234));
        assert!(!r.matches(HttpScheme::Https, "anything", 1234));

        let r = rule("http://127.0.0.1:*");
        assert!(r.matches(HttpScheme::Http, "127.0.0.1", 5000));
        assert!(!r.matches(HttpScheme::Http, "127.0.0.2", 5000));

        let r = rule("http://[0:0::1]:80");
        assert!(r.matches(HttpScheme::Http, "[::1]", 80));
        assert!(!r.matches(HttpScheme::Http, "[::2]", 80));
    }

    #[test]
    fn allow_lists_parse_every_rule() {
        let rules = parse_allow_list(&["http://a:1".into(), "https://b".into()]).unwrap();
        assert_eq!(rules.len(), 2);
        let error = parse_allow_list(&["http://a:1".into(), "b".into()]).unwrap_err();
        assert!(error.contains("`b`"), "{error}");
    }

    #[test]
    fn special_ranges_are_classified() {
        let cases: &[(&str, Option<&str>)] = &[
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared address space (CGNAT)")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("this network")),
            ("255.255.255.255", Some("broadcast")),
            ("224.0.0.1", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("192.0.2.1", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some("reserved")),
            ("fe80::1", Some("link-local")),
            ("fc00::1", Some("unique local (private)")),
            ("fd12:3456::1", Some("unique local (private)")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            ("64:ff9b::a00:1", Some("NAT64")),
            ("2002:a00:1::1", Some("6to4")),
            ("2001::1", Some("Teredo")),
            ("2001:db8::1", Some("documentation")),
            ("2606:4700::1111", None),
            ("2a00:1450:4001::1", None),
        ];
        for (ip, expected) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(special_range(ip), *expected, "{ip}");
        }
    }

    #[test]
    fn private_networks_are_denied_unless_the_worker_allows_them() {
        let mut policy = EgressPolicy {
            allow: vec![rule("http://*:*")],
            allow_private_networks: false,
            timeout: Duration::from_secs(1),
            max_response_bytes: 1,
            concurrent_requests: 1,
            tls: TlsTrust::default(),
        };
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(policy.denies_ip(loopback), Some("loopback"));
        assert_eq!(policy.denies_ip(metadata), Some("link-local"));
        assert_eq!(policy.denies_ip(public), None);
        policy.allow_private_networks = true;
        assert_eq!(policy.denies_ip(loopback), None);
        assert_eq!(policy.denies_ip(metadata), None);
        assert_eq!(
            policy.denies_ip("0.0.0.0".parse().unwrap()),
            Some("unspecified")
        );
        assert_eq!(
            policy.denies_ip("ff02::1".parse().unwrap()),
            Some("multicast")
        );
    }

    #[test]
    fn timeouts_are_bounded_by_the_policy() {
        let cap = Duration::from_secs(5);
        assert_eq!(bounded(None, cap), cap);
        assert_eq!(bounded(Some(Duration::from_secs(60)), cap), cap);
        assert_eq!(
            bounded(Some(Duration::from_secs(1)), cap),
            Duration::from_secs(1)
        );
        assert_eq!(bounded(Some(Duration::ZERO), cap), Duration::from_millis(1));
    }

    fn policy(allow: &[&str], private: bool) -> EgressPolicy {
        EgressPolicy {
            allow: allow.iter().map(|r| rule(r)).collect(),
            allow_private_networks: private,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            concurrent_requests: 4,
            tls: TlsTrust::default(),
        }
    }

    fn request(url: &str) -> http::Request<WasiBody> {
        http::Request::get(url)
            .body(
                http_body_util::Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn the_sender_denies_before_dialling() {
        // Not on the list: denied without any connection attempt.
        let result = send_checked(
            &policy(&["http://allowed.example:80"], true),
            request("http://other.example/"),
            None,
        )
        .await;
        assert!(matches!(result, Err(SendError::Denied(Denial::NotAllowed))));
        // On the list but loopback, and private networks not allowed.
        let result = send_checked(
            &policy(&["http://127.0.0.1:*"], false),
            request("http://127.0.0.1:9/"),
            None,
        )
        .await;
        match result {
            Err(SendError::Denied(denial @ Denial::Address { .. })) => {
                assert!(
                    denial.to_string().contains("127.0.0.1 is loopback"),
                    "{denial}"
                );
                assert!(matches!(denial.error(), HttpError::DestinationIpProhibited));
            }
            _ => panic!("loopback was not denied"),
        }
        // `localhost` resolves to loopback only: denied after resolution.
        let result = send_checked(
            &policy(&["http://localhost:*"], false),
            request("http://localhost:9/"),
            None,
        )
        .await;
        assert!(matches!(
            result,
            Err(SendError::Denied(Denial::Address { .. }))
        ));
        // The metadata address.
        let result = send_checked(
            &policy(&["http://*:*"], false),
            request("http://169.254.169.254/latest/meta-data"),
            None,
        )
        .await;
        assert!(matches!(
            result,
            Err(SendError::Denied(Denial::Address { .. }))
        ));
    }

    #[tokio::test]
    async fn the_sender_talks_to_an_allowed_server_and_caps_the_body() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let body = "x".repeat(100);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        let url = format!("http://127.0.0.1:{port}/hello");
        let allowed = policy(&[&format!("http://127.0.0.1:{port}")], true);
        let Ok((response, io)) = send_checked(&allowed, request(&url), None).await else {
            panic!("the request failed");
        };
        tokio::spawn(Pin::from(io));
        assert_eq!(response.status(), 200);
        let body = response
            .into_body()
            .collect()
            .await
            .ok()
            .unwrap()
            .to_bytes();
        assert_eq!(body.len(), 100);

        let mut small = allowed.clone();
        small.max_response_bytes = 10;
        let result = send_checked(&small, request(&url), None).await;
        assert!(matches!(
            result,
            Err(SendError::Http(HttpError::HttpResponseBodySize(Some(100))))
        ));
    }
}
