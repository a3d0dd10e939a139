//! Python connectors built from source with componentize-py (`guest-sdk/python/build-examples.sh`):
//! the `py-jsonl-sink` example copies a file exactly through the log into rolling JSON-lines
//! files and resumes after a restart without loss or duplicates, and Python exceptions surface
//! as FAILED tasks whose trace carries the Python error; the sink passes the conformance kit.
//! `python_component_timings` (ignored)
//! prints size, compile, cached load and task start times.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use wasm_connect::{
    config::{ConnectorSubmission, InitialState},
    coordinator::{ConnectorOffsets, State},
    runtime::{InstanceContext, Preopen, Runtime, RuntimeConfig, SandboxLimits},
};
use wasm_connect_tests::{
    TestWorker, complete_lines, component, init_logging, lines, settings, wait_until,
    workspace_root, write_lines,
};

/// A Python component built by `guest-sdk/python/build-examples.sh`, e.g. `py_jsonl_sink`.
///
/// Panics with the command to run when it has not been built.
fn py_component(name: &str) -> PathBuf {
    let path = workspace_root()
        .join("target/wasm32-wasip2/wasm")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "Python component {} is missing: run `guest-sdk/python/build-examples.sh` first \
         (it needs python3 with pip; it installs componentize-py into target/polyglot/py-venv)",
        path.display()
    );
    path
}

/// A fresh worker directory with the given Python components on its plugin path.
fn worker_dir_with(components: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    for name in components {
        std::fs::copy(py_component(name), plugins.join(format!("{name}.wasm")))
            .expect("copy Python component");
    }
    dir
}

/// The JSON-lines files of `dir` (not the hidden state files), sorted by name.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Every line of every data file in name order, each decoded from JSON to a string.
fn written_values(dir: &Path) -> Vec<String> {
    data_files(dir)
        .iter()
        .flat_map(|file| lines(file))
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::String(s)) => s,
                other => panic!("line {line:?} is not a JSON string: {other:?}"),
            },
        )
        .collect()
}

