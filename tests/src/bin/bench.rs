//! Throughput benchmark, all in one process and one run, printing records/s and ratios:
//! (a) raw rdkafka producer to a MockCluster, (b) datagen-source → Kafka (same MockCluster
//! kind) through the host, (c) datagen-source → embedded log, (d) file-sink consuming from
//! the embedded log; then the sandbox's costs: (e) datagen-source → embedded log with the
//! limits (fuel, epoch deadlines, memory cap) on and off, (m) the same with the metrics
//! `/metrics` shows recorded and not (counters only), and (f) the same with a busy-loop
//! neighbour task spinning in `poll` on the same worker. Row (p) times the poll stage alone
//! (datagen's `poll`, the lift of its batch, and the conversion to host records) in thread CPU
//! time, which hypervisor steal hardly disturbs: the number to watch when changing the guest
//! SDK, the WIT types or the lift. Row (i), not run by default, fills a worker (a child
//! process on the release binary, the kernel's default limits) with idle tasks, 10,000 unless
//! `BENCH_IDLE_TASKS` says otherwise, and prints what each instance costs in memory mappings,
//! resident memory and idle CPU, beside the worker's empty baseline. Row (t) measures tenancy:
//! datagen → embedded log with tenancy off and as a tenant's connector (every record's topic
//! checked against the tenant's prefixes), and a tenant's datagen alone and beside another
//! tenant's busy-loop connector held to its `quotas.fuel_per_second`. Row (x), not run by
//! default, measures distributed mode on a MockCluster with worker processes on the release
//! binary (`session.timeout.ms=10000`, `heartbeat.interval.ms=3000`, Kafka Connect's
//! defaults): failover (kill -9 of a worker → all its tasks RUNNING elsewhere) over
//! `BENCH_FAILOVER_KILLS` kills (default 10), split into kills of a follower and of the leader,
//! the time a joining worker takes to run its share, and create → all tasks RUNNING beside
//! the same on a standalone worker. Row (g), not run by default, measures the PostgreSQL
//! connectors against a server the harness starts (`BENCH_PG_ROWS` rows, default 200,000, in
//! batches of 2,000): a native tokio-postgres client reading the rows with the connector's
//! query and decoding, beside the `PostgresSource` task's polls alone (guest, lift, host
//! records: the like-for-like ratio) and `PostgresSource` → embedded log (JsonConverter with
//! schemas, so the sink gets typed rows), and `PostgresSink` from that topic
//! beside native multi-row INSERTs of the same batches, bound the same way. Row (k) measures
//! the sink path from Kafka: a raw rdkafka consumer in a group (the host's consumer
//! properties) against a sink task that only counts, both reading the same records from the
//! same MockCluster topic. Row (y), not run by default, times the poll stage of a Rust, a
//! Python and a JavaScript source making the same kind of keyed struct records
//! (`BENCH_POLYGLOT_RECORDS`, default 20,000), the guest call and the conversion apart. Row
//! (r), not run by default, times creating a connector until it and its tasks are RUNNING;
//! row (z), not run by default, the put stage of a line-writing sink in the three languages.
//!
//! Run with: `cargo build-connectors && cargo run --release -p wasm-connect-tests --bin bench [RECORDS] [ROWS]`
//! where ROWS (default `abcdemfp`) picks the rows to run, e.g. `b` alone for profiling.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, Message as _,
    consumer::{BaseConsumer, Consumer as _},
    mocking::MockCluster,
    producer::{BaseProducer, BaseRecord, Producer},
};
use wasm_connect::coordinator::State;
use wasm_connect::log::{
    RecordLog,
    kafka::{KafkaLog, KafkaSettings},
};
use wasm_connect::runtime::{ConfigMap, Runtime, RuntimeConfig};
use wasm_connect_tests::{
    TestWorker, bare_task_context, child::ChildWorker, component, shared_cache_dir, worker_config,
};

