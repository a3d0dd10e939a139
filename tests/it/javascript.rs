//! JavaScript connectors, built from source by `guest-sdk/js/build-examples.sh` (QuickJS via
//! componentize-qjs) and loaded from `plugin.path`: `js-template-source` moves typed records
//! end to end and resumes from its offsets after a worker restart without loss or duplicates;
//! `js-line-sink` writes them through the SDK's filesystem access and passes the conformance
//! kit, and the reset it asks for in `open` applies before records fetched with the
//! assignment; a JavaScript exception fails the task with the JS message and stack as its
//! trace. An ignored test measures load, cache and per-record costs against Rust.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    time::{Duration, Instant},
};

use serde_json::Value;
use wasm_connect::{
    coordinator::State,
    runtime::{InstanceContext, PluginKind, Runtime, RuntimeConfig, SandboxLimits},
};
use wasm_connect_tests::{
    TestWorker,
    conformance::{self, Role, Subject},
    init_logging, lines, wait_until, workspace_root,
};

/// A JS example component (`js_template_source`, `js_line_sink`); fails naming the command
/// that builds it.
fn js_component(name: &str) -> PathBuf {
    let path = workspace_root().join(format!("target/wasm32-wasip2/wasm/{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build the JavaScript connectors with `guest-sdk/js/build-examples.sh` \
         (needs node and npm; .ci/test runs it)",
        path.display()
    );
    path
}

/// A worker on the embedded log with the JS components on its plugin path.
async fn worker_in(dir: Option<tempfile::TempDir>) -> TestWorker {
    let dir = match dir {
        Some(dir) => dir,
        None => tempfile::tempdir().expect("temp dir"),
    };
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    for name in ["js_template_source", "js_line_sink"] {
        std::fs::copy(js_component(name), plugins.join(format!("{name}.wasm"))).expect("copy");
    }
    TestWorker::embedded_in(dir, &[]).await
}

const TEMPLATE: &str = "({ id: seq, user: pick(['ann', 'bob', 'cyd']), amount: int(1, 1000) / 100, vip: seq % 7 === 0 })";

fn source(count: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", "orders".into()),
        ("connector.class", "JsTemplateSource".into()),
        ("topic", "orders".into()),
        ("template", TEMPLATE.into()),
        (
            "schema",
            "id:int64, user:string, amount:float64, vip:boolean".into(),
        ),
        ("schema.name", "shop.Order".into()),
        ("key.field", "id".into()),
        ("batch.size", "64".into()),
        ("count", count.into()),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("value.converter.schemas.enable", "true".into()),
    ]
}

/// `config` with `key` set to `value`.
fn with(
    mut config: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let entry = config
        .iter_mut()
        .find(|(k, _)| *k == key)
        .expect("a known key");
    entry.1 = value.into();
    config
}

async fn create(worker: &TestWorker, pairs: &[(&'static str, String)]) {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    worker.create(&pairs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_source_moves_typed_records_and_resumes_after_a_restart() {
    init_logging();
    let worker = worker_in(None).await;
    create(&worker, &source("300")).await;
    worker.wait_running("orders", 1).await;
    worker.wait_records("orders", 300).await;
    // `count` is a total across restarts: nothing more once it is reached.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(worker.records("orders").await, 300);
    // And the task said so (`sourceContext.pollAgainAfter(null)` through the real bindings):
    // the worker calls it no more, where its back-off would poll it about once a second.
    worker.assert_not_called_again("orders").await;
    let dir = worker.stop().await;

    // Restarted with a larger count, the task resumes after the last acknowledged seq.
    let worker = worker_in(Some(dir)).await;
    create(&worker, &source("700")).await;
    worker.wait_records("orders", 400).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        worker.records("orders").await,
        400,
        "the restarted JS source re-sent or skipped records"
    );

    let records = worker.read_topic("orders", 700).await;
    let mut ids = BTreeSet::new();
    for record in &records {
        let value: Value =
            serde_json::from_slice(record.value.as_deref().expect("a value")).expect("JSON");
        let schema = &value["schema"];
        assert_eq!(schema["type"], "struct", "{value}");
        assert_eq!(schema["name"], "shop.Order", "{value}");
        let types: Vec<(&str, &str)> = schema["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| (f["field"].as_str().unwrap(), f["type"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            [
                ("id", "int64"),
                ("user", "string"),
                ("amount", "double"),
                ("vip", "boolean")
            ]
        );
        let payload = &value["payload"];
        let id = payload["id"].as_i64().expect("an integer id");
        assert!(ids.insert(id), "record {id} is in the topic twice");
        assert_eq!(
            record.key.as_deref(),
            Some(id.to_string().as_bytes()),
            "key.field=id makes the id the key"
        );
        assert!(["ann", "bob", "cyd"].contains(&payload["user"].as_str().unwrap()));
        let amount = payload["amount"].as_f64().unwrap();
        assert!((0.01..=10.0).contains(&amount), "{amount}");
        assert_eq!(payload["vip"], Value::Bool(id % 7 == 0));
    }
    assert_eq!(ids, (0..700).collect(), "every seq exactly once");
    worker.stop().await;
}

