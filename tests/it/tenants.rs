//! Tenancy on a real worker: credentials name the caller, each tenant sees and touches only its
//! own connectors (under its own names; another tenant's answer 404 as if absent), worker-wide
//! operations are the operator's, topics stay inside each tenant's prefixes (when created and
//! for every record at run time), and quotas refuse by name.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use wasm_connect_tests::{child::ChildWorker, rest_client::RestClient};

const OPERATOR_PASSWORD: &str = "operator-password-1";

async fn tenant_worker() -> (ChildWorker, RestClient) {
    let hash = wasm_connect::tenancy::hash_password(OPERATOR_PASSWORD);
    let worker = ChildWorker::start(&[
        ("tenancy.enabled", "true"),
        ("tenancy.operator.password.hash", &hash),
        ("config.providers", "env"),
        (
            "config.providers.env.class",
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        ),
    ])
    .await;
    let operator = worker.rest.with_basic("operator", OPERATOR_PASSWORD);
    (worker, operator)
}

/// Waits until `client` sees `name` with its connector and every task RUNNING.
async fn wait_running(client: &RestClient, name: &str) -> Value {
    let start = Instant::now();
    loop {
        let reply = client.get(&format!("/connectors/{name}/status")).await;
        let tasks = reply.body["tasks"].as_array().cloned().unwrap_or_default();
        if reply.body["connector"]["state"] == "RUNNING"
            && !tasks.is_empty()
            && tasks.iter().all(|t| t["state"] == "RUNNING")
        {
            return reply.body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} is not running: {:?}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until task 0 of `name` failed; its trace.
async fn failed_trace(client: &RestClient, name: &str) -> String {
    let start = Instant::now();
    loop {
        let reply = client
            .get(&format!("/connectors/{name}/tasks/0/status"))
            .await;
        if reply.body["state"] == "FAILED" {
            return reply.body["trace"].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} did not fail: {:?}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn source(topic: &str) -> Value {
    json!({"connector.class": "TestSource", "topic": topic, "batch.size": "1"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_and_touch_only_their_own_connectors() {
    let (worker, operator) = tenant_worker().await;

    // Who may call: `/` and `/health` need nothing; everything else credentials.
    assert_eq!(worker.rest.get("/").await.status, StatusCode::OK);
    // (503 while plugins load, 200 after: never a 401.)
    assert_ne!(
        worker.rest.get("/health").await.status,
        StatusCode::UNAUTHORIZED
    );
    let anonymous = worker.rest.get("/connectors").await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        anonymous.body
    );
    let wrong = worker
        .rest
        .with_basic("operator", "not-the-password")
        .get("/connectors")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = worker.rest.get_text("/connectors", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The operator creates two tenants: one with a password, one with a token only.
    let created = operator
        .post(
            "/admin/tenants",
            &json!({"name": "acme", "password": "acme-password-1"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["topics"]["prefixes"], json!(["acme."]));
    let created = operator
        .post(
            "/admin/tenants",
            &json!({"name": "globex", "quotas": {"connectors": 2, "tasks": 2}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let token = created.body["token"].as_str().unwrap().to_owned();
    let acme = worker.rest.with_basic("acme", "acme-password-1");
    let globex = worker.rest.with_authorization(format!("Bearer {token}"));
    // Never again: the token is not in the tenant's description.
    let described = operator.get("/admin/tenants/globex").await;
    assert!(
        described.body.get("token").is_none(),
        "{:?}",
        described.body
    );

    // Worker-wide operations are the operator's.
    for (method, path) in [
        (Method::GET, "/admin/tenants"),
        (Method::GET, "/admin/loggers"),
        (Method::GET, "/topics"),
        (Method::GET, "/metrics"),
    ] {
        let reply = acme.send(method.clone(), path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            reply.body
        );
    }

    let reply = acme
        .put_json("/admin/loggers/root", &json!({"level": "DEBUG"}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);

    // Two tenants may each own a connector named `orders`.
    for (client, topic) in [(&acme, "acme.orders"), (&globex, "globex.orders")] {
        let reply = client
            .post(
                "/connectors",
                &json!({"name": "orders", "config": source(topic)}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(reply.location.as_deref(), Some("/connectors/orders"));
        assert_eq!(reply.body["name"], "orders", "{:?}", reply.body);
        assert_eq!(reply.body["config"]["name"], "orders", "{:?}", reply.body);
    }
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "payments", "config": source("acme.payments")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let status = wait_running(&acme, "payments").await;
    assert_eq!(status["name"], "payments");
    wait_running(&globex, "orders").await;

    assert_eq!(
        acme.get("/connectors").await.body,
        json!(["orders", "payments"])
    );
    assert_eq!(globex.get("/connectors").await.body, json!(["orders"]));
    assert_eq!(
        operator.get("/connectors").await.body,
        json!(["acme/orders", "acme/payments", "globex/orders"])
    );
    let expanded = globex
        .get("/connectors?expand=status&expand=info")
        .await
        .body;
    assert_eq!(
        expanded.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["orders"]
    );
    assert_eq!(
        expanded["orders"]["info"]["config"]["topic"],
        "globex.orders"
    );

    // The cross-tenant matrix: globex on acme's `payments` (by its own name and by the
    // worker's) gets what a connector that does not exist gets, and changes nothing.
    let before = acme.get("/connectors/payments/config").await.body;
    let patch = json!({"tasks.max": "1"});
    let offsets = json!({"offsets": [{"partition": {"task": 0}, "offset": {"seq": 0}}]});
    for name in ["payments", "acme%2Fpayments"] {
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/connectors/{name}"), None),
            (Method::GET, format!("/connectors/{name}/config"), None),
            (Method::GET, format!("/connectors/{name}/status"), None),
            (Method::GET, format!("/connectors/{name}/tasks"), None),
            (
                Method::GET,
                format!("/connectors/{name}/tasks/0/status"),
                None,
            ),
            (Method::POST, format!("/connectors/{name}/restart"), None),
            (
                Method::POST,
                format!("/connectors/{name}/restart?includeTasks=true"),
                None,
            ),
            (
                Method::POST,
                format!("/connectors/{name}/tasks/0/restart"),
                None,
            ),
            (Method::PUT, format!("/connectors/{name}/pause"), None),
            (Method::PUT, format!("/connectors/{name}/resume"), None),
            (Method::PUT, format!("/connectors/{name}/stop"), None),
            (
                Method::PATCH,
                format!("/connectors/{name}/config"),
                Some(patch.clone()),
            ),
            (Method::GET, format!("/connectors/{name}/offsets"), None),
            (
                Method::PATCH,
                format!("/connectors/{name}/offsets"),
                Some(offsets.clone()),
            ),
            (Method::DELETE, format!("/connectors/{name}/offsets"), None),
            (Method::DELETE, format!("/connectors/{name}"), None),
        ];
        for (method, path, body) in cases {
            let body = body.map(|b| b.to_string());
            let reply = globex.send(method.clone(), &path, body.as_deref()).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {:?}",
                reply.body
            );
            // Messages name the connector as globex called it: nothing of the worker's names.
            let message = reply.body["message"].as_str().unwrap_or_default();
            assert!(
                !message.contains("globex/") && (name != "payments" || !message.contains("acme")),
                "{method} {path}: {message}"
            );
        }
        // Active topics: empty, as for a connector that does not exist.
        let topics = globex.get(&format!("/connectors/{name}/topics")).await;
        assert_eq!(topics.status, StatusCode::OK);
        assert!(
            topics
                .body
                .as_object()
                .unwrap()
                .values()
                .all(|v| v["topics"] == json!([])),
            "{:?}",
            topics.body
        );
    }
    // Creating `payments` for globex makes globex's own, not a second config of acme's; and
    // a name with the separator is refused.
    let reply = globex
        .put_json("/connectors/acme%2Fpayments/config", &source("globex.x"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(acme.get("/connectors/payments/config").await.body, before);
    let status = wait_running(&acme, "payments").await;
    assert_eq!(status["connector"]["state"], "RUNNING");

    // Quotas: globex may have 2 connectors and 2 tasks.
    let reply = globex
        .post(
            "/connectors",
            &json!({"name": "big", "config": {"connector.class": "TestSource",
                    "topic": "globex.big", "tasks.max": "2"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains("quotas.tasks")
            && message.contains("quota of 2")
            && message.contains("1 in use"),
        "{message}"
    );
    let reply = globex
        .post(
            "/connectors",
            &json!({"name": "second", "config": source("globex.second")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let reply = globex
        .post(
            "/connectors",
            &json!({"name": "third", "config": source("globex.third")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.contains("quotas.connectors") && message.contains("2 in use"),
        "{message}"
    );
    let usage = operator.get("/admin/tenants/globex").await.body;
    // Two connectors of one task each: four instances of the default 256 MiB cap.
    assert_eq!(
        usage["usage"],
        json!({"connectors": 2, "tasks": 2, "memory_bytes": 4u64 << 28}),
        "{usage}"
    );

    // A tenant that still owns connectors cannot be deleted.
    let reply = operator.delete("/admin/tenants/acme").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("orders, payments"),
        "{:?}",
        reply.body
    );
    // Every change, done or refused, is in the audit log; no credential is.
    let refused = worker.rest.post("/connectors", &json!({})).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let audit = std::fs::read_to_string(worker.dir.path().join("data/audit.log")).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let has = |principal: &str, action: &str, target: &str, status: u16| {
        events.iter().any(|event| {
            event["principal"] == principal
                && event["action"] == action
                && event["target"] == target
                && event["status"] == status
        })
    };
    assert!(
        has("operator", "POST /admin/tenants", "/admin/tenants", 201),
        "{audit}"
    );
    assert!(
        has("acme", "POST /connectors", "/connectors", 201),
        "{audit}"
    );
    assert!(
        has(
            "globex",
            "PUT /connectors/{name}/pause",
            "/connectors/payments/pause",
            404
        ),
        "{audit}"
    );
    // Refused before routing: the action names the path as requested.
    assert!(
        has(
            "acme",
            "PUT /admin/loggers/root",
            "/admin/loggers/root",
            403
        ),
        "{audit}"
    );
    assert!(
        has("anonymous", "POST /connectors", "/connectors", 401),
        "{audit}"
    );
    assert!(
        events
            .iter()
            .filter(|e| e["principal"] == "acme")
            .all(|e| e["tenant"] == "acme" && e["time"].as_str().is_some()),
        "{audit}"
    );
    assert!(
        events
            .iter()
            .all(|e| !e["action"].as_str().unwrap().ends_with("/validate")),
        "{audit}"
    );
    for secret in ["acme-password-1", OPERATOR_PASSWORD, token.as_str()] {
        assert!(!audit.contains(secret), "{secret} in the audit log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_connectors_read_and_write_only_its_own_topics() {
    let (worker, operator) = tenant_worker().await;
    let reply = operator
        .post(
            "/admin/tenants",
            &json!({"name": "acme", "password": "acme-password-1",
                    "egress": {"allow": ["http://*.acme.test:*"]},
                    "quotas": {"memory_bytes": 4u64 << 30}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let acme = worker.rest.with_basic("acme", "acme-password-1");

    // Egress: only inside the tenant's ceiling.
    let mut config = source("acme.web");
    config["sandbox.http.allow"] = json!("http://api.acme.test:8080,http://metadata.test");
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "web", "config": config.clone()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert!(
        reply.body["message"].as_str().unwrap().contains(
            "sandbox.http.allow: `http://metadata.test:80` is outside tenant acme's egress \
             ceiling (egress.allow=http://*.acme.test:*)"
        ),
        "{:?}",
        reply.body
    );
    config["sandbox.http.allow"] = json!("http://api.acme.test:8080");
    // Memory: 3 instances of 2 GiB are over the 4 GiB quota; of 256 MiB they fit.
    config["tasks.max"] = json!("2");
    config["sandbox.memory.max.bytes"] = json!((2u64 << 30).to_string());
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "web", "config": config.clone()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("quotas.memory_bytes; 0 in use"),
        "{:?}",
        reply.body
    );
    config["sandbox.memory.max.bytes"] = json!((256u64 << 20).to_string());
    let reply = acme
        .post("/connectors", &json!({"name": "web", "config": config}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let tenant = operator.get("/admin/tenants/acme").await.body;
    assert_eq!(
        tenant["usage"]["memory_bytes"],
        json!(3u64 * (256 << 20)),
        "{tenant}"
    );

    // By config: refused when created, naming the setting, the topic and the prefixes.
    for (config, expected) in [
        (source("globex.orders"), "topic: topic `globex.orders`"),
        (
            json!({"connector.class": "TestSink", "topics": "acme.in,globex.in"}),
            "topics: topic `globex.in`",
        ),
        (
            json!({"connector.class": "TestSink", "topics.regex": ".*"}),
            "topics.regex: `.*` may match topics outside",
        ),
        (
            json!({"connector.class": "TestSink", "topics": "acme.in",
                   "errors.tolerance": "all",
                   "errors.deadletterqueue.topic.name": "globex.dlq"}),
            "errors.deadletterqueue.topic.name: topic `globex.dlq`",
        ),
    ] {
        let reply = acme
            .post("/connectors", &json!({"name": "stray", "config": config}))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
        let message = reply.body["message"].as_str().unwrap();
        assert!(
            message.contains(expected) && message.contains("prefixes acme."),
            "{message}"
        );
    }
    // The worker's config providers read the operator's files and environment: refused.
    let mut config = source("acme.orders");
    config["db.password"] = json!("${env:HOME}");
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "stray", "config": config.clone()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("db.password: `${env:HOME}` uses one of the worker's config providers"),
        "{:?}",
        reply.body
    );
    let reply = acme
        .put_json("/connector-plugins/TestSource/config/validate", &config)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "sink", "config": {"connector.class": "TestSink",
                    "topics.regex": "acme\\.in-.*"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);

    // At run time: a RegexRouter sending every record to another tenant's topic. Tolerated,
    // each record is skipped; not tolerated, the task fails; never is one written.
    for (name, tolerance) in [("routed-all", "all"), ("routed-none", "none")] {
        let mut config = source("acme.orders");
        let object = config.as_object_mut().unwrap();
        object.insert("errors.tolerance".into(), json!(tolerance));
        object.insert("transforms".into(), json!("route"));
        object.insert(
            "transforms.route.type".into(),
            json!("org.apache.kafka.connect.transforms.RegexRouter"),
        );
        object.insert("transforms.route.regex".into(), json!(".*"));
        object.insert(
            "transforms.route.replacement".into(),
            json!("globex.stolen"),
        );
        let reply = acme
            .post("/connectors", &json!({"name": name, "config": config}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let trace = failed_trace(&operator, "acme%2Frouted-none").await;
    assert!(
        trace.contains("`globex.stolen` is outside the tenant's topics (prefixes acme.)"),
        "{trace}"
    );
    // The tolerant task keeps polling and skipping.
    let start = Instant::now();
    loop {
        let metrics = operator.get_text("/metrics", None).await.2;
        let skipped = metrics.lines().find(|line| {
            line.starts_with("kafka_connect_task_error_total_records_skipped")
                && line.contains("routed-all")
        });
        if let Some(line) = skipped
            && line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v >= 3.0)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no skipped records: {skipped:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every connector and task series carries the tenant; fuel and memory are summed per
    // tenant.
    let metrics = operator.get_text("/metrics", None).await.2;
    for expected in [
        "kafka_connect_connector_status{connector=\"acme/routed-all\",tenant=\"acme\",status=\"running\"} 1",
        "kafka_connect_source_task_source_record_poll_total{connector=\"acme/routed-all\",tenant=\"acme\",task=\"0\"}",
        "wasm_connect_tenant_fuel_consumed_total{tenant=\"acme\"}",
        "wasm_connect_tenant_memory_bytes{tenant=\"acme\"}",
    ] {
        assert!(metrics.contains(expected), "no {expected} in:\n{metrics}");
    }
    let topics = operator.get("/topics").await.body;
    assert!(
        !topics.to_string().contains("globex.stolen"),
        "a record reached another tenant's topic: {topics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_file_connectors_stay_inside_its_filesystem_roots() {
    let (worker, operator) = tenant_worker().await;
    let files = worker.files();
    let acme_root = files.join("acme");
    let globex_root = files.join("globex");
    std::fs::create_dir_all(&acme_root).unwrap();
    std::fs::create_dir_all(&globex_root).unwrap();
    std::os::unix::fs::symlink(&globex_root, acme_root.join("to-globex")).unwrap();
    for (name, roots) in [("acme", vec![acme_root.clone()]), ("globex", vec![])] {
        let reply = operator
            .post(
                "/admin/tenants",
                &json!({"name": name, "password": format!("{name}-password-1"),
                        "filesystem": {"roots": roots}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    // A root the worker itself would not grant is refused.
    let reply = operator
        .post(
            "/admin/tenants",
            &json!({"name": "initech", "filesystem": {"roots": ["/proc"]}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    let acme = worker.rest.with_basic("acme", "acme-password-1");
    let globex = worker.rest.with_basic("globex", "globex-password-1");

    let sink = |topic: &str, file: &std::path::Path| {
        json!({"connector.class": "FileStreamSink", "topics": topic,
               "file": file.display().to_string()})
    };
    let outside = "is outside every directory tenant acme may use (filesystem.roots=";
    for (client, config, expected) in [
        (
            &acme,
            sink("acme.in", &globex_root.join("out.txt")),
            outside,
        ),
        (
            &acme,
            sink(
                "acme.in",
                &acme_root.join("..").join("globex").join("out.txt"),
            ),
            outside,
        ),
        (
            &acme,
            sink("acme.in", &acme_root.join("to-globex").join("out.txt")),
            outside,
        ),
        (
            &globex,
            sink("globex.in", &globex_root.join("out.txt")),
            "tenant globex may be granted no directory (it has no filesystem.roots)",
        ),
    ] {
        let reply = client
            .post("/connectors", &json!({"name": "files", "config": config}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{config}: {:?}",
            reply.body
        );
        let message = reply.body["message"].as_str().unwrap();
        assert!(
            message.contains("file") && message.contains(expected),
            "{config}: {message}"
        );
    }
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "files", "config": sink("acme.in", &acme_root.join("out.txt"))}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    // An explicit grant is held to the same roots.
    let mut config = source("acme.x");
    config["sandbox.fs.read"] = json!(globex_root.display().to_string());
    let reply = acme
        .post("/connectors", &json!({"name": "reader", "config": config}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("sandbox.fs.read"),
        "{:?}",
        reply.body
    );
}

/// The value of the series starting with `prefix` in a Prometheus text exposition.
fn series_value(metrics: &str, prefix: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_fuel_budget_is_slowed_not_failed() {
    const RATE: u64 = 100_000_000;
    let (worker, operator) = tenant_worker().await;
    for (name, quotas) in [
        ("busy", json!({"fuel_per_second": RATE})),
        ("free", json!({})),
    ] {
        let reply = operator
            .post(
                "/admin/tenants",
                &json!({"name": name, "password": format!("{name}-password-1"),
                        "quotas": quotas}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        let client = worker.rest.with_basic(name, &format!("{name}-password-1"));
        let reply = client
            .post(
                "/connectors",
                &json!({"name": "burner", "config": {"connector.class": "TestSource",
                        "topic": format!("{name}.burn"), "modes": "burn",
                        "batch.size": "1", "burn.iterations": "2000000"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        wait_running(&client, "burner").await;
    }
    let fuel = |metrics: &str, tenant: &str| {
        series_value(
            metrics,
            &format!(
                "wasm_connect_task_fuel_consumed_total{{connector=\"{tenant}/burner\",tenant=\"{tenant}\",task=\"0\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    let calls = |metrics: &str, tenant: &str| {
        series_value(
            metrics,
            &format!(
                "wasm_connect_task_guest_calls_total{{connector=\"{tenant}/burner\",tenant=\"{tenant}\",task=\"0\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    // Let both get going, then measure over two seconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = operator.get_text("/metrics", None).await.2;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = operator.get_text("/metrics", None).await.2;
    let elapsed = started.elapsed().as_secs_f64();
    let busy = fuel(&after, "busy") - fuel(&before, "busy");
    let busy_calls = calls(&after, "busy") - calls(&before, "busy");
    assert!(
        busy_calls > 0.0,
        "the budgeted task made no calls:\n{after}"
    );
    // At most the rate, plus the bucket (a tenth of a second) and the calls in flight at
    // either end (each burns about the same).
    let per_call = fuel(&after, "busy") / calls(&after, "busy").max(1.0);
    let bound = RATE as f64 * (elapsed + 0.1) + 2.0 * per_call;
    assert!(
        busy <= bound,
        "tenant busy burned {busy:.0} fuel in {elapsed:.2} s, over its budget ({bound:.0})"
    );
    let waited = |tenant: &str| {
        series_value(
            &after,
            &format!(
                "wasm_connect_task_budget_wait_seconds_total{{connector=\"{tenant}/burner\",tenant=\"{tenant}\",task=\"0\"}}"
            ),
        )
        .unwrap_or(0.0)
    };
    assert!(waited("busy") > 0.0, "{after}");
    assert_eq!(waited("free"), 0.0, "{after}");
    // Slowed, not failed.
    let status = worker
        .rest
        .with_basic("busy", "busy-password-1")
        .get("/connectors/burner/status")
        .await
        .body;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_uploads_are_its_own() {
    let hash = wasm_connect::tenancy::hash_password(OPERATOR_PASSWORD);
    // Nothing on plugin.path: every TestSource here is uploaded.
    let worker = ChildWorker::start_with(
        &[
            ("tenancy.enabled", "true"),
            ("tenancy.operator.password.hash", &hash),
        ],
        &[],
        &[],
    )
    .await;
    let operator = worker.rest.with_basic("operator", OPERATOR_PASSWORD);
    let v1 = std::fs::read(wasm_connect_tests::component("test_source")).unwrap();
    let v2 = std::fs::read(wasm_connect_tests::component("test_source_v2")).unwrap();
    for (name, quota) in [("acme", v1.len() as u64 + 1000), ("globex", 1u64 << 30)] {
        let reply = operator
            .post(
                "/admin/tenants",
                &json!({"name": name, "password": format!("{name}-password-1"),
                        "quotas": {"plugin_bytes": quota}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let acme = worker.rest.with_basic("acme", "acme-password-1");
    let globex = worker.rest.with_basic("globex", "globex-password-1");
    let upload = |client: &RestClient, bytes: &[u8]| {
        let client = client.clone();
        let bytes = bytes.to_vec();
        async move {
            client
                .send_bytes(
                    Method::POST,
                    "/connector-plugins",
                    hyper::body::Bytes::from(bytes),
                    Some("application/wasm"),
                )
                .await
        }
    };
    // acme uploads TestSource 0.1.0; globex, later, TestSource 0.2.0: both their own.
    let reply = upload(&acme, &v1).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let create = |client: &RestClient, name: &str, topic: &str| {
        let client = client.clone();
        let body = json!({"name": name, "config": source(topic)});
        async move { client.post("/connectors", &body).await }
    };
    let reply = create(&acme, "first", "acme.first").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    // globex does not see acme's upload.
    let reply = create(&globex, "first", "globex.first").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    let reply = upload(&globex, &v2).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let reply = create(&globex, "first", "globex.first").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    // acme's connectors, old and new, run acme's 0.1.0; globex's its 0.2.0.
    let reply = create(&acme, "second", "acme.second").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    for (client, name, version) in [
        (&acme, "first", "0.1.0"),
        (&acme, "second", "0.1.0"),
        (&globex, "first", "0.2.0"),
    ] {
        let status = wait_running(client, name).await;
        assert_eq!(status["connector"]["version"], version, "{name}: {status}");
    }
    let listed = |client: &RestClient| {
        let client = client.clone();
        async move {
            client
                .get("/connector-plugins")
                .await
                .body
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["class"] == "TestSource")
                .map(|p| p["version"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(&acme).await, vec!["0.1.0"]);
    assert_eq!(listed(&globex).await, vec!["0.2.0"]);
    assert!(listed(&operator).await.is_empty());
    // A shared upload may not take a name a tenant uses.
    let reply = upload(&operator, &v1).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    // acme's quota: its upload and one more byte than it has left.
    let reply = upload(&acme, &v2).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("quotas.plugin_bytes"),
        "{:?}",
        reply.body
    );
    // globex cannot delete acme's upload (it does not see it); acme cannot while in use.
    let reply = globex
        .delete("/connector-plugins/TestSource?version=0.1.0")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{:?}", reply.body);
    let reply = acme.delete("/connector-plugins/TestSource").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    let reply = acme.get("/connectors/first/status").await;
    assert_eq!(reply.body["connector"]["version"], "0.1.0");
    // A deleted tenant takes its uploads with it.
    let uploads = worker
        .dir
        .path()
        .join("data/uploaded-plugins/tenants/globex");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 1);
    assert_eq!(
        globex.delete("/connectors/first").await.status,
        StatusCode::NO_CONTENT
    );
    let reply = operator.delete("/admin/tenants/globex").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_throughput_quota_holds_its_tasks_back() {
    const RATE: u64 = 200;
    let (worker, operator) = tenant_worker().await;
    let reply = operator
        .post(
            "/admin/tenants",
            &json!({"name": "slow", "password": "slow-password-1",
                    "quotas": {"records_per_second": RATE}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let slow = worker.rest.with_basic("slow", "slow-password-1");
    // Two sources of 50 records per poll, and a sink reading one of them: all count.
    for (name, topic) in [("a", "slow.a"), ("b", "slow.b")] {
        let reply = slow
            .post(
                "/connectors",
                &json!({"name": name, "config": {"connector.class": "TestSource",
                        "topic": topic, "batch.size": "50"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        wait_running(&slow, name).await;
    }
    let reply = slow
        .post(
            "/connectors",
            &json!({"name": "sink", "config": {"connector.class": "TestSink",
                    "topics": "slow.a"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let total = |metrics: &str| {
        let sum = |prefix: &str| -> f64 {
            metrics
                .lines()
                .filter(|line| line.starts_with(prefix) && line.contains("tenant=\"slow\""))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        sum("kafka_connect_source_task_source_record_poll_total{")
            + sum("kafka_connect_sink_task_sink_record_send_total{")
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = operator.get_text("/metrics", None).await.2;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = operator.get_text("/metrics", None).await.2;
    let elapsed = started.elapsed().as_secs_f64();
    let moved = total(&after) - total(&before);
    assert!(moved > 0.0, "nothing moved:\n{after}");
    // At most the rate, plus the bucket (a tenth of a second) and one batch per task in
    // flight at either end.
    let bound = RATE as f64 * (elapsed + 0.1) + 2.0 * 3.0 * 50.0;
    assert!(
        moved <= bound,
        "tenant slow moved {moved} records in {elapsed:.2} s, over its quota ({bound:.0})"
    );
    assert!(
        after.contains("wasm_connect_task_budget_wait_seconds_total{connector=\"slow/a\""),
        "{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_values_are_hidden_and_kept_when_written_back_hidden() {
    const PASSWORD: &str = "clear-password-91b3";
    let (worker, operator) = tenant_worker().await;
    let reply = operator
        .post(
            "/admin/tenants",
            &json!({"name": "acme", "password": "acme-password-1"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let acme = worker.rest.with_basic("acme", "acme-password-1");
    let mut config = source("acme.orders");
    config["db.password"] = json!(PASSWORD);
    let reply = acme
        .post("/connectors", &json!({"name": "orders", "config": config}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(
        reply.body["config"]["db.password"], "[hidden]",
        "{:?}",
        reply.body
    );
    wait_running(&acme, "orders").await;
    let shown = acme.get("/connectors/orders/config").await.body;
    assert_eq!(shown["db.password"], "[hidden]", "{shown}");
    let tasks = acme.get("/connectors/orders/tasks").await.body;
    assert_eq!(tasks[0]["config"]["db.password"], "[hidden]", "{tasks}");
    for reply in [
        operator.get("/connectors/acme%2Forders/config").await.body,
        acme.get("/connectors?expand=info").await.body,
    ] {
        assert!(!reply.to_string().contains(PASSWORD), "{reply}");
    }
    // Read, changed and written back: the password stays what it was.
    let mut changed = shown.clone();
    changed["batch.size"] = json!("2");
    let reply = acme.put_json("/connectors/orders/config", &changed).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = acme
        .patch(
            "/connectors/orders/config",
            &json!({"db.password": "[hidden]"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let stored = std::fs::read_to_string(worker.dir.path().join("data/connectors.json")).unwrap();
    let line = stored
        .lines()
        .rfind(|line| line.contains("acme/orders"))
        .unwrap();
    assert!(
        line.contains(PASSWORD)
            && !line.contains("[hidden]")
            && line.contains("\"batch.size\":\"2\""),
        "{line}"
    );
}
