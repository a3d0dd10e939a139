//! Distributed mode: several `wasm-connect distributed` processes on one librdkafka
//! MockCluster share the connectors; configs, offsets and statuses live in its topics.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use hyper::StatusCode;
use serde_json::{Value, json};
use wasm_connect_tests::{
    child::ChildWorker,
    distributed::{
        Kafka, cluster_view, datagen, eventually, leader_index, placement, ready, shares, worker_id,
    },
};

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
    internal_topics_read_back_with_kcat(&kafka, &names);
}

/// The internal topics, read back with kcat, hold Kafka Connect's keys and values, each
/// record on the partition Java's producer would put it on. Without kcat installed (`.ci/run`
/// installs it) the same checks read the topics with a plain consumer, and say so.
fn internal_topics_read_back_with_kcat(kafka: &Kafka, names: &[String]) {
    let have_kcat = std::process::Command::new("kcat")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    if !have_kcat {
        eprintln!(
            "kcat is not installed (apt-get install kcat): reading the internal topics with a plain consumer instead"
        );
    }
    // (key, value, partition) of every record.
    let kcat = |topic: &str, partitions: i32| -> Vec<(String, String, i32)> {
        if !have_kcat {
            return read_topic_partitions(kafka, topic, partitions)
                .into_iter()
                .map(|(key, value, partition)| (key, value.unwrap_or_default(), partition))
                .collect();
        }
        let output = std::process::Command::new("kcat")
            .args(["-b", &kafka.cluster.bootstrap_servers(), "-C", "-t", topic])
            .args(["-o", "beginning", "-e", "-q", "-f", "%k\t%p\t%s\n"])
            .output()
            .expect("run kcat");
        assert!(
            output.status.success(),
            "kcat: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let (key, rest) = line.split_once('\t')?;
                let (partition, value) = rest.split_once('\t')?;
                Some((key.to_owned(), value.to_owned(), partition.parse().ok()?))
            })
            .collect()
    };
    let group = &kafka.group;
    let configs = kcat(&format!("{group}-configs"), 1);
    let value = |key: &str| -> Value {
        let (_, value, _) = configs
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .unwrap_or_else(|| panic!("no {key} in the config topic: {configs:?}"));
        serde_json::from_str(value).expect("a JSON value")
    };
    for name in names {
        let connector = value(&format!("connector-{name}"));
        assert_eq!(
            connector["properties"]["connector.class"], "DatagenSource",
            "{connector}"
        );
        assert_eq!(connector["properties"]["name"], name.as_str());
        assert_eq!(value(&format!("commit-{name}")), json!({"tasks": 3}));
        for task in 0..3 {
            let config = value(&format!("task-{name}-{task}"));
            assert_eq!(
                config["properties"]["task.id"],
                task.to_string(),
                "{config}"
            );
        }
        assert_eq!(
            value(&format!("target-state-{name}")),
            json!({"state": "STARTED", "state.v2": "STARTED"})
        );
    }
    let statuses = kcat(&format!("{group}-status"), 5);
    let status = statuses
        .iter()
        .rev()
        .find(|(key, _, _)| *key == format!("status-task-{}-0", names[0]))
        .map(|(_, value, _)| serde_json::from_str::<Value>(value).unwrap())
        .expect("a task status");
    assert_eq!(status["state"], "RUNNING");
    assert!(
        status["worker_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("127.0.0.1:"))
    );
    assert!(status["generation"].as_i64().is_some());
    assert!(
        statuses
            .iter()
            .any(|(key, _, _)| *key == format!("status-connector-{}", names[0])),
        "connector statuses"
    );
    // Offsets: Kafka Connect's key, ["<connector>",{<partition>}], and the offset object,
    // placed where Java's producer places it (murmur2 of the key).
    let offsets = kcat(&format!("{group}-offsets"), 5);
    for (key, _, partition) in &offsets {
        assert_eq!(
            *partition,
            wasm_connect::log::embedded::partition_for_key(key.as_bytes(), 5),
            "{key}"
        );
    }
    let (key, value, _) = offsets
        .iter()
        .find(|(key, _, _)| key.starts_with(&format!("[\"{}\",", names[0])))
        .expect("an offset of the first connector");
    let key: Value = serde_json::from_str(key).unwrap();
    assert_eq!(key[0], names[0].as_str());
    assert!(key[1]["task"].is_number(), "{key}");
    assert!(
        serde_json::from_str::<Value>(value).unwrap()["seq"].is_number(),
        "{value}"
    );
}

