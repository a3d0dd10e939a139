//! Single message transforms in running pipelines, and Kafka Connect's error handling: a
//! poison record under `errors.tolerance=none` (the task fails with a trace) and `all` (the
//! record goes to the dead letter queue with its context headers, the rest is delivered), the
//! same for source records that fail a transform or a converter, and redelivery with backoff
//! to a sink whose backend fails for a while.

use std::time::{Duration, Instant};

use wasm_connect::coordinator::State;
use wasm_connect_tests::{TestWorker, header, init_logging, lines, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transforms_and_predicates_apply_on_both_sides_of_the_log() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    let input = worker.path("input.txt");
    let output = worker.path("output.txt");
    std::fs::write(&input, "one\ntwo\nthree\n").unwrap();
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "FileStreamSource"),
            ("file", &input.display().to_string()),
            ("topic", "raw"),
            ("transforms", "route,origin"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "raw"),
            ("transforms.route.replacement", "routed"),
            ("transforms.origin.type", "InsertHeader"),
            ("transforms.origin.header", "origin"),
            ("transforms.origin.value.literal", "file"),
        ])
        .await;
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.display().to_string()),
            ("topics", "routed"),
            // Drops records without the header: none here, as the source added it.
            ("transforms", "needOrigin"),
            (
                "transforms.needOrigin.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.needOrigin.predicate", "hasOrigin"),
            ("transforms.needOrigin.negate", "true"),
            ("predicates", "hasOrigin"),
            ("predicates.hasOrigin.type", "HasHeaderKey"),
            ("predicates.hasOrigin.name", "origin"),
        ])
        .await;
    wait_until(Duration::from_secs(30), "the sink to write 3 lines", || {
        lines(&output).len() == 3
    })
    .await;
    assert_eq!(lines(&output), ["one", "two", "three"]);
    let routed = worker.read_topic("routed", 3).await;
    assert_eq!(header(&routed[0], "origin"), "file");
    let partitions = worker.herder.services().log.partition_count("raw").await;
    assert_eq!(partitions.unwrap(), None, "nothing was written to `raw`");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_drops_records_on_the_sink_side() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    let output = worker.path("output.txt");
    worker.produce("in", &["\"a\"", "\"b\""]).await;
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &output.display().to_string()),
            ("topics", "in"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
            ("transforms", "dropAll"),
            ("transforms.dropAll.type", "Filter"),
        ])
        .await;
    // A Filter without a predicate drops every record; the offsets still move on.
    let log = worker.herder.services().log.clone();
    let start = Instant::now();
    loop {
        let committed = log.committed_offsets("connect-sink").await.unwrap();
        if committed
            .iter()
            .any(|o| o.topic == "in" && o.partition == 0 && o.offset == 2)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the sink committed only {committed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(lines(&output).is_empty(), "{:?}", lines(&output));
    worker.stop().await;
}

async fn start_poison_pipeline(worker: &TestWorker, tolerance: &str) {
    worker
        .produce("events", &["{\"n\":1}", "not json", "{\"n\":3}"])
        .await;
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "FileStreamSink"),
            ("file", &worker.path("out.txt").display().to_string()),
            ("topics", "events"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
            ("errors.tolerance", tolerance),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_fails_the_task_under_tolerance_none() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_poison_pipeline(&worker, "none").await;
    wait_until(Duration::from_secs(30), "the sink task to fail", || {
        worker
            .herder
            .status("sink")
            .is_some_and(|s| s.tasks.get(&0).is_some_and(|t| t.state == State::Failed))
    })
    .await;
    let status = worker.herder.status("sink").unwrap();
    let trace = status.tasks[&0].trace.clone().unwrap_or_default();
    assert!(trace.contains("Tolerance exceeded"), "{trace}");
    assert!(trace.contains("VALUE_CONVERTER"), "{trace}");
    assert!(trace.contains("events-0@1"), "names the record: {trace}");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_goes_to_the_dead_letter_queue_under_tolerance_all() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_poison_pipeline(&worker, "all").await;
    worker.wait_records("sink", 2).await;
    let out = worker.path("out.txt");
    // The file sink writes at its next flush.
    wait_until(
        Duration::from_secs(30),
        "the two good records in the file",
        || lines(&out).len() == 2,
    )
    .await;

    let dlq = worker.read_topic("dlq", 1).await;
    let poison = &dlq[0];
    assert_eq!(
        poison.value.as_deref(),
        Some(&b"not json"[..]),
        "original bytes"
    );
    assert_eq!(header(poison, "__connect.errors.topic"), "events");
    assert_eq!(header(poison, "__connect.errors.partition"), "0");
    assert_eq!(header(poison, "__connect.errors.offset"), "1");
    assert_eq!(header(poison, "__connect.errors.stage"), "VALUE_CONVERTER");
    assert_eq!(
        header(poison, "__connect.errors.class.name"),
        "org.apache.kafka.connect.json.JsonConverter"
    );
    assert_eq!(
        header(poison, "__connect.errors.exception.class.name"),
        "org.apache.kafka.connect.errors.DataException"
    );
    assert_eq!(
        worker.herder.status("sink").unwrap().tasks[&0].state,
        State::Running
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transiently_failing_sink_gets_the_batch_again_after_a_backoff() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    worker.produce("in", &["\"a\"", "\"b\"", "\"c\""]).await;
    let start = Instant::now();
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "TestSink"),
            ("mode", "flaky"),
            ("topics", "in"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
        ])
        .await;
    worker.wait_records("sink", 3).await;
    // Three retriable failures, each followed by the default 500 ms redelivery backoff.
    assert!(
        start.elapsed() >= Duration::from_millis(1_500),
        "redelivered after {:?}",
        start.elapsed()
    );
    // Nothing is lost or delivered twice; the task never failed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(worker.records("sink").await, 3);
    assert_eq!(
        worker.herder.status("sink").unwrap().tasks[&0].state,
        State::Running
    );
    worker.stop().await;
}

