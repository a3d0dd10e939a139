//! Connector lifecycle driven by guests: `request-task-reconfiguration` regenerates task
//! configs and restarts tasks, `raise-error` fails the task, `restart.policy=on-failure`
//! restarts failed tasks (and `none` leaves them FAILED), and errant records go to the dead
//! letter queue with Kafka Connect's context headers.

use std::time::Duration;

use wasm_connect::coordinator::State;
use wasm_connect_tests::{TestWorker, header, init_logging, lines, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconfiguration_request_restarts_tasks_with_new_configs() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    worker
        .create(&[
            ("name", "gen"),
            ("connector.class", "TestSource"),
            ("modes", "reconfigure"),
            ("topic", "gen"),
        ])
        .await;
    // The first generation asks for reconfiguration on its first poll; the connector then
    // hands out generation 2, which differs, so the task is restarted with it.
    let start = std::time::Instant::now();
    loop {
        let configs = worker.herder.task_configs("gen").await.unwrap_or_default();
        if configs
            .first()
            .and_then(|config| config.get("generation"))
            .map(String::as_str)
            == Some("2")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no second generation of task configs: {configs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let configs = worker.herder.task_configs("gen").await.unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(
        configs[0].get("task.class").map(String::as_str),
        Some("TestSource")
    );
    worker.wait_running("gen", 1).await;

    // Records of the second generation reach the log.
    let output = worker.path("out.txt");
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.display().to_string()),
            ("topics", "gen"),
        ])
        .await;
    wait_until(Duration::from_secs(30), "records of generation 2", || {
        lines(&output).iter().any(|line| line.starts_with("2:0:"))
    })
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raise_error_fails_the_task_with_its_message() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    worker
        .create(&[
            ("name", "err"),
            ("connector.class", "TestSource"),
            ("tasks.max", "2"),
            ("modes", "raise-error,ok"),
            ("topic", "err"),
        ])
        .await;
    wait_until(Duration::from_secs(30), "task 0 to fail", || {
        worker.herder.status("err").is_some_and(|status| {
            status
                .tasks
                .get(&0)
                .is_some_and(|task| task.state == State::Failed)
        })
    })
    .await;
    let status = worker.herder.status("err").unwrap();
    let trace = status.tasks[&0].trace.clone().unwrap();
    assert!(trace.contains("boom from task"), "{trace}");
    assert_eq!(status.connector.state, State::Running);
    let before = worker.records("err").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        worker.records("err").await > before,
        "the healthy task stopped moving records"
    );
    worker.stop().await;
}

/// Creates `name` with a `panic` task 0 beside a healthy task 1 and the given restart settings,
/// and waits for task 0 to fail.
async fn start_panicking(worker: &TestWorker, name: &str, restart: &[(&str, &str)]) {
    let mut settings = vec![
        ("name", name),
        ("connector.class", "TestSource"),
        ("tasks.max", "2"),
        ("modes", "panic,ok"),
        ("topic", name),
    ];
    settings.extend_from_slice(restart);
    worker.create(&settings).await;
    wait_until(Duration::from_secs(30), "task 0 to fail", || {
        worker.herder.status(name).is_some_and(|status| {
            status
                .tasks
                .get(&0)
                .is_some_and(|task| task.state == State::Failed)
        })
    })
    .await;
}

