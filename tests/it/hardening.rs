//! Guests that stay inside their per-call limits but go after the host itself: impostors
//! that take another plugin's name; guests that make the host hold memory in host resources,
//! store offsets, expand schemas, log, echo strings or read files without bound. Each attack
//! that makes the host work runs in a worker process of its own (the real binary) beside a
//! healthy neighbour pipeline, and must leave the worker up, its resident memory within a
//! stated bound of the guest's limits, the neighbour moving with no gap over a second, and
//! memory back near where it was once the hostile connector is deleted.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use wasm_connect_tests::{
    ServedWorker, TestWorker,
    child::{ChildWorker, Neighbour, Watched, mib},
    component, init_logging,
    rest_client::Reply,
    restart_worker, wait_until, worker_config,
};

/// The version of the built-in connectors (the workspace's).
const BUILTIN_VERSION: &str = env!("CARGO_PKG_VERSION");

fn version_of(reply: &Reply) -> Option<&str> {
    reply.body["connector"]["version"].as_str()
}

fn running_version(reply: &Reply) -> Option<&str> {
    let running = reply.body["connector"]["state"] == "RUNNING"
        && reply.body["tasks"][0]["state"] == "RUNNING";
    running.then(|| version_of(reply)).flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cannot_take_a_built_in_or_plugin_path_name_even_across_restarts() {
    init_logging();
    let api = ServedWorker::start().await;
    let output = api.worker.path("out.txt");
    let sink = json!({
        "connector.class": "FileStreamSink",
        "topics": "lines",
        "file": output.display().to_string(),
    });
    let created = api
        .post("/connectors", &json!({"name": "files", "config": sink}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

    // The impostor calls itself FileStreamSink (alias: Kafka's class name), version 99.0.0.
    let impostor = std::fs::read(component("test_impostor")).expect("impostor");
    let refused = api.upload(impostor.clone()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(
        refused.body["message"],
        format!(
            "plugin FileStreamSink may not use the name `FileStreamSink`: it belongs to the \
             built-in plugin FileStreamSink {BUILTIN_VERSION}; give the plugin a class name and \
             aliases of its own"
        )
    );
    // Nor can an upload add a version to a plugin.path class (test_source is on the path).
    let newer = std::fs::read(component("test_source_v2")).expect("guest");
    let refused = api.upload(newer).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("the plugin.path plugin TestSource 0.1.0")),
        "{:?}",
        refused.body
    );
    let plugins = api.get("/connector-plugins").await.body;
    let sinks: Vec<_> = plugins
        .as_array()
        .expect("array")
        .iter()
        .filter(|plugin| plugin["class"] == "FileStreamSink")
        .collect();
    assert_eq!(
        sinks,
        [&json!({"class": "FileStreamSink", "type": "sink", "version": BUILTIN_VERSION})]
    );

    // An impostor that got into the uploads directory anyway (say, stored by an older
    // version) is skipped at the next start, and the connector runs the built-in again.
    let dir = api.stop().await;
    let uploads = dir.path().join("data/uploaded-plugins");
    std::fs::create_dir_all(&uploads).expect("uploads dir");
    std::fs::write(uploads.join("impostor.wasm"), &impostor).expect("plant the impostor");
    let herder = restart_worker(worker_config(dir.path(), &[])).await;
    herder.restore(Vec::new()).await.expect("restore");
    let api = ServedWorker::serve(TestWorker { herder, dir }).await;
    let status = api
        .wait_for("/connectors/files/status", "files running", |reply| {
            running_version(reply).is_some()
        })
        .await;
    assert_eq!(running_version(&status), Some(BUILTIN_VERSION));
    // A new connector of the Kafka class name runs the built-in too, and records arrive.
    let by_kafka_name = json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "topics": "lines",
        "file": api.worker.path("out2.txt").display().to_string(),
    });
    let created = api
        .post(
            "/connectors",
            &json!({"name": "files2", "config": by_kafka_name}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let status = api
        .wait_for("/connectors/files2/status", "files2 running", |reply| {
            running_version(reply).is_some()
        })
        .await;
    assert_eq!(running_version(&status), Some(BUILTIN_VERSION));
    api.worker.produce("lines", &["one", "two"]).await;
    wait_until(Duration::from_secs(30), "both sinks to write", || {
        wasm_connect_tests::lines(&output).len() == 2
            && wasm_connect_tests::lines(&api.worker.path("out2.txt")).len() == 2
    })
    .await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_keeps_the_plugin_it_was_created_with_until_its_config_changes() {
    init_logging();
    // An empty plugin.path: both versions of TestSource are uploads.
    let empty = tempfile::tempdir().expect("temporary directory");
    let empty_path = empty.path().display().to_string();
    let extra = [("plugin.path", empty_path.as_str())];
    let api = ServedWorker::serve(TestWorker::embedded(&extra).await).await;
    let v1 = std::fs::read(component("test_source")).expect("guest");
    assert_eq!(api.upload(v1).await.status, StatusCode::CREATED);
    let config = json!({"connector.class": "TestSource", "topic": "t", "batch.size": "1"});
    let created = api
        .post("/connectors", &json!({"name": "old", "config": config}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    api.wait_for("/connectors/old/status", "old on 0.1.0", |reply| {
        running_version(reply) == Some("0.1.0")
    })
    .await;
    // A newer version uploaded meanwhile changes nothing, not even after a restart.
    let v2 = std::fs::read(component("test_source_v2")).expect("guest");
    assert_eq!(api.upload(v2).await.status, StatusCode::CREATED);
    let dir = api.stop().await;
    let mut worker = worker_config(dir.path(), &extra);
    worker.plugin_path = vec![empty.path().to_owned()];
    let herder = restart_worker(worker).await;
    herder.restore(Vec::new()).await.expect("restore");
    let api = ServedWorker::serve(TestWorker { herder, dir }).await;
    api.wait_for("/connectors/old/status", "old on 0.1.0 again", |reply| {
        running_version(reply) == Some("0.1.0")
    })
    .await;
    // A new connector, and a changed config, take the newest.
    let created = api
        .post("/connectors", &json!({"name": "new", "config": config}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    api.wait_for("/connectors/new/status", "new on 0.2.0", |reply| {
        running_version(reply) == Some("0.2.0")
    })
    .await;
    let mut changed = config.clone();
    changed["batch.size"] = json!("2");
    assert_eq!(
        api.put_json("/connectors/old/config", &changed)
            .await
            .status,
        StatusCode::OK
    );
    api.wait_for("/connectors/old/status", "old on 0.2.0", |reply| {
        running_version(reply) == Some("0.2.0")
    })
    .await;
    api.stop().await;
}

/// One worker process at a time: the attacks measure gaps and memory, which other attacks
/// running beside them on two cores would blur.
static CHILD_WORKERS: Mutex<()> = Mutex::const_new(());

/// The longest the neighbour may stand still.
const MAX_GAP: Duration = Duration::from_secs(1);
/// How far above its level before the attack the worker's memory may stay once the hostile
/// connector is gone (allocator caches, the log's pages).
const SETTLE_SLACK: u64 = 64 << 20;

/// What an attack did to the worker.
struct Attack {
    worker: ChildWorker,
    /// The hostile task's trace, when it was expected to fail.
    trace: Option<String>,
    /// Resident memory before the attack.
    baseline: u64,
    watched: Watched,
    /// Bytes the worker logged during the attack.
    logged: u64,
}

/// How long an attack runs.
enum Until {
    /// Until task 0 of the hostile connector fails.
    Failed,
    /// For this long.
    For(Duration),
    /// Until `GET /connectors/hostile/offsets` shows this `seq` committed.
    Committed(i64),
}

/// Runs connector `hostile` with `config` in a worker with `worker` settings beside a
/// neighbour pipeline, watching both until `until`.
async fn attack(worker: &[(&str, &str)], config: Value, until: Until) -> Attack {
    init_logging();
    let worker = ChildWorker::start(worker).await;
    let neighbour = Neighbour::start(&worker).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = worker.rss();
    let logged_before = worker.log_bytes();
    let monitor = neighbour.watch(&worker);
    worker.create("hostile", config).await;
    let trace = match until {
        Until::Failed => Some(
            worker
                .failed_trace("hostile", 0, Duration::from_secs(90))
                .await,
        ),
        Until::For(time) => {
            tokio::time::sleep(time).await;
            None
        }
        Until::Committed(seq) => {
            worker
                .rest
                .wait_for(
                    "/connectors/hostile/offsets",
                    "the records committed",
                    |reply| reply.body["offsets"][0]["offset"]["seq"].as_i64() >= Some(seq),
                )
                .await;
            None
        }
    };
    // The neighbour must keep moving after the attack too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let watched = monitor.finish();
    let logged = worker.log_bytes() - logged_before;
    Attack {
        worker,
        trace,
        baseline,
        watched,
        logged,
    }
}

impl Attack {
    /// The worker stayed up, its memory grew by at most `max_growth` bytes, the neighbour
    /// never stood still for a second, and deleting the hostile connector gives the memory
    /// back (to within [`SETTLE_SLACK`]).
    async fn assert_contained(mut self, max_growth: u64) -> ChildWorker {
        let Self {
            baseline, watched, ..
        } = self;
        assert!(self.worker.is_running(), "the worker died");
        eprintln!(
            "baseline {:.1} MiB, peak {:.1} MiB, longest neighbour gap {:?} over {:?}, {} bytes logged",
            mib(baseline),
            mib(watched.max_rss),
            watched.max_gap,
            watched.watched,
            self.logged
        );
        assert!(
            watched.max_gap < MAX_GAP,
            "the neighbour stood still for {:?}",
            watched.max_gap
        );
        let growth = watched.max_rss.saturating_sub(baseline);
        assert!(
            growth <= max_growth,
            "the worker grew by {:.1} MiB, more than {:.1} MiB",
            mib(growth),
            mib(max_growth)
        );
        let settled = self
            .worker
            .delete_and_settle("hostile", baseline + SETTLE_SLACK, Duration::from_secs(30))
            .await;
        assert!(
            settled <= baseline + SETTLE_SLACK,
            "after the hostile connector was deleted the worker still held {:.1} MiB (was {:.1} MiB)",
            mib(settled),
            mib(baseline)
        );
        self.worker
    }
}

async fn lock_children() -> tokio::sync::MutexGuard<'static, ()> {
    CHILD_WORKERS.lock().await
}

fn hostile_source(mode: &str, extra: &[(&str, &str)]) -> Value {
    let mut config = json!({
        "connector.class": "TestSource",
        "tasks.max": "1",
        "modes": mode,
        "topic": "hostile",
    });
    for (key, value) in extra {
        config[*key] = json!(value);
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_resources_count_against_the_guests_memory_cap() {
    let _one = lock_children().await;
    // Header fields of ~100 KB each, created and held without end: host memory the guest's
    // linear memory never sees.
    let attack = attack(
        &[],
        hostile_source(
            "resource-hog",
            &[
                ("hostile.size", "100000"),
                ("sandbox.memory.max.bytes", "67108864"),
            ],
        ),
        Until::Failed,
    )
    .await;
    let trace = attack.trace.clone().expect("a trace");
    assert!(
        trace.starts_with("poll: memory limit of 67108864 bytes exceeded (instance asked for ")
            && trace.ends_with("of them in host resources) (sandbox.memory.max.bytes)"),
        "{trace}"
    );
    // The guest's cap, once in linear memory and once in host resources, and the rest.
    attack.assert_contained(2 * (64 << 20) + (32 << 20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_minting_source_partitions_is_stopped_and_flushes_cost_what_changed() {
    let _one = lock_children().await;
    // 500 new partitions per poll, each with ~1 KB partition and offset maps.
    let attack = attack(
        &[("sandbox.source.partitions.max", "5000")],
        hostile_source(
            "offset-flood",
            &[("batch.size", "500"), ("hostile.size", "1000")],
        ),
        Until::Failed,
    )
    .await;
    assert_eq!(
        attack.trace.as_deref(),
        Some(
            "the task produced records for more than 5000 source partitions \
             (sandbox.source.partitions.max)"
        )
    );
    let offsets = attack.worker.dir.path().join("data/connect.offsets");
    let size = std::fs::metadata(&offsets).map_or(0, |m| m.len());
    // At most 5,000 partitions of ~2.1 KB, logged at most about twice over.
    assert!(size < 24 << 20, "the offsets file is {:.1} MiB", mib(size));
    attack.assert_contained(128 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_past_its_size_limit_is_refused_before_it_is_expanded() {
    let _one = lock_children().await;
    // 600 fields documented with 2 KB each: 1.2 MB of schema, in every record it converts.
    let attack = attack(
        &[],
        hostile_source(
            "schema-bloat",
            &[
                ("schema.fields", "600"),
                ("hostile.size", "2000"),
                ("batch.size", "1000"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
            ],
        ),
        Until::Failed,
    )
    .await;
    assert_eq!(
        attack.trace.as_deref(),
        Some(
            "poll: invalid data from guest: schema 0 expands to more than 1048576 bytes \
             (sandbox.schema.max.bytes)"
        )
    );
    attack.assert_contained(128 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_that_grow_when_converted_wait_for_the_log_instead_of_filling_memory() {
    let _one = lock_children().await;
    // Within every limit: a ~210 KB schema shared by 200 records a batch, each written out
    // with its schema by the JSON converter (42 MB a batch), 600 records in all.
    let attack = attack(
        &[
            ("sandbox.inflight.max.bytes", "16777216"),
            ("log.cache.bytes", "33554432"),
        ],
        hostile_source(
            "schema-bloat",
            &[
                ("schema.fields", "200"),
                ("hostile.size", "1000"),
                ("batch.size", "200"),
                ("count", "600"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
            ],
        ),
        Until::Committed(599),
    )
    .await;
    let status = attack.worker.rest.get("/connectors/hostile/status").await;
    assert_eq!(
        status.body["tasks"][0]["state"], "RUNNING",
        "{:?}",
        status.body
    );
    // The in-flight budget (16 MiB), the log's page cache (32 MiB), the batches waiting for
    // the sender and the allocator's caches.
    attack.assert_contained(128 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_logs_without_end_gets_its_log_budget_and_no_more() {
    let _one = lock_children().await;
    // 2,000 lines of 1 KB a poll, 20 polls a second: 40 MB/s asked for.
    let budget = 256 << 10;
    let budget_text = budget.to_string();
    let attack = attack(
        &[("sandbox.log.bytes.per.second", &budget_text)],
        hostile_source(
            "log-steady",
            &[("batch.size", "2000"), ("hostile.size", "1000")],
        ),
        Until::For(Duration::from_secs(4)),
    )
    .await;
    // 4.5 s of budget, the worker's own lines, and one summary a second.
    let seconds = attack.watched.watched.as_secs_f64().ceil() as u64;
    assert!(
        attack.logged <= (seconds + 1) * budget + (256 << 10),
        "{} bytes logged in {seconds} s",
        attack.logged
    );
    let log = attack.worker.log_text();
    assert!(
        log.contains("log lines (") && log.contains("sandbox.log.bytes.per.second=262144"),
        "no summary of the dropped lines"
    );
    let status = attack.worker.rest.get("/connectors/hostile/status").await;
    assert_eq!(
        status.body["tasks"][0]["state"], "RUNNING",
        "{:?}",
        status.body
    );
    attack.assert_contained(64 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_error_is_kept_and_logged_truncated() {
    let _one = lock_children().await;
    // A 50 MB fatal error.
    let attack = attack(
        &[],
        hostile_source("huge-error", &[("hostile.size", "50000000")]),
        Until::Failed,
    )
    .await;
    let trace = attack.trace.clone().expect("a trace");
    assert!(
        trace.len() < (64 << 10) + 100 && trace.ends_with("bytes truncated]"),
        "a trace of {} bytes",
        trace.len()
    );
    let status = attack.worker.rest.get("/connectors/hostile/status").await;
    assert!(status.body.to_string().len() < (64 << 10) + 1000);
    // The trace is logged a few times, each truncated.
    assert!(attack.logged < 1 << 20, "{} bytes logged", attack.logged);
    // The guest held the message itself (50 MB), the host one copy of it while truncating.
    attack.assert_contained(192 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errant_reports_are_logged_only_as_kafka_connect_logs_them() {
    let _one = lock_children().await;
    // A sink of the neighbour's topic reporting every record 100 times with a 64 KB error,
    // errors.log.enable left false: nothing of that may reach the worker's log.
    let attack = attack(
        &[],
        json!({
            "connector.class": "TestSink",
            "mode": "report-flood",
            "topics": "neighbour",
            "errors.tolerance": "all",
        }),
        Until::For(Duration::from_secs(3)),
    )
    .await;
    assert!(attack.logged < 256 << 10, "{} bytes logged", attack.logged);
    attack.assert_contained(64 << 20).await;
}

/// Creates a connector over REST and returns the error message of a refusal (400).
async fn refused(api: &ServedWorker, config: Value) -> String {
    let reply = api
        .post("/connectors", &json!({"name": "grant", "config": config}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    reply.body["message"].as_str().expect("message").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_grant_reaches_proc_the_workers_own_files_or_outside_the_allowed_roots() {
    init_logging();
    let files_root = tempfile::tempdir().expect("temporary directory");
    let allowed = files_root.path().join("allowed");
    std::fs::create_dir_all(allowed.join("in")).expect("allowed dir");
    let allowed_text = allowed.display().to_string();
    let api = ServedWorker::serve(
        TestWorker::embedded(&[("sandbox.fs.allowed.roots", &allowed_text)]).await,
    )
    .await;
    let source = |key: &str, dir: &str| json!({"connector.class": "TestSource", "topic": "t", "modes": "read-outside", key: dir});
    // The whole filesystem holds /proc (the worker's environment and secrets).
    let message = refused(&api, source("sandbox.fs.read", "/")).await;
    assert!(
        message.contains("`/` is `/`") || message.contains("contains `/proc`"),
        "{message}"
    );
    let message = refused(&api, source("sandbox.fs.read", "/proc/self")).await;
    assert!(message.contains("is inside `/proc`"), "{message}");
    // The worker's own state, through a link as much as directly.
    let data = api.worker.data_dir().display().to_string();
    let message = refused(&api, source("sandbox.fs.write", &data)).await;
    assert!(message.contains("the worker's data.dir"), "{message}");
    let link = allowed.join("innocent");
    std::os::unix::fs::symlink(api.worker.data_dir(), &link).expect("symlink");
    let message = refused(&api, source("sandbox.fs.read", &link.display().to_string())).await;
    assert!(
        message.contains("(resolved to `") && message.contains("the worker's data.dir"),
        "{message}"
    );
    // Outside the operator's roots.
    let outside = files_root.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    let message = refused(
        &api,
        source("sandbox.fs.read", &outside.display().to_string()),
    )
    .await;
    assert!(
        message
            .contains("is outside every directory this worker allows (sandbox.fs.allowed.roots="),
        "{message}"
    );
    // The built-in file connectors' `file` is held to the same policy.
    let environ = json!({"connector.class": "FileStreamSource", "topic": "t",
                         "file": "/proc/self/environ"});
    let message = refused(&api, environ.clone()).await;
    assert!(message.contains("is inside `/proc`"), "{message}");
    // validate says so before create, on `file` (the console shows it next to the field).
    let mut with_name = environ;
    with_name["name"] = json!("reader");
    let validated = api
        .put_json(
            "/connector-plugins/FileStreamSource/config/validate",
            &with_name,
        )
        .await;
    let file = validated.body["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|config| config["value"]["name"] == "file")
        .expect("file")
        .clone();
    assert!(
        file["value"]["errors"][0]
            .as_str()
            .is_some_and(|error| error.contains("is inside `/proc`")),
        "{file}"
    );
    // Inside an allowed root it is granted, and checked again whenever a task starts: a
    // directory swapped for a link meanwhile fails the task, naming why.
    let granted = allowed.join("in").display().to_string();
    let created = api
        .post(
            "/connectors",
            &json!({"name": "reader", "config": source("sandbox.fs.read", &granted)}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        api.put("/connectors/reader/stop").await.status,
        StatusCode::NO_CONTENT
    );
    api.wait_for("/connectors/reader/status", "reader stopped", |reply| {
        reply.body["connector"]["state"] == "STOPPED"
    })
    .await;
    std::fs::remove_dir(allowed.join("in")).expect("remove");
    std::os::unix::fs::symlink("/proc/self", allowed.join("in")).expect("swap for a link");
    assert_eq!(
        api.put("/connectors/reader/resume").await.status,
        StatusCode::ACCEPTED
    );
    let status = api
        .wait_for("/connectors/reader/status", "the task to fail", |reply| {
            reply.body["tasks"][0]["state"] == "FAILED"
        })
        .await;
    let trace = status.body["tasks"][0]["trace"].as_str().expect("trace");
    assert!(trace.contains("is inside `/proc`"), "{trace}");
    api.stop().await;
}