/// The allocator the `wasm-connect` binary uses, so the host path is measured as it runs.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const VALUE_SIZE: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let records: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let rows = std::env::args().nth(2).unwrap_or_else(|| "abcdemfp".into());
    let row = |r: char| rows.contains(r);
    println!("records per run: {records}, value size: {VALUE_SIZE} bytes");

    println!("cpu µs/record = process CPU time (user + system, all threads) per record");

    // The VM's speed drifts by tens of percent between runs: alternate (a) and (b) and keep
    // each one's best of three, so the ratio compares like with like.
    let (mut raw, mut host_kafka, mut embedded) = (None::<f64>, None::<f64>, None);
    for round in 1..=3 {
        if row('a') {
            let cpu = CpuClock::start();
            let Throughput { rate, first_ack } = raw_rdkafka(records, true)?;
            let cpu = cpu.per_record(records);
            println!(
                "(a) raw rdkafka BaseProducer → MockCluster: {rate:>12.0} records/s  {cpu:>6.2} cpu µs/record  first ack {first_ack:>5.1?}  (round {round})"
            );
            raw = Some(raw.unwrap_or(0.0).max(rate));
        }
        if row('b') {
            let cpu = CpuClock::start();
            let Throughput { rate, first_ack } = datagen_to_kafka(records).await?;
            let cpu = cpu.per_record(records);
            println!(
                "(b) datagen-source → Kafka (MockCluster):   {rate:>12.0} records/s  {cpu:>6.2} cpu µs/record  first ack {first_ack:>5.1?}  (round {round})"
            );
            host_kafka = Some(host_kafka.unwrap_or(0.0).max(rate));
        }
    }
    if row('a') {
        let cpu = CpuClock::start();
        let rate = raw_rdkafka(records, false)?.rate;
        let cpu = cpu.per_record(records);
        println!(
            "    raw rdkafka with librdkafka's defaults (many requests in flight): {rate:>12.0} records/s  {cpu:>6.2} cpu µs/record"
        );
    }
    if row('c') || row('d') {
        let cpu = CpuClock::start();
        let (rate, worker) = datagen_to_embedded(records).await?;
        let cpu = cpu.per_record(records);
        println!(
            "(c) datagen-source → embedded log:          {rate:>12.0} records/s  {cpu:>6.2} cpu µs/record"
        );
        embedded = Some(rate);
        if row('d') {
            let cpu = CpuClock::start();
            let rate = file_sink_from_embedded(worker, records).await?;
            let cpu = cpu.per_record(records);
            println!(
                "(d) embedded log → file-sink:               {rate:>12.0} records/s  {cpu:>6.2} cpu µs/record"
            );
        } else {
            worker.stop().await;
        }
    }
    if let (Some(raw), Some(host_kafka)) = (raw, host_kafka) {
        println!(
            "best (a) {raw:.0}, best (b) {host_kafka:.0}: ratio (b)/(a): {:.2}  (target ≥ 0.90)",
            host_kafka / raw
        );
    }
    if let (Some(raw), Some(embedded)) = (raw, embedded) {
        println!("ratio (c)/(a): {:.2}", embedded / raw);
    }

    if row('e') {
        // Alternate the two variants so drift of the machine affects both alike; keep the best.
        let (mut metered, mut unmetered) = (0.0_f64, 0.0_f64);
        for _ in 0..2 {
            metered = metered.max(datagen_embedded_metering(records, true).await?);
            unmetered = unmetered.max(datagen_embedded_metering(records, false).await?);
        }
        println!("(e) datagen-source → embedded log, limits on:  {metered:>12.0} records/s");
        println!("    datagen-source → embedded log, limits off: {unmetered:>12.0} records/s");
        println!(
            "ratio limits on / off: {:.2}  (target ≥ 0.85)",
            metered / unmetered
        );
    }

    if row('m') {
        // The cost of what `/metrics` shows: windowed statistics per batch, a duration per
        // guest call. Alternated, best of three each.
        let (mut recorded, mut unrecorded) = (0.0_f64, 0.0_f64);
        for _ in 0..3 {
            recorded = recorded.max(datagen_embedded_metrics(records, true).await?);
            unrecorded = unrecorded.max(datagen_embedded_metrics(records, false).await?);
        }
        println!(
            "(m) datagen-source → embedded log, metrics recorded:   {recorded:>12.0} records/s"
        );
        println!(
            "    datagen-source → embedded log, counters only:      {unrecorded:>12.0} records/s"
        );
        println!(
            "ratio metrics recorded / not: {:.2}  (target ≥ 0.98)",
            recorded / unrecorded
        );
    }

    if row('f') {
        let (mut alone, mut beside) = (0.0_f64, 0.0_f64);
        for _ in 0..2 {
            alone = alone.max(datagen_beside_neighbour(records, false).await?);
            beside = beside.max(datagen_beside_neighbour(records, true).await?);
        }
        println!("(f) datagen-source alone:                      {alone:>12.0} records/s");
        println!("    datagen-source beside a busy-loop task:    {beside:>12.0} records/s");
        println!(
            "drop with the busy neighbour: {:.0}%  (target ≤ 10%)",
            (1.0 - beside / alone) * 100.0
        );
    }
    if row('t') {
        // The cost of tenancy on the source path: the same run with tenancy off and as a
        // tenant's connector. Alternated, best of three each.
        let (mut on, mut off) = (0.0_f64, 0.0_f64);
        for _ in 0..3 {
            off = off.max(datagen_embedded_metrics(records, true).await?);
            on = on.max(datagen_as_tenant(records, None).await?);
        }
        println!("(t) datagen-source → embedded log, tenancy off:         {off:>12.0} records/s");
        println!("    the same as tenant acme's connector (topic checked): {on:>12.0} records/s");
        println!("ratio tenancy on / off: {:.2}  (target ≥ 0.97)", on / off);
        // A tenant's datagen alone, and beside another tenant's busy loop held to its fuel
        // budget: half a core (2,000,000 fuel ≈ 1 ms).
        let budget = 1_000_000_000;
        let (mut alone, mut beside) = (0.0_f64, 0.0_f64);
        for _ in 0..2 {
            alone = alone.max(datagen_as_tenant(records, None).await?);
            beside = beside.max(datagen_as_tenant(records, Some(budget)).await?);
        }
        println!(
            "    tenant acme's datagen alone:                         {alone:>12.0} records/s"
        );
        println!("    beside tenant busy's loop at {budget} fuel/s:     {beside:>12.0} records/s");
        println!(
            "drop with the budgeted neighbour: {:.0}%  (target ≤ 10%)",
            (1.0 - beside / alone) * 100.0
        );
    }
    if row('k') {
        kafka_sink_row(records).await?;
    }
    if row('i') {
        let tasks = env_or("BENCH_IDLE_TASKS", 10_000)?;
        idle_density(tasks, env_or("BENCH_IDLE_BACKOFF", 0)? != 0).await?;
    }
    if row('x') {
        let kills = env_or("BENCH_FAILOVER_KILLS", 10)?;
        distributed_row(kills).await?;
    }
    if row('r') {
        create_row(3).await?;
    }
    if row('u') {
        upload_row().await?;
    }
    if row('z') {
        let records = env_or("BENCH_POLYGLOT_RECORDS", 20_000)?;
        polyglot_sink_row(records).await?;
    }
    if row('y') {
        let records = env_or("BENCH_POLYGLOT_RECORDS", 20_000)?;
        polyglot_row(records).await?;
    }
    if row('g') {
        let rows = env_or("BENCH_PG_ROWS", 200_000)?;
        postgres_row(rows).await?;
    }
    if row('p') {
        let mut best = f64::MAX;
        for _ in 0..3 {
            best = best.min(poll_stage(records).await?);
        }
        println!(
            "(p) datagen poll stage alone (guest poll + lift + conversion): {best:>6.2} thread cpu µs/record (best of 3)"
        );
    }
    Ok(())
}

/// (p): polls a datagen task directly on this thread until it produced `records` (after a
/// warm-up poll), and returns this thread's CPU microseconds per record.
async fn poll_stage(records: u64) -> anyhow::Result<f64> {
    let settings = datagen_settings(records + 10_000);
    let settings: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let cost = poll_costs(&component("datagen_source"), &settings, records).await?;
    Ok(cost.guest + cost.convert)
}

/// The number environment variable `name` gives, or `default` when it is unset.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|error| anyhow::anyhow!("{name}={text}: {error}")),
        Err(_) => Ok(default),
    }
}

/// The plugin of a component file, compiled optimized through the tests' shared cache.
async fn load_cached(
    component: &std::path::Path,
) -> anyhow::Result<Arc<wasm_connect::runtime::Plugin>> {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
        baseline_min_bytes: None,
        ..RuntimeConfig::default()
    })?;
    Ok(runtime.load(&std::fs::read(component)?, "bench").await?)
}

/// A task's configuration from `settings`, as task 0.
fn task_config(settings: &[(&str, &str)]) -> ConfigMap {
    let mut config: ConfigMap = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config.insert("task.id".into(), "0".into());
    config
}

/// The first language's cost is the yardstick: empty for it, `(N× Rust's cost)` after.
fn versus_first(first: &mut Option<f64>, cost: f64) -> String {
    match *first {
        None => {
            *first = Some(cost);
            String::new()
        }
        Some(rust) => format!("  ({:.0}× Rust's cost)", cost / rust),
    }
}

/// What one poll stage cost per record, in this thread's CPU time.
#[derive(Clone, Copy)]
struct PollCost {
    /// The guest's `poll` and the lift of its batch (one typed call).
    guest: f64,
    /// The conversion of the lifted batch to host records.
    convert: f64,
}

/// Polls a source task of `component` with `settings` on this thread until it produced
/// `records` (after one warm-up poll), timing the guest call and the conversion apart.
async fn poll_costs(
    component: &std::path::Path,
    settings: &[(&str, &str)],
    records: u64,
) -> anyhow::Result<PollCost> {
    let plugin = load_cached(component).await?;
    let mut task = plugin.source_task(bare_task_context("bench")).await?;
    task.start(&task_config(settings)).await?;
    // The first poll pays for lazy set-up in the guest (imports, caches).
    let warm = task.poll_batch().await?.into_records()?.len() as u64;
    let (mut guest, mut convert) = (Duration::ZERO, Duration::ZERO);
    let mut polled = 0;
    while polled < records {
        let started = thread_cpu_time();
        let batch = task.poll_batch().await?;
        let lifted = thread_cpu_time();
        anyhow::ensure!(
            !batch.is_empty(),
            "{} stopped after {} records",
            component.display(),
            warm + polled
        );
        polled += std::hint::black_box(batch.into_records()?).len() as u64;
        guest += lifted - started;
        convert += thread_cpu_time() - lifted;
    }
    let per_record = |d: Duration| d.as_secs_f64() * 1e6 / polled as f64;
    Ok(PollCost {
        guest: per_record(guest),
        convert: per_record(convert),
    })
}

