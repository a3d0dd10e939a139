//! Distributed mode: several `wasm-connect distributed` processes on one librdkafka
//! MockCluster share the connectors; configs, offsets and statuses live in its topics.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use hyper::StatusCode;
use rdkafka::mocking::MockCluster;
use serde_json::{Value, json};
use wasm_connect_tests::child::ChildWorker;

/// A mock Kafka cluster with a distributed cluster's internal topics.
struct Kafka {
    cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    group: String,
}

impl Kafka {
    fn new(group: &str) -> Self {
        let cluster = MockCluster::new(1).expect("mock cluster");
        // MockCluster has no CreateTopics: the internal topics are made on it.
        cluster
            .create_topic(&format!("{group}-configs"), 1, 1)
            .unwrap();
        cluster
            .create_topic(&format!("{group}-offsets"), 5, 1)
            .unwrap();
        cluster
            .create_topic(&format!("{group}-status"), 5, 1)
            .unwrap();
        cluster
            .create_topic(&format!("{group}-cluster"), 1, 1)
            .unwrap();
        Self {
            cluster,
            group: group.to_owned(),
        }
    }

    /// A worker's settings.
    fn settings(&self) -> Vec<(String, String)> {
        let group = &self.group;
        [
            ("bootstrap.servers", self.cluster.bootstrap_servers()),
            ("group.id", group.clone()),
            ("config.storage.topic", format!("{group}-configs")),
            ("offset.storage.topic", format!("{group}-offsets")),
            ("status.storage.topic", format!("{group}-status")),
            ("config.storage.replication.factor", "1".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("status.storage.replication.factor", "1".into()),
            ("cluster.storage.replication.factor", "1".into()),
            ("session.timeout.ms", "6000".into()),
            ("heartbeat.interval.ms", "1000".into()),
            ("consumer.session.timeout.ms", "6000".into()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// A worker, once it runs its first assignment.
    async fn worker(&self) -> ChildWorker {
        let settings = self.settings();
        let pairs: Vec<(&str, &str)> = settings
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let worker = ChildWorker::start_distributed(&pairs).await;
        ready(&worker).await;
        worker
    }
}

/// Waits until `worker` answers `GET /health` with 200 (it runs its cluster's assignment).
async fn ready(worker: &ChildWorker) {
    eventually(
        Duration::from_secs(60),
        "the worker joins its cluster",
        async || {
            let reply = worker.rest.get("/health").await;
            if reply.status == StatusCode::OK {
                Ok(())
            } else {
                Err(format!("{}: {}", reply.status, reply.body))
            }
        },
    )
    .await
}

/// Polls `probe` every 200 ms until it returns Some, or panics naming `what` with the last
/// value seen.
async fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    start.elapsed() < timeout,
                    "{what} within {timeout:?}; last: {last}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A datagen connector of `tasks` tasks writing 10 records a second per task.
fn datagen(topic: &str, tasks: u32) -> Value {
    json!({
        "connector.class": "DatagenSource",
        "tasks.max": tasks.to_string(),
        "topic": topic,
        "rate": "10",
    })
}

/// Worker ids running each connector instance and task, from `worker`'s statuses, once
/// every one of `names` is RUNNING with `tasks` tasks.
async fn placement(
    worker: &ChildWorker,
    names: &[String],
    tasks: usize,
) -> Result<BTreeMap<String, (String, Vec<String>)>, String> {
    let mut placed = BTreeMap::new();
    for name in names {
        let reply = worker.rest.get(&format!("/connectors/{name}/status")).await;
        let body = reply.body;
        if body["connector"]["state"] != "RUNNING" {
            return Err(format!("{name}: {body}"));
        }
        let task_list = body["tasks"].as_array().cloned().unwrap_or_default();
        if task_list.len() != tasks || task_list.iter().any(|task| task["state"] != "RUNNING") {
            return Err(format!("{name}: {body}"));
        }
        placed.insert(
            name.clone(),
            (
                body["connector"]["worker_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                task_list
                    .iter()
                    .map(|task| task["worker_id"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            ),
        );
    }
    Ok(placed)
}

/// (connectors, tasks) per worker id.
fn shares(placed: &BTreeMap<String, (String, Vec<String>)>) -> BTreeMap<String, (usize, usize)> {
    let mut shares: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (connector, tasks) in placed.values() {
        shares.entry(connector.clone()).or_default().0 += 1;
        for task in tasks {
            shares.entry(task.clone()).or_default().1 += 1;
        }
    }
    shares
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_six_connectors_and_answer_alike() {
    let kafka = Kafka::new("share");
    let workers = [
        kafka.worker().await,
        kafka.worker().await,
        kafka.worker().await,
    ];
    let names: Vec<String> = (0..6).map(|i| format!("gen-{i}")).collect();
    for name in &names {
        // Through worker 2, whether or not it leads.
        let reply = workers[1]
            .rest
            .post(
                "/connectors",
                &json!({"name": name, "config": datagen(name, 3)}),
            )
            .await;
        if reply.status != StatusCode::CREATED {
            for worker in &workers {
                eprintln!("==== {}", worker.log_text());
            }
        }
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let placed = eventually(
        Duration::from_secs(60),
        "six connectors of three tasks running",
        async || {
            let placed = placement(&workers[0], &names, 3).await?;
            let shares = shares(&placed);
            if shares.len() == 3 {
                Ok(placed)
            } else {
                Err(format!("{shares:?}"))
            }
        },
    )
    .await;
    let shares = shares(&placed);
    for (worker, (connectors, tasks)) in &shares {
        assert_eq!((*connectors, *tasks), (2, 6), "{worker}: {shares:?}");
    }
    // Every worker answers alike: the same config and the same status.
    for name in &names {
        let config = workers[1]
            .rest
            .get(&format!("/connectors/{name}/config"))
            .await
            .body;
        for worker in [&workers[0], &workers[2]] {
            assert_eq!(
                worker
                    .rest
                    .get(&format!("/connectors/{name}/config"))
                    .await
                    .body,
                config
            );
            let status = eventually(
                Duration::from_secs(10),
                "the same status everywhere",
                async || {
                    let mine = worker
                        .rest
                        .get(&format!("/connectors/{name}/status"))
                        .await
                        .body;
                    let theirs = workers[1]
                        .rest
                        .get(&format!("/connectors/{name}/status"))
                        .await
                        .body;
                    if mine == theirs {
                        Ok(mine)
                    } else {
                        Err(format!("{mine} vs {theirs}"))
                    }
                },
            )
            .await;
            assert_eq!(status["connector"]["state"], "RUNNING");
        }
    }
    let listed = workers[2].rest.get("/connectors").await.body;
    assert_eq!(listed.as_array().map(Vec::len), Some(6), "{listed}");
}

/// The worker id of a worker (`127.0.0.1:<port>`).
fn worker_id(worker: &ChildWorker) -> String {
    worker.rest.base.trim_start_matches("http://").to_owned()
}

/// Lines of a file (empty if it does not exist yet).
fn read_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Appends `count` numbered lines to `path` over about `seconds`, on a thread.
fn feed(path: std::path::PathBuf, count: usize, seconds: f64) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("input file");
        let chunks = 1_000;
        let per_chunk = count / chunks;
        for chunk in 0..chunks {
            let mut text = String::new();
            for i in chunk * per_chunk..(chunk + 1) * per_chunk {
                text.push_str(&format!("line-{i:07}\n"));
            }
            file.write_all(text.as_bytes()).expect("write input");
            file.flush().expect("flush input");
            std::thread::sleep(Duration::from_secs_f64(seconds / chunks as f64));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_tasks_run_elsewhere_and_every_line_arrives() {
    const LINES: usize = 300_000;
    let kafka = Kafka::new("failover");
    // Four partitions keep each under the mock cluster's 5 MiB per partition.
    kafka.cluster.create_topic("lines", 4, 1).unwrap();
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let mut workers = [a, b, c];
    let files = workers[0].files();
    std::fs::create_dir_all(&files).unwrap();
    let (input, output) = (files.join("input.txt"), files.join("output.txt"));
    std::fs::write(&input, "").unwrap();
    let feeder = feed(input.clone(), LINES, 12.0);
    for (name, config) in [
        (
            "source",
            json!({"connector.class": "FileStreamSource", "file": input, "topic": "lines"}),
        ),
        (
            "sink",
            json!({"connector.class": "FileStreamSink", "file": output, "topics": "lines"}),
        ),
    ] {
        let reply = workers[1]
            .rest
            .post("/connectors", &json!({"name": name, "config": config}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let names = ["source".to_owned(), "sink".to_owned()];
    eventually(
        Duration::from_secs(60),
        "a tenth of the lines copied",
        async || {
            let copied = read_lines(&output).len();
            if copied >= LINES / 10 {
                Ok(())
            } else {
                Err(format!("{copied} lines"))
            }
        },
    )
    .await;
    // Kill the worker running the source's task, mid-copy.
    let placed = placement(&workers[0], &names, 1)
        .await
        .expect("both running");
    let victim_id = placed["source"].1[0].clone();
    let victim = workers
        .iter()
        .position(|worker| worker_id(worker) == victim_id)
        .expect("the source's worker is one of ours");
    let observer = (victim + 1) % 3;
    println!("failover: killing {victim_id}; placement {placed:?}");
    workers[victim].kill();
    let killed = Instant::now();
    let moved = eventually(
        Duration::from_secs(60),
        "the killed worker's tasks running elsewhere",
        async || {
            let placed = placement(&workers[observer], &names, 1).await?;
            let on_victim = placed
                .values()
                .any(|(connector, tasks)| *connector == victim_id || tasks.contains(&victim_id));
            if on_victim {
                Err(format!("{placed:?}"))
            } else {
                Ok(placed)
            }
        },
    )
    .await;
    let failover = killed.elapsed();
    println!(
        "failover: kill -9 → all tasks RUNNING elsewhere in {} ms (session.timeout.ms=6000)",
        failover.as_millis()
    );
    assert_ne!(moved["source"].1[0], victim_id);
    feeder.join().unwrap();
    let copied = eventually(Duration::from_secs(120), "every line copied", async || {
        let lines = read_lines(&output);
        let unique: std::collections::BTreeSet<&String> = lines.iter().collect();
        if unique.len() >= LINES {
            Ok(lines)
        } else {
            Err(format!("{} unique of {LINES}", unique.len()))
        }
    })
    .await;
    let unique: std::collections::BTreeSet<&String> = copied.iter().collect();
    let expected: std::collections::BTreeSet<String> =
        (0..LINES).map(|i| format!("line-{i:07}")).collect();
    assert!(
        unique.iter().all(|line| expected.contains(*line)),
        "only input lines arrive"
    );
    let duplicates = copied.len() - unique.len();
    println!("failover: {} lines, {duplicates} duplicates", copied.len());
    // At most what was copied after the last offset flush (offset.flush.interval.ms=100, at
    // 25,000 lines/s) on the source's side and, when the sink ran on the killed worker too,
    // on the sink's: about 3,300 each with the flush in flight, so at most 8,000.
    assert!(duplicates <= 8_000, "{duplicates} duplicates");
}
