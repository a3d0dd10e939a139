//! Shared harness for the integration tests and benchmarks: where the built components and
//! the `wasm-connect` binary are, an in-process worker on a temporary directory, and waiting.
//! The connector conformance kit is in [`conformance`], a REST client in [`rest_client`], a
//! worker in a child process with a neighbour pipeline to watch in [`child`].

pub mod child;
pub mod conformance;
pub mod distributed;
pub mod postgres;
pub mod rest_client;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use wasm_connect::{
    config::{ConnectorSubmission, InitialState, Settings, WorkerConfig},
    coordinator::{Herder, State},
    log::{ConsumedRecord, RecordLog},
};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

/// The path of a component built by `cargo build-connectors`, e.g. `component("test_source")`.
///
/// Panics with the command to run when the component has not been built.
pub fn component(name: &str) -> PathBuf {
    let path = workspace_root()
        .join("target/wasm32-wasip2/wasm")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "component {} is missing: run `cargo build-connectors` first",
        path.display()
    );
    path
}

/// The `wasm-connect` binary of the running test's profile (`.ci/test` builds it with the
/// tests): beside a binary in `target/<profile>` (the bench), or one directory up from a test
/// in `target/<profile>/deps`.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().expect("binaries live in target/<profile>");
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    let path = dir.join("wasm-connect");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --workspace --bins --tests` first (.ci/test does)",
        path.display()
    );
    path
}

/// The context of a task instance outside any worker: task 0, default limits, no offsets,
/// sink context, reporter or egress, and nobody listening to its events.
pub fn bare_task_context(connector: &str) -> wasm_connect::runtime::InstanceContext {
    wasm_connect::runtime::InstanceContext::detached(
        connector,
        Some(0),
        wasm_connect::runtime::SandboxLimits::default(),
    )
}

/// Client settings for a log on a librdkafka MockCluster.
pub fn mock_kafka_settings(
    cluster: &rdkafka::mocking::MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
) -> wasm_connect::log::kafka::KafkaSettings {
    let mut settings = wasm_connect::log::kafka::KafkaSettings::default();
    settings
        .common
        .insert("bootstrap.servers".into(), cluster.bootstrap_servers());
    // MockCluster keeps a group rebalancing for the session timeout after a member leaves.
    settings
        .consumer
        .insert("session.timeout.ms".into(), "6000".into());
    settings
}

/// A directory shared by all tests for compiled components, so each is compiled once.
pub fn shared_cache_dir() -> PathBuf {
    workspace_root().join("target/test-compile-cache")
}

/// Settings from pairs.
pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// A worker running in this process on a temporary directory.
pub struct TestWorker {
    pub herder: Herder,
    pub dir: tempfile::TempDir,
}

impl TestWorker {
    /// A worker on the embedded log with `extra` worker settings; the test guests are on its
    /// plugin path.
    pub async fn embedded(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let herder = wasm_connect::standalone::start(worker_config(dir.path(), extra))
            .await
            .expect("worker starts");
        Self { herder, dir }
    }

    /// A worker in `dir` (to restart a worker on the same state).
    pub async fn embedded_in(dir: tempfile::TempDir, extra: &[(&str, &str)]) -> Self {
        let herder = wasm_connect::standalone::start(worker_config(dir.path(), extra))
            .await
            .expect("worker starts");
        Self { herder, dir }
    }

    /// A worker on a log of the caller's choosing (e.g. Kafka on a MockCluster).
    pub async fn with_log(log: Arc<dyn RecordLog>, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let herder =
            wasm_connect::standalone::start_with_log(worker_config(dir.path(), extra), log)
                .await
                .expect("worker starts");
        Self { herder, dir }
    }

    /// A path for a test's files: in `files/` of the worker's directory, beside its data
    /// directory (which the filesystem policy grants no connector).
    pub fn path(&self, name: &str) -> PathBuf {
        files_dir(self.dir.path()).join(name)
    }

    /// The directory of [`Self::path`].
    pub fn files_dir(&self) -> PathBuf {
        files_dir(self.dir.path())
    }

    /// The worker's `data.dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Creates a connector from settings (`name` included).
    pub async fn create(&self, pairs: &[(&str, &str)]) {
        let submission = ConnectorSubmission::from_config(settings(pairs), InitialState::Running)
            .expect("valid submission");
        self.herder
            .create_connector(submission)
            .await
            .expect("connector is created");
    }

    /// Waits until the connector and `tasks` tasks are RUNNING.
    pub async fn wait_running(&self, name: &str, tasks: usize) {
        wait_until(
            Duration::from_secs(60),
            &format!("{name} running with {tasks} tasks"),
            || {
                self.herder.status(name).is_some_and(|status| {
                    status.connector.state == State::Running
                        && status.tasks.len() == tasks
                        && status
                            .tasks
                            .values()
                            .all(|task| task.state == State::Running)
                })
            },
        )
        .await;
    }

    /// Records moved by all tasks of a connector so far.
    pub async fn records(&self, name: &str) -> u64 {
        self.herder
            .task_metrics(name)
            .await
            .iter()
            .map(|metrics| metrics.records())
            .sum()
    }

    /// Asserts that the worker calls task 0 of `name` no more although it runs (it said it
    /// has nothing for longer than the test waits, `poll-again-after`): after 1.5 s for calls
    /// under way, its guest calls stay the same for 2.5 s, where the worker's back-off would
    /// poll it about once a second, and it is still RUNNING.
    pub async fn assert_not_called_again(&self, name: &str) {
        let calls = || async {
            self.herder.task_metrics(name).await[0]
                .guest
                .calls
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let before = calls().await;
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(calls().await, before, "task 0 of {name} was called again");
        // Not called because it waits, not because it failed.
        let status = self.herder.status(name).expect("the connector's status");
        assert_eq!(
            status.tasks[&0].state,
            wasm_connect::coordinator::State::Running,
            "task 0 of {name}: {:?}",
            status.tasks[&0]
        );
    }

    /// Records all tasks of a connector skipped under `errors.tolerance=all` so far.
    pub async fn errant_records(&self, name: &str) -> u64 {
        self.herder
            .task_metrics(name)
            .await
            .iter()
            .map(|metrics| {
                metrics
                    .errant_records
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum()
    }

    /// Waits until a connector's tasks moved at least `count` records.
    pub async fn wait_records(&self, name: &str, count: u64) {
        let start = Instant::now();
        let timeout = Duration::from_secs(60);
        loop {
            let records = self.records(name).await;
            if records >= count {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {name} to move {count} records (moved {records})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Reads the first `count` records of `topic` from the worker's log (as a fresh consumer
    /// group); panics after 30 s with what it got.
    pub async fn read_topic(&self, topic: &str, count: usize) -> Vec<ConsumedRecord> {
        let log = self.herder.services().log.clone();
        let mut consumer = log
            .consumer(&format!("check-{topic}"), "check")
            .expect("consumer");
        consumer
            .subscribe(&[topic.to_string()])
            .await
            .expect("subscribe");
        let mut records = Vec::new();
        let start = Instant::now();
        while records.len() < count {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{topic} holds only {records:?}"
            );
            records.extend(
                consumer
                    .poll(100, Duration::from_millis(100))
                    .await
                    .expect("poll")
                    .records,
            );
        }
        records
    }

    /// Writes raw values to partition 0 of `topic`, as another application would, and waits
    /// until the log acknowledged all of them.
    pub async fn produce(&self, topic: &str, values: &[&str]) {
        let producer = self
            .herder
            .services()
            .log
            .producer("test-producer")
            .expect("producer");
        let records = values
            .iter()
            .map(|value| wasm_connect::log::ProduceRecord {
                topic: topic.into(),
                partition: Some(0),
                key: None,
                value: Some(value.as_bytes().to_vec()),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect();
        let outcomes = producer.send(records).await.expect("send").await;
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    }

    pub async fn stop(self) -> tempfile::TempDir {
        self.herder.shutdown().await;
        self.dir
    }
}

/// An in-process worker serving its REST API on an ephemeral port of 127.0.0.1, with a client
/// for it (its methods are the client's).
pub struct ServedWorker {
    pub worker: TestWorker,
    client: rest_client::RestClient,
    server: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for ServedWorker {
    type Target = rest_client::RestClient;

    fn deref(&self) -> &rest_client::RestClient {
        &self.client
    }
}

impl ServedWorker {
    /// A worker on the embedded log with the test guests on its plugin path, served.
    pub async fn start() -> Self {
        init_logging();
        Self::serve(TestWorker::embedded(&[]).await).await
    }

    /// Serves the API of `worker`.
    pub async fn serve(worker: TestWorker) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let app = wasm_connect::rest::router(worker.herder.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            worker,
            client: rest_client::RestClient::new(base),
            server,
        }
    }

    /// Stops serving and stops the worker; its directory, to start another on it.
    pub async fn stop(self) -> tempfile::TempDir {
        drop(self.client);
        self.server.abort();
        let _ = self.server.await;
        self.worker.stop().await
    }
}

/// Starts a worker on a data directory a stopped worker used. The previous worker's log
/// closes once the last connection task let go of it, so this retries for a while.
pub async fn restart_worker(config: WorkerConfig) -> Herder {
    let start = Instant::now();
    loop {
        match wasm_connect::standalone::start(config.clone()).await {
            Ok(herder) => return herder,
            Err(error) if start.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(error = %error, "Worker not restartable yet.");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("worker restarts: {error:#}"),
        }
    }
}

/// Where the tests of a worker in `dir` keep their files (created on first use).
pub fn files_dir(dir: &Path) -> PathBuf {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    files
}

/// Worker settings for tests: everything under `dir` (`data.dir` is `dir/data`, test files go
/// in `dir/files`), test guests on the plugin path, fast offset flushes.
pub fn worker_config(dir: &Path, extra: &[(&str, &str)]) -> WorkerConfig {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    for name in ["test_source", "test_sink"] {
        let target = plugins.join(format!("{name}.wasm"));
        if !target.exists() {
            std::fs::copy(component(name), target).expect("copy test guest");
        }
    }
    let mut raw: BTreeMap<String, String> = settings(&[
        ("data.dir", &dir.join("data").display().to_string()),
        ("cache.dir", &shared_cache_dir().display().to_string()),
        ("plugin.path", &plugins.display().to_string()),
        ("offset.flush.interval.ms", "200"),
        // Optimized code from the start: a task restarted onto it mid-test would make
        // timing-dependent tests flaky. The baseline tier's tests turn it back on.
        ("plugin.compile.baseline.min.bytes", "-1"),
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
    ]);
    raw.extend(settings(extra));
    WorkerConfig::from_settings(raw).expect("valid worker config")
}

/// The value of the one header `key` of `record`, as UTF-8; panics if there is not exactly one.
pub fn header(record: &ConsumedRecord, key: &str) -> String {
    let found: Vec<_> = record.headers.iter().filter(|h| h.key == key).collect();
    assert_eq!(found.len(), 1, "header {key} in {:?}", record.headers);
    String::from_utf8(found[0].value.clone().expect("a header value")).expect("UTF-8")
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lines of a file (empty if it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    }
}

/// The complete lines of a file (a last line still being written, without its newline, is left
/// out), empty if it does not exist yet.
pub fn complete_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete.lines().map(str::to_owned).collect()
}

/// Writes `count` numbered lines (`line-000000` …) to `path`.
pub fn write_lines(path: &Path, count: usize) -> Vec<String> {
    let lines: Vec<String> = (0..count).map(|i| format!("line-{i:06}")).collect();
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("write input file");
    lines
}

/// Appends `lines` to the file at `path` (creating it), each ending in a newline.
pub fn append_lines(path: &Path, lines: &[String]) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open input file");
    for line in lines {
        writeln!(file, "{line}").expect("append to input file");
    }
}

/// Installs a test log subscriber once (RUST_LOG controls it; warnings by default).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}
