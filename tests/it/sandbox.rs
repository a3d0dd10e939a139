//! Hostile guests fail only their own task, with a trace naming the cause, while a healthy
//! task of the same connector keeps moving records: traps, endless loops in `poll` and
//! `start`, memory bombs, stack overflows, record floods, log floods, reads outside any
//! grant, HTTP requests the egress policy denies, and a host call (HTTP to a server that never
//! answers) bounded by its own timeout.

use std::time::Duration;

use wasm_connect::coordinator::State;
use wasm_connect_tests::{TestWorker, init_logging, wait_until};

/// Runs a connector whose task 0 misbehaves (`mode`) beside a healthy task 1, and returns
/// task 0's trace once it failed, after checking that task 1 still moves records.
async fn contained(mode: &str, limits: &[(&str, &str)]) -> String {
    contained_on(&[], mode, limits).await
}

/// [`contained`] on a worker with `worker` settings.
async fn contained_on(worker: &[(&str, &str)], mode: &str, limits: &[(&str, &str)]) -> String {
    init_logging();
    let worker = TestWorker::embedded(worker).await;
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
    // A hostile task may fail before the healthy one finished starting; it must get there.
    wait_until(Duration::from_secs(30), "the healthy task to run", || {
        worker.herder.status("hostile").is_some_and(|status| {
            status
                .tasks
                .get(&1)
                .is_some_and(|task| task.state == State::Running)
        })
    })
    .await;
    let status = worker.herder.status("hostile").unwrap();
    assert_eq!(
        status.tasks[&0].state,
        State::Failed,
        "a failed task came back"
    );
    assert_eq!(status.connector.state, State::Running);
    // The healthy task keeps moving records (given time: on a loaded machine one commit of
    // the log can take a while).
    let before = worker.records("hostile").await;
    let start = std::time::Instant::now();
    while worker.records("hostile").await <= before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the healthy task stopped moving records"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    // The most fuel the worker allows (about 50 s of this loop), so the deadline trips first.
    let trace = contained(
        "loop",
        &[
            ("sandbox.timeout.ms", "1000"),
            ("sandbox.fuel.per.call", "100000000000"),
        ],
    )
    .await;
    assert_eq!(
        trace,
        "poll: deadline of 1000 ms exceeded (sandbox.timeout.ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_runs_out_of_fuel() {
    let trace = contained("loop", &[("sandbox.fuel.per.call", "50000000")]).await;
    assert_eq!(
        trace,
        "poll: fuel exhausted after 50000000 units (sandbox.fuel.per.call)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_memory_cap() {
    let trace = contained("memory", &[("sandbox.memory.max.bytes", "67108864")]).await;
    assert!(
        trace.starts_with("poll: memory limit of 67108864 bytes exceeded"),
        "{trace}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_in_start_hits_the_deadline() {
    let trace = contained("start-loop", &[("sandbox.timeout.ms", "1000")]).await;
    assert_eq!(
        trace,
        "start: deadline of 1000 ms exceeded (sandbox.timeout.ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_recursion_overflows_the_wasm_stack() {
    let trace = contained("deep", &[]).await;
    assert_eq!(trace, "poll: wasm stack overflow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_five_million_records_hits_the_memory_cap() {
    let trace = contained("flood", &[]).await;
    assert!(
        trace.starts_with("poll: memory limit of 268435456 bytes exceeded"),
        "{trace}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fits_in_guest_memory_is_still_bounded_on_the_host() {
    // Room in the guest for the whole batch: wasmtime's hostcall data limit (128 MiB lifted
    // per call) stops it before the host allocates it, ahead of the host's own record limit
    // (`runtime::convert::MAX_BATCH_RECORDS`).
    let trace = contained(
        "flood",
        &[
            ("flood.records", "1000001"),
            ("sandbox.memory.max.bytes", "1073741824"),
        ],
    )
    .await;
    assert!(
        trace.starts_with(
            "poll: trap: too much data is being copied between the host and the guest"
        ),
        "{trace}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_logging_is_stopped_by_the_deadline() {
    // The task's log budget (sandbox.log.lines.per.second) drops what is over it, so the flood
    // costs the host at most that many lines a second; the deadline ends the call.
    let trace = contained("log-flood", &[("sandbox.timeout.ms", "1000")]).await;
    assert_eq!(
        trace,
        "poll: deadline of 1000 ms exceeded (sandbox.timeout.ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_logging_runs_out_of_fuel() {
    let trace = contained("log-flood", &[("sandbox.fuel.per.call", "50000000")]).await;
    assert_eq!(
        trace,
        "poll: fuel exhausted after 50000000 units (sandbox.fuel.per.call)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_file_outside_any_grant_fails() {
    // Without grants the guest has no filesystem at all: the path does not exist for it.
    let trace = contained("read-outside", &[]).await;
    assert_eq!(
        trace,
        "poll failed: opening /etc/hostname failed: No such file or directory (os error 44)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escaping_a_granted_directory_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    let granted = granted.display().to_string();
    let escape = format!("{granted}/../secret.txt");
    let trace = contained(
        "read-outside",
        &[("sandbox.fs.read", &granted), ("read.path", &escape)],
    )
    .await;
    assert_eq!(
        trace,
        format!("poll failed: opening {escape} failed: Operation not permitted (os error 63)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_without_a_grant_is_denied() {
    let trace = contained("http-get", &[("http.url", "http://example.com/")]).await;
    assert_eq!(
        trace,
        "poll failed: GET http://example.com/ failed: request denied by the sandbox: the URL is \
         not on the connector's allow-list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_to_a_host_off_the_allow_list_is_denied() {
    let trace = contained(
        "http-get",
        &[
            ("http.url", "http://evil.example.com/"),
            (
                "sandbox.http.allow",
                "https://api.example.com,http://*.example.org",
            ),
        ],
    )
    .await;
    assert!(
        trace.contains(
            "request denied by the sandbox: the URL is not on the connector's allow-list"
        ),
        "{trace}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_to_loopback_or_the_metadata_address_is_denied_without_permission() {
    for url in [
        "http://127.0.0.1:9/",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let trace = contained(
            "http-get",
            &[("http.url", url), ("sandbox.http.allow", "http://*:*")],
        )
        .await;
        assert_eq!(
            trace,
            format!(
                "poll failed: GET {url} failed: request denied by the sandbox: the host resolves \
                 only to addresses the worker does not allow"
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_call_that_never_returns_is_bounded_by_its_own_timeout() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let _server = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let start = std::time::Instant::now();
    let trace = contained_on(
        &[("sandbox.http.allow.private.networks", "true")],
        "http-get",
        &[
            ("http.url", &url),
            ("sandbox.http.allow", "http://127.0.0.1:*"),
            ("sandbox.http.timeout.ms", "500"),
        ],
    )
    .await;
    assert!(
        trace.starts_with(&format!("poll failed: GET {url} failed:")),
        "{trace}"
    );
    assert!(
        trace.to_lowercase().contains("timeout") || trace.to_lowercase().contains("timed out"),
        "{trace}"
    );
    // Bounded by the request's 500 ms, far below the call's 30 s deadline.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_breaking_the_data_contract_fails_its_task_and_nothing_after_it_is_sent() {
    // The value is valid to the SDK but nested deeper than the host accepts; the host checks
    // batches after the poll returned, beside the next poll, and must still send no record of
    // that batch or any later one. The healthy task's records are `1:1:<seq>`.
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    worker
        .create(&[
            ("name", "hostile"),
            ("connector.class", "TestSource"),
            ("tasks.max", "2"),
            ("modes", "too-deep,ok"),
            ("topic", "hostile"),
            ("batch.size", "10"),
        ])
        .await;
    wait_until(Duration::from_secs(60), "task 0 to fail", || {
        worker.herder.status("hostile").is_some_and(|status| {
            status
                .tasks
                .get(&0)
                .is_some_and(|task| task.state == State::Failed)
        })
    })
    .await;
    let status = worker.herder.status("hostile").unwrap();
    let trace = status.tasks[&0].trace.clone().unwrap();
    assert_eq!(
        trace,
        "poll: invalid data from guest: record 0 value: node 64 is nested deeper than 64 levels"
    );
    worker.wait_records("hostile", 200).await;
    let records = worker.read_topic("hostile", 200).await;
    let values: Vec<String> = records
        .iter()
        .map(|record| String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into())
        .collect();
    assert!(
        values.iter().all(|value| value.starts_with("1:1:")),
        "records of the failed task reached the log: {values:?}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_holding_host_resources_without_end_hits_their_count_limit() {
    // Empty header fields, created and kept: tiny each, but each a host resource.
    let trace = contained("handle-hog", &[]).await;
    assert_eq!(
        trace,
        "poll: more than 1000 host resources (WASI handles: files, streams, HTTP requests, \
         bodies, headers) held at once (sandbox.resources.max)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_writing_to_ever_new_topics_is_stopped_at_its_topic_limit() {
    // The limit is the connector's, so the healthy task is another connector's here.
    init_logging();
    let worker = TestWorker::embedded(&[("sandbox.topics.max", "50")]).await;
    worker
        .create(&[
            ("name", "flood"),
            ("connector.class", "TestSource"),
            ("modes", "topic-flood"),
            ("topic", "unused"),
            ("batch.size", "10"),
        ])
        .await;
    worker
        .create(&[
            ("name", "healthy"),
            ("connector.class", "TestSource"),
            ("modes", "ok"),
            ("topic", "healthy"),
        ])
        .await;
    wait_until(Duration::from_secs(60), "the flood to fail", || {
        worker.herder.status("flood").is_some_and(|status| {
            status
                .tasks
                .get(&0)
                .is_some_and(|task| task.state == State::Failed)
        })
    })
    .await;
    let trace = worker.herder.status("flood").unwrap().tasks[&0]
        .trace
        .clone()
        .unwrap();
    assert!(
        trace.starts_with(
            "the connector writes to more than 50 topics (sandbox.topics.max); the next was \
             `flood-"
        ),
        "{trace}"
    );
    assert_eq!(worker.herder.active_topics("flood").len(), 50);
    let before = worker.records("healthy").await;
    worker.wait_records("healthy", before + 100).await;
    worker.stop().await;
}