/// (u): a component's time from its bytes to a plugin ready to run (`Runtime::load`: check,
/// compile, probe), for a component like one the worker compiled before (same language, other
/// code): optimized before it loads without the compiled-function cache (the baseline) and
/// with it; with the worker's defaults (baseline code first for components of at least
/// `plugin.compile.baseline.min.bytes`, optimized code in the background: when that is ready
/// too); and loaded again from the compile cache, as after a restart. Each in a fresh cache
/// directory.
async fn upload_row() -> anyhow::Result<()> {
    wasm_connect_tests::init_logging();
    let load = |dir: PathBuf, functions: u64, baseline: Option<usize>, path: PathBuf| async move {
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(dir),
            function_cache_max_bytes: functions,
            baseline_min_bytes: baseline,
            ..RuntimeConfig::default()
        })?;
        let bytes = std::fs::read(&path)?;
        let started = Instant::now();
        let plugin = runtime.load(&bytes, "bench").await?;
        let took = started.elapsed();
        let tier = plugin.tier();
        plugin.settled().await;
        let settled = started.elapsed();
        let counts = runtime.compile_counts();
        anyhow::Ok((took, tier, settled, counts))
    };
    let default = RuntimeConfig::default().baseline_min_bytes;
    for (language, earlier, later) in [
        ("Python", "py_counter_source", "py_jsonl_sink"),
        ("JavaScript", "js_template_source", "js_line_sink"),
        ("Rust", "file_source", "file_sink"),
    ] {
        let (earlier, later) = (component(earlier), component(later));
        let size = std::fs::metadata(&later)?.len() as f64 / 1e6;
        let off = tempfile::tempdir()?;
        let (baseline, ..) = load(off.path().to_owned(), 0, None, later.clone()).await?;
        let on = tempfile::tempdir()?;
        let (first, ..) = load(on.path().to_owned(), u64::MAX, None, earlier.clone()).await?;
        let (shared, _, _, counts) =
            load(on.path().to_owned(), u64::MAX, None, later.clone()).await?;
        let tiered = tempfile::tempdir()?;
        load(tiered.path().to_owned(), u64::MAX, None, earlier).await?;
        let (ready, tier, settled, _) =
            load(tiered.path().to_owned(), u64::MAX, default, later.clone()).await?;
        let (cached, ..) = load(on.path().to_owned(), u64::MAX, default, later).await?;
        println!(
            "(u) {language} {size:.1} MB ready: {ready:>7.2?} with the defaults ({} code; optimized after {settled:.2?}), {shared:>7.2?} optimized after another {language} component (compiled {} functions, reused {}), {baseline:>7.2?} without the function cache ({:.1}× slower; the first took {first:.2?}), {cached:>7.2?} from the compile cache  (target ≤ 1 s, cached ≤ 50 ms)",
            tier.name(),
            counts.functions_compiled,
            counts.functions_reused,
            baseline.as_secs_f64() / ready.as_secs_f64(),
        );
    }
    Ok(())
}

/// (r): creating a connector until it and its `tasks` tasks are RUNNING, in-process on a
/// standalone worker on the embedded log, the component already compiled; 30 times, each
/// deleted before the next. The state is checked every 200 µs.
async fn create_row(tasks: u32) -> anyhow::Result<()> {
    let worker = TestWorker::embedded(&[]).await;
    let tasks_max = tasks.to_string();
    let mut samples = Vec::new();
    // The first compiles (or loads) the component; not counted.
    for i in 0..31 {
        let name = format!("create-{i}");
        let settings = [
            ("name", name.as_str()),
            ("connector.class", "DatagenSource"),
            ("tasks.max", tasks_max.as_str()),
            ("count", "0"),
            ("topic", "created"),
        ];
        let started = Instant::now();
        worker.create(&settings).await;
        loop {
            let running = worker.herder.status(&name).is_some_and(|status| {
                status.connector.state == State::Running
                    && status.tasks.len() == tasks as usize
                    && status.tasks.values().all(|t| t.state == State::Running)
            });
            if running {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "{name} was not running after 60 s"
            );
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_micros(200))).await?;
        }
        if i > 0 {
            samples.push(started.elapsed());
        }
        worker.herder.delete_connector(&name).await?;
    }
    samples.sort();
    let at =
        |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "(r) create → connector and {tasks} tasks RUNNING, in-process:  p50 {:.1} ms  p99 {:.1} ms  (target p50 ≤ 10 ms)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
    worker.stop().await;
    Ok(())
}

/// Puts `records` schemaless string records (about 45 bytes each, 1,000 a batch, after one
/// warm-up batch) into a sink task of `component` with `settings`, its `directory` granted;
/// returns this thread's CPU µs per record of the `put` calls (the lowering into the guest
/// and the guest's work).
async fn put_cost(
    component: &std::path::Path,
    settings: &[(&str, &str)],
    dir: &std::path::Path,
    records: u64,
) -> anyhow::Result<f64> {
    use wasm_connect::data::{Data, SinkRecord, TimestampType, Value};
    use wasm_connect::runtime::Preopen;
    const BATCH: u64 = 1_000;
    let plugin = load_cached(component).await?;
    let mut context = bare_task_context("bench");
    context.preopens = vec![Preopen {
        host_path: dir.to_path_buf(),
        guest_path: dir.display().to_string(),
        writable: true,
    }];
    context.sink_context = Some(Default::default());
    let mut task = plugin.sink_task(context).await?;
    task.start(&task_config(settings)).await?;
    let partition = wasm_connect::data::TopicPartition::new("t", 0);
    task.open(std::slice::from_ref(&partition)).await?;
    let batch = |first: u64| -> Vec<SinkRecord> {
        (first..first + BATCH)
            .map(|offset| SinkRecord {
                topic: "t".into(),
                partition: 0,
                offset: offset as i64,
                key: None,
                value: Some(Data::schemaless(Value::String(format!(
                    "a value of about forty-five bytes, number {offset:06}"
                )))),
                timestamp: Some(0),
                timestamp_type: TimestampType::CreateTime,
                headers: Vec::new(),
                original_topic: "t".into(),
                original_partition: 0,
                original_offset: offset as i64,
            })
            .collect()
    };
    task.put(batch(0)).await?;
    let mut put = Duration::ZERO;
    let mut offset = BATCH;
    while offset < BATCH + records {
        let records = batch(offset);
        let started = thread_cpu_time();
        task.put(records).await?;
        put += thread_cpu_time() - started;
        offset += BATCH;
    }
    Ok(put.as_secs_f64() * 1e6 / (offset - BATCH) as f64)
}

/// (z): the put stage of a line-writing sink in Rust, Python and JavaScript, each writing
/// every value as one line to a file of its own directory; best of three each.
async fn polyglot_sink_row(records: u64) -> anyhow::Result<()> {
    let mut rust_cost = None;
    for (label, name) in [
        ("Rust file-sink", "file_sink"),
        ("Python py-jsonl-sink", "py_jsonl_sink"),
        ("JavaScript js-line-sink", "js_line_sink"),
    ] {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let dir = tempfile::tempdir()?;
            let out = dir.path().display().to_string();
            let file = dir.path().join("out.txt").display().to_string();
            let settings = [
                ("directory", out.as_str()),
                ("format", "value"),
                ("fsync", "false"),
                ("file", file.as_str()),
            ];
            best = best.min(put_cost(&component(name), &settings, dir.path(), records).await?);
        }
        let versus = versus_first(&mut rust_cost, best);
        println!(
            "(z) {label:<24} {:>10.0} records/s of put stage: {best:>7.2} µs per record{versus}",
            1e6 / best
        );
    }
    println!("    target: Python and JavaScript ≥ 50,000 records/s");
    Ok(())
}

/// Connector settings as `(key, value)` pairs.
type Settings<'a> = &'a [(&'a str, &'a str)];