/// How often task `id` of `name` was restarted by the restart policy.
async fn restarts(worker: &TestWorker, name: &str, id: usize) -> u64 {
    worker.herder.task_metrics(name).await[id].restarts()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_a_failed_task_with_a_growing_backoff() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_panicking(
        &worker,
        "phoenix",
        &[
            ("restart.policy", "on-failure"),
            ("restart.backoff.initial.ms", "100"),
            ("restart.backoff.max.ms", "400"),
        ],
    )
    .await;
    // `panic` panics on every poll, so the task keeps failing and being restarted after 100,
    // 200, 400, 400 … ms. Between restarts the FAILED status keeps its trace.
    let start = std::time::Instant::now();
    let mut saw_failed_after_restart = false;
    while restarts(&worker, "phoenix", 0).await < 3 || !saw_failed_after_restart {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "restarted {} times",
            restarts(&worker, "phoenix", 0).await
        );
        let restarted = restarts(&worker, "phoenix", 0).await > 0;
        let status = worker.herder.status("phoenix").unwrap();
        let task = &status.tasks[&0];
        match task.state {
            State::Failed => {
                let trace = task.trace.as_deref().unwrap_or_default();
                assert!(trace.contains("panic from test-source task 0"), "{trace}");
                saw_failed_after_restart |= restarted;
            }
            // The restarted task reports RUNNING briefly, until its first poll panics.
            State::Running | State::Unassigned => {}
            other => panic!("unexpected task state {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Three restarts take at least 100 + 200 + 400 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
    let status = worker.herder.status("phoenix").unwrap();
    assert_eq!(status.tasks[&1].state, State::Running);
    assert_eq!(restarts(&worker, "phoenix", 1).await, 0);
    let before = worker.records("phoenix").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        worker.records("phoenix").await > before,
        "the healthy task stopped moving records"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_restarts_do_not_outlive_a_stop() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_panicking(
        &worker,
        "stopped",
        &[
            ("restart.policy", "on-failure"),
            ("restart.backoff.initial.ms", "300"),
        ],
    )
    .await;
    worker
        .herder
        .set_target_state("stopped", wasm_connect::worker::TargetState::Stopped)
        .await
        .unwrap();
    wait_until(Duration::from_secs(10), "the connector to stop", || {
        worker.herder.status("stopped").is_some_and(|status| {
            status.connector.state == State::Stopped && status.tasks.is_empty()
        })
    })
    .await;
    let before = restarts(&worker, "stopped", 0).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = worker.herder.status("stopped").unwrap();
    assert!(
        status.tasks.is_empty(),
        "a task came back: {:?}",
        status.tasks
    );
    assert_eq!(restarts(&worker, "stopped", 0).await, before);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_restart_policy_a_failed_task_stays_failed() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_panicking(&worker, "kafka-like", &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = worker.herder.status("kafka-like").unwrap();
    assert_eq!(status.tasks[&0].state, State::Failed);
    assert_eq!(restarts(&worker, "kafka-like", 0).await, 0);
    worker.stop().await;
}

async fn start_errant_pipeline(worker: &TestWorker, tolerance: &str) {
    let input = worker.path("input.txt");
    std::fs::write(&input, "good-0\nbad-1\ngood-2\nbad-3\ngood-4\n").unwrap();
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "in"),
        ])
        .await;
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "TestSink"),
            ("mode", "errant"),
            ("topics", "in"),
            ("errors.tolerance", tolerance),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_errant_records_go_to_the_dead_letter_queue_with_context_headers() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_errant_pipeline(&worker, "all").await;
    worker.wait_records("sink", 5).await;

    let records = worker.read_topic("dlq", 2).await;
    let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(
        values,
        vec![b"bad-1".to_vec(), b"bad-3".to_vec()],
        "original value bytes are kept"
    );
    let first = &records[0];
    assert_eq!(header(first, "__connect.errors.topic"), "in");
    assert_eq!(header(first, "__connect.errors.partition"), "0");
    assert_eq!(header(first, "__connect.errors.offset"), "1");
    assert_eq!(header(first, "__connect.errors.connector.name"), "sink");
    assert_eq!(header(first, "__connect.errors.task.id"), "0");
    assert_eq!(header(first, "__connect.errors.stage"), "TASK_PUT");
    assert_eq!(header(first, "__connect.errors.class.name"), "TestSink");
    assert!(header(first, "__connect.errors.exception.message").contains("bad record: bad-1"));
    header(first, "__connect.errors.exception.class.name");
    header(first, "__connect.errors.exception.stacktrace");
    assert_eq!(header(&records[1], "__connect.errors.offset"), "3");
    // The sink keeps running under errors.tolerance=all.
    assert_eq!(
        worker.herder.status("sink").unwrap().tasks[&0].state,
        State::Running
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_errant_record_fails_the_task_when_errors_are_not_tolerated() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_errant_pipeline(&worker, "none").await;
    wait_until(Duration::from_secs(30), "the sink task to fail", || {
        worker.herder.status("sink").is_some_and(|status| {
            status
                .tasks
                .get(&0)
                .is_some_and(|task| task.state == State::Failed)
        })
    })
    .await;
    let trace = worker.herder.status("sink").unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap();
    assert!(
        trace.contains("errors.tolerance=none") && trace.contains("bad-1"),
        "{trace}"
    );
    worker.stop().await;
}

/// How many times task 0 of `connector` was polled, from `GET /metrics`.
async fn polls(api: &wasm_connect_tests::ServedWorker, connector: &str) -> u64 {
    let (_, _, text) = api.get_text("/metrics", None).await;
    let series = format!(
        "wasm_connect_task_guest_call_duration_seconds_count{{connector=\"{connector}\",task=\"0\",function=\"poll\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&series)?.parse().ok())
        .unwrap_or(0)
}

/// Waits up to 30 s for task 0 of `connector` to have been polled `count` times.
async fn wait_for_polls(api: &wasm_connect_tests::ServedWorker, connector: &str, count: u64) {
    let start = std::time::Instant::now();
    loop {
        let polled = polls(api, connector).await;
        if polled >= count {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{connector} was polled {polled} times, not {count}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A source task that says (`poll-again-after`) it has nothing for ten minutes is not polled
/// again meanwhile, where one that says nothing is polled on the worker's back-off; a pause
/// and resume polls it again at once, and deleting it does not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_task_that_says_it_has_nothing_is_not_polled_until_then() {
    let api = wasm_connect_tests::ServedWorker::start().await;
    for (name, extra) in [("quiet", Some("600000")), ("backoff", None)] {
        let mut config = serde_json::json!({
            "connector.class": "TestSource",
            "modes": "idle",
            "topic": name,
        });
        if let Some(ms) = extra {
            config["idle.ms"] = ms.into();
        }
        let reply = api
            .post(
                "/connectors",
                &serde_json::json!({"name": name, "config": config}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        api.worker.wait_running(name, 1).await;
    }
    // The back-off polls at 0, 50, 150, 350, 750 ms and so on.
    wait_for_polls(&api, "backoff", 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(polls(&api, "quiet").await, 1);

    assert_eq!(api.put("/connectors/quiet/pause").await.status, 202);
    assert_eq!(api.put("/connectors/quiet/resume").await.status, 202);
    wait_for_polls(&api, "quiet", 2).await;
    assert_eq!(api.delete("/connectors/quiet").await.status, 204);
}