/// Prints every worker's log when `WASM_CONNECT_TEST_LOGS` is set (to study timings).
fn dump_logs(workers: &[ChildWorker]) {
    if std::env::var_os("WASM_CONNECT_TEST_LOGS").is_some() {
        for worker in workers {
            eprintln!("==== {}\n{}", worker_id(worker), worker.log_text());
        }
    }
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
        workers[1].create(name, config).await;
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
    // The restarted tasks resumed from committed offsets: duplicates are what was copied after
    // the last offset flush (offset.flush.interval.ms=100, at 25,000 lines/s) on the source's
    // side and, when the sink ran on the killed worker too, on the sink's; about 3,300 each
    // with the flush in flight, and up to 10,800 seen on a loaded 2-core CI machine, where a
    // flush can lag by a few hundred milliseconds. Without committed offsets a task would
    // start over and repeat at least the 30,000 lines copied before the kill.
    assert!(duplicates <= 15_000, "{duplicates} duplicates");
}

/// Every record of `topic` on `kafka` (all partitions, partition by partition), as (key,
/// value) text.
fn read_topic(kafka: &Kafka, topic: &str, partitions: i32) -> Vec<(String, Option<String>)> {
    read_topic_partitions(kafka, topic, partitions)
        .into_iter()
        .map(|(key, value, _)| (key, value))
        .collect()
}

