//! The HTTP connectors against a real HTTP server on 127.0.0.1, and the egress policy:
//! `http-source` pages through a cursor API and resumes from its cursor after a restart,
//! retries after 429; `http-sink` posts batches and sends records the endpoint rejects to
//! the dead letter queue; requests off the allow-list, or to loopback without the worker's
//! permission, are denied and fail the task with a trace saying so; HTTPS to a server
//! certified by the operator's CA (`sandbox.http.tls.ca.file`) and not otherwise; a task's
//! concurrent requests capped by `sandbox.http.concurrent.requests`.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use wasm_connect::coordinator::State as TaskState;
use wasm_connect_tests::{TestWorker, init_logging, wait_until};

/// The worker settings the positive tests need: the test server is on loopback.
const PRIVATE_OK: &[(&str, &str)] = &[("sandbox.http.allow.private.networks", "true")];

/// What the test server holds and saw.
#[derive(Default)]
struct Server {
    /// Items of the cursor API.
    items: Vec<Value>,
    /// The `cursor` parameter of every GET /items (None for no cursor).
    cursors: Vec<Option<String>>,
    /// How many 429s /items answers before serving.
    throttle: u32,
    /// Every record POSTed to /ingest that was accepted.
    accepted: Vec<Value>,
    /// Requests to /ingest (accepted or not).
    posts: u32,
    /// Requests /slow is serving now, and the most it ever served at once.
    in_flight: u32,
    max_in_flight: u32,
    /// Requests /slow finished.
    slow_served: u32,
}

type Shared = Arc<Mutex<Server>>;

type Params = Query<std::collections::HashMap<String, String>>;

/// A page of at most 10 items from `cursor` (an index), with the next cursor.
async fn items(State(state): State<Shared>, Query(query): Params) -> Response {
    let mut server = state.lock().unwrap();
    let cursor = query.get("cursor").cloned();
    server.cursors.push(cursor.clone());
    if server.throttle > 0 {
        server.throttle -= 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response();
    }
    let start: usize = cursor
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
        .min(server.items.len());
    let end = (start + 10).min(server.items.len());
    Json(json!({"data": server.items[start..end], "next": end.to_string()})).into_response()
}

/// Accepts a JSON array unless an element has `"bad": true` (then 400, nothing accepted).
async fn ingest(State(state): State<Shared>, Json(batch): Json<Vec<Value>>) -> Response {
    let mut server = state.lock().unwrap();
    server.posts += 1;
    if batch
        .iter()
        .any(|v| v.get("bad") == Some(&Value::Bool(true)))
    {
        return (StatusCode::BAD_REQUEST, "bad record").into_response();
    }
    server.accepted.extend(batch);
    StatusCode::OK.into_response()
}

/// Answers after 300 ms, counting how many requests it serves at once.
async fn slow(State(state): State<Shared>) -> Response {
    {
        let mut server = state.lock().unwrap();
        server.in_flight += 1;
        server.max_in_flight = server.max_in_flight.max(server.in_flight);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut server = state.lock().unwrap();
    server.in_flight -= 1;
    server.slow_served += 1;
    "done".into_response()
}

fn app(state: Shared) -> Router {
    Router::new()
        .route("/items", get(items))
        .route("/ingest", post(ingest))
        .route("/slow", get(slow))
        .with_state(state)
}

async fn start_server(state: Shared) -> SocketAddr {
    let app = app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A test CA and a certificate for `localhost` it signed: the CA's PEM and the server's TLS
/// configuration.
fn test_pki() -> (String, Arc<tokio_rustls::rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use tokio_rustls::rustls::{
        ServerConfig,
        crypto::ring,
        pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wasm-connect test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key)
        .unwrap();
    (ca_cert.pem(), Arc::new(config))
}

/// The test server over TLS on 127.0.0.1; counts handshakes that failed.
async fn start_tls_server(
    state: Shared,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicU32>) {
    let app = app(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let failed = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let failed_handshakes = failed.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app, failed) = (acceptor.clone(), app.clone(), failed.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, failed_handshakes)
}

fn item(i: usize) -> Value {
    json!({"id": i})
}

/// Reads `count` record values of `topic` from the worker's log.
async fn read_topic(worker: &TestWorker, topic: &str, count: usize) -> Vec<String> {
    let log = worker.herder.services().log.clone();
    let mut consumer = log
        .consumer(&format!("check-{topic}"), &format!("check-{topic}"))
        .unwrap();
    consumer.subscribe(&[topic.to_string()]).await.unwrap();
    let mut values = Vec::new();
    let start = Instant::now();
    while values.len() < count {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{topic} holds only {values:?}"
        );
        for record in consumer
            .poll(1000, Duration::from_millis(100))
            .await
            .unwrap()
            .records
        {
            values.push(String::from_utf8(record.value.unwrap_or_default()).unwrap());
        }
    }
    values
}

fn source_settings<'a>(name: &'a str, url: &'a str, allow: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("connector.class", "HttpSource"),
        ("http.urls", url),
        ("topic", "items"),
        ("http.records.field", "data"),
        ("http.cursor.field", "next"),
        ("http.poll.interval.ms", "100"),
        ("sandbox.http.allow", allow),
    ]
}

