use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    process::{Command as Process, Stdio},
    time::{Duration, Instant},
};

use futures::{StreamExt, stream::FuturesOrdered};

use super::*;
use crate::log::{LogHeader, TimestampType};

fn record(topic: &str, partition: Option<i32>, key: Option<&str>, value: &str) -> ProduceRecord {
    ProduceRecord {
        topic: topic.into(),
        partition,
        key: key.map(|key| key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        headers: Vec::new(),
        timestamp: None,
    }
}

async fn send_all(producer: &dyn LogProducer, records: Vec<ProduceRecord>) -> Vec<RecordMetadata> {
    let delivery = producer.send(records).await.unwrap();
    delivery
        .await
        .into_iter()
        .map(|result| result.unwrap())
        .collect()
}

use crate::log::RecordMetadata;

/// Polls until `count` records arrived (or panics after 10 s); returns events and records.
async fn poll_records(
    consumer: &mut dyn LogConsumer,
    count: usize,
) -> (Vec<Rebalance>, Vec<ConsumedRecord>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rebalances = Vec::new();
    let mut records = Vec::new();
    while records.len() < count {
        assert!(
            Instant::now() < deadline,
            "got {} of {count} records",
            records.len()
        );
        let polled = consumer
            .poll(count - records.len(), Duration::from_millis(200))
            .await
            .unwrap();
        rebalances.extend(polled.rebalances);
        records.extend(polled.records);
    }
    (rebalances, records)
}

/// Polls until the consumer owns `count` partitions, reading no records; returns the events.
async fn poll_until_assigned(consumer: &mut dyn LogConsumer, count: usize) -> Vec<Rebalance> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rebalances = Vec::new();
    while consumer.assignment().len() != count {
        assert!(
            Instant::now() < deadline,
            "assignment {:?}",
            consumer.assignment()
        );
        // max 0: only rebalances, so no record is consumed here.
        let polled = consumer.poll(0, Duration::from_millis(50)).await.unwrap();
        assert!(polled.records.is_empty());
        rebalances.extend(polled.rebalances);
    }
    rebalances
}

fn by_partition(records: &[ConsumedRecord]) -> BTreeMap<i32, Vec<(i64, String)>> {
    let mut map: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for record in records {
        map.entry(record.partition).or_default().push((
            record.offset,
            String::from_utf8(record.value.clone().unwrap()).unwrap(),
        ));
    }
    map
}

#[tokio::test]
async fn records_come_back_in_order_with_dense_offsets_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic("events", 3).await.unwrap();
    let producer = log.producer("p").unwrap();

    let mut expected: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for batch in 0..5 {
        let records: Vec<_> = (0..30)
            .map(|i| record("events", Some(i % 3), None, &format!("{batch}-{i}")))
            .collect();
        for record in &records {
            expected
                .entry(record.partition.unwrap())
                .or_default()
                .push(String::from_utf8(record.value.clone().unwrap()).unwrap());
        }
        let metadata = send_all(producer.as_ref(), records).await;
        assert_eq!(metadata.len(), 30);
        assert!(metadata.iter().all(|m| &*m.topic == "events"));
    }
    // A keyed record with a header and a timestamp.
    let mut keyed = record("events", None, Some("21"), "keyed");
    keyed.timestamp = Some(1234);
    keyed.headers = vec![LogHeader {
        key: "h".into(),
        value: None,
    }];
    let metadata = send_all(producer.as_ref(), vec![keyed]).await;
    let keyed_partition = partition_for_key(b"21", 3);
    assert_eq!(metadata[0].partition, keyed_partition);
    assert_eq!(metadata[0].offset, 50);
    assert_eq!(metadata[0].timestamp, Some(1234));
    expected
        .get_mut(&keyed_partition)
        .unwrap()
        .push("keyed".into());

    let mut consumer = log.consumer("g", "c").unwrap();
    consumer.subscribe(&["events".into()]).await.unwrap();
    let (rebalances, records) = poll_records(consumer.as_mut(), 151).await;
    assert_eq!(
        rebalances,
        vec![Rebalance::Assigned(
            (0..3).map(|p| TopicPartition::new("events", p)).collect()
        )]
    );
    for (partition, values) in by_partition(&records) {
        let offsets: Vec<i64> = values.iter().map(|(offset, _)| *offset).collect();
        assert_eq!(offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
        let values: Vec<String> = values.into_iter().map(|(_, value)| value).collect();
        assert_eq!(values, expected[&partition]);
    }
    let keyed = records
        .iter()
        .find(|r| r.value.as_deref() == Some(b"keyed"))
        .unwrap();
    assert_eq!(keyed.key.as_deref(), Some(&b"21"[..]));
    assert_eq!(keyed.timestamp, Some(1234));
    assert_eq!(keyed.timestamp_type, TimestampType::CreateTime);
    assert_eq!(keyed.headers.len(), 1);
    let plain = records
        .iter()
        .find(|r| r.value.as_deref() == Some(b"0-0"))
        .unwrap();
    assert_eq!(plain.timestamp_type, TimestampType::LogAppendTime);
    assert!(plain.timestamp.unwrap() > 1_600_000_000_000);
    // Records read together share one allocation of their topic's name.
    assert!(
        records
            .windows(2)
            .any(|pair| std::sync::Arc::ptr_eq(&pair[0].topic, &pair[1].topic))
    );
}

