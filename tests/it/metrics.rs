//! `GET /metrics`: Kafka Connect's metrics under Strimzi's names equal what a pipeline moved,
//! per connector and task; failed tasks, skipped records, dead letter queue writes and traps
//! show; `promtool` accepts the output; a real Prometheus server scrapes it and answers the
//! Strimzi dashboard's and alerts' queries.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use hyper::StatusCode;
use serde_json::json;
use wasm_connect_tests::{ServedWorker as Api, wait_until};

/// The value of the series `name{labels}` (labels exactly as rendered), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn create(api: &Api, name: &str, config: serde_json::Value) {
    let reply = api
        .post("/connectors", &json!({"name": name, "config": config}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

/// A worker moving five lines file → topic → file, five lines a JSON sink skips to a dead
/// letter queue, and a source whose first task traps.
async fn busy_worker() -> Api {
    let api = Api::start().await;
    let input = api.worker.path("input.txt");
    std::fs::write(&input, "one\ntwo\nthree\nfour\nfive\n").unwrap();
    let output = api.worker.path("output.txt");
    create(
        &api,
        "src",
        json!({"connector.class": "FileStreamSource", "file": input.display().to_string(), "topic": "lines"}),
    )
    .await;
    create(
        &api,
        "snk",
        json!({"connector.class": "FileStreamSink", "file": output.display().to_string(), "topics": "lines"}),
    )
    .await;
    create(
        &api,
        "json-sink",
        json!({"connector.class": "FileStreamSink", "file": api.worker.path("json.txt").display().to_string(),
               "topics": "lines",
               "value.converter": "org.apache.kafka.connect.json.JsonConverter",
               "value.converter.schemas.enable": "false",
               "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq"}),
    )
    .await;
    create(
        &api,
        "bad",
        json!({"connector.class": "TestSource", "tasks.max": "2", "modes": "panic,ok", "topic": "bad"}),
    )
    .await;
    wait_until(
        Duration::from_secs(60),
        "the pipeline to copy five lines",
        || std::fs::read_to_string(&output).is_ok_and(|text| text.lines().count() == 5),
    )
    .await;
    let start = Instant::now();
    loop {
        let (_, _, text) = api.get_text("/metrics", None).await;
        let skipped = value(
            &text,
            "kafka_connect_task_error_total_records_skipped{connector=\"json-sink\",task=\"0\"}",
        );
        let failed = value(
            &text,
            "kafka_connect_worker_connector_failed_task_count{connector=\"bad\"}",
        );
        if skipped == Some(5.0) && failed == Some(1.0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "metrics did not settle:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_moved_per_connector_and_task() {
    let api = busy_worker().await;
    let (status, content_type, text) = api.get_text("/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let task = |connector: &str| format!("{{connector=\"{connector}\",task=\"0\"}}");
    for (series, expected) in [
        (
            format!(
                "kafka_connect_source_task_source_record_poll_total{}",
                task("src")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_source_task_source_record_write_total{}",
                task("src")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_sink_task_sink_record_read_total{}",
                task("snk")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_sink_task_sink_record_send_total{}",
                task("snk")
            ),
            5.0,
        ),
        (
            format!("kafka_connect_sink_task_partition_count{}", task("snk")),
            1.0,
        ),
        (
            format!(
                "kafka_connect_sink_task_sink_record_read_total{}",
                task("json-sink")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_sink_task_sink_record_send_total{}",
                task("json-sink")
            ),
            0.0,
        ),
        (
            format!(
                "kafka_connect_task_error_total_record_failures{}",
                task("json-sink")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_task_error_total_record_errors{}",
                task("json-sink")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_task_error_deadletterqueue_produce_requests{}",
                task("json-sink")
            ),
            5.0,
        ),
        (
            format!(
                "kafka_connect_task_error_deadletterqueue_produce_failures{}",
                task("json-sink")
            ),
            0.0,
        ),
        (
            format!(
                "kafka_connect_task_error_total_records_skipped{}",
                task("snk")
            ),
            0.0,
        ),
        (
            "kafka_connect_connector_status{connector=\"src\",status=\"running\"}".into(),
            1.0,
        ),
        (
            "kafka_connect_connector_task_status{connector=\"bad\",task=\"0\",status=\"failed\"}"
                .into(),
            1.0,
        ),
        (
            "kafka_connect_connector_task_status{connector=\"bad\",task=\"1\",status=\"running\"}"
                .into(),
            1.0,
        ),
        (
            "kafka_connect_worker_connector_failed_task_count{connector=\"bad\"}".into(),
            1.0,
        ),
        (
            "kafka_connect_worker_connector_running_task_count{connector=\"bad\"}".into(),
            1.0,
        ),
        ("kafka_connect_worker_connector_count".into(), 4.0),
        ("kafka_connect_worker_task_count".into(), 5.0),
        // bad's first task started, then trapped in poll: not a failure to start.
        (
            "kafka_connect_worker_task_startup_attempts_total".into(),
            5.0,
        ),
        (
            "kafka_connect_worker_task_startup_failure_total".into(),
            0.0,
        ),
        (
            "kafka_connect_worker_connector_startup_success_total".into(),
            4.0,
        ),
        (
            "wasm_connect_task_traps_total{connector=\"bad\",task=\"0\",cause=\"trap\"}".into(),
            1.0,
        ),
        (
            "wasm_connect_task_traps_total{connector=\"bad\",task=\"1\",cause=\"trap\"}".into(),
            0.0,
        ),
    ] {
        assert_eq!(
            value(&text, &series),
            Some(expected),
            "{series} in:\n{text}"
        );
    }
    // A failing task's last error time is set; a clean one's is not.
    assert!(
        value(
            &text,
            &format!(
                "kafka_connect_task_error_last_error_timestamp{}",
                task("json-sink")
            )
        )
        .unwrap()
            > 0.0
    );
    // The test guests on plugin.path and the built-ins, compiled or found compiled.
    assert!(value(&text, "wasm_connect_worker_plugins{source=\"builtin\"}").unwrap() >= 1.0);
    assert!(value(&text, "wasm_connect_worker_plugins{source=\"plugin.path\"}").unwrap() >= 1.0);
    assert_eq!(
        value(&text, "wasm_connect_worker_plugins{source=\"uploaded\"}"),
        Some(0.0)
    );
    let loads = value(&text, "wasm_connect_worker_compile_cache_hits_total").unwrap()
        + value(&text, "wasm_connect_worker_compile_cache_misses_total").unwrap();
    assert!(loads >= 2.0, "{loads} components loaded");
    // Exposed even when every component came from the compile cache.
    for counter in ["reused", "compiled"] {
        let name = format!("wasm_connect_worker_compile_functions_{counter}_total");
        assert!(value(&text, &name).is_some(), "{name} is exposed");
    }
    assert!(value(&text, "wasm_connect_worker_compile_baseline_total").is_some());
    // The embedded log appended the five lines and the five dead letters, one fsync at a time.
    assert!(value(&text, "wasm_connect_embedded_log_appended_records_total").unwrap() >= 10.0);
    assert!(value(&text, "wasm_connect_embedded_log_commit_seconds_count").unwrap() >= 1.0);
    // Records in the tasks' hands: none left at the source, at most the five at the sink.
    assert_eq!(
        value(
            &text,
            &format!(
                "kafka_connect_source_task_source_record_active_count{}",
                task("src")
            )
        ),
        Some(0.0)
    );
    assert!(
        value(
            &text,
            &format!(
                "kafka_connect_source_task_source_record_active_count_max{}",
                task("src")
            )
        )
        .unwrap()
            >= 1.0
    );
    let sink_active = value(
        &text,
        &format!(
            "kafka_connect_sink_task_sink_record_active_count{}",
            task("snk")
        ),
    )
    .unwrap();
    assert!((0.0..=5.0).contains(&sink_active), "{sink_active}");
    assert!(
        value(
            &text,
            &format!(
                "kafka_connect_sink_task_sink_record_active_count_max{}",
                task("snk")
            )
        )
        .unwrap()
            >= 1.0
    );
    // The sink's consumer lag is known (it read everything, so at most the five lines).
    let lag = value(
        &text,
        &format!("kafka_connect_sink_task_sink_record_lag_max{}", task("snk")),
    )
    .unwrap();
    assert!((0.0..=5.0).contains(&lag), "lag {lag}");
    // Calls are timed by exported function; the instance's memory and cap are shown.
    let calls = |function: &str| {
        value(
            &text,
            &format!(
                "wasm_connect_task_guest_call_duration_seconds_count{{connector=\"snk\",task=\"0\",function=\"{function}\"}}"
            ),
        )
    };
    assert!(calls("put").unwrap() >= 1.0, "{text}");
    assert_eq!(calls("instantiate"), Some(1.0), "{text}");
    let memory = value(
        &text,
        &format!("wasm_connect_task_memory_bytes{}", task("snk")),
    )
    .unwrap();
    let cap = value(
        &text,
        &format!("wasm_connect_task_memory_max_bytes{}", task("snk")),
    )
    .unwrap();
    assert!(memory > 0.0 && memory <= cap, "{memory} of {cap}");
    // Fuel is counted for metered calls.
    assert!(
        value(
            &text,
            &format!("wasm_connect_task_fuel_consumed_total{}", task("snk"))
        )
        .unwrap()
            > 0.0
    );

    let (_, content_type, open) = api
        .get_text(
            "/metrics",
            Some("application/openmetrics-text; version=1.0.0"),
        )
        .await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(open.ends_with("# EOF\n"));

    promtool_accepts(&text);
    dashboards_use_only_exported_series(&text);

    // A running task's time is running; once paused, part of it is paused.
    let running = |text: &str, connector: &str| {
        value(
            text,
            &format!(
                "kafka_connect_connector_task_running_ratio{}",
                task(connector)
            ),
        )
        .unwrap()
    };
    assert!(running(&text, "snk") > 0.9, "{text}");
    assert_eq!(
        api.put("/connectors/src/pause").await.status,
        StatusCode::ACCEPTED
    );
    let start = Instant::now();
    loop {
        let (_, _, text) = api.get_text("/metrics", None).await;
        let paused = value(
            &text,
            &format!("kafka_connect_connector_task_pause_ratio{}", task("src")),
        )
        .unwrap();
        if paused > 0.0 {
            assert!(running(&text, "src") < 1.0);
            assert!((running(&text, "src") + paused) <= 1.0 + 1e-9);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the pause does not show:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.stop().await;
}

/// Every `kafka_connect_*` and `wasm_connect_*` series the repository's dashboard and alert
/// rules query is one the worker exports; `promtool check rules` accepts the rules.
fn dashboards_use_only_exported_series(text: &str) {
    let exported: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../observability");
    let dashboard = std::fs::read_to_string(root.join("grafana-dashboard.json")).unwrap();
    let alerts = std::fs::read_to_string(root.join("alerts.yml")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().clone())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    expressions.extend(
        alerts
            .lines()
            .filter_map(|line| line.trim().strip_prefix("expr: "))
            .map(str::to_owned),
    );
    let names = regex::Regex::new(r"\b(?:kafka|wasm)_connect_[a-z_]+").unwrap();
    let mut checked = 0;
    // Series that appear only once something was counted: no HTTP request was made here.
    let counted_when_nonzero = ["wasm_connect_task_http_requests_total"];
    for expression in &expressions {
        for name in names.find_iter(expression) {
            assert!(
                exported.contains(name.as_str()) || counted_when_nonzero.contains(&name.as_str()),
                "`{}` in `{expression}` is not exported; exported: {exported:?}",
                name.as_str()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "only {checked} series names found in the dashboard and alerts"
    );
    if let Some(promtool) = find("promtool") {
        let output = Command::new(promtool)
            .args(["check", "rules"])
            .arg(root.join("alerts.yml"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `promtool check metrics` (Debian's `prometheus` package; `.ci/run` installs it) parses
/// the output, and its only complaints are the naming lints Kafka Connect's own names draw
/// (`_ms`, `_count`), which Strimzi's dashboard and alerts depend on and so must stay.
fn promtool_accepts(text: &str) {
    let Some(promtool) = find("promtool") else {
        eprintln!("promtool is not installed (apt install prometheus): skipping its check");
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    const KEPT_NAMES: [&str; 2] = [
        "metric names should not contain abbreviated units",
        "non-histogram and non-summary metrics should not have \"_count\" suffix",
    ];
    for line in report.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            line.starts_with("kafka_connect_")
                && KEPT_NAMES.iter().any(|lint| line.ends_with(lint)),
            "promtool check metrics found more than Kafka Connect's names: {line}\n{report}"
        );
    }
}

/// A program on PATH.
fn find(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_worker_and_answers_the_strimzi_queries() {
    let Some(prometheus) = find("prometheus") else {
        eprintln!("prometheus is not installed (apt install prometheus): skipping");
        return;
    };
    let api = busy_worker().await;
    let target = api.base.trim_start_matches("http://").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: connect\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .expect("start prometheus");
    let client =
        wasm_connect_tests::rest_client::RestClient::new(format!("http://127.0.0.1:{port}"));
    // The Strimzi dashboard's "Connector Task State" and its failed-task alert.
    let query = |expression: &str| {
        format!(
            "/api/v1/query?query={}",
            expression
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        )
    };
    let answer = |reply: &wasm_connect_tests::rest_client::Reply| -> Option<f64> {
        reply.body["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
    };
    let start = Instant::now();
    let (running, failed_alert) = loop {
        let running = client
            .try_send_bytes(
                hyper::Method::GET,
                &query("sum(kafka_connect_worker_connector_running_task_count)"),
                Default::default(),
                None,
            )
            .await
            .ok();
        let failed = client
            .try_send_bytes(
                hyper::Method::GET,
                &query("sum(kafka_connect_worker_connector_failed_task_count) > 0"),
                Default::default(),
                None,
            )
            .await
            .ok();
        if let (Some(running), Some(failed)) = (&running, &failed)
            && let (Some(r), Some(f)) = (answer(running), answer(failed))
        {
            break (r, f);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "prometheus answered nothing: {running:?} {failed:?}; log: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = server.kill();
    let _ = server.wait();
    // src, snk, json-sink and bad's second task run; bad's first failed.
    assert_eq!(running, 4.0);
    assert_eq!(failed_alert, 1.0);
    api.stop().await;
}

/// On Kafka, the clients' totals come from librdkafka's statistics under Strimzi's names, and
/// the sink's lag from the consumer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_clients_report_what_they_moved() {
    use std::sync::Arc;

    use rdkafka::mocking::MockCluster;
    use wasm_connect::{
        log::{RecordLog, kafka::KafkaLog},
        metrics::{Format, render},
    };
    use wasm_connect_tests::{TestWorker, init_logging};

    init_logging();
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("lines", 1, 1).expect("topic");
    let mut settings = wasm_connect_tests::mock_kafka_settings(&cluster);
    for client in [&mut settings.producer, &mut settings.consumer] {
        client.insert("statistics.interval.ms".into(), "100".into());
    }
    let log: Arc<dyn RecordLog> = Arc::new(KafkaLog::new(settings).expect("kafka log"));
    let worker = TestWorker::with_log(log, &[]).await;
    let input = worker.path("input.txt");
    std::fs::write(&input, "one\ntwo\nthree\nfour\nfive\n").unwrap();
    let output = worker.path("output.txt");
    let (input, output_text) = (input.display().to_string(), output.display().to_string());
    worker
        .create(&[
            ("name", "src"),
            ("connector.class", "FileStreamSource"),
            ("file", input.as_str()),
            ("topic", "lines"),
        ])
        .await;
    worker
        .create(&[
            ("name", "snk"),
            ("connector.class", "FileStreamSink"),
            ("file", output_text.as_str()),
            ("topics", "lines"),
        ])
        .await;
    let start = Instant::now();
    loop {
        let text = render(worker.herder.metrics_snapshot().await, Format::Prometheus);
        let sent = value(
            &text,
            "kafka_producer_record_send_total{clientid=\"connector-producer-src-0\"}",
        );
        let consumed = value(
            &text,
            "kafka_consumer_records_consumed_total{clientid=\"connector-consumer-snk-0\"}",
        );
        let bytes = value(
            &text,
            "kafka_producer_outgoing_byte_total{clientid=\"connector-producer-src-0\"}",
        );
        let lag = value(
            &text,
            "kafka_connect_sink_task_sink_record_lag_max{connector=\"snk\",task=\"0\"}",
        );
        if sent == Some(5.0)
            && consumed == Some(5.0)
            && bytes.is_some_and(|b| b > 0.0)
            && lag.is_some_and(|lag| lag.is_finite())
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the clients' statistics did not arrive: {sent:?} {consumed:?} {bytes:?} {lag:?}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_call_counts_the_time_it_was_throttled() {
    let api = Api::start().await;
    // A guest spinning in `poll` until its 600 ms deadline: past 100 ms
    // (sandbox.throttle.after.ms) it runs one tick in eight, and the pauses are counted.
    create(
        &api,
        "spin",
        json!({"connector.class": "TestSource", "modes": "loop", "topic": "spin",
               "sandbox.timeout.ms": "600"}),
    )
    .await;
    let start = Instant::now();
    loop {
        let (_, _, text) = api.get_text("/metrics", None).await;
        let deadline = value(
            &text,
            "wasm_connect_task_traps_total{connector=\"spin\",task=\"0\",cause=\"deadline\"}",
        );
        if deadline == Some(1.0) {
            let throttled = value(
                &text,
                "wasm_connect_task_throttled_seconds_total{connector=\"spin\",task=\"0\"}",
            )
            .unwrap_or(0.0);
            // About 500 ms of the 600 were past the threshold, seven eighths of it paused.
            assert!(throttled > 0.2 && throttled < 0.6, "{throttled}\n{text}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no deadline trap:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
