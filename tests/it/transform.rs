//! Transform components (the `transform` world) in running pipelines: a chain of built-in SMTs
//! and the wasm `TestTransform` on the source and the sink side, with predicates; hostile
//! transforms (a trap, an endless loop) under `errors.tolerance=none` (only their own task
//! fails) and `all` (the batch is skipped, to the dead letter queue on the sink side, and a
//! fresh instance takes the next batch); and a transform uploaded over REST, listed, described,
//! used by a connector and protected from deletion while in use.

use std::{sync::Arc, time::Duration};

use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, body::Bytes, header as http_header};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use wasm_connect::coordinator::State;
use wasm_connect_tests::{TestWorker, component, header, init_logging, lines, wait_until};

/// A worker whose plugin path also holds the test transform.
async fn worker_with_transform(extra: &[(&str, &str)]) -> TestWorker {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    std::fs::copy(
        component("test_transform"),
        plugins.join("test_transform.wasm"),
    )
    .expect("copy the test transform");
    TestWorker::embedded_in(dir, extra).await
}

fn task_state(worker: &TestWorker, name: &str) -> Option<State> {
    worker
        .herder
        .status(name)
        .and_then(|s| s.tasks.get(&0).map(|t| t.state))
}

async fn wait_task_failed(worker: &TestWorker, name: &str) -> String {
    wait_until(
        Duration::from_secs(60),
        &format!("{name}'s task to fail"),
        || task_state(worker, name) == Some(State::Failed),
    )
    .await;
    worker.herder.status(name).unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_transform_runs_in_a_chain_with_builtins_on_both_sides() {
    let worker = worker_with_transform(&[]).await;
    let input = worker.path("input.txt");
    let output = worker.path("output.txt");
    std::fs::write(&input, "one\ntwo\nthree\n").unwrap();
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "raw"),
            ("transforms", "route,upper,never,stamp"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "raw"),
            ("transforms.route.replacement", "routed"),
            // The wasm step, after a built-in, selected by a predicate on the routed topic.
            ("transforms.upper.type", "TestTransform"),
            ("transforms.upper.predicate", "isRouted"),
            ("transforms.upper.uppercase", "value"),
            ("transforms.upper.header.name", "tagged"),
            ("transforms.upper.header.value", "yes"),
            // Would trap on every record, but the negated predicate skips it.
            ("transforms.never.type", "com.example.TestTransform"),
            ("transforms.never.predicate", "isRouted"),
            ("transforms.never.negate", "true"),
            ("transforms.never.trap.match", "O"),
            // A built-in after the wasm step sees its output.
            ("transforms.stamp.type", "InsertHeader"),
            ("transforms.stamp.header", "after"),
            ("transforms.stamp.value.literal", "wasm"),
            ("predicates", "isRouted"),
            ("predicates.isRouted.type", "TopicNameMatches"),
            ("predicates.isRouted.pattern", "routed"),
        ])
        .await;
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.display().to_string()),
            ("topics", "routed"),
            // Drops `TWO`, only on records the source side tagged.
            ("transforms", "dropTwo,lower"),
            ("transforms.dropTwo.type", "TestTransform"),
            ("transforms.dropTwo.drop.match", "TWO"),
            ("transforms.dropTwo.predicate", "tagged"),
            ("transforms.lower.type", "HoistField$Value"),
            ("transforms.lower.field", "line"),
            ("predicates", "tagged"),
            ("predicates.tagged.type", "HasHeaderKey"),
            ("predicates.tagged.name", "tagged"),
        ])
        .await;
    wait_until(Duration::from_secs(60), "the sink to write 2 lines", || {
        lines(&output).len() == 2
    })
    .await;
    assert_eq!(lines(&output), ["Struct{line=ONE}", "Struct{line=THREE}"]);
    let routed = worker.read_topic("routed", 3).await;
    let values: Vec<_> = routed
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(values, ["ONE", "TWO", "THREE"]);
    assert_eq!(header(&routed[0], "tagged"), "yes");
    assert_eq!(header(&routed[0], "after"), "wasm");
    assert_eq!(task_state(&worker, "source"), Some(State::Running));
    assert_eq!(task_state(&worker, "sink"), Some(State::Running));
    // The transform component's calls count as its task's, under `apply`.
    let text = wasm_connect::metrics::render(
        worker.herder.metrics_snapshot().await,
        wasm_connect::metrics::Format::Prometheus,
    );
    assert!(
        text.lines().any(|line| line.starts_with(
            "wasm_connect_task_guest_call_duration_seconds_count{connector=\"source\",task=\"0\",function=\"apply\"}"
        )),
        "{text}"
    );
    worker.stop().await;
}