#[tokio::test]
async fn topics_are_created_idempotently_and_on_first_produce() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert_eq!(log.partition_count("t").await.unwrap(), None);
    log.create_topic("t", 4).await.unwrap();
    log.create_topic("t", 2).await.unwrap();
    log.create_topic("t", 8).await.unwrap();
    assert_eq!(log.partition_count("t").await.unwrap(), Some(4));

    let producer = log.producer("p").unwrap();
    let metadata = send_all(producer.as_ref(), vec![record("auto", None, None, "x")]).await;
    assert_eq!((metadata[0].partition, metadata[0].offset), (0, 0));
    assert_eq!(log.partition_count("auto").await.unwrap(), Some(1));

    // Keyless batches rotate through the partitions, one partition per batch.
    let mut partitions = Vec::new();
    for _ in 0..4 {
        let metadata = send_all(
            producer.as_ref(),
            vec![record("t", None, None, "a"), record("t", None, None, "b")],
        )
        .await;
        assert_eq!(metadata[0].partition, metadata[1].partition);
        partitions.push(metadata[0].partition);
    }
    partitions.sort();
    assert_eq!(partitions, vec![0, 1, 2, 3]);

    let results = producer
        .send(vec![record("t", Some(4), None, "x")])
        .await
        .unwrap()
        .await;
    assert!(matches!(
        results[0],
        Err(LogError::UnknownPartition { partition: 4, .. })
    ));
}

#[tokio::test]
async fn invalid_topic_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    for topic in ["", ".", "..", "has space", "a/b", &"x".repeat(250)] {
        assert!(
            matches!(
                log.create_topic(topic, 1).await,
                Err(LogError::InvalidTopic(_))
            ),
            "{topic:?}"
        );
    }
    let producer = log.producer("p").unwrap();
    let results = producer
        .send(vec![
            record("bad topic", None, None, "x"),
            record("good", None, None, "y"),
        ])
        .await
        .unwrap()
        .await;
    assert!(matches!(results[0], Err(LogError::InvalidTopic(_))));
    assert_eq!(results[1].as_ref().unwrap().offset, 0);
    assert_eq!(log.partition_count("bad topic").await.unwrap(), None);
}

#[tokio::test]
async fn reopening_keeps_records_and_committed_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        log.create_topic("t", 2).await.unwrap();
        let producer = log.producer("p").unwrap();
        let records = (0..10)
            .map(|i| record("t", Some(i % 2), None, &i.to_string()))
            .collect();
        send_all(producer.as_ref(), records).await;
        let mut consumer = log.consumer("g", "c").unwrap();
        consumer
            .commit(&[TopicPartitionOffset {
                topic: "t".into(),
                partition: 1,
                offset: 3,
            }])
            .await
            .unwrap();
        consumer.close().await.unwrap();
    }
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert_eq!(log.partition_count("t").await.unwrap(), Some(2));
    assert_eq!(
        log.committed_offsets("g").await.unwrap(),
        vec![TopicPartitionOffset {
            topic: "t".into(),
            partition: 1,
            offset: 3
        }]
    );
    // Appends continue after the last offset.
    let producer = log.producer("p").unwrap();
    let metadata = send_all(producer.as_ref(), vec![record("t", Some(0), None, "10")]).await;
    assert_eq!(metadata[0].offset, 5);

    let mut consumer = log.consumer("g", "c").unwrap();
    consumer.subscribe(&["t".into()]).await.unwrap();
    // Partition 0 from the start (6 records), partition 1 from the committed offset 3 (2).
    let (_, records) = poll_records(consumer.as_mut(), 8).await;
    let partitions = by_partition(&records);
    assert_eq!(
        partitions[&0],
        vec![
            (0, "0".into()),
            (1, "2".into()),
            (2, "4".into()),
            (3, "6".into()),
            (4, "8".into()),
            (5, "10".into())
        ]
    );
    assert_eq!(partitions[&1], vec![(3, "7".into()), (4, "9".into())]);
}