/// How many of task 0's outgoing requests ended with `outcome` (`/metrics`'
/// `wasm_connect_task_http_requests_total`).
async fn requests(worker: &TestWorker, name: &str, outcome: &str) -> u64 {
    let metrics = worker.herder.task_metrics(name).await;
    let index = wasm_connect::metrics::EGRESS_OUTCOMES
        .iter()
        .position(|o| *o == outcome)
        .expect("a known outcome");
    metrics[0].guest.egress[index].load(std::sync::atomic::Ordering::Relaxed)
}

async fn wait_failed(worker: &TestWorker, name: &str) -> String {
    wait_until(
        Duration::from_secs(60),
        &format!("{name} task 0 to fail"),
        || {
            worker.herder.status(name).is_some_and(|status| {
                status
                    .tasks
                    .get(&0)
                    .is_some_and(|task| task.state == TaskState::Failed)
            })
        },
    )
    .await;
    worker.herder.status(name).unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_pages_through_a_cursor_and_resumes_after_a_restart() {
    init_logging();
    let state: Shared = Arc::default();
    state.lock().unwrap().items = (0..25).map(item).collect();
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/items");
    let allow = format!("http://127.0.0.1:{}", address.port());
    let settings = source_settings("source", &url, &allow);

    let worker = TestWorker::embedded(PRIVATE_OK).await;
    worker.create(&settings).await;
    worker.wait_records("source", 25).await;
    // Pages of 10 from no cursor, then 10, 20 and 25 (the caught-up page).
    {
        let server = state.lock().unwrap();
        assert_eq!(server.cursors[0], None);
        assert_eq!(server.cursors[1].as_deref(), Some("10"));
        assert_eq!(server.cursors[2].as_deref(), Some("20"));
        assert_eq!(server.cursors[3].as_deref(), Some("25"));
    }
    // Every request the server saw was allowed (and counted).
    let served = state.lock().unwrap().cursors.len() as u64;
    assert!(requests(&worker, "source", "allowed").await >= served);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = worker.stop().await;

    // New items while the worker is down; the restarted task resumes from cursor 25.
    {
        let mut server = state.lock().unwrap();
        server.items.extend((25..32).map(item));
        server.cursors.clear();
    }
    let worker = TestWorker::embedded_in(dir, PRIVATE_OK).await;
    worker.create(&settings).await;
    worker.wait_records("source", 7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(worker.records("source").await, 7, "items were sent twice");
    assert_eq!(
        state.lock().unwrap().cursors[0].as_deref(),
        Some("25"),
        "the task did not resume from its cursor"
    );
    let values = read_topic(&worker, "items", 32).await;
    let expected: Vec<String> = (0..32).map(|i| item(i).to_string()).collect();
    assert_eq!(values, expected);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_backs_off_after_429_and_then_succeeds() {
    init_logging();
    let state: Shared = Arc::default();
    {
        let mut server = state.lock().unwrap();
        server.items = (0..3).map(item).collect();
        server.throttle = 1;
    }
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/items");
    let allow = format!("http://127.0.0.1:{}", address.port());
    let worker = TestWorker::embedded(PRIVATE_OK).await;
    let started = Instant::now();
    worker
        .create(&source_settings("throttled", &url, &allow))
        .await;
    worker.wait_records("throttled", 3).await;
    // Retry-After: 1 was honoured.
    assert!(started.elapsed() >= Duration::from_millis(900));
    let status = worker.herder.status("throttled").unwrap();
    assert_eq!(status.tasks[&0].state, TaskState::Running);
    assert!(state.lock().unwrap().cursors.len() >= 2);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sink_posts_batches_and_sends_rejected_records_to_the_dlq() {
    init_logging();
    let state: Shared = Arc::default();
    let address = start_server(state.clone()).await;
    let worker = TestWorker::embedded(PRIVATE_OK).await;
    let input = worker.path("input.txt");
    std::fs::write(
        &input,
        "{\"n\":0}\n{\"n\":1}\n{\"n\":2,\"bad\":true}\n{\"n\":3}\n{\"n\":4}\n",
    )
    .unwrap();
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "in"),
        ])
        .await;
    let url = format!("http://{address}/ingest");
    let allow = format!("http://127.0.0.1:{}", address.port());
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "HttpSink"),
            ("topics", "in"),
            ("http.url", &url),
            ("http.batch.size", "10"),
            ("sandbox.http.allow", &allow),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ])
        .await;
    wait_until(Duration::from_secs(60), "4 records accepted", || {
        state.lock().unwrap().accepted.len() >= 4
    })
    .await;
    let dlq = read_topic(&worker, "dlq", 1).await;
    assert_eq!(dlq, vec!["{\"n\":2,\"bad\":true}".to_string()]);
    let accepted: Vec<Value> = state.lock().unwrap().accepted.clone();
    let numbers: Vec<i64> = accepted.iter().map(|v| v["n"].as_i64().unwrap()).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, vec![0, 1, 3, 4], "accepted {accepted:?}");
    let status = worker.herder.status("sink").unwrap();
    assert_eq!(status.tasks[&0].state, TaskState::Running);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_host_off_the_allow_list_is_denied() {
    init_logging();
    let state: Shared = Arc::default();
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/items");
    let worker = TestWorker::embedded(PRIVATE_OK).await;
    // The allow-list names another port of the same host.
    let allow = format!("http://127.0.0.1:{}", address.port().wrapping_add(1).max(1));
    worker
        .create(&source_settings("offlist", &url, &allow))
        .await;
    let trace = wait_failed(&worker, "offlist").await;
    assert!(
        trace.contains("request denied by the sandbox") && trace.contains("allow-list"),
        "{trace}"
    );
    assert!(
        state.lock().unwrap().cursors.is_empty(),
        "the request got through"
    );
    assert!(requests(&worker, "offlist", "denied_allow_list").await >= 1);
    assert_eq!(requests(&worker, "offlist", "allowed").await, 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_denied_unless_the_worker_allows_private_networks() {
    init_logging();
    let state: Shared = Arc::default();
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/items");
    // The allow-list matches, but the worker keeps its default (no private networks).
    let worker = TestWorker::embedded(&[]).await;
    worker
        .create(&source_settings("loopback", &url, "http://127.0.0.1:*"))
        .await;
    let trace = wait_failed(&worker, "loopback").await;
    assert!(
        trace.contains("request denied by the sandbox")
            && trace.contains("addresses the worker does not allow"),
        "{trace}"
    );
    assert!(requests(&worker, "loopback", "denied_address").await >= 1);
    // The metadata endpoint too, by its well-known address.
    worker
        .create(&source_settings(
            "metadata",
            "http://169.254.169.254/latest/meta-data",
            "http://*:*",
        ))
        .await;
    let trace = wait_failed(&worker, "metadata").await;
    assert!(trace.contains("request denied by the sandbox"), "{trace}");
    assert!(
        state.lock().unwrap().cursors.is_empty(),
        "the request got through"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_can_forbid_network_grants() {
    init_logging();
    let worker = TestWorker::embedded(&[("sandbox.http.enabled", "false")]).await;
    let submission = wasm_connect::config::ConnectorSubmission::from_config(
        wasm_connect_tests::settings(&source_settings(
            "forbidden",
            "https://api.example.com/items",
            "https://api.example.com",
        )),
        wasm_connect::config::InitialState::Running,
    )
    .unwrap();
    let error = worker
        .herder
        .create_connector(submission)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("sandbox.http.enabled=false"), "{error}");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_works_with_the_operators_ca_and_fails_without_it() {
    init_logging();
    let (ca_pem, tls) = test_pki();
    let state: Shared = Arc::default();
    state.lock().unwrap().items = (0..15).map(item).collect();
    let (address, failed_handshakes) = start_tls_server(state.clone(), tls).await;
    let url = format!("https://localhost:{}/items", address.port());
    let allow = format!("https://localhost:{}", address.port());
    let settings = source_settings("secure", &url, &allow);

    // Without the CA the server's certificate is unknown: the handshake fails and no
    // request reaches the server.
    let worker = TestWorker::embedded(PRIVATE_OK).await;
    worker.create(&settings).await;
    wait_until(Duration::from_secs(30), "a refused TLS handshake", || {
        failed_handshakes.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    assert!(
        state.lock().unwrap().cursors.is_empty(),
        "a request got through an untrusted TLS connection"
    );
    assert_eq!(worker.records("secure").await, 0);
    worker.stop().await;

    // With the operator's CA the same connector pages through the API over TLS.
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let ca_file = ca_file.display().to_string();
    let worker = TestWorker::embedded(&[
        ("sandbox.http.allow.private.networks", "true"),
        ("sandbox.http.tls.ca.file", &ca_file),
    ])
    .await;
    worker.create(&settings).await;
    worker.wait_records("secure", 15).await;
    let values = read_topic(&worker, "items", 15).await;
    let expected: Vec<String> = (0..15).map(|i| item(i).to_string()).collect();
    assert_eq!(values, expected);
    worker.stop().await;
}

#[test]
fn a_bad_ca_file_is_refused_at_startup_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem").display().to_string();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let not_pem = not_pem.display().to_string();
    for (file, why) in [(&missing, "cannot read it"), (&not_pem, "no certificate")] {
        let error = wasm_connect::config::WorkerConfig::from_settings(
            wasm_connect_tests::settings(&[("sandbox.http.tls.ca.file", file)]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("sandbox.http.tls.ca.file") && error.contains(why),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_has_at_most_its_share_of_concurrent_requests() {
    init_logging();
    let state: Shared = Arc::default();
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/slow");
    let allow = format!("http://127.0.0.1:{}", address.port());
    let worker = TestWorker::embedded(PRIVATE_OK).await;
    worker
        .create(&[
            ("name", "burst"),
            ("connector.class", "TestSource"),
            ("modes", "http-burst"),
            ("topic", "burst"),
            ("http.url", &url),
            ("sandbox.http.allow", &allow),
            ("sandbox.http.concurrent.requests", "2"),
        ])
        .await;
    let trace = wait_failed(&worker, "burst").await;
    // All six got through, but never more than two at once: the others waited.
    assert!(
        trace.contains("burst of 6 GET") && trace.contains("6 ok"),
        "{trace}"
    );
    let (served, max_in_flight) = {
        let server = state.lock().unwrap();
        (server.slow_served, server.max_in_flight)
    };
    assert_eq!(served, 6);
    assert_eq!(max_in_flight, 2, "the cap was not applied");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_tasks_share_its_quota_of_open_connections() {
    init_logging();
    let state: Shared = Arc::default();
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/slow");
    let allow = format!("http://127.0.0.1:{}", address.port());
    let hash = wasm_connect::tenancy::hash_password("operator-password-1");
    let worker = TestWorker::embedded(&[
        ("sandbox.http.allow.private.networks", "true"),
        ("tenancy.enabled", "true"),
        ("tenancy.operator.password.hash", &hash),
    ])
    .await;
    worker
        .herder
        .tenants()
        .create(wasm_connect::tenancy::TenantSpec {
            name: Some("acme".into()),
            quotas: Some(wasm_connect::tenancy::Quotas {
                http_connections: Some(1),
                ..Default::default()
            }),
            egress: Some(wasm_connect::tenancy::EgressSpec {
                allow: vec!["http://127.0.0.1:*".into()],
                tcp: Vec::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    // Two connectors of the tenant, each allowed four connections of its own.
    for name in ["acme/burst-1", "acme/burst-2"] {
        worker
            .create(&[
                ("name", name),
                ("connector.class", "TestSource"),
                ("modes", "http-burst"),
                ("topic", "acme.burst"),
                ("http.url", &url),
                ("sandbox.http.allow", &allow),
                ("sandbox.http.concurrent.requests", "4"),
            ])
            .await;
    }
    for name in ["acme/burst-1", "acme/burst-2"] {
        let trace = wait_failed(&worker, name).await;
        assert!(
            trace.contains("burst of 6 GET") && trace.contains("6 ok"),
            "{trace}"
        );
    }
    let (served, max_in_flight) = {
        let server = state.lock().unwrap();
        (server.slow_served, server.max_in_flight)
    };
    // Every request got through, one at a time across both connectors.
    assert_eq!(served, 12);
    assert_eq!(max_in_flight, 1, "the tenant's quota was not applied");
    worker.stop().await;
}

/// Between polls of its endpoints (`http.poll.interval.ms`), the task tells the worker when
/// the next is due (`poll-again-after`): it is not called in between, where the worker's
/// back-off would call it about once a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_is_not_called_between_its_poll_intervals() {
    init_logging();
    let state: Shared = Arc::default();
    state.lock().unwrap().items = (0..3).map(item).collect();
    let address = start_server(state.clone()).await;
    let url = format!("http://{address}/items");
    let allow = format!("http://127.0.0.1:{}", address.port());
    let worker = TestWorker::embedded(PRIVATE_OK).await;
    let mut settings = source_settings("patient", &url, &allow);
    for (key, value) in &mut settings {
        if *key == "http.poll.interval.ms" {
            *value = "600000";
        }
    }
    worker.create(&settings).await;
    worker.wait_records("patient", 3).await;
    worker.assert_not_called_again("patient").await;
    worker.stop().await;
}
