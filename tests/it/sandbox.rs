//! Hostile guests fail only their own task, with a trace naming the cause, while a healthy
//! task of the same connector keeps moving records.

use std::time::Duration;

use wasm_connect::coordinator::State;
use wasm_connect_tests::{TestWorker, init_logging, wait_until};

/// Runs a connector whose task 0 misbehaves (`mode`) beside a healthy task 1, and returns
/// task 0's trace once it failed, after checking that task 1 still moves records.
async fn contained(mode: &str, limits: &[(&str, &str)]) -> String {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    let modes = format!("{mode},ok");
    let mut settings = vec![
        ("name", "hostile"),
        ("connector.class", "TestSource"),
        ("tasks.max", "2"),
        ("modes", modes.as_str()),
        ("topic", "hostile"),
    ];
    settings.extend_from_slice(limits);
    worker.create(&settings).await;
    wait_until(
        Duration::from_secs(60),
        &format!("the `{mode}` task to fail"),
        || {
            worker.herder.status("hostile").is_some_and(|status| {
                status
                    .tasks
                    .get(&0)
                    .is_some_and(|task| task.state == State::Failed)
            })
        },
    )
    .await;
    let status = worker.herder.status("hostile").unwrap();
    assert_eq!(
        status.tasks[&1].state,
        State::Running,
        "the healthy task was hit too"
    );
    assert_eq!(status.connector.state, State::Running);
    let before = worker.records("hostile").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        worker.records("hostile").await > before,
        "the healthy task stopped moving records"
    );
    let trace = status.tasks[&0]
        .trace
        .clone()
        .expect("a failed task has a trace");
    worker.stop().await;
    trace
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_guest_fails_only_its_task() {
    let trace = contained("panic", &[]).await;
    assert!(trace.starts_with("poll: trap:"), "{trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_hits_the_deadline() {
    let trace = contained(
        "loop",
        &[
            ("sandbox.timeout.ms", "1000"),
            ("sandbox.fuel.per.call", "0"),
        ],
    )
    .await;
    assert_eq!(trace, "poll: deadline of 1000 ms exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_runs_out_of_fuel() {
    let trace = contained("loop", &[("sandbox.fuel.per.call", "50000000")]).await;
    assert_eq!(trace, "poll: fuel exhausted after 50000000 units");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_cap() {
    let trace = contained("memory", &[("sandbox.memory.max.bytes", "67108864")]).await;
    assert!(
        trace.starts_with("poll: memory limit of 67108864 bytes exceeded"),
        "{trace}"
    );
}