/// (y): the poll stage of the same kind of source in Rust, Python and JavaScript: a struct of
/// a 64-bit sequence number, a short string and a timestamp (or three strings for Rust's
/// datagen), keyed, 1,000 records a poll; best of three each.
async fn polyglot_row(records: u64) -> anyhow::Result<()> {
    let count = (records * 10).to_string();
    let rust = [
        ("topic", "bench"),
        ("count", count.as_str()),
        ("batch.size", "1000"),
        ("value.shape", "struct"),
        ("struct.fields", "3"),
        ("value.size", "24"),
        ("key.shape", "sequence"),
    ];
    let python = [
        ("name", "bench"),
        ("topic", "bench"),
        ("count", count.as_str()),
        ("batch.size", "1000"),
    ];
    let javascript = [
        ("topic", "bench"),
        ("count", count.as_str()),
        ("batch.size", "1000"),
        ("schema", "seq:int64, text:string, at:timestamp"),
        (
            "template",
            "({seq, text: 'number ' + seq, at: new Date(1704067200000 + seq * 1000)})",
        ),
        ("key.field", "seq"),
    ];
    let subjects: [(&str, PathBuf, Settings); 3] = [
        ("Rust datagen-source", component("datagen_source"), &rust),
        (
            "Python py-counter-source",
            component("py_counter_source"),
            &python,
        ),
        (
            "JavaScript js-template-source",
            component("js_template_source"),
            &javascript,
        ),
    ];
    let mut rust_total = None;
    for (label, path, settings) in subjects {
        let mut best: Option<PollCost> = None;
        for _ in 0..3 {
            let cost = poll_costs(&path, settings, records).await?;
            if best.is_none_or(|b| cost.guest + cost.convert < b.guest + b.convert) {
                best = Some(cost);
            }
        }
        let best = best.expect("three runs");
        let total = best.guest + best.convert;
        let rate = 1e6 / total;
        let versus = versus_first(&mut rust_total, total);
        println!(
            "(y) {label:<31} {rate:>10.0} records/s of poll stage: guest poll + lift {:>8.2} µs, conversion {:>6.2} µs per record{versus}",
            best.guest, best.convert
        );
    }
    println!("    target: Python and JavaScript ≥ 50,000 records/s");
    Ok(())
}