#[tokio::test]
async fn a_second_open_of_the_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _log = EmbeddedLog::open(dir.path()).unwrap();
    let error = EmbeddedLog::open(dir.path()).err().unwrap();
    assert!(
        matches!(&error, LogError::InUse(in_use) if in_use == dir.path()),
        "{error}"
    );
    assert!(
        error.to_string().contains("is a worker running on it?"),
        "{error}"
    );
}

#[tokio::test]
async fn a_group_of_two_splits_partitions_and_rebalances_when_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic("t", 4).await.unwrap();
    let topics = ["t".to_string()];

    let mut first = log.consumer("g", "c1").unwrap();
    first.subscribe(&topics).await.unwrap();
    poll_until_assigned(first.as_mut(), 4).await;

    let mut second = log.consumer("g", "c2").unwrap();
    second.subscribe(&topics).await.unwrap();
    // The first member reports its lost half as revoked, releases it at its next poll (after
    // it had the chance to commit), and only then does the second member get it.
    let first_events = poll_until_assigned(first.as_mut(), 2).await;
    let polled = second.poll(10, Duration::from_millis(50)).await.unwrap();
    assert!(polled.rebalances.is_empty());
    first.poll(10, Duration::ZERO).await.unwrap();
    let second_events = poll_until_assigned(second.as_mut(), 2).await;
    let half = |partitions: [i32; 2]| {
        partitions
            .iter()
            .map(|&p| TopicPartition::new("t", p))
            .collect::<Vec<_>>()
    };
    assert_eq!(first_events, vec![Rebalance::Revoked(half([1, 3]))]);
    assert_eq!(second_events, vec![Rebalance::Assigned(half([1, 3]))]);
    assert_eq!(first.assignment(), half([0, 2]));

    // Records in every partition reach exactly their owner.
    let producer = log.producer("p").unwrap();
    send_all(
        producer.as_ref(),
        (0..8)
            .map(|i| record("t", Some(i % 4), None, "x"))
            .collect(),
    )
    .await;
    let (_, records) = poll_records(second.as_mut(), 4).await;
    assert!(records.iter().all(|r| r.partition % 2 == 1));
    second
        .commit(&[TopicPartitionOffset {
            topic: "t".into(),
            partition: 1,
            offset: 2,
        }])
        .await
        .unwrap();

    second.close().await.unwrap();
    let events = poll_until_assigned(first.as_mut(), 4).await;
    assert_eq!(events, vec![Rebalance::Assigned(half([1, 3]))]);
    // Partition 1 resumes at the committed offset (nothing left), partition 3 from 0.
    let (_, records) = poll_records(first.as_mut(), 6).await;
    let partitions = by_partition(&records);
    assert_eq!(partitions.get(&1), None);
    assert_eq!(partitions[&3].len(), 2);
    drop(second);
}

