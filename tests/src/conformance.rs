//! The connector conformance kit: one set of host-driven checks that any connector component,
//! in any language, must pass. A [`Subject`] says how to configure the connector and how to
//! feed it and read what it produced; [`run`] then checks, on a real worker:
//!
//! 1. **metadata**: the component loads, is the declared kind, has a class name, a version
//!    and a config definition; validating a good config gives no error, validating the bad
//!    one gives an error on the bad key;
//! 2. **lifecycle**: create → RUNNING; records flow; pause → PAUSED and nothing flows;
//!    resume → the paused input flows; stop → STOPPED; delete → gone;
//! 3. **offsets resume**: after a worker restart on the same state the connector carries on
//!    where it stopped, with nothing lost and nothing repeated;
//! 4. **errors are reported**: a bad config is refused or fails with a trace naming the key,
//!    never silently accepted;
//! 5. **limits are respected**: with a tiny fuel budget the connector fails with a trace
//!    naming the limit, and the worker keeps running other connectors.

use std::{
    collections::BTreeSet,
    ops::Range,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use wasm_connect::{
    config::{ConnectorSubmission, InitialState},
    coordinator::State,
    runtime::PluginKind,
    worker::TargetState,
};

use crate::{TestWorker, append_lines, init_logging, settings, wait_until};

/// How the kit feeds a connector and reads what it made.
pub enum Role {
    /// A source connector: `feed(dir, range)` makes the input for records `range` (e.g.
    /// lines in a file under `dir`); the kit reads the values of `topic` as UTF-8.
    Source {
        feed: fn(&Path, Range<usize>),
        topic: &'static str,
    },
    /// A sink connector reading `topic`: the kit writes the expected values into it (through
    /// a file-source beside it) and `read(dir)` returns the values the sink delivered, in
    /// order.
    Sink {
        topic: &'static str,
        read: fn(&Path) -> Vec<String>,
    },
}

/// A connector under test.
pub struct Subject {
    /// The connector class (or alias) to configure.
    pub class: &'static str,
    /// The component to put on the plugin path, or None for a built-in.
    pub component: Option<PathBuf>,
    pub kind: PluginKind,
    /// The connector settings (without `name` and `connector.class`) for scratch dir `dir`.
    pub settings: fn(&Path) -> Vec<(String, String)>,
    /// A setting that makes the config invalid: (key, bad value).
    pub bad_setting: (&'static str, &'static str),
    /// The value record `i` must have when read back (e.g. `"record-{i}"`).
    pub value: fn(usize) -> String,
    pub role: Role,
}

/// Runs every check on `subject`; panics with what broke.
pub async fn run(subject: &Subject) {
    init_logging();
    metadata(subject).await;
    lifecycle_and_resume(subject).await;
    errors_are_reported(subject).await;
    limits_are_respected(subject).await;
}

/// Worker settings: the subject's component on the plugin path.
async fn start_worker(subject: &Subject, dir: tempfile::TempDir) -> TestWorker {
    if let Some(component) = &subject.component {
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugin dir");
        let target = plugins.join(component.file_name().expect("component file name"));
        if !target.exists() {
            std::fs::copy(component, target).expect("copy the component");
        }
    }
    TestWorker::embedded_in(dir, &[]).await
}

fn connector_settings(subject: &Subject, name: &str, dir: &Path) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("name".to_owned(), name.to_owned()),
        ("connector.class".to_owned(), subject.class.to_owned()),
    ];
    pairs.extend((subject.settings)(dir));
    pairs
}

fn as_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

async fn metadata(subject: &Subject) {
    let worker = start_worker(subject, tempfile::tempdir().expect("temp dir")).await;
    let plugin = worker
        .herder
        .plugin(None, subject.class, None)
        .await
        .unwrap_or_else(|e| panic!("metadata: {} is not loaded: {e}", subject.class));
    let info = &plugin.info;
    assert_eq!(info.kind, subject.kind, "metadata: wrong kind");
    assert!(!info.class_name.is_empty(), "metadata: no class name");
    assert!(!info.version.is_empty(), "metadata: no version");
    assert!(
        !info.config_def.is_empty(),
        "metadata: no config definition"
    );

    let good = connector_settings(subject, "validate", &worker.files_dir());
    let values = worker
        .herder
        .validate_with_connector(
            &plugin,
            &settings(&as_refs(&good)),
            &Default::default(),
            None,
        )
        .await
        .expect("metadata: validate runs");
    let errors: Vec<_> = values.iter().filter(|v| !v.errors.is_empty()).collect();
    assert!(
        errors.is_empty(),
        "metadata: the good config has errors: {errors:?}"
    );

    let mut bad = good.clone();
    bad.retain(|(k, _)| k != subject.bad_setting.0);
    bad.push((
        subject.bad_setting.0.to_owned(),
        subject.bad_setting.1.to_owned(),
    ));
    let values = worker
        .herder
        .validate_with_connector(
            &plugin,
            &settings(&as_refs(&bad)),
            &Default::default(),
            None,
        )
        .await
        .expect("metadata: validate runs");
    assert!(
        values
            .iter()
            .any(|v| v.name == subject.bad_setting.0 && !v.errors.is_empty()),
        "metadata: validating {}={} reports no error on that key: {values:?}",
        subject.bad_setting.0,
        subject.bad_setting.1
    );
    worker.stop().await;
}