/// (i): DatagenSource connectors of 10 tasks with `count=0` (as an operator would try it)
/// created one after another in a child worker until `tasks` tasks run; prints the growth of
/// memory mappings, resident memory and `GET /` latency as it fills, then what one instance
/// costs and the idle CPU of the full worker against its empty baseline. A DatagenSource that
/// made its count tells the host it has nothing more (`poll-again-after`); with `backoff`,
/// TestSource tasks that return nothing and say nothing (polled on the worker's back-off)
/// take their place.
async fn idle_density(tasks: usize, backoff: bool) -> anyhow::Result<()> {
    const TASKS_PER_CONNECTOR: usize = 10;
    let worker = ChildWorker::start(&[]).await;
    let datagen = |name: &str| {
        let tasks = TASKS_PER_CONNECTOR.to_string();
        let config = if backoff {
            // One task per mode listed.
            let modes = ["idle"; TASKS_PER_CONNECTOR].join(",");
            serde_json::json!({"connector.class": "TestSource", "tasks.max": tasks,
                               "modes": modes, "topic": name})
        } else {
            serde_json::json!({"connector.class": "DatagenSource", "tasks.max": tasks,
                               "count": "0", "topic": name})
        };
        serde_json::json!({"name": name, "config": config})
    };
    println!(
        "(i) idle tasks: {}",
        if backoff {
            "TestSource, silent (polled on the back-off up to source.idle.backoff.max.ms)"
        } else {
            "DatagenSource count=0 (says it has nothing more: poll-again-after)"
        }
    );
    // The plugin's code mapped and a first connector running: the baseline.
    worker.rest.post("/connectors", &datagen("warm")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (base_maps, base_rss) = (worker.mappings(), worker.rss());
    let base_cpu = idle_cpu(&worker, Duration::from_secs(5)).await;
    let capacity = worker.rest.get("/").await.body["capacity"].clone();
    println!(
        "(i) idle density: empty worker {base_maps} mappings, {:.0} MiB resident, {:.1}% of a core idle; capacity {capacity}",
        mib(base_rss),
        base_cpu * 100.0
    );
    let connectors = tasks.div_ceil(TASKS_PER_CONNECTOR);
    let started = Instant::now();
    let mut created = 0;
    let mut slowest_root = Duration::ZERO;
    for i in 0..connectors {
        let reply = worker
            .rest
            .post("/connectors", &datagen(&format!("idle-{i}")))
            .await;
        if reply.status != hyper::StatusCode::CREATED {
            println!(
                "    connector {i} refused ({}): {}",
                reply.status, reply.body["message"]
            );
            break;
        }
        created += 1;
        if (i + 1) % 100 == 0 {
            let asked = Instant::now();
            let root = worker.rest.get("/").await;
            let latency = asked.elapsed();
            slowest_root = slowest_root.max(latency);
            println!(
                "    {:>6} tasks: {:>6} mappings  {:>6.0} MiB resident  GET / in {latency:>8.1?}  instances {}  ({:.0?})",
                (i + 1) * TASKS_PER_CONNECTOR,
                worker.mappings(),
                mib(worker.rss()),
                root.body["capacity"]["instances"],
                started.elapsed()
            );
        }
    }
    anyhow::ensure!(
        worker.rest.get("/").await.status == hyper::StatusCode::OK,
        "the worker stopped answering"
    );
    let last = format!("/connectors/idle-{}/status", created.max(1) - 1);
    worker
        .rest
        .wait_for(&last, "the last connector's tasks running", |reply| {
            reply.body["tasks"].as_array().is_some_and(|t| {
                t.len() == TASKS_PER_CONNECTOR && t.iter().all(|t| t["state"] == "RUNNING")
            })
        })
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let instances = created * (TASKS_PER_CONNECTOR + 1);
    let (maps, rss) = (worker.mappings(), worker.rss());
    let cpu = idle_cpu(&worker, Duration::from_secs(10)).await;
    println!(
        "(i) {} idle tasks ({instances} instances) in {:.0?}: {maps} mappings, {:.0} MiB resident, {:.0}% of a core idle; slowest GET / {slowest_root:.1?}",
        created * TASKS_PER_CONNECTOR,
        started.elapsed(),
        mib(rss),
        cpu * 100.0
    );
    // Memory freed while the connectors were created goes back to the kernel over jemalloc's
    // 10 s decay: the resident memory again, after that window.
    let settled = worker.rss();
    println!(
        "    {:.0} MiB resident after {:.0?} more idle (what creating them freed given back)",
        mib(settled),
        Duration::from_secs(10)
    );
    println!(
        "    per instance: {:.2} mappings, {:.0} KiB resident; idle CPU per 1,000 tasks: {:.1}% of a core (empty worker {:.1}%)",
        (maps - base_maps) as f64 / instances as f64,
        rss.saturating_sub(base_rss) as f64 / 1024.0 / instances as f64,
        (cpu - base_cpu) * 100.0 * 1000.0 / (created * TASKS_PER_CONNECTOR) as f64,
        base_cpu * 100.0
    );
    Ok(())
}

/// The share of one core `worker` uses over `window`.
async fn idle_cpu(worker: &ChildWorker, window: Duration) -> f64 {
    let before = worker.cpu_time();
    tokio::time::sleep(window).await;
    (worker.cpu_time() - before).as_secs_f64() / window.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// CPU time of the calling thread (not counting time the hypervisor stole).
#[allow(unsafe_code, reason = "clock_gettime has no safe wrapper in std")]
fn thread_cpu_time() -> Duration {
    // SAFETY: `clock_gettime` only writes the struct it is given.
    let time = unsafe {
        let mut time = std::mem::zeroed::<libc::timespec>();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
        time
    };
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// (e): datagen → embedded log on a worker whose guests run metered or not.
async fn datagen_embedded_metering(records: u64, metering: bool) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut config = worker_config(dir.path(), &[]);
    config.metering = metering;
    let herder = wasm_connect::standalone::start(config).await?;
    let worker = TestWorker { herder, dir };
    let rate = run_datagen(&worker, records).await?.rate;
    worker.stop().await;
    Ok(rate)
}

/// (m): datagen → embedded log, with or without the windowed statistics and call durations.
async fn datagen_embedded_metrics(records: u64, recording: bool) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut config = worker_config(dir.path(), &[]);
    config.metrics_recording = recording;
    let herder = wasm_connect::standalone::start(config).await?;
    let worker = TestWorker { herder, dir };
    let rate = run_datagen(&worker, records).await?.rate;
    worker.stop().await;
    Ok(rate)
}

/// (f): datagen → embedded log, optionally beside a task that spins in `poll` for the whole
/// run (yielding at every epoch tick like any guest).
async fn datagen_beside_neighbour(records: u64, neighbour: bool) -> anyhow::Result<f64> {
    let worker = TestWorker::embedded(&[]).await;
    if neighbour {
        worker
            .create(&[
                ("name", "neighbour"),
                ("connector.class", "TestSource"),
                ("tasks.max", "1"),
                ("modes", "loop"),
                ("topic", "neighbour"),
                // Spin for the whole run: about 50 s of fuel, a 5-minute deadline.
                ("sandbox.fuel.per.call", "100000000000"),
                ("sandbox.timeout.ms", "300000"),
            ])
            .await;
        worker.wait_running("neighbour", 1).await;
    }
    let rate = run_datagen(&worker, records).await?.rate;
    if neighbour {
        anyhow::ensure!(
            worker
                .herder
                .status("neighbour")
                .is_some_and(|status| status
                    .tasks
                    .values()
                    .all(|task| task.state == State::Running)),
            "the busy-loop neighbour stopped spinning before the run ended (raise its limits)"
        );
    }
    worker.stop().await;
    Ok(rate)
}

/// (t): tenant acme's datagen → embedded log on a worker with tenancy on; with
/// `neighbour_budget`, beside tenant busy's connector that burns fuel in every `poll`, held to
/// that many fuel per second.
async fn datagen_as_tenant(records: u64, neighbour_budget: Option<u64>) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let hash = wasm_connect::tenancy::hash_password("operator-password-1");
    let config = worker_config(
        dir.path(),
        &[
            ("tenancy.enabled", "true"),
            ("tenancy.operator.password.hash", &hash),
        ],
    );
    let herder = wasm_connect::standalone::start(config).await?;
    let worker = TestWorker { herder, dir };
    let tenants = worker.herder.tenants();
    tenants
        .create(wasm_connect::tenancy::TenantSpec {
            name: Some("acme".into()),
            ..Default::default()
        })
        .await?;
    if let Some(budget) = neighbour_budget {
        tenants
            .create(wasm_connect::tenancy::TenantSpec {
                name: Some("busy".into()),
                quotas: Some(wasm_connect::tenancy::Quotas {
                    fuel_per_second: Some(budget),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await?;
        worker
            .create(&[
                ("name", "busy/loop"),
                ("connector.class", "TestSource"),
                ("tasks.max", "1"),
                ("modes", "burn"),
                ("batch.size", "1"),
                ("burn.iterations", "2000000"),
                ("topic", "busy.loop"),
            ])
            .await;
        worker.wait_running("busy/loop", 1).await;
    }
    let rate = run_datagen_as(&worker, records, "acme/datagen", "acme.bench")
        .await?
        .rate;
    worker.stop().await;
    Ok(rate)
}

/// Process CPU time (all threads) since `start`, to tell CPU-bound from waiting.
struct CpuClock(Duration);

impl CpuClock {
    #[allow(unsafe_code, reason = "getrusage has no safe wrapper in std")]
    fn now() -> Duration {
        // SAFETY: `getrusage` only writes the struct it is given.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        time(usage.ru_utime) + time(usage.ru_stime)
    }

    fn start() -> Self {
        Self(Self::now())
    }

    /// CPU microseconds per record since `start`.
    fn per_record(&self, records: u64) -> f64 {
        (Self::now() - self.0).as_secs_f64() * 1e6 / records as f64
    }
}

/// The producer properties every variant of (a) shares with the host's task producers.
fn task_producer_config(bootstrap: String) -> ClientConfig {
    let mut settings = KafkaSettings::default();
    settings
        .common
        .insert("bootstrap.servers".into(), bootstrap);
    let mut config = settings.producer_config("raw");
    config.set("queue.buffering.max.messages", "1000000");
    config
}

/// (a): raw rdkafka, sending 100-byte values as fast as it takes them. `connect_defaults`
/// runs it with the host's task producer properties (`acks=all`, idempotent, up to 5
/// requests in flight); otherwise with librdkafka's defaults (`acks=all`, up to a million
/// requests in flight, not idempotent), which no task uses.
fn raw_rdkafka(records: u64, connect_defaults: bool) -> anyhow::Result<Throughput> {
    let cluster = MockCluster::new(1)?;
    cluster.create_topic("raw", 1, 1)?;
    let producer: BaseProducer = if connect_defaults {
        task_producer_config(cluster.bootstrap_servers())
    } else {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("linger.ms", "5")
            .set("acks", "all")
            .set("queue.buffering.max.messages", "1000000");
        config
    }
    .create()?;
    let value = vec![b'x'; VALUE_SIZE];
    let start = Instant::now();
    let mut first_ack = None;
    for sent in 0..records {
        // Fewer in flight than sent: the first record was acknowledged.
        if first_ack.is_none() && sent % 256 == 0 && (producer.in_flight_count() as u64) < sent {
            first_ack = Some(start.elapsed());
        }
        loop {
            match producer.send(BaseRecord::<(), [u8]>::to("raw").payload(&value)) {
                Ok(()) => break,
                Err((_, _)) => {
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60))?;
    let elapsed = start.elapsed();
    Ok(Throughput {
        rate: records as f64 / elapsed.as_secs_f64(),
        first_ack: first_ack.unwrap_or(elapsed),
    })
}

fn datagen_settings(records: u64) -> Vec<(String, String)> {
    vec![
        ("name".into(), "datagen".into()),
        ("connector.class".into(), "DatagenSource".into()),
        ("topic".into(), "bench".into()),
        ("count".into(), records.to_string()),
        ("value.size".into(), VALUE_SIZE.to_string()),
        ("value.shape".into(), "bytes".into()),
        (
            "key.converter".into(),
            "org.apache.kafka.connect.converters.ByteArrayConverter".into(),
        ),
        (
            "value.converter".into(),
            "org.apache.kafka.connect.converters.ByteArrayConverter".into(),
        ),
    ]
}

/// A throughput run: records/s from start until every record was acknowledged, and how long
/// the first acknowledgement took (start-up: connecting, metadata, the first batch).
struct Throughput {
    rate: f64,
    first_ack: Duration,
}

/// Creates the datagen connector and measures from creation until all are acked.
async fn run_datagen(worker: &TestWorker, records: u64) -> anyhow::Result<Throughput> {
    run_datagen_as(worker, records, "datagen", "bench").await
}

/// [`run_datagen`] under connector name `name`, writing to `topic`.
async fn run_datagen_as(
    worker: &TestWorker,
    records: u64,
    name: &str,
    topic: &str,
) -> anyhow::Result<Throughput> {
    let mut settings = datagen_settings(records);
    for (key, value) in &mut settings {
        match key.as_str() {
            "name" => *value = name.to_owned(),
            "topic" => *value = topic.to_owned(),
            _ => {}
        }
    }
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let start = Instant::now();
    worker.create(&pairs).await;
    // Checked every millisecond (`wait_records` checks every 20, which would add up to 20 ms
    // to a run that (a) times exactly).
    let mut first_ack = None;
    loop {
        let acked = worker.records(name).await;
        if acked > 0 && first_ack.is_none() {
            first_ack = Some(start.elapsed());
        }
        if acked >= records {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "datagen moved only {acked} of {records} records in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.elapsed();
    Ok(Throughput {
        rate: records as f64 / elapsed.as_secs_f64(),
        first_ack: first_ack.unwrap_or(elapsed),
    })
}

async fn datagen_to_kafka(records: u64) -> anyhow::Result<Throughput> {
    let cluster = MockCluster::new(1)?;
    // MockCluster does not implement CreateTopics: make the topic on the cluster.
    cluster.create_topic("bench", 1, 1)?;
    let mut settings = KafkaSettings::default();
    settings
        .common
        .insert("bootstrap.servers".into(), cluster.bootstrap_servers());
    let log = KafkaLog::new(settings)?;
    let log: Arc<dyn RecordLog> = Arc::new(log);
    let worker = TestWorker::with_log(log, &[]).await;
    let run = run_datagen(&worker, records).await?;
    worker.stop().await;
    Ok(run)
}

async fn datagen_to_embedded(records: u64) -> anyhow::Result<(f64, TestWorker)> {
    let worker = TestWorker::embedded(&[]).await;
    let rate = run_datagen(&worker, records).await?.rate;
    Ok((rate, worker))
}

async fn file_sink_from_embedded(worker: TestWorker, records: u64) -> anyhow::Result<f64> {
    let output = worker.path("sink.out").display().to_string();
    let settings = [("connector.class", "FileStreamSink"), ("file", &output)];
    Ok(sink_rate(worker, "sink", &settings, records)
        .await
        .from_create)
}

/// Creates sink connector `name` with `settings` reading topic `bench` as bytes and waits
/// until it put `records`; stops the worker.
async fn sink_rate(
    worker: TestWorker,
    name: &str,
    settings: &[(&str, &str)],
    records: u64,
) -> SinkRun {
    let mut all = vec![
        ("name", name),
        ("topics", "bench"),
        (
            "key.converter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
    ];
    all.extend_from_slice(settings);
    let start = Instant::now();
    worker.create(&all).await;
    // Checked every millisecond, so the first put is seen within a millisecond.
    let mut first: Option<(Instant, u64)> = None;
    loop {
        let put = worker.records(name).await;
        if put > 0 && first.is_none() {
            first = Some((Instant::now(), put));
        }
        if put >= records {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{name} put only {put} of {records} records in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let end = Instant::now();
    worker.stop().await;
    let (first_seen, first_put) = first.expect("records were put");
    SinkRun {
        from_create: records as f64 / (end - start).as_secs_f64(),
        from_first: (records - first_put) as f64 / (end - first_seen).as_secs_f64().max(1e-3),
        first_record: first_seen - start,
    }
}

/// A sink run: records/s from creation (start-up included) and from the first record put
/// (reading only), and when that first record was put.
struct SinkRun {
    from_create: f64,
    from_first: f64,
    first_record: Duration,
}

/// (k): `records` 100-byte records on MockCluster partitions of 30,000 records each, consumed
/// from the start by a
/// raw rdkafka consumer in a group of its own (the host's consumer properties) and by a
/// TestSink task that only counts (ByteArrayConverter, no conversion work), each timed until
/// every record arrived. Alternated, best of three each, with CPU per record.
async fn kafka_sink_row(records: u64) -> anyhow::Result<()> {
    let cluster = MockCluster::new(1)?;
    // MockCluster keeps only the last few megabytes of each partition: lz4-compressed
    // batches on partitions of 30,000 records hold them all (checked below). Both consumers
    // decompress alike.
    let partitions = i32::try_from(records.div_ceil(30_000))
        .unwrap_or(i32::MAX)
        .max(1);
    cluster.create_topic("bench", partitions, 1)?;
    let bootstrap = cluster.bootstrap_servers();
    // Full batches: MockCluster answers a fetch with one record batch, after the consumer's
    // `fetch.wait.max.ms` even when more is there, so batch size and that wait set the pace.
    let producer: BaseProducer = task_producer_config(bootstrap.clone())
        .set("linger.ms", "100")
        .set("batch.num.messages", "100000")
        .set("compression.type", "lz4")
        .create()?;
    let value = vec![b'x'; VALUE_SIZE];
    for _ in 0..records {
        loop {
            match producer.send(BaseRecord::<(), [u8]>::to("bench").payload(&value)) {
                Ok(()) => break,
                Err((_, _)) => {
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    let held: i64 = (0..partitions)
        .map(|p| {
            producer
                .client()
                .fetch_watermarks("bench", p, Duration::from_secs(5))
                .map(|(low, high)| high - low)
        })
        .sum::<Result<i64, _>>()?;
    anyhow::ensure!(
        held as u64 >= records,
        "the mock cluster holds {held} of the {records} records written"
    );
    let mut settings = KafkaSettings::default();
    settings
        .common
        .insert("bootstrap.servers".into(), bootstrap);
    // Both consumers the same: without it each ~1 MB batch would wait librdkafka's default
    // 500 ms on the mock.
    settings
        .consumer
        .insert("fetch.wait.max.ms".into(), "5".into());
    // Each run timed from its first record: the mock holds a new group's first join for
    // about 3 s (its initial rebalance delay), which would otherwise dominate both.
    let (mut raw, mut sink) = (Best::default(), Best::default());
    for round in 0..3 {
        let cpu = CpuClock::start();
        let config = settings.group_consumer_config(&format!("raw-{round}"), "raw");
        let (rate, first) =
            tokio::task::spawn_blocking(move || raw_consume(config, records)).await??;
        raw.offer(rate, cpu.per_record(records), first);
        let cpu = CpuClock::start();
        let run = sink_from_kafka(&settings, &format!("sink-{round}"), records).await?;
        sink.offer(run.from_first, cpu.per_record(records), run.first_record);
    }
    println!(
        "(k) raw rdkafka consumer ← MockCluster:      {:>12.0} records/s  {:>6.2} cpu µs/record  (first record after {} ms)",
        raw.rate,
        raw.cpu,
        raw.first.as_millis()
    );
    println!(
        "    Kafka → sink task that only counts:      {:>12.0} records/s  {:>6.2} cpu µs/record  (first record after {} ms)",
        sink.rate,
        sink.cpu,
        sink.first.as_millis()
    );
    println!(
        "ratio sink task / raw consumer: {:.2}  (target ≥ 0.90; records/s from each one's first record)",
        sink.rate / raw.rate
    );
    Ok(())
}

/// The best of several runs by records/s, with its CPU per record and time to first record.
#[derive(Default)]
struct Best {
    rate: f64,
    cpu: f64,
    first: Duration,
}

impl Best {
    fn offer(&mut self, rate: f64, cpu: f64, first: Duration) {
        if rate > self.rate {
            *self = Self { rate, cpu, first };
        }
    }
}

/// Reads `records` records of topic `bench` with a consumer of `config`: records/s from the
/// first record to the last, and how long the first took (joining the group, the first fetch).
fn raw_consume(config: ClientConfig, records: u64) -> anyhow::Result<(f64, Duration)> {
    let consumer: BaseConsumer = config.create()?;
    consumer.subscribe(&["bench"])?;
    let start = Instant::now();
    let mut first = None;
    let mut read = 0;
    while read < records {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            std::hint::black_box(message?.payload());
            read += 1;
            if first.is_none() {
                first = Some(Instant::now());
            }
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "the raw consumer read only {read} of {records} records in 120 s"
        );
    }
    let first = first.unwrap_or(start);
    let rate = (records - 1) as f64 / first.elapsed().as_secs_f64().max(1e-3);
    Ok((rate, first - start))
}

/// A TestSink connector (which counts and drops) named `name` reading topic `bench` from a
/// worker on Kafka.
async fn sink_from_kafka(
    settings: &KafkaSettings,
    name: &str,
    records: u64,
) -> anyhow::Result<SinkRun> {
    let log: Arc<dyn RecordLog> = Arc::new(KafkaLog::new(settings.clone())?);
    let worker = TestWorker::with_log(log, &[]).await;
    let settings = [("connector.class", "TestSink")];
    Ok(sink_rate(worker, name, &settings, records).await)
}

/// p50 and p99 (nearest rank) of durations, in ms.
fn percentiles(samples: &mut [Duration]) -> (u128, u128) {
    samples.sort();
    let rank = |p: f64| {
        let index = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_millis()
    };
    (rank(0.5), rank(0.99))
}

/// Creates a datagen connector of `tasks` tasks through `worker` and returns how long it took
/// until the connector and every task were RUNNING (as `worker` reports it).
async fn create_to_running(worker: &ChildWorker, name: &str, tasks: u32) -> Duration {
    use wasm_connect_tests::distributed::{datagen, placement};
    let started = Instant::now();
    let reply = worker
        .rest
        .post(
            "/connectors",
            &serde_json::json!({"name": name, "config": datagen(name, tasks)}),
        )
        .await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
    // Polled every 20 ms, so the figure is within 20 ms of when it happened.
    while placement(worker, &[name.to_owned()], tasks as usize)
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{name} did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// (x): distributed mode's failover, join and create times.
async fn distributed_row(kills: usize) -> anyhow::Result<()> {
    use wasm_connect_tests::distributed::{
        Kafka, eventually, leader_index, placement, ready, shares, worker_id,
    };
    let mut kafka = Kafka::new("bench");
    kafka.session_timeout_ms = 10_000;
    kafka.heartbeat_interval_ms = 3_000;
    let (a, b, c) = tokio::join!(kafka.worker(), kafka.worker(), kafka.worker());
    let mut workers = vec![a, b, c];
    let names: Vec<String> = (0..3).map(|i| format!("gen-{i}")).collect();
    let mut creates = Vec::new();
    for name in &names {
        creates.push(create_to_running(&workers[0], name, 3).await);
    }
    let (mut follower, mut leader) = (Vec::new(), Vec::new());
    for kill in 0..kills {
        // Every worker must run its share before the next kill.
        eventually(
            Duration::from_secs(120),
            "three workers running",
            async || {
                let placed = placement(&workers[0], &names, 3).await?;
                if shares(&placed).len() == 3 {
                    Ok(())
                } else {
                    Err(format!("{placed:?}"))
                }
            },
        )
        .await;
        let victim = kill % 3;
        let observer = (victim + 1) % 3;
        let was_leader = leader_index(&workers, &workers[observer]).await == victim;
        let victim_id = worker_id(&workers[victim]);
        workers[victim].kill();
        let killed = Instant::now();
        eventually(
            Duration::from_secs(120),
            "its tasks running elsewhere",
            async || {
                let placed = placement(&workers[observer], &names, 3).await?;
                let on_victim = placed.values().any(|(connector, tasks)| {
                    *connector == victim_id || tasks.contains(&victim_id)
                });
                if on_victim {
                    Err(format!("{placed:?}"))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        let took = killed.elapsed();
        println!(
            "    kill {kill}: {} ms ({})",
            took.as_millis(),
            if was_leader { "leader" } else { "follower" }
        );
        if was_leader {
            leader.push(took)
        } else {
            follower.push(took)
        }
        workers[victim].restart().await;
        ready(&workers[victim]).await;
    }
    let mut all: Vec<Duration> = follower.iter().chain(&leader).copied().collect();
    let (p50, p99) = percentiles(&mut all);
    println!(
        "(x) failover, kill -9 → all tasks RUNNING elsewhere, session.timeout.ms=10000: p50 {p50} ms, p99 {p99} ms over {} kills (target p99 ≤ 15000; Kafka Connect's defaults ≈ 310000)",
        all.len()
    );
    if !follower.is_empty() {
        let (p50, p99) = percentiles(&mut follower);
        println!(
            "    a follower killed: p50 {p50} ms, p99 {p99} ms ({} kills)",
            follower.len()
        );
    }
    if !leader.is_empty() {
        let (p50, p99) = percentiles(&mut leader);
        println!(
            "    the leader killed: p50 {p50} ms, p99 {p99} ms ({} kills)",
            leader.len()
        );
    }
    // A fourth worker: from its process start to running its share.
    let joining = Instant::now();
    workers.push(kafka.worker().await);
    eventually(
        Duration::from_secs(120),
        "four workers running",
        async || {
            let placed = placement(&workers[0], &names, 3).await?;
            if shares(&placed).len() == 4 {
                Ok(())
            } else {
                Err(format!("{placed:?}"))
            }
        },
    )
    .await;
    println!(
        "    a joining worker runs its share {} ms after its process started (of which ~5000 ms is the mock cluster not answering DescribeConfigs)",
        joining.elapsed().as_millis()
    );
    // Create → all tasks RUNNING, distributed next to standalone.
    let mut distributed = creates;
    for i in 0..5 {
        distributed.push(create_to_running(&workers[1], &format!("more-{i}"), 3).await);
    }
    let standalone_worker = ChildWorker::start(&[]).await;
    let mut standalone = Vec::new();
    for i in 0..8 {
        standalone.push(create_to_running(&standalone_worker, &format!("gen-{i}"), 3).await);
    }
    let (d50, _) = percentiles(&mut distributed);
    let (s50, _) = percentiles(&mut standalone);
    println!(
        "    create → all 3 tasks RUNNING (a client's view over REST, polled every 20 ms): distributed p50 {d50} ms, standalone p50 {s50} ms"
    );
    Ok(())
}

/// Rows per batch of row (g): the source's `batch.max.rows`, the sink's `batch.size` and
/// `consumer.max.poll.records`, and both native baselines'.
const PG_BATCH: usize = 2_000;

/// (g)'s poll stage: a `PostgresSource` task of `settings` (its connector's first task
/// configuration) polled on this process until it produced `rows`; rows per second of wall
/// time and process CPU µs per row.
async fn postgres_poll_stage(settings: &[(&str, &str)], rows: i64) -> anyhow::Result<(f64, f64)> {
    use wasm_connect::config::tcp::{TcpWorkerPolicy, tcp_policy};
    let plugin = load_cached(&component("postgres_source")).await?;
    let worker = TcpWorkerPolicy {
        allow_private_networks: true,
        ..TcpWorkerPolicy::default()
    };
    let context = || -> anyhow::Result<wasm_connect::runtime::InstanceContext> {
        let mut context = bare_task_context("bench");
        context.tcp = tcp_policy(&wasm_connect_tests::settings(settings), &worker)?;
        Ok(context)
    };
    let mut connector = plugin.connector(context()?).await?;
    connector.start(&task_config(settings)).await?;
    let mut configs = connector.task_configs(1).await?;
    anyhow::ensure!(configs.len() == 1, "one task configuration expected");
    let mut task = plugin.source_task(context()?).await?;
    let mut config = configs.remove(0);
    config.insert("task.id".into(), "0".into());
    task.start(&config).await?;
    let started = Instant::now();
    let cpu = CpuClock::start();
    let mut polled = 0;
    while polled < rows {
        let batch = task.poll_batch().await?;
        if batch.is_empty() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(120),
                "the task stopped after {polled} rows"
            );
            if let Some(idle) = batch.idle_for() {
                tokio::time::sleep(idle.min(Duration::from_millis(10))).await;
            }
            continue;
        }
        polled += std::hint::black_box(batch.into_records()?).len() as i64;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    let cpu = cpu.per_record(rows as u64);
    task.stop().await?;
    Ok((rate, cpu))
}

/// (g): the PostgreSQL connectors against native tokio-postgres on the same server.
async fn postgres_row(rows: i64) -> anyhow::Result<()> {
    use wasm_connect_postgres::{PgValue, value::TextParam};
    use wasm_connect_tests::postgres::PgServer;

    let db = PgServer::get().database("bench").await;
    db.execute(&format!(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12, 2), \
         at timestamp, flag boolean, qty integer);
         INSERT INTO src SELECT g, 'customer ' || g, g * 1.25, \
         timestamp '2024-01-01' + g * interval '1 second', g % 2 = 0, g % 1000 \
         FROM generate_series(1, {rows}) g;
         CREATE TABLE native_dst (LIKE src INCLUDING ALL);
         CREATE TABLE dst (LIKE src INCLUDING ALL);"
    ))
    .await;
    println!("(g) PostgreSQL, {rows} rows of 6 columns, batches of {PG_BATCH}");

    // Native source: the connector's query and decoding, on one connection.
    let client = &db.client;
    let start = Instant::now();
    let statement = client
        .prepare(
            "SELECT id, name, amount, at, flag, qty FROM src WHERE id > $1::int8 ORDER BY id ASC LIMIT $2",
        )
        .await?;
    let (mut last, mut read) = (-1_i64, 0_i64);
    loop {
        let batch = client
            .query(&statement, &[&last, &(PG_BATCH as i64)])
            .await?;
        if batch.is_empty() {
            break;
        }
        for row in &batch {
            for index in 0..6 {
                let value: PgValue = row.try_get(index)?;
                if let (0, PgValue::Int64(id)) = (index, &value) {
                    last = *id;
                }
                std::hint::black_box(value);
            }
            read += 1;
        }
    }
    anyhow::ensure!(read == rows, "the native reader read {read} of {rows} rows");
    let native_source = rows as f64 / start.elapsed().as_secs_f64();
    // The native writer's rows, as the text the sink binds (made outside the timed reads).
    let texts: Vec<Vec<Option<String>>> = (1..=rows)
        .map(|id| {
            vec![
                Some(id.to_string()),
                Some(format!("customer {id}")),
                Some(format!("{}.{:02}", id * 125 / 100, id * 125 % 100)),
                Some("2024-01-01 00:00:00".to_owned()),
                Some((id % 2 == 0).to_string()),
                Some((id % 1000).to_string()),
            ]
        })
        .collect();

    let worker = TestWorker::embedded(&[
        ("sandbox.tcp.allow.private.networks", "true"),
        ("consumer.max.poll.records", &PG_BATCH.to_string()),
    ])
    .await;
    let connection = [
        ("connection.url", db.url()),
        ("connection.user", "postgres".to_owned()),
        (
            "connection.password",
            wasm_connect_tests::postgres::PASSWORD.to_owned(),
        ),
        ("sandbox.tcp.allow", db.allow()),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter".to_owned(),
        ),
        ("value.converter.schemas.enable", "true".to_owned()),
    ];
    let batch = PG_BATCH.to_string();
    let mut source: Vec<(&str, &str)> = vec![
        ("name", "pg-source"),
        ("connector.class", "PostgresSource"),
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.include.list", "src"),
        ("topic.prefix", "g-"),
        ("batch.max.rows", &batch),
        ("poll.interval.ms", "10"),
    ];
    source.extend(connection.iter().map(|(k, v)| (*k, v.as_str())));
    // The connector alone, as the native reader: its task's polls (the guest's queries and
    // decoding, the lift of each batch and its conversion to host records), no converter, no
    // log.
    let (poll_rate, poll_cpu) = postgres_poll_stage(&source, rows).await?;
    let start = Instant::now();
    let cpu = CpuClock::start();
    worker.create(&source).await;
    worker.wait_records("pg-source", rows as u64).await;
    let host_source = rows as f64 / start.elapsed().as_secs_f64();
    let source_cpu = cpu.per_record(rows as u64);
    println!("    native tokio-postgres reader:        {native_source:>10.0} rows/s");
    println!(
        "    PostgresSource task's polls:         {poll_rate:>10.0} rows/s  {poll_cpu:>6.2} cpu µs/row (guest, lift, host records)"
    );
    println!(
        "    PostgresSource → embedded log:       {host_source:>10.0} rows/s  {source_cpu:>6.2} cpu µs/row (worker process: JsonConverter with schemas, the log)"
    );
    println!(
        "ratio source polls / native: {:.2}  (target ≥ 0.80);  source → log / native: {:.2}",
        poll_rate / native_source,
        host_source / native_source
    );

    // Native sink: multi-row INSERTs of the same batches, bound as text, a transaction each.
    let mut writer = wasm_connect_tests::postgres::connect(db.server.port, &db.name).await;
    let start = Instant::now();
    for chunk in texts.chunks(PG_BATCH) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|row| {
                let cells: Vec<String> = (1..=6).map(|c| format!("${}", row * 6 + c)).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO native_dst (id, name, amount, at, flag, qty) VALUES {}",
            placeholders.join(", ")
        );
        let params: Vec<TextParam> = chunk
            .iter()
            .flat_map(|row| row.iter().map(|cell| TextParam(cell.clone())))
            .collect();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let transaction = writer.transaction().await?;
        let statement = transaction.prepare(&sql).await?;
        transaction.execute(&statement, &refs).await?;
        transaction.commit().await?;
    }
    let native_sink = rows as f64 / start.elapsed().as_secs_f64();

    let mut sink: Vec<(&str, &str)> = vec![
        ("name", "pg-sink"),
        ("connector.class", "PostgresSink"),
        ("topics", "g-src"),
        ("table.name.format", "dst"),
        ("insert.mode", "insert"),
        ("batch.size", &batch),
    ];
    sink.extend(connection.iter().map(|(k, v)| (*k, v.as_str())));
    let start = Instant::now();
    let cpu = CpuClock::start();
    worker.create(&sink).await;
    loop {
        if db.count("SELECT count(*) FROM dst").await >= rows {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "the sink did not write {rows} rows in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let host_sink = rows as f64 / start.elapsed().as_secs_f64();
    let sink_cpu = cpu.per_record(rows as u64);
    println!("    native multi-row INSERTs:            {native_sink:>10.0} rows/s");
    println!(
        "    embedded log → PostgresSink:         {host_sink:>10.0} rows/s  {sink_cpu:>6.2} cpu µs/row (worker process, the server's excluded)"
    );
    println!(
        "ratio sink / native: {:.2}  (target ≥ 0.80)",
        host_sink / native_sink
    );
    worker.stop().await;
    Ok(())
}