/// A file source whose records fail on the way to the log: `x` and `y` do not cast to int32,
/// and `reject` runs every record into the byte-array converter, which takes no strings.
async fn start_failing_sources(worker: &TestWorker, tolerance: &str) {
    let input = worker.path("numbers.txt");
    std::fs::write(&input, "1\nx\n3\ny\n").unwrap();
    let input = input.display().to_string();
    worker
        .create(&[
            ("name", "cast"),
            ("connector.class", "FileStreamSource"),
            ("file", &input),
            ("topic", "numbers"),
            ("transforms", "cast"),
            (
                "transforms.cast.type",
                "org.apache.kafka.connect.transforms.Cast$Value",
            ),
            ("transforms.cast.spec", "int32"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
            ("errors.tolerance", tolerance),
        ])
        .await;
    worker
        .create(&[
            ("name", "reject"),
            ("connector.class", "FileStreamSource"),
            ("file", &input),
            ("topic", "rejected"),
            (
                "value.converter",
                "org.apache.kafka.connect.converters.ByteArrayConverter",
            ),
            ("errors.tolerance", tolerance),
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_records_that_fail_to_transform_or_convert_are_skipped_under_tolerance_all() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_failing_sources(&worker, "all").await;
    worker.wait_records("cast", 2).await;
    let values: Vec<Vec<u8>> = worker
        .read_topic("numbers", 2)
        .await
        .into_iter()
        .map(|record| record.value.unwrap())
        .collect();
    assert_eq!(values, [b"1".to_vec(), b"3".to_vec()]);
    let start = Instant::now();
    loop {
        let counts = (
            worker.errant_records("cast").await,
            worker.errant_records("reject").await,
        );
        if counts == (2, 4) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "skipped records (cast, reject): {counts:?}, expected (2, 4)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(worker.records("reject").await, 0);
    for name in ["cast", "reject"] {
        assert_eq!(
            worker.herder.status(name).unwrap().tasks[&0].state,
            State::Running,
            "{name}"
        );
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_record_that_fails_to_transform_or_convert_fails_the_task_under_tolerance_none() {
    init_logging();
    let worker = TestWorker::embedded(&[]).await;
    start_failing_sources(&worker, "none").await;
    for (name, stage) in [("cast", "TRANSFORMATION"), ("reject", "VALUE_CONVERTER")] {
        wait_until(Duration::from_secs(30), &format!("{name} to fail"), || {
            worker
                .herder
                .status(name)
                .is_some_and(|s| s.tasks.get(&0).is_some_and(|t| t.state == State::Failed))
        })
        .await;
        let trace = worker.herder.status(name).unwrap().tasks[&0]
            .trace
            .clone()
            .unwrap_or_default();
        assert!(trace.contains("Tolerance exceeded"), "{name}: {trace}");
        assert!(trace.contains(stage), "{name}: {trace}");
    }
    worker.stop().await;
}