/// Feeds records `range` to the subject.
fn feed(subject: &Subject, dir: &Path, range: Range<usize>) {
    match &subject.role {
        Role::Source { feed, .. } => feed(dir, range),
        Role::Sink { .. } => {
            let lines: Vec<String> = range.map(subject.value).collect();
            append_lines(&dir.join("conformance-feed.txt"), &lines);
        }
    }
}

/// What the subject produced so far, in order.
async fn produced(subject: &Subject, worker: &TestWorker) -> Vec<String> {
    match &subject.role {
        Role::Source { topic, .. } => read_all(worker, topic).await,
        Role::Sink { read, .. } => read(&worker.files_dir()),
    }
}

/// Every value of `topic` so far (until 300 ms pass without a new one).
async fn read_all(worker: &TestWorker, topic: &str) -> Vec<String> {
    let log = worker.herder.services().log.clone();
    let group = format!("conformance-{}", uuid_like());
    let mut consumer = log.consumer(&group, "conformance").expect("consumer");
    consumer
        .subscribe(&[topic.to_owned()])
        .await
        .expect("subscribe");
    let mut values = Vec::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(300) {
        let batch = consumer
            .poll(1000, Duration::from_millis(50))
            .await
            .expect("poll");
        if !batch.records.is_empty() {
            quiet_since = Instant::now();
        }
        values.extend(batch.records.into_iter().map(|record| {
            String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned()
        }));
    }
    values
}