/// The SDK sends a poll's records as one JSON text, and a batch holding anything JSON cannot
/// carry exactly (here an integer beyond 2^53) as WIT records: both kinds of batch reach the
/// log complete, exact and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_wit_batches_reach_the_log_exactly_and_in_order() {
    init_logging();
    let worker = worker_in(None).await;
    let config = with(source("30"), "batch.size", "10");
    let config = with(
        config,
        "template",
        "({ id: seq === 15 ? 2 ** 60 : seq, user: 'u' + seq, amount: seq / 4, vip: seq % 2 === 0 })",
    );
    create(&worker, &config).await;
    worker.wait_records("orders", 30).await;
    let records = worker.read_topic("orders", 30).await;
    let ids: Vec<i64> = records
        .iter()
        .enumerate()
        .map(|(seq, record)| {
            let value: Value =
                serde_json::from_slice(record.value.as_deref().expect("a value")).expect("JSON");
            let payload = &value["payload"];
            assert_eq!(payload["user"], format!("u{seq}"), "{value}");
            assert_eq!(
                payload["amount"].as_f64(),
                Some(seq as f64 / 4.0),
                "{value}"
            );
            assert_eq!(payload["vip"], Value::Bool(seq % 2 == 0), "{value}");
            let id = payload["id"].as_i64().expect("an integer id");
            // The key is JavaScript's `String(id)`: 2^60 prints as 1152921504606847000.
            let key = if id == 1 << 60 {
                "1152921504606847000".into()
            } else {
                id.to_string()
            };
            assert_eq!(record.key.as_deref(), Some(key.as_bytes()));
            id
        })
        .collect();
    let expected: Vec<i64> = (0..30)
        .map(|seq| if seq == 15 { 1 << 60 } else { seq })
        .collect();
    assert_eq!(
        ids, expected,
        "every record once, in order, the big id exact"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_thrown_in_js_fails_the_task_with_the_js_message() {
    init_logging();
    let worker = worker_in(None).await;
    // Throws at seq 10, in the second batch: the first batch is delivered.
    let config = with(source("-1"), "name", "thrower");
    let config = with(
        config,
        "template",
        "seq < 10 ? { id: seq, user: 'u', amount: 1, vip: false } \
         : (() => { throw new RangeError('no stock left for order ' + seq) })()",
    );
    let config = with(config, "batch.size", "10");
    create(&worker, &config).await;
    wait_until(Duration::from_secs(60), "the JS task to fail", || {
        worker
            .herder
            .status("thrower")
            .is_some_and(|s| s.tasks.get(&0).is_some_and(|t| t.state == State::Failed))
    })
    .await;
    let status = worker.herder.status("thrower").unwrap();
    let trace = status.tasks[&0].trace.clone().unwrap_or_default();
    assert!(
        trace.contains("template threw for seq 10")
            && trace.contains("RangeError: no stock left for order 10"),
        "the trace lacks the JS error: {trace}"
    );
    // The JavaScript stack comes along (QuickJS frames read `at <function> (<file>:<line>)`).
    assert!(
        trace.contains("at "),
        "the trace lacks the JS stack: {trace}"
    );
    assert!(
        !trace.contains("wasm trap"),
        "a JS error must not trap: {trace}"
    );
    assert_eq!(status.connector.state, State::Running);
    assert_eq!(worker.records("thrower").await, 10);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_js_settings_are_rejected_with_the_reason() {
    init_logging();
    let worker = worker_in(None).await;
    let config = with(source("-1"), "name", "broken");
    let config = with(config, "template", "({ id: seq, ");
    let config = with(config, "schema", "id:int64, user:text");
    let pairs: Vec<(String, String)> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let submission = wasm_connect::config::ConnectorSubmission::from_config(
        pairs.into_iter().collect(),
        wasm_connect::config::InitialState::Running,
    )
    .expect("submission");
    let error = worker
        .herder
        .create_connector(submission)
        .await
        .expect_err("a template that does not compile is rejected");
    let message = format!("{error:#}");
    assert!(message.contains("template"), "{message}");
    assert!(
        message.contains("field `user` has unknown type `text`"),
        "{message}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_source_feeds_a_js_sink_that_writes_files() {
    init_logging();
    let worker = worker_in(None).await;
    let out = worker.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let out_text = out.display().to_string();
    create(&worker, &source("100")).await;
    let sink: Vec<(&'static str, String)> = vec![
        ("name", "vip-lines".into()),
        ("connector.class", "JsLineSink".into()),
        ("topics", "orders".into()),
        ("directory", out_text.clone()),
        ("sandbox.fs.write", out_text.clone()),
        // Structs arrive decoded (`plain` is the value as JSON data); null skips a record.
        // Text beyond ASCII is written as UTF-8 (QuickJS's built-ins encode it).
        (
            "line",
            "plain.vip ? `${key} ${plain.user} ${value.get('amount').toFixed(2)} \u{e9}\u{2713}\u{1f600}` : null".into(),
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
    ];
    create(&worker, &sink).await;
    let file = out.join("orders-0.txt");
    // Ids 0, 7, ..., 98: the VIP orders of 100.
    wait_until(Duration::from_secs(60), "15 VIP lines", || {
        lines(&file).len() >= 15
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = lines(&file);
    let ids: Vec<i64> = written
        .iter()
        .map(|line| line.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        ids,
        (0..100).step_by(7).collect::<Vec<i64>>(),
        "{written:?}"
    );
    for line in &written {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(["ann", "bob", "cyd"].contains(&fields[1]), "{line}");
        assert!(
            fields[2].contains('.') && fields[2].parse::<f64>().is_ok(),
            "{line}"
        );
        assert_eq!(fields[3], "\u{e9}\u{2713}\u{1f600}", "{line}");
    }
    // After a commit, the sidecar holds the next offset and the file's size.
    wait_until(Duration::from_secs(30), "the offset sidecar", || {
        std::fs::read_to_string(out.join("orders-0.offset"))
            .is_ok_and(|text| text.contains("\"offset\":100"))
    })
    .await;
    let mark: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("orders-0.offset")).unwrap())
            .unwrap();
    assert_eq!(
        mark["size"].as_u64(),
        Some(std::fs::metadata(&file).unwrap().len())
    );
    // The mark was replaced by a rename in the sandbox: no temporary file is left.
    assert!(!out.join("orders-0.offset.tmp").exists());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_sink_outside_its_grant_fails_with_the_setting_to_fix() {
    init_logging();
    let worker = worker_in(None).await;
    let out = worker.path("out");
    std::fs::create_dir_all(&out).unwrap();
    create(&worker, &source("10")).await;
    create(
        &worker,
        &[
            ("name", "ungranted".into()),
            ("connector.class", "JsLineSink".into()),
            ("topics", "orders".into()),
            ("directory", out.display().to_string()),
        ],
    )
    .await;
    wait_until(Duration::from_secs(60), "the sink task to fail", || {
        worker
            .herder
            .status("ungranted")
            .is_some_and(|s| s.tasks.get(&0).is_some_and(|t| t.state == State::Failed))
    })
    .await;
    let trace = worker.herder.status("ungranted").unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap_or_default();
    assert!(
        trace.contains(&format!("no access to {}", out.display()))
            && trace.contains("sandbox.fs.write"),
        "{trace}"
    );
    assert!(std::fs::read_dir(&out).unwrap().next().is_none());
    worker.stop().await;
}

/// js-line-sink rewinds to its own offset mark in `open`. Records a restarted worker finds
/// waiting come in the same poll as the assignment; they must wait for that reset, or they
/// are written once before it and again after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_in_open_applies_before_records_fetched_with_the_assignment() {
    init_logging();
    let worker = worker_in(None).await;
    let out = worker.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let out_text = out.display().to_string();
    let values: Vec<String> = (0..20).map(|i| format!("line-{i:02}")).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    worker.produce("waiting", &values[..10]).await;
    create(
        &worker,
        &[
            ("name", "lines".into()),
            ("connector.class", "JsLineSink".into()),
            ("topics", "waiting".into()),
            ("directory", out_text.clone()),
            ("sandbox.fs.write", out_text),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter".into(),
            ),
        ],
    )
    .await;
    let file = out.join("waiting-0.txt");
    wait_until(Duration::from_secs(60), "the offset mark at 10", || {
        std::fs::read_to_string(out.join("waiting-0.offset"))
            .is_ok_and(|text| text.contains("\"offset\":10"))
    })
    .await;
    let dir = worker.stop().await;

    let worker = worker_in(Some(dir)).await;
    // Waiting before the sink starts: its first poll brings the assignment and these.
    worker.produce("waiting", &values[10..]).await;
    worker
        .herder
        .restore(Vec::new())
        .await
        .expect("the sink starts again");
    wait_until(Duration::from_secs(60), "20 lines", || {
        lines(&file).len() >= 20
    })
    .await;
    // Long enough for a second delivery of the same records to land.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(lines(&file), values);
    worker.stop().await;
}

/// The conformance kit over the JavaScript sink: lifecycle, exactly-once resume after a
/// restart, a bad `line` reported, limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_line_sink_conforms() {
    conformance::run(&Subject {
        class: "JsLineSink",
        component: Some(js_component("js_line_sink")),
        kind: PluginKind::Sink,
        settings: |dir| {
            let dir = dir.display().to_string();
            vec![
                ("topics".into(), "conformance-in".into()),
                ("directory".into(), dir.clone()),
                ("sandbox.fs.write".into(), dir),
            ]
        },
        bad_setting: ("line", "value +"),
        value: |i| format!("record-{i:04}"),
        role: Role::Sink {
            topic: "conformance-in",
            read: |dir| lines(&dir.join("conformance-in-0.txt")),
        },
    })
    .await;
}

/// Load, cache and per-record costs of the JS component next to the Rust `datagen_source`.
/// Run with `cargo test -j2 -p wasm-connect-tests --test it -- javascript::measure --ignored --nocapture`.
/// `MEASURE_JS_COMPONENT=<path.wasm>` measures another JS source component instead (given the
/// same settings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; run it by hand"]
async fn measure_js_component_costs() {
    init_logging();
    let js_path = std::env::var_os("MEASURE_JS_COMPONENT")
        .map_or_else(|| js_component("js_template_source"), PathBuf::from);
    let js = std::fs::read(js_path).unwrap();
    let rust = std::fs::read(wasm_connect_tests::component("datagen_source")).unwrap();
    let js_config = [
        ("topic", "t"),
        (
            "template",
            "({ id: seq, user: pick(['a', 'b']), amount: int(1, 100) })",
        ),
        ("schema", "id:int64, user:string, amount:int32"),
        ("batch.size", "1000"),
    ];
    let rust_config = [("topic", "t"), ("batch.size", "1000")];
    for (name, bytes, config) in [
        ("js_template_source", &js, &js_config[..]),
        ("datagen_source (Rust)", &rust, &rust_config[..]),
    ] {
        let cache = tempfile::tempdir().unwrap();
        let runtime_config = RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..RuntimeConfig::default()
        };
        let started = Instant::now();
        let runtime = Runtime::new(runtime_config.clone()).unwrap();
        runtime.load(bytes, name).await.unwrap();
        let uncached = started.elapsed();
        let started = Instant::now();
        let runtime = Runtime::new(runtime_config).unwrap();
        let plugin = runtime.load(bytes, name).await.unwrap();
        let cached = started.elapsed();

        let config: wasm_connect::runtime::ConfigMap = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut starts = Vec::new();
        let mut per_record = Vec::new();
        let mut fuel_per_record = Vec::new();
        for _ in 0..5 {
            let ctx = InstanceContext::detached(name, Some(0), SandboxLimits::default());
            let started = Instant::now();
            let mut task = plugin.source_task(ctx).await.unwrap();
            task.start(&config).await.unwrap();
            starts.push(started.elapsed());
            let started = Instant::now();
            let mut records = 0;
            let mut last_batch = 0;
            while records < 20_000 {
                last_batch = task.poll().await.unwrap().len();
                records += last_batch;
            }
            per_record.push(started.elapsed() / records as u32);
            // Fuel of the last `poll` call, per record of its batch.
            if let Some(fuel) = task.fuel_used() {
                fuel_per_record.push(fuel / last_batch.max(1) as u64);
            }
        }
        println!(
            "{name}: {} bytes; load uncached {uncached:?}, cached {cached:?}; task instantiate+start {:?} (median of 5); poll {:?}/record, fuel {:?}/record",
            bytes.len(),
            median(&mut starts),
            median(&mut per_record),
            fuel_per_record.first(),
        );
    }
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Writes `line <from>` to `line <from + 4>` to the topic `lines` over REST.
async fn write_lines(worker: &wasm_connect_tests::child::ChildWorker, from: usize) {
    let records: Vec<Value> = (from..from + 5)
        .map(|i| serde_json::json!({"value": format!("line {i}")}))
        .collect();
    let reply = worker
        .rest
        .post(
            "/topics/lines/records",
            &serde_json::json!({ "records": records }),
        )
        .await;
    assert_eq!(reply.status, hyper::StatusCode::OK, "{:?}", reply.body);
}

/// The value of the `/metrics` series `name` (no labels) of `worker`.
async fn metric(worker: &wasm_connect_tests::child::ChildWorker, name: &str) -> Option<f64> {
    let (_, _, text) = worker.rest.get_text("/metrics", None).await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// An uploaded JavaScript component (2 MB, above `plugin.compile.baseline.min.bytes`) on a cold
/// compile cache is compiled by the baseline compiler and runs at once; the optimized code
/// lands in the compile cache in the background, the worker restarts the running task onto
/// it, and a restarted worker loads it from the cache without the baseline compiler; no line
/// is lost or written twice along the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_runs_on_baseline_code_until_its_optimized_code_is_cached() {
    use wasm_connect_tests::child::ChildWorker;

    let cold = tempfile::tempdir().unwrap();
    let cache = cold.path().display().to_string();
    let mut worker = ChildWorker::start_with(
        &[
            ("cache.dir", cache.as_str()),
            ("plugin.compile.baseline.min.bytes", "1048576"),
        ],
        &[],
        &[],
    )
    .await;
    let bytes = std::fs::read(js_component("js_line_sink")).unwrap();
    let uploaded = worker.rest.upload(bytes.clone()).await;
    assert_eq!(
        uploaded.status,
        hyper::StatusCode::CREATED,
        "{:?}",
        uploaded.body
    );
    let digest = uploaded.body["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    // The built-ins are smaller than the threshold: the upload is the one baseline compile.
    let baseline = "wasm_connect_worker_compile_baseline_total";
    assert_eq!(metric(&worker, baseline).await, Some(1.0));

    let out = worker.files().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let out_text = out.display().to_string();
    worker
        .create(
            "lines",
            serde_json::json!({
                "connector.class": "JsLineSink",
                "topics": "lines",
                "directory": out_text,
                "sandbox.fs.write": out_text,
            }),
        )
        .await;
    let file = out.join("lines-0.txt");
    let wait_lines = |count: usize| {
        let file = file.clone();
        async move {
            wait_until(Duration::from_secs(60), &format!("{count} lines"), || {
                lines(&file).len() >= count
            })
            .await;
        }
    };
    write_lines(&worker, 0).await;
    wait_lines(5).await;

    let started = Instant::now();
    while !worker.log_text().contains("Optimized code is ready") {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no optimized code after 5 minutes: {}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cached: Vec<String> = std::fs::read_dir(cold.path())
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(digest) && name.ends_with(".cwasm"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    // The worker moves the running task onto the optimized code (a restart), and it goes on
    // where it stopped.
    let started = Instant::now();
    while !worker
        .log_text()
        .contains("Restarting the tasks that run baseline code onto the plugin's optimized code.")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the task was not moved onto the optimized code: {}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    write_lines(&worker, 5).await;
    wait_lines(10).await;

    // After a restart the upload comes from the compile cache.
    worker.stop();
    worker.restart().await;
    write_lines(&worker, 10).await;
    wait_lines(15).await;
    assert_eq!(metric(&worker, baseline).await, Some(0.0));
    assert!(metric(&worker, "wasm_connect_worker_compile_cache_hits_total").await >= Some(1.0));
    let written: Vec<String> = lines(&file);
    let expected: Vec<String> = (0..15).map(|i| format!("line {i}")).collect();
    assert_eq!(written, expected);
    worker.stop();
}