#[tokio::test]
async fn seek_pause_and_resume_steer_reading() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic("t", 2).await.unwrap();
    let producer = log.producer("p").unwrap();
    send_all(
        producer.as_ref(),
        (0..10)
            .map(|i| record("t", Some(i % 2), None, &i.to_string()))
            .collect(),
    )
    .await;
    let mut consumer = log.consumer("g", "c").unwrap();
    consumer.subscribe(&["t".into()]).await.unwrap();
    let p0 = TopicPartition::new("t", 0);
    let p1 = TopicPartition::new("t", 1);
    poll_until_assigned(consumer.as_mut(), 2).await;

    consumer.pause(std::slice::from_ref(&p0)).unwrap();
    consumer.seek(&p1, 3).unwrap();
    let polled = consumer
        .poll(100, Duration::from_millis(100))
        .await
        .unwrap();
    let values: Vec<_> = by_partition(&polled.records).into_iter().collect();
    assert_eq!(values, vec![(1, vec![(3, "7".into()), (4, "9".into())])]);
    // Paused and drained: waits out the timeout.
    let polled = consumer.poll(100, Duration::from_millis(50)).await.unwrap();
    assert!(polled.records.is_empty());

    consumer.resume(std::slice::from_ref(&p0)).unwrap();
    let (_, records) = poll_records(consumer.as_mut(), 5).await;
    assert!(records.iter().all(|r| r.partition == 0));

    // A poll waiting for data wakes up when a record is appended.
    let waiter = tokio::spawn(async move {
        let polled = consumer.poll(10, Duration::from_secs(5)).await.unwrap();
        polled.records.len()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    send_all(producer.as_ref(), vec![record("t", Some(1), None, "late")]).await;
    assert_eq!(waiter.await.unwrap(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    let mut other = log.consumer("g2", "c").unwrap();
    assert!(other.seek(&p0, 0).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_producers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic("t", 3).await.unwrap();
    let mut tasks = Vec::new();
    for producer_id in 0..4 {
        let producer = log.producer(&format!("p{producer_id}")).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut deliveries = FuturesOrdered::new();
            for batch in 0..50 {
                let records = (0..20)
                    .map(|i| {
                        record(
                            "t",
                            None,
                            Some(&format!("{producer_id}")),
                            &format!("{producer_id}:{}", batch * 20 + i),
                        )
                    })
                    .collect();
                deliveries.push_back(producer.send(records).await.unwrap());
            }
            let mut count = 0;
            while let Some(results) = deliveries.next().await {
                count += results.into_iter().map(Result::unwrap).count();
            }
            count
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 4000);

    let mut consumer = log.consumer("g", "c").unwrap();
    consumer.subscribe(&["t".into()]).await.unwrap();
    let (_, records) = poll_records(consumer.as_mut(), 4000).await;
    // Per producer (same key, same partition), records are in the order sent.
    let mut next = [0usize; 4];
    for record in &records {
        let value = String::from_utf8(record.value.clone().unwrap()).unwrap();
        let (producer, seq) = value.split_once(':').unwrap();
        let producer: usize = producer.parse().unwrap();
        assert_eq!(seq.parse::<usize>().unwrap(), next[producer]);
        next[producer] += 1;
    }
    assert_eq!(next, [1000; 4]);
}

/// Prints the throughput of 1,000,000 100-byte records in batches of 1,000 with up to 32
/// batches in flight. Asserts nothing about speed (debug builds and shared machines vary).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_throughput_is_reported() {
    const RECORDS: usize = 1_000_000;
    const BATCH: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic("bench", 1).await.unwrap();
    let producer = log.producer("p").unwrap();
    let value = vec![b'x'; 100];
    let started = Instant::now();
    let mut deliveries = FuturesOrdered::new();
    let mut acked = 0;
    for _ in 0..RECORDS / BATCH {
        let records = (0..BATCH)
            .map(|_| ProduceRecord {
                topic: "bench".into(),
                partition: Some(0),
                key: None,
                value: Some(value.clone()),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect();
        deliveries.push_back(producer.send(records).await.unwrap());
        if deliveries.len() >= 32 {
            acked += deliveries.next().await.unwrap().len();
        }
    }
    while let Some(results) = deliveries.next().await {
        acked += results.len();
    }
    let elapsed = started.elapsed();
    assert_eq!(acked, RECORDS);
    assert_eq!(
        log.inner.meta.end_offset(&TopicPartition::new("bench", 0)),
        Some(RECORDS as i64)
    );
    println!(
        "embedded log: {RECORDS} records of 100 bytes in batches of {BATCH}: {:.2} s, {:.0} records/s",
        elapsed.as_secs_f64(),
        RECORDS as f64 / elapsed.as_secs_f64()
    );
}

const CRASH_CHILD_ENV: &str = "EMBEDDED_CRASH_CHILD";

/// Not a test on its own: when `EMBEDDED_CRASH_CHILD` names a directory, appends batches there
/// forever and prints `acked <n>` after each acknowledgement, until killed.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let log = EmbeddedLog::open(std::path::Path::new(&dir)).unwrap();
        log.create_topic("crash", 1).await.unwrap();
        let producer = log.producer("p").unwrap();
        let mut deliveries = FuturesOrdered::new();
        let mut sent = 0u64;
        let mut acked = 0u64;
        let mut stdout = std::io::stdout();
        loop {
            let records = (0..100)
                .map(|_| {
                    sent += 1;
                    ProduceRecord {
                        topic: "crash".into(),
                        partition: Some(0),
                        key: None,
                        value: Some((sent - 1).to_le_bytes().to_vec()),
                        headers: Vec::new(),
                        timestamp: None,
                    }
                })
                .collect();
            deliveries.push_back(producer.send(records).await.unwrap());
            if deliveries.len() >= 4 {
                let results = deliveries.next().await.unwrap();
                acked += results.into_iter().map(Result::unwrap).count() as u64;
                writeln!(stdout, "acked {acked}").unwrap();
                stdout.flush().unwrap();
            }
        }
    });
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Process::new(std::env::current_exe().unwrap())
        .args([
            "log::embedded::tests::crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0u64;
    for line in lines.by_ref() {
        if let Some(count) = line.unwrap().strip_prefix("acked ") {
            acked = count.parse().unwrap();
            if acked >= 20_000 {
                break;
            }
        }
    }
    assert!(acked >= 20_000, "the child stopped early at {acked}");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Acknowledgements printed before the kill count too.
    for line in lines {
        if let Some(count) = line.unwrap().strip_prefix("acked ") {
            acked = count.parse().unwrap();
        }
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let partition = TopicPartition::new("crash", 0);
        let end = log.inner.meta.end_offset(&partition).unwrap();
        assert!(
            end as u64 >= acked,
            "only {end} of {acked} acknowledged records survived"
        );
        let mut records = Vec::new();
        store::read(&log.inner.db, &partition, 0, end, usize::MAX, &mut records).unwrap();
        assert_eq!(records.len() as i64, end);
        for (index, record) in records.iter().enumerate() {
            assert_eq!(record.offset, index as i64);
            let value = u64::from_le_bytes(record.value.as_deref().unwrap().try_into().unwrap());
            assert_eq!(value, index as u64);
        }
        println!("kill -9: {acked} acknowledged, {end} present");
    });
}

#[tokio::test]
async fn reads_start_and_stop_anywhere_inside_stored_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    let producer = log.producer("p").unwrap();
    // Chunks start at 0, 10 and 20; the 5,000-record batch is split at 4,096 records.
    for size in [10, 10, 5000] {
        let records = (0..size)
            .map(|i| record("t", Some(0), None, &i.to_string()))
            .collect();
        send_all(producer.as_ref(), records).await;
    }
    let partition = TopicPartition::new("t", 0);
    let end = 5020;
    for from in [0, 1, 9, 10, 15, 19, 20, 4115, 4116, 4117, 5019, 5020] {
        for max in [1, 7, 30, 10_000] {
            let mut records = Vec::new();
            store::read(&log.inner.db, &partition, from, end, max, &mut records).unwrap();
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            let expected: Vec<i64> = (from..end.min(from + max as i64)).collect();
            assert_eq!(offsets, expected, "from {from}, max {max}");
        }
    }
    drop(producer);
    drop(log);
    // Reopening finds the end after the last chunk.
    let log = EmbeddedLog::open(dir.path()).unwrap();
    assert_eq!(log.inner.meta.end_offset(&partition), Some(end));
}

#[tokio::test]
async fn lag_is_what_remains_to_read_in_the_furthest_behind_partition() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path()).unwrap();
    log.create_topic("t", 2).await.unwrap();
    let producer = log.producer("p").unwrap();
    // 8 records in partition 0, 2 in partition 1.
    send_all(
        producer.as_ref(),
        (0..10)
            .map(|i| record("t", Some(if i < 8 { 0 } else { 1 }), None, &i.to_string()))
            .collect(),
    )
    .await;
    let mut consumer = log.consumer("g", "c").unwrap();
    assert_eq!(consumer.lag(), None, "nothing assigned yet");
    consumer.subscribe(&["t".into()]).await.unwrap();
    poll_until_assigned(consumer.as_mut(), 2).await;
    assert_eq!(consumer.lag(), Some(8));
    consumer.seek(&TopicPartition::new("t", 0), 5).unwrap();
    assert_eq!(consumer.lag(), Some(3));
    poll_records(consumer.as_mut(), 5).await;
    assert_eq!(consumer.lag(), Some(0));
}