/// A unique suffix, so every read is a fresh consumer group.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until the subject produced exactly `expected`, or panics saying what it produced.
async fn expect_produced(subject: &Subject, worker: &TestWorker, what: &str, count: usize) {
    let expected: Vec<String> = (0..count).map(subject.value).collect();
    let start = Instant::now();
    loop {
        let got = produced(subject, worker).await;
        if got.len() >= count {
            let unique: BTreeSet<_> = got.iter().collect();
            assert_eq!(
                got,
                expected,
                "{what}: expected exactly {count} records in order ({} unique seen)",
                unique.len()
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: timed out with {} of {count} records: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Adds the file-source that writes a sink subject's input into its topic.
async fn add_feeder(subject: &Subject, worker: &TestWorker) {
    if let Role::Sink { topic, .. } = &subject.role {
        let file = worker.path("conformance-feed.txt");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .expect("feed file");
        worker
            .create(&[
                ("name", "conformance-feeder"),
                ("connector.class", "FileStreamSource"),
                ("file", &file.display().to_string()),
                ("topic", topic),
            ])
            .await;
    }
}

async fn wait_state(worker: &TestWorker, name: &str, state: State, what: &str) {
    wait_until(Duration::from_secs(60), what, || {
        worker.herder.status(name).is_some_and(|status| {
            status.connector.state == state && status.tasks.values().all(|task| task.state == state)
        })
    })
    .await;
}

async fn lifecycle_and_resume(subject: &Subject) {
    let name = "conformance";
    let worker = start_worker(subject, tempfile::tempdir().expect("temp dir")).await;
    let pairs = connector_settings(subject, name, &worker.files_dir());
    add_feeder(subject, &worker).await;
    feed(subject, &worker.files_dir(), 0..10);
    worker.create(&as_refs(&pairs)).await;
    wait_state(&worker, name, State::Running, "lifecycle: RUNNING").await;
    expect_produced(subject, &worker, "lifecycle: first records", 10).await;

    worker
        .herder
        .set_target_state(name, TargetState::Paused)
        .await
        .expect("pause");
    wait_state(&worker, name, State::Paused, "lifecycle: PAUSED").await;
    feed(subject, &worker.files_dir(), 10..20);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let while_paused = produced(subject, &worker).await.len();
    assert_eq!(while_paused, 10, "lifecycle: records moved while paused");

    worker
        .herder
        .set_target_state(name, TargetState::Started)
        .await
        .expect("resume");
    wait_state(&worker, name, State::Running, "lifecycle: RUNNING again").await;
    expect_produced(subject, &worker, "lifecycle: after resume", 20).await;

    // Let the offsets of what was delivered be committed, then restart the worker.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let dir = worker.stop().await;
    feed(subject, &crate::files_dir(dir.path()), 20..30);
    let worker = start_worker(subject, dir).await;
    // As the standalone worker does: connectors created before come back from its state.
    worker
        .herder
        .restore(Vec::new())
        .await
        .expect("the stored connectors start again");
    wait_state(
        &worker,
        name,
        State::Running,
        "resume: RUNNING after restart",
    )
    .await;
    expect_produced(subject, &worker, "resume: after a worker restart", 30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        produced(subject, &worker).await.len(),
        30,
        "resume: records were repeated after the restart"
    );

    worker
        .herder
        .set_target_state(name, TargetState::Stopped)
        .await
        .expect("stop");
    wait_until(Duration::from_secs(30), "lifecycle: STOPPED", || {
        worker.herder.status(name).is_some_and(|status| {
            status.connector.state == State::Stopped && status.tasks.is_empty()
        })
    })
    .await;
    worker.herder.delete_connector(name).await.expect("delete");
    wait_until(Duration::from_secs(30), "lifecycle: deleted", || {
        worker.herder.status(name).is_none()
    })
    .await;
    worker.stop().await;
}

async fn errors_are_reported(subject: &Subject) {
    let name = "conformance-bad";
    let worker = start_worker(subject, tempfile::tempdir().expect("temp dir")).await;
    let mut pairs = connector_settings(subject, name, &worker.files_dir());
    let (key, value) = subject.bad_setting;
    pairs.retain(|(k, _)| k != key);
    pairs.push((key.to_owned(), value.to_owned()));
    let created =
        match ConnectorSubmission::from_config(settings(&as_refs(&pairs)), InitialState::Running) {
            Ok(submission) => worker.herder.create_connector(submission).await,
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(key),
                    "errors: `{message}` does not name {key}"
                );
                worker.stop().await;
                return;
            }
        };
    match created {
        Err(error) => {
            let message = format!("{error:#}");
            assert!(
                message.contains(key),
                "errors: `{message}` does not name {key}"
            );
        }
        Ok(_) => {
            let trace = wait_failure(&worker, name, "errors: the bad connector to fail").await;
            assert!(
                trace.contains(key),
                "errors: the trace does not name {key}: {trace}"
            );
        }
    }
    worker.stop().await;
}

async fn limits_are_respected(subject: &Subject) {
    let worker = start_worker(subject, tempfile::tempdir().expect("temp dir")).await;
    // A healthy neighbour keeps running.
    let neighbour_file = worker.path("neighbour.txt");
    append_lines(&neighbour_file, &["a".to_owned(), "b".to_owned()]);
    worker
        .create(&[
            ("name", "neighbour"),
            ("connector.class", "FileStreamSource"),
            ("file", &neighbour_file.display().to_string()),
            ("topic", "neighbour"),
        ])
        .await;
    let name = "conformance-starved";
    let mut pairs = connector_settings(subject, name, &worker.files_dir());
    pairs.push(("sandbox.fuel.per.call".into(), "1000".into()));
    let submission =
        ConnectorSubmission::from_config(settings(&as_refs(&pairs)), InitialState::Running)
            .expect("limits: a valid submission");
    // Refused when validation runs out of fuel, or created and then FAILED.
    let report = match worker.herder.create_connector(submission).await {
        Err(error) => format!("{error:?}"),
        Ok(_) => wait_failure(&worker, name, "limits: the starved connector to fail").await,
    };
    assert!(
        report.contains("fuel") && report.contains("1000"),
        "limits: the failure does not name the fuel limit: {report}"
    );
    worker.wait_records("neighbour", 2).await;
    worker.stop().await;
}

/// Waits until the connector or one of its tasks FAILED; returns their traces, joined.
async fn wait_failure(worker: &TestWorker, name: &str, what: &str) -> String {
    wait_until(Duration::from_secs(60), what, || {
        worker.herder.status(name).is_some_and(|status| {
            status.connector.state == State::Failed
                || status
                    .tasks
                    .values()
                    .any(|task| task.state == State::Failed)
        })
    })
    .await;
    failure_traces(worker, name)
}

/// The traces of a connector and its failed tasks, joined.
fn failure_traces(worker: &TestWorker, name: &str) -> String {
    let status = worker.herder.status(name).expect("status");
    status
        .connector
        .trace
        .iter()
        .chain(status.tasks.values().filter_map(|task| task.trace.as_ref()))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}
