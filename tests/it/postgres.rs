//! The PostgreSQL connectors against a real server (Debian's `postgresql`, started by the
//! harness on its own directory and port of 127.0.0.1) and the TCP egress policy they run
//! under: every mapped type survives table → topic → table; incrementing and
//! timestamp+incrementing modes pick up new and updated rows; a table created while running
//! gets a task; kill -9 mid-copy loses no row and leaves no duplicate; connectors without a
//! grant, off the allow-list, or dialling a forbidden or unresolved address are refused.

use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::{Value, json};
use wasm_connect::coordinator::State as TaskState;
use wasm_connect_tests::{
    ServedWorker, TestWorker, child::ChildWorker, init_logging, postgres::PgServer,
    postgres::TestDatabase, wait_until,
};

const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Worker settings that let connectors reach the test server on loopback.
const PRIVATE: (&str, &str) = ("sandbox.tcp.allow.private.networks", "true");

/// The connection settings of a connector of `db`, with its TCP grant.
fn connection(db: &TestDatabase) -> Vec<(String, String)> {
    vec![
        ("connection.url".into(), db.url()),
        ("connection.user".into(), "postgres".into()),
        (
            "connection.password".into(),
            wasm_connect_tests::postgres::PASSWORD.into(),
        ),
        ("sandbox.tcp.allow".into(), db.allow()),
    ]
}

async fn create(
    worker: &TestWorker,
    name: &str,
    class: &str,
    db: &TestDatabase,
    extra: &[(&str, &str)],
) {
    let mut pairs: Vec<(String, String)> = vec![
        ("name".into(), name.into()),
        ("connector.class".into(), class.into()),
    ];
    pairs.extend(connection(db));
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    worker.create(&pairs).await;
}

/// The JSON values of the first `count` records of `topic`.
async fn topic_values(worker: &TestWorker, topic: &str, count: usize) -> Vec<Value> {
    worker
        .read_topic(topic, count)
        .await
        .into_iter()
        .map(|record| serde_json::from_slice(&record.value.unwrap_or_default()).unwrap())
        .collect()
}

/// Why creating the connector was refused.
async fn create_error(worker: &TestWorker, pairs: Vec<(String, String)>) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let submission = wasm_connect::config::ConnectorSubmission::from_config(
        wasm_connect_tests::settings(&pairs),
        wasm_connect::config::InitialState::Running,
    )
    .unwrap();
    worker
        .herder
        .create_connector(submission)
        .await
        .expect_err("the connector is refused")
        .to_string()
}

async fn create_pairs(worker: &TestWorker, pairs: Vec<(String, String)>) {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    worker.create(&pairs).await;
}

/// Asserts that tables `a` and `b` hold the same rows (`EXCEPT` both ways is empty).
async fn assert_same_rows(db: &TestDatabase, a: &str, b: &str) {
    for (x, y) in [(a, b), (b, a)] {
        let differing = db
            .count(&format!(
                "SELECT count(*) FROM (SELECT * FROM {x} EXCEPT SELECT * FROM {y}) q"
            ))
            .await;
        assert_eq!(differing, 0, "rows of {x} not in {y}");
    }
}

/// Waits until the connector or its task 0 failed; the trace.
async fn wait_failed(worker: &TestWorker, name: &str) -> String {
    wait_until(Duration::from_secs(60), &format!("{name} to fail"), || {
        worker.herder.status(name).is_some_and(|status| {
            status.connector.state == TaskState::Failed
                || status
                    .tasks
                    .get(&0)
                    .is_some_and(|task| task.state == TaskState::Failed)
        })
    })
    .await;
    let status = worker.herder.status(name).unwrap();
    if status.connector.state == TaskState::Failed {
        return status.connector.trace.clone().unwrap_or_default();
    }
    status.tasks[&0].trace.clone().unwrap_or_default()
}

/// Every type the connectors map, nulls in every nullable column of every seventh row.
/// Times and timestamps have millisecond precision, Connect's.
const EVERY_TYPE_TABLE: &str = "
    CREATE TABLE src (
        id bigint PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint NOT NULL,
        f4 real, f8 double precision, n numeric(12, 3), free numeric, t text NOT NULL,
        vc varchar(40), bpc char(4), by bytea, j jsonb, u uuid, ts timestamp,
        tstz timestamptz, d date, tm time
    );";

