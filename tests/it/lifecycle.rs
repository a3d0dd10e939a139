//! Connector lifecycle driven by guests: `request-task-reconfiguration` regenerates task
//! configs and restarts tasks, `raise-error` fails the task, and errant records go to the dead
//! letter queue with Kafka Connect's context headers.

use std::time::Duration;

use wasm_connect::{coordinator::State, log::LogHeader};
use wasm_connect_tests::{TestWorker, init_logging, lines, wait_until};

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

    let log = worker.herder.services().log.clone();
    let mut consumer = log.consumer("check", "check").unwrap();
    consumer.subscribe(&["dlq".to_string()]).await.unwrap();
    let mut records = Vec::new();
    let start = std::time::Instant::now();
    while records.len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "DLQ holds {records:?}"
        );
        records.extend(
            consumer
                .poll(100, Duration::from_millis(100))
                .await
                .unwrap()
                .records,
        );
    }
    let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(
        values,
        vec![b"bad-1".to_vec(), b"bad-3".to_vec()],
        "original value bytes are kept"
    );
    let header = |record: &wasm_connect::log::ConsumedRecord, key: &str| -> String {
        let found: Vec<&LogHeader> = record.headers.iter().filter(|h| h.key == key).collect();
        assert_eq!(found.len(), 1, "header {key} in {:?}", record.headers);
        String::from_utf8(found[0].value.clone().unwrap()).unwrap()
    };
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
