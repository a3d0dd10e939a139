//! A thousand tasks share a few threads: tasks are tokio tasks driving async guest calls, not
//! OS threads.

use std::time::Duration;

use wasm_connect::coordinator::State;
use wasm_connect_tests::{TestWorker, init_logging, wait_until};

const TASKS: usize = 1_000;

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("a Threads line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_run_on_a_few_threads() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    let modes = vec!["ok"; TASKS].join(",");
    let tasks_max = TASKS.to_string();
    worker
        .create(&[
            ("name", "many"),
            ("connector.class", "TestSource"),
            ("tasks.max", &tasks_max),
            ("modes", &modes),
            ("count", "5"),
            ("batch.size", "5"),
            ("topic", "many"),
        ])
        .await;
    wait_until(Duration::from_secs(240), "a thousand running tasks", || {
        worker.herder.status("many").is_some_and(|status| {
            status.tasks.len() == TASKS
                && status
                    .tasks
                    .values()
                    .all(|task| task.state == State::Running)
        })
    })
    .await;
    worker.wait_records("many", (TASKS * 5) as u64).await;
    let threads = threads();
    eprintln!("{TASKS} tasks running on {threads} threads");
    assert!(threads < 64, "{TASKS} tasks used {threads} threads");
    worker.stop().await;
}