fn every_type_rows(from: i64, to: i64) -> String {
    format!(
        "INSERT INTO src SELECT g,
            CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE (g % 30000)::int2 END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 3 - 150000)::int4 END,
            g::int8 * 100003,
            CASE WHEN g % 7 = 0 THEN NULL ELSE g::real / 7 END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE g::float8 / 7 END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 1.237 - 5000)::numeric(12, 3) END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE g / 8.0 END,
            'row ' || g || ' ünïcödé ''quoted'' \"dq\"',
            CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text) END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE (g % 1000)::text END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 8, '0'), 'hex') END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE jsonb_build_object('g', g, 'a', jsonb_build_array(1, 'x')) END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text)::uuid END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE timestamp '1999-12-31 23:00:00' + g * interval '1.001 second' END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2024-02-29 12:00:00+00' - g * interval '61.007 second' END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE date '1969-06-01' + (g % 40000)::int END,
            CASE WHEN g % 7 = 0 THEN NULL ELSE time '00:00' + ((g * 7919) % 86400000) * interval '1 millisecond' END
         FROM generate_series({from}, {to}) g;"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mapped_type_goes_table_to_topic_to_table_unchanged() {
    init_logging();
    const ROWS: i64 = 100_000;
    let db = PgServer::get().database("types").await;
    db.execute(EVERY_TYPE_TABLE).await;
    db.execute(&every_type_rows(1, ROWS)).await;
    db.execute("CREATE TABLE dst (LIKE src INCLUDING ALL);")
        .await;
    let worker = TestWorker::embedded(&[PRIVATE]).await;
    create(
        &worker,
        "source",
        "PostgresSource",
        &db,
        &[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("table.include.list", "src"),
            ("topic.prefix", "pg-"),
            ("batch.max.rows", "2000"),
            ("poll.interval.ms", "100"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    )
    .await;
    create(
        &worker,
        "sink",
        "PostgresSink",
        &db,
        &[
            ("topics", "pg-src"),
            ("table.name.format", "dst"),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_value"),
            ("pk.fields", "id"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    )
    .await;
    // The same topic into a table the sink creates from the records' schemas.
    create(
        &worker,
        "auto",
        "PostgresSink",
        &db,
        &[
            ("topics", "pg-src"),
            ("table.name.format", "auto_dst"),
            ("insert.mode", "insert"),
            ("pk.mode", "record_value"),
            ("pk.fields", "id"),
            ("auto.create", "true"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    )
    .await;
    let started = Instant::now();
    db.wait_count("SELECT count(*) FROM dst", ROWS, Duration::from_secs(300))
        .await;
    eprintln!(
        "{ROWS} rows table → topic → table in {:?}",
        started.elapsed()
    );
    assert_same_rows(&db, "src", "dst").await;
    // Spot checks of what EXCEPT compares loosely.
    let row = db
        .client
        .query_one(
            "SELECT s.t = d.t, s.by = d.by, s.j = d.j, s.tstz = d.tstz, s.n::text, d.n::text \
             FROM src s JOIN dst d USING (id) WHERE id = 12345",
            &[],
        )
        .await
        .unwrap();
    assert!(
        row.get::<_, bool>(0)
            && row.get::<_, bool>(1)
            && row.get::<_, bool>(2)
            && row.get::<_, bool>(3)
    );
    assert_eq!(row.get::<_, String>(4), row.get::<_, String>(5));
    db.wait_count(
        "SELECT count(*) FROM auto_dst",
        ROWS,
        Duration::from_secs(300),
    )
    .await;
    let types: Vec<(String, String, String)> = db
        .client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_name = 'auto_dst' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let expected = [
        ("id", "bigint", "NO"),
        ("b", "boolean", "YES"),
        ("i2", "smallint", "YES"),
        ("i4", "integer", "YES"),
        ("i8", "bigint", "NO"),
        ("f4", "real", "YES"),
        ("f8", "double precision", "YES"),
        ("n", "numeric", "YES"),
        ("free", "text", "YES"),
        ("t", "text", "NO"),
        ("vc", "text", "YES"),
        ("bpc", "text", "YES"),
        ("by", "bytea", "YES"),
        ("j", "text", "YES"),
        ("u", "text", "YES"),
        ("ts", "timestamp without time zone", "YES"),
        ("tstz", "timestamp without time zone", "YES"),
        ("d", "date", "YES"),
        ("tm", "time without time zone", "YES"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
        .collect();
    assert_eq!(types, expected);
    let differing = db
        .count(
            "SELECT count(*) FROM (SELECT id, b, i2, i4, i8, f4, f8, n, free::numeric, t, vc, \
             rtrim(bpc), by, j::jsonb, u::uuid, ts, tstz, d, tm FROM auto_dst \
             EXCEPT SELECT id, b, i2, i4, i8, f4, f8, n, free, t, vc, rtrim(bpc), by, j, u, ts, \
             (tstz AT TIME ZONE 'UTC'), d, tm FROM src) x",
        )
        .await;
    assert_eq!(differing, 0, "auto-created rows differ from the source's");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_pick_up_new_and_updated_rows_and_new_tables_get_a_task() {
    init_logging();
    let db = PgServer::get().database("modes").await;
    db.execute(
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, \
         updated timestamp NOT NULL DEFAULT clock_timestamp());
         INSERT INTO orders (item) VALUES ('a'), ('b'), ('c');",
    )
    .await;
    let worker = TestWorker::embedded(&[PRIVATE]).await;
    let common = [
        ("poll.interval.ms", "100"),
        ("value.converter", JSON),
        ("value.converter.schemas.enable", "false"),
        ("table.include.list", "orders"),
    ];
    let mut incrementing = vec![
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("topic.prefix", "inc-"),
    ];
    incrementing.extend(common);
    create(&worker, "inc", "PostgresSource", &db, &incrementing).await;
    let mut both = vec![
        ("mode", "timestamp+incrementing"),
        ("incrementing.column.name", "id"),
        ("timestamp.column.name", "updated"),
        ("topic.prefix", "tsi-"),
    ];
    both.extend(common);
    create(&worker, "tsi", "PostgresSource", &db, &both).await;
    let values = topic_values(&worker, "inc-orders", 3).await;
    assert_eq!(
        values.iter().map(|v| v["item"].clone()).collect::<Vec<_>>(),
        [json!("a"), json!("b"), json!("c")]
    );
    topic_values(&worker, "tsi-orders", 3).await;

    db.execute("INSERT INTO orders (item) VALUES ('d'), ('e');")
        .await;
    let values = topic_values(&worker, "inc-orders", 5).await;
    let ids: Vec<i64> = values.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        [1, 2, 3, 4, 5],
        "incrementing picks up new rows once, in order"
    );

    // An update is a new version of the row for timestamp+incrementing, not for incrementing.
    db.execute("UPDATE orders SET item = 'b2', updated = clock_timestamp() WHERE id = 2;")
        .await;
    let values = topic_values(&worker, "tsi-orders", 6).await;
    assert_eq!(values[5]["id"], 2, "{values:?}");
    assert_eq!(values[5]["item"], "b2", "{values:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(worker.read_topic("inc-orders", 5).await.len(), 5);

    // Every table of the schema: a table created while it runs gets a task.
    create(
        &worker,
        "all",
        "PostgresSource",
        &db,
        &[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("topic.prefix", "all-"),
            ("tasks.max", "4"),
            ("table.poll.interval.ms", "200"),
            ("poll.interval.ms", "100"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "false"),
        ],
    )
    .await;
    worker.wait_running("all", 1).await;
    topic_values(&worker, "all-orders", 5).await;
    db.execute(
        "CREATE TABLE late (id serial PRIMARY KEY, v text); INSERT INTO late (v) VALUES ('new');",
    )
    .await;
    worker.wait_running("all", 2).await;
    let values = topic_values(&worker, "all-late", 1).await;
    assert_eq!(values[0]["v"], "new");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_copy_loses_no_row_and_the_upsert_sink_has_no_duplicate() {
    init_logging();
    const ROWS: i64 = 60_000;
    let db = PgServer::get().database("crash").await;
    db.execute(EVERY_TYPE_TABLE).await;
    db.execute(&every_type_rows(1, ROWS)).await;
    db.execute("CREATE TABLE dst (LIKE src INCLUDING ALL);")
        .await;
    let mut worker = ChildWorker::start(&[PRIVATE, ("offset.flush.interval.ms", "500")]).await;
    let with_connection = |mut config: Value| {
        for (key, value) in connection(&db) {
            config[key] = json!(value);
        }
        config
    };
    worker
        .create(
            "source",
            with_connection(json!({
                "connector.class": "PostgresSource", "mode": "incrementing",
                "incrementing.column.name": "id", "table.include.list": "src",
                "topic.prefix": "pg-", "batch.max.rows": "200", "poll.interval.ms": "100",
                "value.converter": JSON, "value.converter.schemas.enable": "true"
            })),
        )
        .await;
    worker
        .create(
            "sink",
            with_connection(json!({
                "connector.class": "PostgresSink", "topics": "pg-src", "table.name.format": "dst",
                "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id",
                "value.converter": JSON, "value.converter.schemas.enable": "true"
            })),
        )
        .await;
    let start = Instant::now();
    loop {
        let copied = db.count("SELECT count(*) FROM dst").await;
        if copied >= ROWS / 5 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {copied} rows copied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.kill();
    let at_kill = db.count("SELECT count(*) FROM dst").await;
    assert!(
        at_kill < ROWS,
        "the copy finished before the kill ({at_kill} rows)"
    );
    // More rows while the worker is down: the source resumes from its committed id.
    db.execute(&every_type_rows(ROWS + 1, ROWS + 1000)).await;
    worker.restart().await;
    db.wait_count(
        "SELECT count(*) FROM dst",
        ROWS + 1000,
        Duration::from_secs(300),
    )
    .await;
    assert_same_rows(&db, "src", "dst").await;
    eprintln!(
        "killed at {at_kill} of {ROWS} rows; all {} rows arrived once",
        ROWS + 1000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_is_refused_without_a_grant_off_the_allow_list_and_to_forbidden_addresses() {
    init_logging();
    let db = PgServer::get().database("denied").await;
    db.execute("CREATE TABLE t (id serial PRIMARY KEY);").await;
    let source = |name: &'static str| {
        vec![
            ("name".to_owned(), name.to_owned()),
            ("connector.class".to_owned(), "PostgresSource".to_owned()),
            ("connection.url".to_owned(), db.url()),
            ("connection.user".to_owned(), "postgres".to_owned()),
            (
                "connection.password".to_owned(),
                wasm_connect_tests::postgres::PASSWORD.to_owned(),
            ),
            ("mode".to_owned(), "bulk".to_owned()),
            ("topic.prefix".to_owned(), "x-".to_owned()),
        ]
    };
    let worker = TestWorker::embedded(&[PRIVATE]).await;
    // No grant at all: `validate`, which connects, already fails, and the connector is refused.
    let error = create_error(&worker, source("nogrant")).await;
    assert!(
        error.contains("no TCP grant") && error.contains("sandbox.tcp.allow"),
        "{error}"
    );
    // A grant for another destination.
    let mut pairs = source("elsewhere");
    pairs.push(("sandbox.tcp.allow".into(), "127.0.0.1:1".into()));
    let error = create_error(&worker, pairs).await;
    assert!(
        error.contains("not on the connector's allow-list"),
        "{error}"
    );

    // The guest dials an address it did not have the host resolve: refused at dial time.
    let port = db.server.port.to_string();
    let literal = format!("127.0.0.1:{port}");
    let test_source = |name: &str, allow: &str, address: &str, resolve: &str, count: &str| {
        vec![
            ("name".to_owned(), name.to_owned()),
            ("connector.class".to_owned(), "TestSource".to_owned()),
            ("modes".to_owned(), "tcp-connect".to_owned()),
            ("topic".to_owned(), "t".to_owned()),
            ("tcp.address".to_owned(), address.to_owned()),
            ("tcp.resolve".to_owned(), resolve.to_owned()),
            ("tcp.count".to_owned(), count.to_owned()),
            ("sandbox.tcp.allow".to_owned(), allow.to_owned()),
            ("sandbox.tcp.connections".to_owned(), "2".to_owned()),
        ]
    };
    create_pairs(
        &worker,
        test_source(
            "unresolved",
            &format!("db.invalid:{port}"),
            &literal,
            "false",
            "1",
        ),
    )
    .await;
    let trace = wait_failed(&worker, "unresolved").await;
    assert!(trace.contains("connection 0: failed"), "{trace}");
    // A literal address on the allow-list is dialled, up to sandbox.tcp.connections at once.
    create_pairs(
        &worker,
        test_source("capped", &literal, &literal, "false", "3"),
    )
    .await;
    let trace = wait_failed(&worker, "capped").await;
    assert!(
        trace.contains("connection 0: connected")
            && trace.contains("connection 1: connected")
            && trace.contains("connection 2: failed"),
        "{trace}"
    );
    let metrics = worker.herder.task_metrics("capped").await;
    let outcome = |name: &str| {
        let index = wasm_connect::metrics::TCP_OUTCOMES
            .iter()
            .position(|o| *o == name)
            .unwrap();
        metrics[0].guest.tcp_connects[index].load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!((outcome("allowed"), outcome("refused_connections")), (2, 1));
    worker.stop().await;

    // Without the worker's permission, loopback is refused whether resolved or dialled.
    let strict = TestWorker::embedded(&[]).await;
    let mut pairs = source("loopback");
    pairs.push(("sandbox.tcp.allow".into(), literal.clone()));
    let error = create_error(&strict, pairs).await;
    assert!(
        error.contains("loopback") && error.contains("sandbox.tcp.allow.private.networks"),
        "{error}"
    );
    create_pairs(
        &strict,
        test_source("dial-loopback", &literal, &literal, "false", "1"),
    )
    .await;
    let trace = wait_failed(&strict, "dial-loopback").await;
    assert!(trace.contains("connection 0: failed"), "{trace}");
    let metrics = strict.herder.task_metrics("dial-loopback").await;
    let index = wasm_connect::metrics::TCP_OUTCOMES
        .iter()
        .position(|o| *o == "denied_address")
        .unwrap();
    assert_eq!(
        metrics[0].guest.tcp_connects[index].load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // A worker may forbid TCP grants altogether.
    strict.stop().await;
    let closed = TestWorker::embedded(&[("sandbox.tcp.enabled", "false")]).await;
    let mut pairs = source("forbidden");
    pairs.push(("sandbox.tcp.allow".into(), literal));
    let error = create_error(&closed, pairs).await;
    assert!(error.contains("sandbox.tcp.enabled=false"), "{error}");
    closed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_connects_and_blames_the_host_the_credentials_or_the_table() {
    init_logging();
    let db = PgServer::get().database("validate").await;
    db.execute("CREATE TABLE present (id serial PRIMARY KEY);")
        .await;
    let worker = ServedWorker::serve(TestWorker::embedded(&[PRIVATE]).await).await;
    let validate = |overrides: Value| {
        let mut config = json!({
            "name": "checked", "connector.class": "PostgresSource", "mode": "bulk", "topic.prefix": "v-",
            "table.include.list": "present",
        });
        for (key, value) in connection(&db) {
            config[key] = json!(value);
        }
        for (key, value) in overrides.as_object().unwrap() {
            config[key] = value.clone();
        }
        config
    };
    let errors = |reply: &Value, key: &str| -> Vec<String> {
        reply["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let path = "/connector-plugins/PostgresSource/config/validate";
    let reply = worker.put_json(path, &validate(json!({}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["error_count"], 0, "{:?}", reply.body);

    let reply = worker
        .put_json(path, &validate(json!({"connection.password": "wrong"})))
        .await;
    let found = errors(&reply.body, "connection.password");
    assert!(
        found
            .iter()
            .any(|e| e.contains("password authentication failed")),
        "{:?}",
        reply.body
    );

    let reply = worker
        .put_json(path, &validate(json!({"connection.url": format!("jdbc:postgresql://127.0.0.1:{}/nosuchdb", db.server.port)})))
        .await;
    let found = errors(&reply.body, "connection.url");
    assert!(
        found.iter().any(|e| e.contains("nosuchdb")),
        "{:?}",
        reply.body
    );

    let reply = worker
        .put_json(
            path,
            &validate(json!({"table.include.list": "present,absent"})),
        )
        .await;
    let found = errors(&reply.body, "table.include.list");
    assert!(
        found.iter().any(|e| e.contains("absent")),
        "{:?}",
        reply.body
    );
    // The password never comes back.
    assert!(
        !reply
            .body
            .to_string()
            .contains(wasm_connect_tests::postgres::PASSWORD)
    );
    worker.stop().await;
}

/// Writes (key, value) JSON texts to partition 0 of `topic`, as another application would.
async fn produce_keyed(worker: &TestWorker, topic: &str, records: &[(Value, Option<Value>)]) {
    let producer = worker
        .herder
        .services()
        .log
        .producer("test-producer")
        .expect("producer");
    let records = records
        .iter()
        .map(|(key, value)| wasm_connect::log::ProduceRecord {
            topic: topic.into(),
            partition: Some(0),
            key: Some(key.to_string().into_bytes()),
            value: value.as_ref().map(|v| v.to_string().into_bytes()),
            headers: Vec::new(),
            timestamp: None,
        })
        .collect();
    let outcomes = producer.send(records).await.expect("send").await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_upserts_by_record_key_deletes_on_tombstones_and_evolves_its_table() {
    init_logging();
    let db = PgServer::get().database("keyed").await;
    let worker = TestWorker::embedded(&[PRIVATE]).await;
    let key = |id: i64| json!({"schema": {"type": "int64", "optional": false}, "payload": id});
    let value = |id: i64, name: &str, extra: Option<i32>| {
        let mut fields = vec![
            json!({"field": "id", "type": "int64", "optional": false}),
            json!({"field": "name", "type": "string", "optional": false}),
        ];
        let mut payload = json!({"id": id, "name": name});
        if let Some(extra) = extra {
            fields.push(json!({"field": "score", "type": "int32", "optional": true}));
            payload["score"] = json!(extra);
        }
        json!({"schema": {"type": "struct", "name": "person", "optional": false, "fields": fields},
               "payload": payload})
    };
    // Two versions of key 1 in one batch (only the last may be written), a key to delete.
    produce_keyed(
        &worker,
        "people",
        &[
            (key(1), Some(value(1, "ann", None))),
            (key(2), Some(value(2, "bob", None))),
            (key(1), Some(value(1, "anna", None))),
            (key(3), Some(value(3, "cy", None))),
        ],
    )
    .await;
    create(
        &worker,
        "sink",
        "PostgresSink",
        &db,
        &[
            ("topics", "people"),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("pk.fields", "person_id"),
            ("delete.enabled", "true"),
            ("auto.create", "true"),
            ("auto.evolve", "true"),
            ("key.converter", JSON),
            ("key.converter.schemas.enable", "true"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    )
    .await;
    db.wait_count("SELECT count(*) FROM people", 3, Duration::from_secs(60))
        .await;
    // A tombstone deletes, a new field adds a column, a replayed key updates in place.
    produce_keyed(
        &worker,
        "people",
        &[
            (key(2), None),
            (key(4), Some(value(4, "dee", Some(7)))),
            (key(3), Some(value(3, "cyd", Some(9)))),
        ],
    )
    .await;
    db.wait_count(
        "SELECT count(*) FROM people WHERE score IS NOT NULL",
        2,
        Duration::from_secs(60),
    )
    .await;
    let rows: Vec<(i64, String, Option<i32>)> = db
        .client
        .query(
            "SELECT person_id, name, score FROM people ORDER BY person_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "anna".to_owned(), None),
            (3, "cyd".to_owned(), Some(9)),
            (4, "dee".to_owned(), Some(7)),
        ]
    );
    // The key column is the table's primary key.
    let key_columns = db
        .count(
            "SELECT count(*) FROM information_schema.key_column_usage \
             WHERE table_name = 'people' AND column_name = 'person_id'",
        )
        .await;
    assert_eq!(key_columns, 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_is_copied_with_the_modes_conditions_around_it() {
    init_logging();
    let db = PgServer::get().database("query").await;
    db.execute(
        "CREATE TABLE a (id serial PRIMARY KEY, v text); CREATE TABLE b (a_id int, w text);
         INSERT INTO a (v) VALUES ('x'), ('y'); INSERT INTO b VALUES (1, 'one'), (2, 'two');",
    )
    .await;
    let worker = TestWorker::embedded(&[PRIVATE]).await;
    create(
        &worker,
        "joined",
        "PostgresSource",
        &db,
        &[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            (
                "query",
                "SELECT a.id, a.v, b.w FROM a JOIN b ON b.a_id = a.id",
            ),
            ("topic.prefix", "joined"),
            ("poll.interval.ms", "100"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "false"),
        ],
    )
    .await;
    let values = topic_values(&worker, "joined", 2).await;
    assert_eq!(values[0], json!({"id": 1, "v": "x", "w": "one"}));
    db.execute("INSERT INTO a (v) VALUES ('z'); INSERT INTO b VALUES (3, 'three');")
        .await;
    let values = topic_values(&worker, "joined", 3).await;
    assert_eq!(values[2], json!({"id": 3, "v": "z", "w": "three"}));
    worker.stop().await;
}