/// [`read_topic`] with each record's partition.
fn read_topic_partitions(
    kafka: &Kafka,
    topic: &str,
    partitions: i32,
) -> Vec<(String, Option<String>, i32)> {
    use rdkafka::{
        ClientConfig, Message as _, Offset, TopicPartitionList,
        consumer::{BaseConsumer, Consumer as _},
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.cluster.bootstrap_servers())
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut records = Vec::new();
    let mut ended = 0;
    let start = Instant::now();
    while ended < partitions && start.elapsed() < Duration::from_secs(30) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => records.push((
                String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                message
                    .payload()
                    .map(|value| String::from_utf8_lossy(value).into_owned()),
                message.partition(),
            )),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => ended += 1,
            _ => {}
        }
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_takes_over_from_a_killed_one() {
    let kafka = Kafka::new("leader");
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let mut workers = [a, b, c];
    let leader = leader_index(&workers, &workers[0]).await;
    let old = worker_id(&workers[leader]);
    workers[leader].kill();
    let survivor = (leader + 1) % 3;
    let killed = Instant::now();
    eventually(
        Duration::from_secs(60),
        "another worker leads",
        async || {
            let view = cluster_view(&workers[survivor]).await;
            match view["leader"].as_str() {
                Some(id) if id != old && view["workers"].as_array().map(Vec::len) == Some(2) => {
                    Ok(())
                }
                _ => Err(view.to_string()),
            }
        },
    )
    .await;
    println!("leader failover: {} ms", killed.elapsed().as_millis());
    workers[survivor].create("after", datagen("after", 2)).await;
    let other = (leader + 2) % 3;
    let placed = eventually(
        Duration::from_secs(60),
        "the new connector running",
        async || placement(&workers[other], &["after".to_owned()], 2).await,
    )
    .await;
    assert!(
        !placed["after"].1.contains(&old),
        "nothing runs on the dead leader"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_moves_no_task_and_loses_nothing() {
    const LINES: usize = 20_000;
    let mut kafka = Kafka::new("rolling");
    // Long enough for a worker to restart within it (the mock cluster makes a start take
    // a few seconds), so its work waits for it.
    kafka.session_timeout_ms = 25_000;
    kafka.cluster.create_topic("lines", 2, 1).unwrap();
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let mut workers = [a, b, c];
    let files = workers[0].files();
    std::fs::create_dir_all(&files).unwrap();
    let (input, output) = (files.join("input.txt"), files.join("output.txt"));
    std::fs::write(&input, "").unwrap();
    let mut names = Vec::new();
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
        workers[0].create(name, config).await;
        names.push(name.to_owned());
    }
    let gens: Vec<String> = (0..2).map(|i| format!("gen-{i}")).collect();
    for name in &gens {
        workers[0].create(name, datagen(name, 2)).await;
    }
    let before_files = eventually(
        Duration::from_secs(60),
        "the pipeline running",
        async || placement(&workers[0], &names, 1).await,
    )
    .await;
    let before_gens = eventually(
        Duration::from_secs(60),
        "the generators running",
        async || placement(&workers[0], &gens, 2).await,
    )
    .await;
    let feeder = feed(input.clone(), LINES, 30.0);
    for index in 0..3 {
        workers[index].stop();
        workers[index].restart().await;
        ready(&workers[index]).await;
        let observer = (index + 1) % 3;
        let after = eventually(
            Duration::from_secs(60),
            "everything running again",
            async || {
                let files = placement(&workers[observer], &names, 1).await?;
                let gens = placement(&workers[observer], &gens, 2).await?;
                Ok::<_, String>((files, gens))
            },
        )
        .await;
        assert_eq!(
            after,
            (before_files.clone(), before_gens.clone()),
            "no task moved (worker {index} restarted)"
        );
    }
    feeder.join().unwrap();
    let copied = eventually(Duration::from_secs(60), "every line copied", async || {
        let lines = read_lines(&output);
        let unique: std::collections::BTreeSet<String> = lines.into_iter().collect();
        if unique.len() >= LINES {
            Ok(unique)
        } else {
            Err(format!("{} of {LINES}", unique.len()))
        }
    })
    .await;
    assert_eq!(copied.len(), LINES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_past_its_session_fences_itself() {
    let kafka = Kafka::new("zombie");
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let workers = [a, b, c];
    let gens: Vec<String> = (0..3).map(|i| format!("gen-{i}")).collect();
    for name in &gens {
        workers[0].create(name, datagen(name, 2)).await;
    }
    eventually(
        Duration::from_secs(60),
        "the generators running on every worker",
        async || {
            let placed = placement(&workers[0], &gens, 2).await?;
            if shares(&placed).len() == 3 {
                Ok(())
            } else {
                Err(format!("{placed:?}"))
            }
        },
    )
    .await;
    // Stop a worker that does not lead (its tasks then move after one session timeout).
    let leader = leader_index(&workers, &workers[0]).await;
    let zombie = (leader + 1) % 3;
    let zombie_id = worker_id(&workers[zombie]);
    let observer = (leader + 2) % 3;
    workers[zombie].signal("STOP");
    let stopped = Instant::now();
    eventually(
        Duration::from_secs(60),
        "its tasks running elsewhere",
        async || {
            let placed = placement(&workers[observer], &gens, 2).await?;
            let on_zombie = placed
                .values()
                .any(|(connector, tasks)| *connector == zombie_id || tasks.contains(&zombie_id));
            if on_zombie {
                Err(format!("{placed:?}"))
            } else {
                Ok(())
            }
        },
    )
    .await;
    println!(
        "zombie: its work moved {} ms after SIGSTOP",
        stopped.elapsed().as_millis()
    );
    dump_logs(&workers);
    workers[zombie].signal("CONT");
    eventually(
        Duration::from_secs(30),
        "the resumed worker fences itself and rejoins",
        async || {
            let log = workers[zombie].log_text();
            if log.contains("could not renew its membership in time") {
                Ok(())
            } else {
                Err("no fencing in its log yet".to_owned())
            }
        },
    )
    .await;
    // The cluster settles with the worker back, everything running once.
    eventually(
        Duration::from_secs(60),
        "the generators running on three workers again",
        async || {
            let placed = placement(&workers[observer], &gens, 2).await?;
            if shares(&placed).len() == 3 {
                Ok(())
            } else {
                Err(format!("{placed:?}"))
            }
        },
    )
    .await;
    // No state the zombie wrote after it lost its work replaced a newer worker's: in the
    // status topic, a RUNNING task is never followed by the zombie's RUNNING of an older
    // generation.
    let mut latest: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for (key, value) in read_topic(&kafka, "zombie-status", 5) {
        let Some(value) = value.and_then(|v| serde_json::from_str::<Value>(&v).ok()) else {
            continue;
        };
        if !key.starts_with("status-task-") || value["state"] != "RUNNING" {
            continue;
        }
        let worker = value["worker_id"].as_str().unwrap_or_default().to_owned();
        let generation = value["generation"].as_i64().unwrap_or(-1);
        if let Some((previous, seen)) = latest.get(&key)
            && *previous != worker
        {
            assert!(
                generation > *seen,
                "{key}: {worker} reported RUNNING at generation {generation} after {previous} at {seen}"
            );
        }
        latest.insert(key, (worker, generation));
    }
    assert!(!latest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_worker_takes_its_share_and_only_moved_tasks_restart() {
    let kafka = Kafka::new("join");
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let mut workers = vec![a, b, c];
    let gens: Vec<String> = (0..4).map(|i| format!("gen-{i}")).collect();
    for name in &gens {
        workers[0].create(name, datagen(name, 3)).await;
    }
    let before = eventually(
        Duration::from_secs(60),
        "12 tasks on three workers",
        async || {
            let placed = placement(&workers[0], &gens, 3).await?;
            if shares(&placed).len() == 3 {
                Ok(placed)
            } else {
                Err(format!("{placed:?}"))
            }
        },
    )
    .await;
    // Let the status topic settle, then count each task's status records.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = |records: &[(String, Option<String>)]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (key, _) in records {
            if key.starts_with("status-task-") {
                *counts.entry(key.clone()).or_default() += 1;
            }
        }
        counts
    };
    let records_before = count(&read_topic(&kafka, "join-status", 5));
    workers.push(kafka.worker().await);
    let newcomer = worker_id(&workers[3]);
    let after = eventually(
        Duration::from_secs(60),
        "the fourth worker's share",
        async || {
            let placed = placement(&workers[0], &gens, 3).await?;
            let shares = shares(&placed);
            let balanced = shares.len() == 4 && shares.values().all(|(c, t)| *c == 1 && *t == 3);
            if balanced {
                Ok(placed)
            } else {
                Err(format!("{shares:?}"))
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records_after = count(&read_topic(&kafka, "join-status", 5));
    for name in &gens {
        for task in 0..3 {
            let key = format!("status-task-{name}-{task}");
            let moved = after[name].1[task] != before[name].1[task];
            let restarted = records_after.get(&key) != records_before.get(&key);
            assert_eq!(
                moved, restarted,
                "{key}: moved {moved}, restarted {restarted}"
            );
            if moved {
                assert_eq!(after[name].1[task], newcomer, "{key} moved to the newcomer");
            }
        }
    }
}

/// The connector's state and its tasks' states, as `worker` reports them.
async fn states(worker: &ChildWorker, name: &str) -> (String, Vec<String>) {
    let body = worker
        .rest
        .get(&format!("/connectors/{name}/status"))
        .await
        .body;
    (
        body["connector"]["state"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
        body["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|task| task["state"].as_str().unwrap_or_default().to_owned())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_restart_stop_offsets_and_delete_reach_every_worker() {
    let kafka = Kafka::new("control");
    let (a, b) = tokio::join!(kafka.worker(), kafka.worker());
    let workers = [a, b];
    workers[0].create("gen", datagen("gen", 4)).await;
    let names = ["gen".to_owned()];
    eventually(
        Duration::from_secs(60),
        "four tasks on two workers",
        async || {
            let placed = placement(&workers[1], &names, 4).await?;
            if shares(&placed).len() == 2 {
                Ok(())
            } else {
                Err(format!("{placed:?}"))
            }
        },
    )
    .await;
    let expect = async |state: &str, tasks: usize| {
        for worker in &workers {
            eventually(
                Duration::from_secs(30),
                &format!("{state} everywhere"),
                async || {
                    let (connector, task_states) = states(worker, "gen").await;
                    if connector == state
                        && task_states.len() == tasks
                        && task_states.iter().all(|s| s == state)
                    {
                        Ok(())
                    } else {
                        Err(format!("{connector} {task_states:?}"))
                    }
                },
            )
            .await;
        }
    };
    // A log level set for the cluster (KIP-976) reaches the other worker.
    let reply = workers[0]
        .rest
        .put_json(
            "/admin/loggers/wasm_connect::worker?scope=cluster",
            &json!({"level": "DEBUG"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    eventually(
        Duration::from_secs(30),
        "the level on the other worker",
        async || {
            let level = workers[1]
                .rest
                .get("/admin/loggers/wasm_connect::worker")
                .await
                .body;
            if level["level"] == "DEBUG" {
                Ok(())
            } else {
                Err(level.to_string())
            }
        },
    )
    .await;
    // Through worker 2 (forwarded to the leader when it does not lead).
    assert_eq!(
        workers[1].rest.put("/connectors/gen/pause").await.status,
        StatusCode::ACCEPTED
    );
    expect("PAUSED", 4).await;
    assert_eq!(
        workers[1].rest.put("/connectors/gen/resume").await.status,
        StatusCode::ACCEPTED
    );
    expect("RUNNING", 4).await;
    // A restart of every task reaches the workers that run them: each reports RUNNING again
    // after RESTARTING (new status records in the status topic).
    // RESTARTING records per task so far.
    let restarting = || {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (key, value) in read_topic(&kafka, "control-status", 5) {
            if key.starts_with("status-task-gen-")
                && value
                    .as_deref()
                    .is_some_and(|v| v.contains("\"RESTARTING\""))
            {
                *counts.entry(key).or_default() += 1;
            }
        }
        counts
    };
    let before = restarting();
    let reply = workers[0]
        .rest
        .post("/connectors/gen/restart?includeTasks=true", &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    eventually(
        Duration::from_secs(30),
        "every task restarted",
        async || {
            let after = restarting();
            let restarted: Vec<&String> = after
                .iter()
                .filter(|(key, count)| before.get(*key).is_none_or(|was| *count > was))
                .map(|(key, _)| key)
                .collect();
            if restarted.len() == 4 {
                Ok(())
            } else {
                Err(format!("{restarted:?}"))
            }
        },
    )
    .await;
    expect("RUNNING", 4).await;
    // Stopped: no tasks anywhere, and its source offsets readable (KIP-875).
    assert_eq!(
        workers[1].rest.put("/connectors/gen/stop").await.status,
        StatusCode::NO_CONTENT
    );
    expect("STOPPED", 0).await;
    let offsets = eventually(
        Duration::from_secs(30),
        "four partitions' offsets",
        async || {
            let body = workers[1].rest.get("/connectors/gen/offsets").await.body;
            let count = body["offsets"].as_array().map_or(0, Vec::len);
            if count == 4 {
                Ok(body)
            } else {
                Err(body.to_string())
            }
        },
    )
    .await;
    assert!(
        offsets["offsets"][0]["offset"]["seq"].is_number(),
        "{offsets}"
    );
    // Deleted through one worker, gone from both.
    assert_eq!(
        workers[1].rest.delete("/connectors/gen").await.status,
        StatusCode::NO_CONTENT
    );
    for worker in &workers {
        eventually(Duration::from_secs(30), "gone", async || {
            let reply = worker.rest.get("/connectors/gen").await;
            if reply.status == StatusCode::NOT_FOUND {
                Ok(())
            } else {
                Err(reply.status.to_string())
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_uploaded_to_one_worker_runs_on_another_after_it_died() {
    let kafka = Kafka::new("plugins");
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let mut workers = [a, b, c];
    let component = std::fs::read(wasm_connect_tests::component("test_source")).unwrap();
    let reply = workers[0].rest.upload(component).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let listed = |worker: &ChildWorker| {
        let rest = worker.rest.clone();
        async move {
            let plugins = rest.get("/connector-plugins").await.body;
            plugins
                .as_array()
                .is_some_and(|list| list.iter().any(|p| p["class"] == "TestSource"))
        }
    };
    for worker in &workers[1..] {
        eventually(
            Duration::from_secs(60),
            "the upload on every worker",
            async || {
                if listed(worker).await {
                    Ok(())
                } else {
                    Err("not listed yet".to_owned())
                }
            },
        )
        .await;
    }
    // The worker that received it is gone; the others still have it and run it.
    workers[0].kill();
    let dead = worker_id(&workers[0]);
    let reply = workers[2]
        .rest
        .post(
            "/connectors",
            &json!({"name": "uploaded", "config": {
                "connector.class": "TestSource", "tasks.max": "2", "modes": "ok,ok",
                "topic": "uploaded",
            }}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let placed = eventually(
        Duration::from_secs(90),
        "the uploaded connector running",
        async || placement(&workers[1], &["uploaded".to_owned()], 2).await,
    )
    .await;
    let (connector, tasks) = &placed["uploaded"];
    assert!(*connector != dead && !tasks.contains(&dead), "{placed:?}");
    // Deleting a plugin a connector uses is refused, on any worker.
    let reply = workers[1]
        .rest
        .delete("/connector-plugins/TestSource")
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    // Once unused, a deletion through one worker removes it from the others.
    let reply = workers[1].rest.delete("/connectors/uploaded").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    eventually(Duration::from_secs(30), "the connector gone", async || {
        let reply = workers[2].rest.get("/connectors/uploaded").await;
        if reply.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(reply.status.to_string())
        }
    })
    .await;
    // Refused (409) until every worker has stopped the connector's instances.
    eventually(Duration::from_secs(30), "the plugin deleted", async || {
        let reply = workers[1]
            .rest
            .delete("/connector-plugins/TestSource")
            .await;
        if reply.status == StatusCode::NO_CONTENT {
            Ok(())
        } else {
            Err(format!("{}: {}", reply.status, reply.body))
        }
    })
    .await;
    eventually(
        Duration::from_secs(30),
        "the plugin gone from the other worker",
        async || {
            if listed(&workers[2]).await {
                Err("still listed".to_owned())
            } else {
                Ok(())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_topic_of_several_partitions_is_refused_with_the_fix() {
    use wasm_connect::storage::topic::{TopicSpec, ensure};
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("bad-configs", 3, 1).unwrap();
    let settings = wasm_connect_tests::mock_kafka_settings(&cluster);
    let spec = TopicSpec {
        name: "bad-configs".into(),
        key: "config.storage.topic",
        partitions: 1,
        single_partition: true,
        replication_factor: 1,
        configs: Vec::new(),
    };
    let error = ensure(&settings, &spec).await.unwrap_err().to_string();
    for part in [
        "bad-configs",
        "3 partitions",
        "exactly 1",
        "config.storage.topic",
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_created_through_one_worker_signs_in_on_another() {
    let kafka = Kafka::new("tenants");
    let hash = wasm_connect::tenancy::hash_password("operator-password-1");
    // Every worker seals tenants' secrets with the same key.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("secrets.key").display().to_string();
    let settings = [
        ("tenancy.enabled", "true"),
        ("tenancy.operator.password.hash", hash.as_str()),
        ("tenancy.secrets.key.file", key_file.as_str()),
    ];
    let (a, b) = tokio::join!(kafka.worker_with(&settings), kafka.worker_with(&settings));
    let operator = a.rest.with_basic("operator", "operator-password-1");
    let created = operator
        .post(
            "/admin/tenants",
            &json!({"name": "acme", "password": "acme-password-1"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let acme = b.rest.with_basic("acme", "acme-password-1");
    eventually(
        Duration::from_secs(30),
        "the tenant known to the other worker",
        async || {
            let reply = acme.get("/connectors").await;
            if reply.status == StatusCode::OK {
                Ok(())
            } else {
                Err(reply.status.to_string())
            }
        },
    )
    .await;
    // Its connector, created through that worker, runs somewhere in the cluster as acme's.
    let reply = acme
        .post(
            "/connectors",
            &json!({"name": "gen", "config": datagen("acme.gen", 2)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    eventually(
        Duration::from_secs(60),
        "acme's connector running",
        async || {
            let status = acme.get("/connectors/gen/status").await.body;
            let tasks = status["tasks"].as_array().map_or(0, Vec::len);
            if status["connector"]["state"] == "RUNNING" && tasks == 2 {
                Ok(())
            } else {
                Err(status.to_string())
            }
        },
    )
    .await;
    let reply = acme.delete("/connectors/gen").await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
    eventually(Duration::from_secs(30), "the connector gone", async || {
        let reply = acme.get("/connectors/gen").await;
        if reply.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(reply.status.to_string())
        }
    })
    .await;
    // Deleted through the first worker: the other one no longer lets it in.
    let reply = operator.delete("/admin/tenants/acme").await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
    eventually(
        Duration::from_secs(30),
        "the tenant gone from the other worker",
        async || {
            let reply = acme.get("/connectors").await;
            if reply.status == StatusCode::UNAUTHORIZED {
                Ok(())
            } else {
                Err(reply.status.to_string())
            }
        },
    )
    .await;
}