fn sink_config(out: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", "py-sink"),
        ("connector.class", "JsonlSink"),
        ("topics", "lines"),
        ("directory", out),
        ("sandbox.fs.write", out),
        ("format", "value"),
        ("rotate.max.records", "400"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jsonl_sink_copies_exactly_and_resumes_without_loss_or_duplicates() {
    init_logging();
    let dir = worker_dir_with(&["py_jsonl_sink"]);
    let worker = TestWorker::embedded_in(dir, &[]).await;
    let input = worker.path("input.txt");
    let out = worker.path("out");
    // The host preopens granted directories, so they must exist.
    std::fs::create_dir(&out).unwrap();
    let out_text = out.display().to_string();
    write_lines(&input, 1_000);
    let input_text = input.display().to_string();
    let source = [
        ("name", "source"),
        ("connector.class", "FileStreamSource"),
        ("file", input_text.as_str()),
        ("topic", "lines"),
    ];
    worker.create(&source).await;
    worker.create(&sink_config(&out_text)).await;
    wait_until(
        Duration::from_secs(120),
        "the Python sink to write 1000 lines",
        || written_values(&out).len() >= 1_000,
    )
    .await;
    let expected: Vec<String> = (0..1_000).map(|i| format!("line-{i:06}")).collect();
    assert_eq!(
        written_values(&out),
        expected,
        "the copy differs from the input"
    );
    // Rolled every 400 records, named by topic, partition and first offset.
    let names: Vec<String> = data_files(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "lines-0-00000000000000000000.jsonl",
            "lines-0-00000000000000000400.jsonl",
            "lines-0-00000000000000000800.jsonl"
        ],
        "rolling by record count"
    );
    let dir = worker.stop().await;

    // While the worker is down: more input, and a line in the newest file that was never
    // committed (as after a crash between a write and the commit). The restarted sink must
    // truncate it and carry on from its committed offset.
    let mut text = std::fs::read_to_string(&input).unwrap();
    for i in 1_000..1_500 {
        text.push_str(&format!("line-{i:06}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let newest = data_files(&out).pop().expect("a data file");
    let mut content = std::fs::read_to_string(&newest).unwrap();
    content.push_str("\"uncommitted-garbage\"\n");
    std::fs::write(&newest, content).unwrap();

    let worker = TestWorker::embedded_in(dir, &[]).await;
    worker.create(&source).await;
    worker.create(&sink_config(&out_text)).await;
    wait_until(
        Duration::from_secs(120),
        "1500 lines after the restart",
        || written_values(&out).len() >= 1_500,
    )
    .await;
    // Let any duplicate arrive before checking.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let expected: Vec<String> = (0..1_500).map(|i| format!("line-{i:06}")).collect();
    assert_eq!(
        written_values(&out),
        expected,
        "lines lost or duplicated across the restart"
    );
    assert_eq!(data_files(&out).len(), 4, "{:?}", data_files(&out));
    worker.stop().await;
}

/// The envelope lines of every data file in name order, as JSON (a line the sink is still
/// writing is left out).
fn written_records(dir: &Path) -> Vec<serde_json::Value> {
    data_files(dir)
        .iter()
        .flat_map(|file| complete_lines(file))
        .map(|line| serde_json::from_str(&line).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_source_to_python_sink_with_schemas_resumes_from_committed_offsets() {
    init_logging();
    let dir = worker_dir_with(&["py_counter_source", "py_jsonl_sink"]);
    let worker = TestWorker::embedded_in(dir, &[]).await;
    let out = worker.path("out");
    std::fs::create_dir(&out).unwrap();
    let out_text = out.display().to_string();
    let json = "org.apache.kafka.connect.json.JsonConverter";
    let source = |count: &'static str| {
        vec![
            ("name", "counter"),
            ("connector.class", "CounterSource"),
            ("topic", "counts"),
            ("count", count),
            ("batch.size", "64"),
            ("value.converter", json),
        ]
    };
    let sink = [
        ("name", "counts-jsonl"),
        ("connector.class", "JsonlSink"),
        ("topics", "counts"),
        ("directory", out_text.as_str()),
        ("sandbox.fs.write", out_text.as_str()),
        ("value.converter", json),
    ];
    worker.create(&source("300")).await;
    worker.create(&sink).await;
    worker.wait_records("counter", 300).await;
    wait_until(Duration::from_secs(120), "300 records written", || {
        written_records(&out).len() >= 300
    })
    .await;
    // Counted to the end, the task said it has nothing more (`poll_again_after(None)` through
    // the real bindings): the worker calls it no more, where its back-off would poll it
    // about once a second.
    worker.assert_not_called_again("counter").await;
    let dir = worker.stop().await;

    // The restarted source continues from its committed offset (it would re-send from 0
    // otherwise), and the sink from its own.
    let worker = TestWorker::embedded_in(dir, &[]).await;
    worker.create(&source("500")).await;
    worker.create(&sink).await;
    worker.wait_records("counter", 200).await;
    wait_until(Duration::from_secs(120), "500 records written", || {
        written_records(&out).len() >= 500
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        worker.records("counter").await,
        200,
        "the source re-sent records"
    );
    let records = written_records(&out);
    assert_eq!(records.len(), 500);
    for (i, record) in records.iter().enumerate() {
        // The struct crossed Python → host (JSON with schema) → Python, the Timestamp as a datetime.
        let expected = serde_json::json!({
            "seq": i,
            "text": format!("number {i}"),
            "at": format!(
                "2024-01-01T{:02}:{:02}:{:02}+00:00",
                i / 3600,
                (i / 60) % 60,
                i % 60
            ),
        });
        assert_eq!(record["value"], expected, "record {i}: {record}");
        assert_eq!(record["key"], serde_json::json!(i.to_string()));
        assert_eq!(record["offset"], serde_json::json!(i));
    }
    worker.stop().await;
}

/// Waits until task 0 of `name` is FAILED and returns its trace.
async fn failed_task_trace(worker: &TestWorker, name: &str) -> String {
    wait_until(
        Duration::from_secs(120),
        &format!("{name}'s task to fail"),
        || {
            worker
                .herder
                .status(name)
                .is_some_and(|s| s.tasks.get(&0).is_some_and(|t| t.state == State::Failed))
        },
    )
    .await;
    let status = worker.herder.status(name).unwrap();
    status.tasks[&0]
        .trace
        .clone()
        .expect("a FAILED task has a trace")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_exceptions_fail_the_task_with_the_python_traceback() {
    init_logging();
    let dir = worker_dir_with(&["py_test_sink"]);
    let worker = TestWorker::embedded_in(dir, &[]).await;
    worker
        .create(&[
            ("name", "records"),
            ("connector.class", "TestSource"),
            ("topic", "t"),
            ("count", "5"),
            ("batch.size", "5"),
        ])
        .await;
    worker.wait_records("records", 5).await;

    // Without a failure to raise, `put` imports `csv` for the first time, inside the method:
    // the component has it, so the records are taken and committed.
    worker
        .create(&[
            ("name", "imports-late"),
            ("connector.class", "PyTestSink"),
            ("topics", "t"),
        ])
        .await;
    let start = Instant::now();
    loop {
        if let Ok(ConnectorOffsets::Sink(offsets)) = worker.herder.offsets("imports-late").await
            && offsets.iter().any(|(_, offset)| *offset == 5)
        {
            break;
        }
        let status = worker.herder.status("imports-late");
        assert!(
            status
                .iter()
                .flat_map(|s| &s.tasks)
                .all(|(_, t)| t.state != State::Failed),
            "the late importer failed: {status:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the late importer committed nothing: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    worker
        .create(&[
            ("name", "fails-in-put"),
            ("connector.class", "PyTestSink"),
            ("topics", "t"),
            ("fail.in", "put"),
        ])
        .await;
    let trace = failed_task_trace(&worker, "fails-in-put").await;
    for expected in [
        "ValueError: python put at offset 0 failed on purpose",
        "PyTestSinkTask.put raised",
        "Traceback (most recent call last)",
        "in _explode",
    ] {
        assert!(
            trace.contains(expected),
            "{expected:?} not in trace:\n{trace}"
        );
    }

    worker
        .create(&[
            ("name", "fails-in-start"),
            ("connector.class", "PyTestSink"),
            ("topics", "t"),
            ("fail.in", "start"),
        ])
        .await;
    let trace = failed_task_trace(&worker, "fails-in-start").await;
    assert!(
        trace.contains("ValueError: python start failed on purpose")
            && trace.contains("PyTestSinkTask.start raised"),
        "trace: {trace}"
    );

    // A Python error in the connector's own start fails the connector, also with the trace.
    worker
        .create(&[
            ("name", "fails-in-connector"),
            ("connector.class", "PyTestSink"),
            ("topics", "t"),
            ("fail.in", "connector.start"),
        ])
        .await;
    wait_until(Duration::from_secs(60), "the connector to fail", || {
        worker
            .herder
            .status("fails-in-connector")
            .is_some_and(|s| s.connector.state == State::Failed)
    })
    .await;
    let trace = worker
        .herder
        .status("fails-in-connector")
        .unwrap()
        .connector
        .trace
        .unwrap_or_default();
    assert!(
        trace.contains("KeyError") && trace.contains("python connector start failed on purpose"),
        "trace: {trace}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sink_refuses_a_directory_it_was_not_granted() {
    init_logging();
    let dir = worker_dir_with(&["py_jsonl_sink"]);
    let worker = TestWorker::embedded_in(dir, &[]).await;
    let out = worker.path("out").display().to_string();
    // The connector's own `validate` (Python) rejects the config when it is created.
    let submission = ConnectorSubmission::from_config(
        settings(&[
            ("name", "ungranted"),
            ("connector.class", "JsonlSink"),
            ("topics", "lines"),
            ("directory", &out),
            ("rotate.max.records", "-1"),
        ]),
        InitialState::Running,
    )
    .unwrap();
    let error = worker
        .herder
        .create_connector(submission)
        .await
        .expect_err("an ungranted directory is invalid")
        .to_string();
    for expected in [
        format!("grant it with sandbox.fs.write={out}"),
        "Invalid value -1 for configuration rotate.max.records: Value must be at least 0"
            .to_owned(),
    ] {
        assert!(error.contains(&expected), "{expected:?} not in: {error}");
    }
    worker.stop().await;
}

/// A worker whose default memory cap (8 MiB) suits Rust connectors still runs the Python sink:
/// its cap is sized to what the component needs to start. Asking explicitly for less than
/// that is refused with the size to ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_connectors_get_a_memory_cap_sized_to_their_component() {
    init_logging();
    let dir = worker_dir_with(&["py_jsonl_sink"]);
    let worker = TestWorker::embedded_in(dir, &[("sandbox.memory.max.bytes", "8388608")]).await;
    let needed = worker
        .herder
        .plugin(None, "JsonlSink", None)
        .await
        .expect("the Python sink is loaded")
        .info
        .start_memory_bytes;
    assert!(
        needed > 8 << 20,
        "a Python component needs more than 8 MiB to start, measured {needed}"
    );
    let out = worker.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let out = out.display().to_string();
    let config = sink_config(&out);
    worker.create(&config).await;
    worker.wait_running("py-sink", 1).await;

    let mut explicit = config.clone();
    explicit.retain(|(k, _)| *k != "name");
    explicit.push(("name", "py-sink-tight"));
    explicit.push(("sandbox.memory.max.bytes", "8388608"));
    let error = worker
        .herder
        .create_connector(
            ConnectorSubmission::from_config(settings(&explicit), InitialState::Running).unwrap(),
        )
        .await
        .expect_err("a cap below the start size is refused")
        .to_string();
    assert!(
        error.contains("sandbox.memory.max.bytes=8388608 is below the")
            && error.contains(&format!("raise it to at least {needed}")),
        "{error}"
    );
    worker.stop().await;
}

fn instance_context(writable: &Path) -> InstanceContext {
    let (events, _) = tokio::sync::mpsc::unbounded_channel();
    InstanceContext {
        connector: "timings".into(),
        task: Some(0),
        limits: SandboxLimits::default(),
        preopens: vec![Preopen {
            host_path: writable.to_path_buf(),
            guest_path: writable.display().to_string(),
            writable: true,
        }],
        egress: None,
        tcp: None,
        events,
        offsets: None,
        sink_context: Some(Default::default()),
        reporter: None,
        log: None,
        metrics: None,
        secrets: Default::default(),
        budget: None,
        http_connections: None,
        tenant: None,
        counts_memory: true,
    }
}

/// Size, uncached compile+load, cached load and task start of the Python sink, next to the
/// Rust file sink. Run with
/// `cargo test -j2 -p wasm-connect-tests --test it -- python::python_component_timings --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints timings; run by hand"]
async fn python_component_timings() {
    for (label, path) in [
        ("python py_jsonl_sink", py_component("py_jsonl_sink")),
        ("rust file_sink", component("file_sink")),
    ] {
        let bytes = std::fs::read(&path).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let config = RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(config.clone()).unwrap();
        let started = Instant::now();
        runtime.load(&bytes, label).await.unwrap();
        let uncached = started.elapsed();
        // A new runtime (as after a worker restart) on the same cache.
        let runtime = Runtime::new(config).unwrap();
        let started = Instant::now();
        let plugin = runtime.load(&bytes, label).await.unwrap();
        let cached = started.elapsed();
        let mut starts = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let mut task = plugin
                .sink_task(instance_context(cache.path()))
                .await
                .unwrap();
            let config: BTreeMap<String, String> = [
                ("directory", cache.path().display().to_string()),
                ("file", cache.path().join("f.txt").display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            task.start(&config).await.unwrap();
            starts.push(started.elapsed());
        }
        starts.sort();
        let cwasm: u64 = std::fs::read_dir(cache.path())
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        println!(
            "{label}: component {} bytes, .cwasm {cwasm} bytes, uncached load {uncached:?}, \
             cached load {cached:?}, task instantiate+start median {:?} (min {:?})",
            bytes.len(),
            starts[starts.len() / 2],
            starts[0],
        );
    }
}

/// What a `put` costs per record in the Python sink next to the Rust file sink (both writing
/// one line per record). Run with
/// `cargo test -j2 -p wasm-connect-tests --test it -- python::python_put_cost --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints timings; run by hand"]
async fn python_put_cost() {
    use wasm_connect::data::{Data, SinkRecord, TimestampType, Value};
    const BATCH: i64 = 1_000;
    const BATCHES: i64 = 20;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(wasm_connect_tests::shared_cache_dir()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    for (label, path) in [
        ("python py_jsonl_sink", py_component("py_jsonl_sink")),
        ("rust file_sink", component("file_sink")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let plugin = runtime
            .load(&std::fs::read(&path).unwrap(), label)
            .await
            .unwrap();
        let mut task = plugin
            .sink_task(instance_context(dir.path()))
            .await
            .unwrap();
        let config: BTreeMap<String, String> = [
            ("directory", dir.path().display().to_string()),
            ("format", "value".to_owned()),
            ("file", dir.path().join("f.txt").display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        task.start(&config).await.unwrap();
        let started = Instant::now();
        for batch in 0..BATCHES {
            let records = (0..BATCH)
                .map(|i| {
                    let offset = batch * BATCH + i;
                    SinkRecord {
                        topic: "t".into(),
                        partition: 0,
                        offset,
                        key: None,
                        value: Some(Data::schemaless(Value::String(format!(
                            "a value of about forty bytes, number {offset:06}"
                        )))),
                        timestamp: Some(0),
                        timestamp_type: TimestampType::CreateTime,
                        headers: Vec::new(),
                        original_topic: "t".into(),
                        original_partition: 0,
                        original_offset: offset,
                    }
                })
                .collect();
            task.put(records).await.unwrap();
        }
        let elapsed = started.elapsed();
        let total = (BATCH * BATCHES) as u32;
        println!(
            "{label}: {total} records in batches of {BATCH}: {elapsed:?}, {:?} per record",
            elapsed / total
        );
    }
}

/// The conformance kit over the Python sink: metadata and validation, lifecycle, exactly-once
/// resume after a worker restart, a bad setting reported with its key, limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jsonl_sink_conforms() {
    use wasm_connect::runtime::PluginKind;
    use wasm_connect_tests::conformance::{self, Role, Subject};
    conformance::run(&Subject {
        class: "JsonlSink",
        component: Some(py_component("py_jsonl_sink")),
        kind: PluginKind::Sink,
        settings: |dir| {
            let out = dir.join("jsonl");
            std::fs::create_dir_all(&out).expect("output directory");
            let out = out.display().to_string();
            vec![
                ("topics".into(), "conformance-in".into()),
                ("directory".into(), out.clone()),
                ("sandbox.fs.write".into(), out),
                ("format".into(), "value".into()),
                ("rotate.max.records".into(), "7".into()),
            ]
        },
        bad_setting: ("rotate.max.bytes", "0"),
        value: |i| format!("record-{i:04}"),
        role: Role::Sink {
            topic: "conformance-in",
            read: |dir| written_values(&dir.join("jsonl")),
        },
    })
    .await;
}