/// A sink with a transform that traps on `poison`, and a healthy sink beside it.
async fn start_trap_sinks(worker: &TestWorker, tolerance: &str) {
    worker.produce("events", &["a", "poison", "c"]).await;
    worker
        .create(&[
            ("name", "hostile"),
            ("connector.class", "FileStreamSink"),
            ("file", &worker.path("hostile.txt").display().to_string()),
            ("topics", "events"),
            ("transforms", "upper,trap"),
            ("transforms.upper.type", "TestTransform"),
            ("transforms.upper.uppercase", "value"),
            ("transforms.trap.type", "TestTransform"),
            ("transforms.trap.trap.match", "POISON"),
            ("errors.tolerance", tolerance),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ])
        .await;
    worker
        .create(&[
            ("name", "healthy"),
            ("connector.class", "FileStreamSink"),
            ("file", &worker.path("healthy.txt").display().to_string()),
            ("topics", "events"),
            ("transforms", "upper"),
            ("transforms.upper.type", "TestTransform"),
            ("transforms.upper.uppercase", "value"),
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_transform_fails_only_its_own_task_under_tolerance_none() {
    let worker = worker_with_transform(&[("consumer.max.poll.records", "1")]).await;
    start_trap_sinks(&worker, "none").await;
    let trace = wait_task_failed(&worker, "hostile").await;
    assert!(trace.contains("Tolerance exceeded"), "{trace}");
    assert!(trace.contains("TRANSFORMATION"), "{trace}");
    assert!(
        trace.contains("transformation `trap` (TestTransform)"),
        "{trace}"
    );
    assert!(trace.contains("apply: trap"), "{trace}");
    assert!(trace.contains("events-0@1"), "names the record: {trace}");
    let healthy = worker.path("healthy.txt");
    wait_until(
        Duration::from_secs(30),
        "the healthy sink's 3 lines",
        || lines(&healthy).len() == 3,
    )
    .await;
    assert_eq!(lines(&healthy), ["A", "POISON", "C"]);
    assert_eq!(task_state(&worker, "healthy"), Some(State::Running));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_transform_sends_its_batch_to_the_dead_letter_queue_under_tolerance_all() {
    // One record per batch, so the trap takes only the poison record's batch.
    let worker = worker_with_transform(&[("consumer.max.poll.records", "1")]).await;
    start_trap_sinks(&worker, "all").await;
    let out = worker.path("hostile.txt");
    wait_until(Duration::from_secs(30), "the two good records", || {
        lines(&out).len() == 2
    })
    .await;
    // After the trap a fresh instance transformed `c`.
    assert_eq!(lines(&out), ["A", "C"]);
    let dlq = worker.read_topic("dlq", 1).await;
    let poison = &dlq[0];
    assert_eq!(
        poison.value.as_deref(),
        Some(&b"poison"[..]),
        "original bytes"
    );
    assert_eq!(header(poison, "__connect.errors.stage"), "TRANSFORMATION");
    assert_eq!(
        header(poison, "__connect.errors.class.name"),
        "TestTransform"
    );
    assert_eq!(header(poison, "__connect.errors.offset"), "1");
    assert!(
        header(poison, "__connect.errors.exception.message").contains("trap"),
        "{:?}",
        poison.headers
    );
    assert_eq!(task_state(&worker, "hostile"), Some(State::Running));
    worker.stop().await;
}

/// A file source whose wasm transform spins forever on `spin`, within a 1 s call limit.
async fn start_looping_source(worker: &TestWorker, tolerance: &str) -> std::path::PathBuf {
    let input = worker.path("input.txt");
    std::fs::write(&input, "spin\n").unwrap();
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "out"),
            ("sandbox.timeout.ms", "1000"),
            ("transforms", "loop"),
            ("transforms.loop.type", "TestTransform"),
            ("transforms.loop.loop.match", "spin"),
            ("transforms.loop.uppercase", "value"),
            ("errors.tolerance", tolerance),
        ])
        .await;
    input
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_transform_fails_only_its_source_task_under_tolerance_none() {
    let worker = worker_with_transform(&[]).await;
    start_looping_source(&worker, "none").await;
    let input = worker.path("other.txt");
    std::fs::write(&input, "fine\n").unwrap();
    worker
        .create(&[
            ("name", "other"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "other"),
            ("transforms", "upper"),
            ("transforms.upper.type", "TestTransform"),
            ("transforms.upper.uppercase", "value"),
        ])
        .await;
    let trace = wait_task_failed(&worker, "source").await;
    assert!(trace.contains("TRANSFORMATION"), "{trace}");
    assert!(
        trace.contains("apply: deadline of 1000 ms exceeded")
            || trace.contains("apply: fuel exhausted"),
        "{trace}"
    );
    let other = worker.read_topic("other", 1).await;
    assert_eq!(other[0].value.as_deref(), Some(&b"FINE"[..]));
    assert_eq!(task_state(&worker, "other"), Some(State::Running));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_transform_skips_its_batch_under_tolerance_all() {
    let worker = worker_with_transform(&[]).await;
    let input = start_looping_source(&worker, "all").await;
    let start = std::time::Instant::now();
    while worker.errant_records("source").await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the spinning batch was never skipped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wasm_connect_tests::append_lines(&input, &["after".to_owned()]);
    let out = worker.read_topic("out", 1).await;
    assert_eq!(out[0].value.as_deref(), Some(&b"AFTER"[..]));
    assert_eq!(task_state(&worker, "source"), Some(State::Running));
    worker.stop().await;
}

fn transform_context(
    limits: wasm_connect::runtime::SandboxLimits,
) -> wasm_connect::runtime::InstanceContext {
    wasm_connect::runtime::InstanceContext::detached("c", Some(0), limits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_admits_a_transform_and_poisons_it_after_a_trap() {
    use wasm_connect::{
        data::{Data, Value},
        runtime::{
            CallError, PluginKind, Runtime, RuntimeConfig, TransformInput, TransformOutcome,
            TrapCause,
        },
    };
    init_logging();
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = std::fs::read(component("test_transform")).unwrap();
    let plugin = runtime.load(&bytes, "test_transform.wasm").await.unwrap();
    assert_eq!(plugin.info.kind, PluginKind::Transform);
    assert_eq!(plugin.info.class_name, "TestTransform");
    assert_eq!(plugin.info.aliases, ["com.example.TestTransform"]);
    assert!(
        plugin
            .info
            .config_def
            .iter()
            .any(|k| k.name == "drop.match")
    );
    let limits = Default::default();
    let Err(error) = plugin.connector(transform_context(limits)).await else {
        panic!("a transform made a connector instance");
    };
    assert!(
        format!("{error:?}").contains("is a transformation, not a connector"),
        "{error:?}"
    );
    // A connector component is no transform.
    let source = runtime
        .load(
            &std::fs::read(component("test_source")).unwrap(),
            "test_source.wasm",
        )
        .await
        .unwrap();
    let Err(error) = source.transform(transform_context(limits)).await else {
        panic!("a source made a transform instance");
    };
    assert!(
        format!("{error:?}").contains("not a transformation"),
        "{error:?}"
    );

    let mut instance = plugin.transform(transform_context(limits)).await.unwrap();
    let config = [
        ("drop.match", "drop"),
        ("trap.match", "boom"),
        ("uppercase", "value"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    instance.configure(&config).await.unwrap();
    let values: Vec<Data> = ["abc", "drop me"]
        .iter()
        .map(|v| Data::schemaless(Value::String((*v).into())))
        .collect();
    let inputs: Vec<TransformInput<'_>> = values
        .iter()
        .map(|value| TransformInput {
            topic: "t",
            partition: None,
            offset: Some(3),
            key: None,
            value: Some(value),
            timestamp: None,
            headers: &[],
        })
        .collect();
    let outcomes = instance.apply(&inputs).await.unwrap();
    let TransformOutcome::Replace(upper) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(
        upper.value.as_ref().unwrap().value,
        Value::String("ABC".into())
    );
    assert_eq!(outcomes[1], TransformOutcome::Drop);

    let boom = Data::schemaless(Value::String("boom".into()));
    let input = TransformInput {
        value: Some(&boom),
        ..inputs[0]
    };
    let error = instance.apply(&[input]).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Trap { call: "apply", cause: TrapCause::Trap(m) } if m.contains("trap.match hit")),
        "{error:?}"
    );
    assert!(instance.is_poisoned());
    let again = instance.apply(&inputs).await.unwrap_err();
    assert!(
        matches!(
            again,
            CallError::Trap {
                cause: TrapCause::Poisoned,
                ..
            }
        ),
        "{again:?}"
    );
}

/// Sends one request to the worker's REST API; returns the status and JSON body.
async fn request(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    method: Method,
    path: &str,
    body: Option<(Vec<u8>, &str)>,
) -> (StatusCode, Value) {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    let body = match body {
        Some((bytes, content_type)) => {
            builder = builder.header(http_header::CONTENT_TYPE, content_type);
            Bytes::from(bytes)
        }
        None => Bytes::new(),
    };
    let response = client
        .request(builder.body(Full::new(body)).unwrap())
        .await
        .expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_uploaded_over_rest_is_listed_described_and_used() {
    init_logging();
    // An empty plugin.path: the transform exists only once uploaded.
    let empty = tempfile::tempdir().unwrap();
    let worker =
        TestWorker::embedded(&[("plugin.path", &empty.path().display().to_string())]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = wasm_connect::rest::router(worker.herder.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder(TokioExecutor::new()).build_http();
    let call = |method: Method, path: &str, body: Option<(Vec<u8>, &'static str)>| {
        let (client, base, path) = (&client, base.clone(), path.to_owned());
        async move { request(client, &base, method, &path, body).await }
    };
    let json_body = |value: Value| Some((value.to_string().into_bytes(), "application/json"));

    // Unknown before the upload: a connector naming it is refused on its `type`.
    let config = json!({
        "connector.class": "FileStreamSource",
        "file": worker.path("in.txt").display().to_string(),
        "topic": "up",
        "transforms": "up",
        "transforms.up.type": "TestTransform",
        "transforms.up.uppercase": "value",
    });
    let (status, body) = call(
        Method::PUT,
        "/connectors/src/config",
        json_body(config.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("transforms.up.type"), "{body}");

    let bytes = std::fs::read(component("test_transform")).unwrap();
    let (status, body) = call(
        Method::POST,
        "/connector-plugins",
        Some((bytes, "application/wasm")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["class"], "TestTransform");
    assert_eq!(body["type"], "transformation");

    let (_, connectors) = call(Method::GET, "/connector-plugins", None).await;
    assert!(
        !connectors.to_string().contains("TestTransform"),
        "connectorsOnly lists no transforms: {connectors}"
    );
    let (_, all) = call(Method::GET, "/connector-plugins?connectorsOnly=false", None).await;
    let entry = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["class"] == "TestTransform")
        .unwrap_or_else(|| panic!("not listed: {all}"));
    assert_eq!(entry["type"], "transformation");
    let (status, keys) = call(Method::GET, "/connector-plugins/TestTransform/config", None).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"uppercase") && names.contains(&"trap.match"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"tasks.max"),
        "no connector settings: {names:?}"
    );

    // A transform is not a connector.
    let (status, body) = call(
        Method::PUT,
        "/connectors/wrong/config",
        json_body(json!({"connector.class": "TestTransform"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("not a connector"), "{body}");

    // A connector is not a transform.
    let mut connector = config.clone();
    connector["transforms.up.type"] = json!("FileStreamSink");
    let (status, body) = call(Method::PUT, "/connectors/src/config", json_body(connector)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("transforms.up.type"), "{body}");

    // The component validates its own settings when the connector is created.
    let mut bad = config.clone();
    bad["transforms.up.mode"] = json!("shout");
    let (status, body) = call(Method::PUT, "/connectors/src/config", json_body(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.to_string()
            .contains("transforms.up.mode: there is no `mode`"),
        "{body}"
    );

    std::fs::write(worker.path("in.txt"), "hello\n").unwrap();
    let (status, body) = call(Method::PUT, "/connectors/src/config", json_body(config)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let out = worker.read_topic("up", 1).await;
    assert_eq!(out[0].value.as_deref(), Some(&b"HELLO"[..]));

    // In use: not deleted; once the connector is gone, it can be.
    let (status, body) = call(Method::DELETE, "/connector-plugins/TestTransform", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = call(Method::DELETE, "/connectors/src", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let start = std::time::Instant::now();
    loop {
        let (status, body) = call(Method::DELETE, "/connector-plugins/TestTransform", None).await;
        if status == StatusCode::NO_CONTENT {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
    worker.stop().await;
}

/// Records per second through a chain of built-in SMTs, with and without the wasm transform.
/// Run: `cargo test -j2 -p wasm-connect-tests --test it -- transform::throughput --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn throughput_of_a_chain_with_and_without_the_wasm_transform() {
    use wasm_connect::{
        data::{Data, SourceRecord, Value},
        runtime::{InstanceContext, Plugin, Runtime, RuntimeConfig},
        transforms::{TransformChain, TransformPlugins},
        worker::transforms::TaskTransforms,
    };
    struct One(Arc<Plugin>);
    impl TransformPlugins for One {
        fn transform(&self, class: &str) -> Option<Arc<Plugin>> {
            (class == "TestTransform").then(|| self.0.clone())
        }
    }
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = std::fs::read(component("test_transform")).unwrap();
    let plugin = runtime.load(&bytes, "test_transform").await.unwrap();
    let base = [
        ("transforms.route.type", "RegexRouter"),
        ("transforms.route.regex", "(.*)"),
        ("transforms.route.replacement", "$1-out"),
        ("transforms.hdr.type", "InsertHeader"),
        ("transforms.hdr.header", "h"),
        ("transforms.hdr.value.literal", "v"),
        ("transforms.wasm.type", "TestTransform"),
    ];
    const RECORDS: usize = 40_000;
    let make = |size: usize| -> Vec<SourceRecord> {
        (0..size)
            .map(|i| SourceRecord {
                source_partition: Default::default(),
                source_offset: Vec::new(),
                topic: "t".into(),
                partition: None,
                key: None,
                value: Some(Data::schemaless(Value::String(format!("value number {i}")))),
                timestamp: Some(1),
                headers: Vec::new(),
            })
            .collect()
    };
    for (label, transforms, extra, size) in [
        ("builtins only", "route,hdr", None, 2_000),
        ("builtins + wasm (keeps)", "route,hdr,wasm", None, 2_000),
        (
            "builtins + wasm (replaces: uppercase)",
            "route,hdr,wasm",
            Some(("transforms.wasm.uppercase", "value")),
            2_000,
        ),
        // The cost of a call itself: one record per call.
        (
            "builtins + wasm (keeps), 1-record batches",
            "route,hdr,wasm",
            None,
            1,
        ),
    ] {
        let mut pairs: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push(("transforms".into(), transforms.into()));
        if let Some((k, v)) = extra {
            pairs.push((k.into(), v.into()));
        }
        let settings = pairs.into_iter().collect();
        let chain = TransformChain::from_settings_with(&settings, &One(plugin.clone())).unwrap();
        let context = InstanceContext::detached("bench", Some(0), Default::default());
        let mut task = TaskTransforms::start(Arc::new(chain), context)
            .await
            .unwrap();
        let batches: Vec<_> = (0..RECORDS / size).map(|_| make(size)).collect();
        let start = std::time::Instant::now();
        let mut kept = 0;
        for batch in batches {
            kept += task.apply_batch(batch).await.len();
        }
        let elapsed = start.elapsed();
        println!(
            "{label}: {:.0} records/s ({kept} records in {elapsed:?}, {size} per batch)",
            kept as f64 / elapsed.as_secs_f64()
        );
    }
}
