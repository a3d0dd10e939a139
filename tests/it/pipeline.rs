//! file-source → log → file-sink copies files exactly, on both log backends, and both ends
//! resume from committed offsets after a restart.

use std::{sync::Arc, time::Duration};

use rdkafka::mocking::MockCluster;
use wasm_connect::log::{RecordLog, kafka::KafkaLog};
use wasm_connect_tests::{TestWorker, init_logging, lines, wait_until, write_lines};

const LINES: usize = 200_000;

async fn copy_file(worker: &TestWorker) {
    let input = worker.path("input.txt");
    let output = worker.path("output.txt");
    let expected = write_lines(&input, LINES);
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "lines"),
        ])
        .await;
    worker
        .create(&[
            ("name", "sink"),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
            ),
            ("file", &output.display().to_string()),
            ("topics", "lines"),
        ])
        .await;
    wait_until(
        Duration::from_secs(120),
        "the sink to write every line",
        || lines(&output).len() >= LINES,
    )
    .await;
    assert_eq!(lines(&output), expected, "the copy differs from the input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_copy_through_the_embedded_log_is_exact() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    copy_file(&worker).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_copy_through_kafka_is_exact() {
    init_logging();
    let cluster = MockCluster::new(1).expect("mock cluster");
    // One partition keeps the order of the lines, as with Kafka's FileStream connectors.
    // (MockCluster does not implement CreateTopics, so the topic is made on the cluster.)
    cluster.create_topic("lines", 1, 1).expect("topic");
    let log = KafkaLog::new(wasm_connect_tests::mock_kafka_settings(&cluster)).expect("kafka log");
    let log: Arc<dyn RecordLog> = Arc::new(log);
    let worker = TestWorker::with_log(log, &[]).await;
    copy_file(&worker).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_source_resumes_from_its_committed_offset() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    let input = worker.path("input.txt");
    write_lines(&input, 1_000);
    let input_text = input.display().to_string();
    let source = [
        ("name", "source"),
        ("connector.class", "FileStreamSource"),
        ("file", input_text.as_str()),
        ("topic", "lines"),
    ];
    worker.create(&source).await;
    worker.wait_records("source", 1_000).await;
    let dir = worker.stop().await;

    // Append lines while the worker is down; the restarted source must send only those.
    let mut text = std::fs::read_to_string(&input).unwrap();
    for i in 1_000..1_500 {
        text.push_str(&format!("line-{i:06}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let worker = TestWorker::embedded_in(dir, &[]).await;
    worker.create(&source).await;
    worker.wait_records("source", 500).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        worker.records("source").await,
        500,
        "the source re-sent lines it had committed"
    );

    // The log holds each line exactly once, in order.
    let output = worker.path("output.txt");
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.display().to_string()),
            ("topics", "lines"),
        ])
        .await;
    wait_until(Duration::from_secs(30), "1500 lines copied", || {
        lines(&output).len() >= 1_500
    })
    .await;
    let expected: Vec<String> = (0..1_500).map(|i| format!("line-{i:06}")).collect();
    assert_eq!(lines(&output), expected);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sink_resumes_from_its_committed_consumer_offsets() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    let input = worker.path("input.txt");
    let output = worker.path("output.txt");
    write_lines(&input, 2_000);
    let input = input.display().to_string();
    let output_text = output.display().to_string();
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input),
            ("topic", "lines"),
        ])
        .await;
    let sink = [
        ("name", "sink"),
        ("connector.class", "FileStreamSink"),
        ("file", output_text.as_str()),
        ("topics", "lines"),
    ];
    worker.create(&sink).await;
    wait_until(Duration::from_secs(30), "2000 lines copied", || {
        lines(&output).len() >= 2_000
    })
    .await;
    // A graceful stop commits the sink's consumer offsets.
    let dir = worker.stop().await;

    let worker = TestWorker::embedded_in(dir, &[]).await;
    worker.create(&sink).await;
    worker.wait_running("sink", 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        worker.records("sink").await,
        0,
        "the sink re-read records it had committed"
    );
    assert_eq!(lines(&output).len(), 2_000);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_with_topics_regex_reads_every_matching_topic() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    for topic in ["re-a", "re-b", "other"] {
        worker
            .create(&[
                ("name", topic),
                ("connector.class", "TestSource"),
                ("topic", topic),
                ("count", "10"),
                ("batch.size", "10"),
            ])
            .await;
        worker.wait_records(topic, 10).await;
    }
    let output = worker.path("out.txt");
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.display().to_string()),
            ("topics.regex", "re-.*"),
        ])
        .await;
    worker.wait_records("sink", 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        lines(&output).len(),
        20,
        "only the two matching topics are read"
    );
    worker.stop().await;
}

/// Writes `per_partition` records to each of partitions 0 and 1 of `topic`.
async fn produce_two_partitions(worker: &TestWorker, topic: &str, per_partition: usize) {
    let log = worker.herder.services().log.clone();
    let producer = log.producer("ordered-producer").expect("producer");
    for partition in 0..2 {
        let records = (0..per_partition)
            .map(|i| wasm_connect::log::ProduceRecord {
                topic: topic.into(),
                partition: Some(partition),
                key: None,
                value: Some(format!("{partition}-{i}").into_bytes()),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect();
        let outcomes = producer.send(records).await.expect("send").await;
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    }
}

/// A sink that rewinds and pauses mid-stream (test-sink's `strict-order`, which fails on a
/// gap, a repeat or a record of a paused partition) gets every record exactly in order,
/// although the host polls the next batch while it puts one: what was polled ahead of a
/// seek or pause is dropped and read again.
async fn rewinds_and_pauses_keep_every_partition_in_order(worker: &TestWorker) {
    const PER_PARTITION: usize = 3_000;
    produce_two_partitions(worker, "ordered", PER_PARTITION).await;
    worker
        .create(&[
            ("name", "strict"),
            ("connector.class", "TestSink"),
            ("mode", "strict-order"),
            ("topics", "ordered"),
        ])
        .await;
    let start = std::time::Instant::now();
    loop {
        let status = worker.herder.status("strict").expect("status");
        if let Some(task) = status.tasks.get(&0)
            && let Some(trace) = &task.trace
        {
            panic!("the sink failed: {trace}");
        }
        if let Ok(wasm_connect::coordinator::ConnectorOffsets::Sink(offsets)) =
            worker.herder.offsets("strict").await
            && offsets.len() == 2
            && offsets
                .iter()
                .all(|(_, offset)| *offset == PER_PARTITION as i64)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not every record was committed in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Put: every record once, and those of the first batch again (the rewind).
    let put = worker.records("strict").await;
    assert!(put > 2 * PER_PARTITION as u64, "put {put}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewinds_and_pauses_keep_order_on_the_embedded_log() {
    init_logging();
    let worker = TestWorker::embedded(&[("offset.flush.interval.ms", "200")]).await;
    let log = worker.herder.services().log.clone();
    log.create_topic("ordered", 2).await.expect("topic");
    rewinds_and_pauses_keep_every_partition_in_order(&worker).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewinds_and_pauses_keep_order_on_kafka() {
    init_logging();
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("ordered", 2, 1).expect("topic");
    let log = KafkaLog::new(wasm_connect_tests::mock_kafka_settings(&cluster)).expect("kafka log");
    let log: Arc<dyn RecordLog> = Arc::new(log);
    let worker = TestWorker::with_log(log, &[("offset.flush.interval.ms", "200")]).await;
    rewinds_and_pauses_keep_every_partition_in_order(&worker).await;
    worker.stop().await;
}
