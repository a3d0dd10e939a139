//! The REST API against an in-process worker over real HTTP: Kafka Connect's paths, status
//! codes and bodies for creating, reading, reconfiguring, restarting, pausing, resuming,
//! stopping and deleting connectors, their offsets and active topics, plugins and config
//! validation, health and loggers, and its error bodies for duplicates, invalid configs,
//! malformed JSON, wrong content types and unknown names; connectors survive a restart.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode, body::Bytes};
use serde_json::{Value, json};
use wasm_connect::config::worker::DEFAULT_WORKER_ID;
use wasm_connect_tests::{
    ServedWorker as Api, TestWorker, init_logging, rest_client::Reply, restart_worker,
};

/// The version of the built-in and test connectors (the workspace's), which statuses show
/// (KIP-891).
const BUILTIN_VERSION: &str = env!("CARGO_PKG_VERSION");

fn error(code: u16, message: &str) -> Value {
    json!({"error_code": code, "message": message})
}

fn connector_state(reply: &Reply) -> Option<&str> {
    reply.body["connector"]["state"].as_str()
}

fn source_config(api: &Api, name: &str) -> Value {
    json!({
        "connector.class": "FileStreamSource",
        "file": api.worker.path("input.txt").display().to_string(),
        "topic": "lines",
        "name": name,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_lives_through_the_rest_api() {
    let api = Api::start().await;
    std::fs::write(api.worker.path("input.txt"), "a\nb\n").expect("input");
    let config = source_config(&api, "source");

    let created = api
        .post("/connectors", &json!({"name": "source", "config": config}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.location.as_deref(), Some("/connectors/source"));
    assert_eq!(
        created.body,
        // As Kafka Connect's standalone herder, the answer comes once the tasks were generated.
        json!({"name": "source", "config": config, "tasks": [{"connector": "source", "task": 0}], "type": "source"})
    );

    let running = api
        .wait_for("/connectors/source/status", "RUNNING", |reply| {
            connector_state(reply) == Some("RUNNING")
                && reply.body["tasks"][0]["state"] == "RUNNING"
        })
        .await;
    assert_eq!(running.status, StatusCode::OK);
    let task_running = json!({"id": 0, "state": "RUNNING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION});
    let status_running = json!({
        "name": "source",
        "connector": {"state": "RUNNING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION},
        "tasks": [task_running],
        "type": "source",
    });
    assert_eq!(running.body, status_running);

    let names = api.get("/connectors").await;
    assert_eq!(
        (names.status, names.body),
        (StatusCode::OK, json!(["source"]))
    );
    let info = json!({
        "name": "source",
        "config": config,
        "tasks": [{"connector": "source", "task": 0}],
        "type": "source",
    });
    let one = api.get("/connectors/source").await;
    assert_eq!((one.status, one.body), (StatusCode::OK, info.clone()));
    let trailing = api.get("/connectors/source/").await;
    assert_eq!(
        (trailing.status, trailing.body),
        (StatusCode::OK, info.clone())
    );
    let expanded = api.get("/connectors?expand=status&expand=info").await;
    assert_eq!(
        (expanded.status, expanded.body),
        (
            StatusCode::OK,
            json!({"source": {"status": status_running, "info": info}})
        )
    );
    let only_info = api.get("/connectors/?expand=info&expand=bogus").await;
    assert_eq!(only_info.body, json!({"source": {"info": info}}));
    let only_unknown = api.get("/connectors?expand=bogus").await;
    assert_eq!(only_unknown.body, json!({"source": {}}));

    let stored = api.get("/connectors/source/config").await;
    assert_eq!(
        (stored.status, stored.body),
        (StatusCode::OK, config.clone())
    );

    let tasks = api.get("/connectors/source/tasks").await;
    assert_eq!(tasks.status, StatusCode::OK);
    let tasks = tasks.body.as_array().expect("array").clone();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["id"], json!({"connector": "source", "task": 0}));
    assert!(tasks[0]["config"].is_object(), "{tasks:?}");
    let task = api.get("/connectors/source/tasks/0/status").await;
    assert_eq!((task.status, task.body), (StatusCode::OK, task_running));
    let no_task = api.get("/connectors/source/tasks/7/status").await;
    assert_eq!(
        (no_task.status, no_task.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "No status found for task source-7")
        )
    );

    let paused = api.put("/connectors/source/pause").await;
    assert_eq!(
        (paused.status, paused.body),
        (StatusCode::ACCEPTED, Value::Null)
    );
    let status = api
        .wait_for("/connectors/source/status", "PAUSED", |reply| {
            connector_state(reply) == Some("PAUSED") && reply.body["tasks"][0]["state"] == "PAUSED"
        })
        .await;
    assert_eq!(status.body["tasks"].as_array().map(Vec::len), Some(1));

    let resumed = api.put("/connectors/source/resume").await;
    assert_eq!(
        (resumed.status, resumed.body),
        (StatusCode::ACCEPTED, Value::Null)
    );
    let status = api
        .wait_for("/connectors/source/status", "RUNNING again", |reply| {
            connector_state(reply) == Some("RUNNING")
                && reply.body["tasks"][0]["state"] == "RUNNING"
        })
        .await;
    assert_eq!(status.body, status_running);

    let stopped = api.put("/connectors/source/stop").await;
    assert_eq!(
        (stopped.status, stopped.body),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let status = api
        .wait_for("/connectors/source/status", "STOPPED", |reply| {
            connector_state(reply) == Some("STOPPED") && reply.body["tasks"] == json!([])
        })
        .await;
    assert_eq!(
        status.body,
        json!({
            "name": "source",
            "connector": {"state": "STOPPED", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION},
            "tasks": [],
            "type": "source",
        })
    );
    let tasks = api.get("/connectors/source/tasks").await;
    assert_eq!((tasks.status, tasks.body), (StatusCode::OK, json!([])));
    let info = api.get("/connectors/source").await;
    assert_eq!(info.body["tasks"], json!([]));

    let resumed = api.put("/connectors/source/resume").await;
    assert_eq!(resumed.status, StatusCode::ACCEPTED);
    api.wait_for(
        "/connectors/source/status",
        "RUNNING after STOPPED",
        |reply| {
            connector_state(reply) == Some("RUNNING")
                && reply.body["tasks"][0]["state"] == "RUNNING"
        },
    )
    .await;

    let deleted = api.send(Method::DELETE, "/connectors/source", None).await;
    assert_eq!(
        (deleted.status, deleted.body),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let gone = api.get("/connectors/source").await;
    assert_eq!(
        (gone.status, gone.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "Connector source not found")
        )
    );
    let gone = api.get("/connectors/source/status").await;
    assert_eq!(
        (gone.status, gone.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "No status found for connector source")
        )
    );
    let names = api.get("/connectors").await;
    assert_eq!(names.body, json!([]));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_kafka_connects_codes_and_bodies() {
    let api = Api::start().await;
    let config = source_config(&api, "source");
    let created = api
        .post(
            "/connectors",
            &json!({"name": "source", "config": config, "initial_state": "stopped"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    api.wait_for("/connectors/source/status", "STOPPED", |reply| {
        connector_state(reply) == Some("STOPPED")
    })
    .await;

    let duplicate = api
        .post("/connectors", &json!({"name": "source", "config": config}))
        .await;
    assert_eq!(
        (duplicate.status, duplicate.body),
        (
            StatusCode::CONFLICT,
            error(409, "Connector source already exists")
        )
    );

    let mut zero_tasks = source_config(&api, "zero");
    zero_tasks["tasks.max"] = json!(0);
    let invalid = api
        .post(
            "/connectors",
            &json!({"name": "zero", "config": zero_tasks}),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "invalid value `0` for setting `tasks.max`: expected an integer of at least 1"
            )
        )
    );

    let mut no_topic = source_config(&api, "no-topic");
    no_topic.as_object_mut().expect("object").remove("topic");
    let invalid = api
        .post(
            "/connectors",
            &json!({"name": "no-topic", "config": no_topic}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.body["error_code"], 400);
    let message = invalid.body["message"].as_str().expect("message");
    assert!(
        message.starts_with(
            "Connector configuration is invalid and contains the following 1 error(s):\ntopic: "
        ),
        "{message}"
    );

    let mismatch = api
        .post(
            "/connectors",
            &json!({"name": "other", "config": source_config(&api, "source")}),
        )
        .await;
    assert_eq!(
        (mismatch.status, mismatch.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Connector name configuration (source) doesn't match connector name in the URL (other)"
            )
        )
    );

    let no_class = api
        .post(
            "/connectors",
            &json!({"name": "x", "config": {"topic": "t"}}),
        )
        .await;
    assert_eq!(
        (no_class.status, no_class.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Connector config {name=x, topic=t} contains no connector type"
            )
        )
    );

    for body in ["{\"name\": \"x\", \"config\": {", "not json", ""] {
        let malformed = api.send(Method::POST, "/connectors", Some(body)).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(malformed.body["error_code"], 400);
        let message = malformed.body["message"].as_str().expect("message");
        assert!(
            message.starts_with("Malformed JSON request body: "),
            "{message}"
        );
    }
    let not_object = api.post("/connectors", &json!(["x"])).await;
    assert_eq!(not_object.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_object.body["error_code"], 400);

    for path in [
        "/connectors/missing",
        "/connectors/missing/config",
        "/connectors/missing/tasks",
    ] {
        let missing = api.get(path).await;
        assert_eq!(
            (missing.status, missing.body),
            (
                StatusCode::NOT_FOUND,
                error(404, "Connector missing not found")
            ),
            "{path}"
        );
    }
    let missing = api.send(Method::DELETE, "/connectors/missing", None).await;
    assert_eq!(
        (missing.status, missing.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "Connector missing not found")
        )
    );
    let missing = api.get("/connectors/missing/status").await;
    assert_eq!(
        (missing.status, missing.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "No status found for connector missing")
        )
    );
    for action in ["pause", "resume", "stop"] {
        let missing = api.put(&format!("/connectors/missing/{action}")).await;
        assert_eq!(
            (missing.status, missing.body),
            (
                StatusCode::NOT_FOUND,
                error(404, "Unknown connector missing")
            ),
            "{action}"
        );
    }
    let unknown = api.get("/no-such-path").await;
    assert_eq!(
        (unknown.status, unknown.body),
        (StatusCode::NOT_FOUND, error(404, "HTTP 404 Not Found"))
    );
    let wrong_method = api
        .send(Method::PATCH, "/connectors/source/pause", None)
        .await;
    assert_eq!(
        (wrong_method.status, wrong_method.body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            error(405, "HTTP 405 Method Not Allowed")
        )
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_and_plugins_describe_the_worker() {
    let api = Api::start().await;
    let root = api.get("/").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(root.body["commit"].is_string(), "{:?}", root.body);
    assert_eq!(root.body["kafka_cluster_id"], Value::Null);
    // Kafka Connect's three fields, and this host's capacity.
    assert_eq!(root.body.as_object().map(|object| object.len()), Some(4));
    let capacity = &root.body["capacity"];
    assert!(capacity["instances_max"].as_u64() > Some(0), "{capacity}");
    assert!(capacity["limited_by"].is_string(), "{capacity}");

    let plugins = api.get("/connector-plugins/").await;
    assert_eq!(plugins.status, StatusCode::OK);
    let plugins = plugins.body.as_array().expect("array").clone();
    let source = plugins
        .iter()
        .find(|plugin| plugin["class"] == "FileStreamSource")
        .unwrap_or_else(|| panic!("no FileStreamSource in {plugins:?}"));
    assert_eq!(
        source,
        &json!({"class": "FileStreamSource", "type": "source", "version": "0.1.0"})
    );
    assert!(
        plugins
            .iter()
            .any(|plugin| plugin["class"] == "FileStreamSink" && plugin["type"] == "sink"),
        "{plugins:?}"
    );
    api.stop().await;
}

fn task_running(reply: &Reply) -> bool {
    connector_state(reply) == Some("RUNNING") && reply.body["tasks"][0]["state"] == "RUNNING"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_config_updates_restart_tasks() {
    let api = Api::start().await;
    std::fs::write(api.worker.path("input.txt"), "a\n").expect("input");
    let health = api.get("/health").await;
    assert_eq!(
        (health.status, health.body),
        (
            StatusCode::OK,
            json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
        )
    );

    // PUT creates (201 + Location) ...
    let mut config = source_config(&api, "source");
    config.as_object_mut().expect("object").remove("name");
    let created = api.put_json("/connectors/source/config", &config).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.location.as_deref(), Some("/connectors/source"));
    let mut stored = config.clone();
    stored["name"] = json!("source");
    assert_eq!(
        created.body,
        json!({"name": "source", "config": stored, "tasks": [{"connector": "source", "task": 0}], "type": "source"})
    );
    api.wait_for("/connectors/source/status", "RUNNING", task_running)
        .await;

    // ... and replaces (200), restarting the tasks with the new config.
    let mut changed = stored.clone();
    changed["topic"] = json!("other-lines");
    let replaced = api.put_json("/connectors/source/config/", &changed).await;
    assert_eq!(replaced.status, StatusCode::OK, "{replaced:?}");
    assert_eq!(replaced.location, None);
    assert_eq!(replaced.body["config"], changed);
    let tasks = api
        .wait_for(
            "/connectors/source/tasks",
            "tasks on the new topic",
            |reply| reply.body[0]["config"]["topic"] == "other-lines",
        )
        .await;
    assert_eq!(tasks.status, StatusCode::OK);
    api.wait_for("/connectors/source/status", "RUNNING again", task_running)
        .await;

    // PATCH merges; null removes a key.
    let patched = api
        .patch(
            "/connectors/source/config",
            &json!({"batch.size": 10, "topic": "patched"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{patched:?}");
    assert_eq!(patched.body["config"]["batch.size"], "10");
    assert_eq!(patched.body["config"]["topic"], "patched");
    assert_eq!(patched.body["config"]["file"], changed["file"]);
    let removed = api
        .patch("/connectors/source/config", &json!({"batch.size": null}))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    assert!(removed.body["config"].get("batch.size").is_none());
    api.wait_for("/connectors/source/tasks", "patched tasks", |reply| {
        reply.body[0]["config"]["topic"] == "patched"
            && reply.body[0]["config"]["batch.size"] == "2000"
    })
    .await;
    let stored = api.get("/connectors/source/config").await;
    assert_eq!(stored.body, removed.body["config"]);

    // Errors.
    let missing = api
        .patch("/connectors/missing/config", &json!({"topic": "x"}))
        .await;
    assert_eq!(
        (missing.status, missing.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "Connector missing not found")
        )
    );
    let mismatch = api
        .put_json("/connectors/other/config", &source_config(&api, "source"))
        .await;
    assert_eq!(
        (mismatch.status, mismatch.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Connector name configuration (source) doesn't match connector name in the URL (other)"
            )
        )
    );
    let no_class = api
        .put_json("/connectors/x/config", &json!({"topic": "t"}))
        .await;
    assert_eq!(
        (no_class.status, no_class.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Connector config {name=x, topic=t} contains no connector type"
            )
        )
    );
    let unclassed = api
        .patch(
            "/connectors/source/config",
            &json!({"connector.class": null}),
        )
        .await;
    assert_eq!(unclassed.status, StatusCode::BAD_REQUEST);
    let mut invalid = stored.body.clone();
    invalid["tasks.max"] = json!("0");
    let invalid = api.put_json("/connectors/source/config", &invalid).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    // A rejected update leaves the connector as it was.
    let unchanged = api.get("/connectors/source/config").await;
    assert_eq!(unchanged.body, stored.body);
    for body in ["{", "[1]", "{\"a\": {\"b\": 1}}"] {
        for method in [Method::PUT, Method::PATCH] {
            let reply = api
                .send(method.clone(), "/connectors/source/config", Some(body))
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {body}");
            assert_eq!(reply.body["error_code"], 400);
        }
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_follow_kip_745() {
    let api = Api::start().await;
    std::fs::write(api.worker.path("input.txt"), "a\n").expect("input");
    let created = api
        .post(
            "/connectors",
            &json!({"name": "source", "config": source_config(&api, "source")}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    api.wait_for("/connectors/source/status", "RUNNING", task_running)
        .await;

    // Only the connector, the legacy way: 204, no body.
    let restarted = api
        .send(Method::POST, "/connectors/source/restart", None)
        .await;
    assert_eq!(
        (restarted.status, restarted.body),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    api.wait_for("/connectors/source/status", "RUNNING", task_running)
        .await;

    // With tasks: 202 and every instance RESTARTING (flags in any case).
    let restarted = api
        .send(
            Method::POST,
            "/connectors/source/restart?includeTasks=TRUE&onlyFailed=False",
            None,
        )
        .await;
    assert_eq!(restarted.status, StatusCode::ACCEPTED);
    assert_eq!(
        restarted.body,
        json!({
            "name": "source",
            "connector": {"state": "RESTARTING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION},
            "tasks": [{"id": 0, "state": "RESTARTING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION}],
            "type": "source",
        })
    );
    api.wait_for(
        "/connectors/source/status",
        "RUNNING after restart",
        task_running,
    )
    .await;

    // Only failed ones, when nothing failed: 202 with nothing marked.
    let nothing = api
        .send(
            Method::POST,
            "/connectors/source/restart?includeTasks=true&onlyFailed=true",
            None,
        )
        .await;
    assert_eq!(nothing.status, StatusCode::ACCEPTED);
    assert_eq!(nothing.body["connector"]["state"], "RUNNING");
    assert_eq!(nothing.body["tasks"][0]["state"], "RUNNING");

    let task = api
        .send(Method::POST, "/connectors/source/tasks/0/restart/", None)
        .await;
    assert_eq!(
        (task.status, task.body),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    api.wait_for("/connectors/source/status", "task RUNNING", task_running)
        .await;

    for path in [
        "/connectors/missing/restart",
        "/connectors/missing/restart?includeTasks=true",
        "/connectors/missing/restart?onlyFailed=true",
        "/connectors/missing/tasks/0/restart",
    ] {
        let missing = api.send(Method::POST, path, None).await;
        assert_eq!(
            (missing.status, missing.body),
            (
                StatusCode::NOT_FOUND,
                error(404, "Unknown connector: missing")
            ),
            "{path}"
        );
    }
    for task in ["9", "x"] {
        let missing = api
            .send(
                Method::POST,
                &format!("/connectors/source/tasks/{task}/restart"),
                None,
            )
            .await;
        assert_eq!(
            (missing.status, missing.body),
            (
                StatusCode::NOT_FOUND,
                error(404, &format!("Unknown task: source-{task}"))
            )
        );
    }
    let wrong_method = api.get("/connectors/source/restart").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_configs_and_validation() {
    let api = Api::start().await;
    let connectors = api.get("/connector-plugins").await;
    assert!(
        connectors
            .body
            .as_array()
            .expect("array")
            .iter()
            .all(|plugin| plugin["type"] == "source" || plugin["type"] == "sink")
    );
    let all = api.get("/connector-plugins?connectorsOnly=FALSE").await;
    let all = all.body.as_array().expect("array").clone();
    assert!(
        all.iter().any(
            |plugin| plugin["class"] == "org.apache.kafka.connect.json.JsonConverter"
                && plugin["type"] == "converter"
        ),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|plugin| plugin["type"] == "header_converter"),
        "{all:?}"
    );
    assert!(
        all.iter().any(|plugin| plugin["class"]
            == "org.apache.kafka.connect.transforms.InsertField$Value"
            && plugin["type"] == "transformation"),
        "{all:?}"
    );
    assert!(
        all.iter().any(|plugin| plugin["class"]
            == "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
            && plugin["type"] == "predicate"),
        "{all:?}"
    );

    let config = api.get("/connector-plugins/FileStreamSource/config").await;
    assert_eq!(config.status, StatusCode::OK);
    let keys = config.body.as_array().expect("array").clone();
    let names: Vec<&str> = keys.iter().filter_map(|key| key["name"].as_str()).collect();
    assert_eq!(&names[..3], ["file", "topic", "batch.size"], "{names:?}");
    assert!(names.contains(&"tasks.max") && names.contains(&"connector.class"));
    let tasks_max = keys
        .iter()
        .find(|key| key["name"] == "tasks.max")
        .expect("tasks.max");
    assert_eq!(
        tasks_max,
        &json!({"name": "tasks.max", "type": "INT", "required": false, "default_value": "1",
                "importance": "HIGH", "documentation": "Maximum number of tasks to use for this connector.",
                "group": "Common", "order": 3, "width": "SHORT", "display_name": "Tasks max",
                "dependents": []})
    );
    for alias in [
        "FileStreamSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "filestreamsource",
    ] {
        let aliased = api
            .get(&format!("/connector-plugins/{alias}/config/"))
            .await;
        assert_eq!(
            (aliased.status, &aliased.body),
            (StatusCode::OK, &config.body),
            "{alias}"
        );
    }
    let unknown = api.get("/connector-plugins/Nope/config").await;
    assert_eq!(
        (unknown.status, unknown.body),
        (StatusCode::NOT_FOUND, error(404, "Unknown plugin Nope."))
    );

    // A valid config: 200, no errors, name as submitted. The file is in a directory of its
    // own (`/tmp` would hold the worker's data.dir, which no connector may be granted).
    let input = tempfile::tempdir().expect("temporary directory");
    let valid = json!({
        "connector.class": "FileStreamSourceConnector",
        "name": "v",
        "file": input.path().join("in.txt"),
        "topic": "t",
    });
    let validated = api
        .put_json(
            "/connector-plugins/FileStreamSource/config/validate",
            &valid,
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{validated:?}");
    assert_eq!(validated.body["name"], "FileStreamSourceConnector");
    assert_eq!(validated.body["error_count"], 0, "{:?}", validated.body);
    let groups = validated.body["groups"].as_array().expect("groups");
    assert_eq!(groups[0], "Common");
    let configs = validated.body["configs"].as_array().expect("configs");
    let find = |configs: &[Value], name: &str| {
        configs
            .iter()
            .find(|config| config["definition"]["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(
        find(configs, "topic")["value"],
        json!({"name": "topic", "value": "t", "recommended_values": [], "errors": [], "visible": true})
    );
    assert_eq!(find(configs, "tasks.max")["value"]["value"], "1");
    assert_eq!(
        find(configs, "key.converter")["definition"]["default_value"],
        Value::Null
    );

    // An invalid one is still 200, with the errors counted.
    let invalid = json!({
        "connector.class": "FileStreamSource",
        "tasks.max": "zero",
        "topic": "a,b",
    });
    let validated = api
        .put_json(
            "/connector-plugins/FileStreamSource/config/validate",
            &invalid,
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{validated:?}");
    let configs = validated.body["configs"].as_array().expect("configs");
    assert_eq!(
        find(configs, "tasks.max")["value"]["errors"],
        json!(["Invalid value zero for configuration tasks.max: Not a number of type INT"])
    );
    assert_eq!(
        find(configs, "name")["value"]["errors"],
        json!(["Missing required configuration \"name\" which has no default value."])
    );
    assert!(
        !find(configs, "file")["value"]["errors"]
            .as_array()
            .expect("errors")
            .is_empty()
    );
    assert!(
        !find(configs, "topic")["value"]["errors"]
            .as_array()
            .expect("errors")
            .is_empty()
    );
    let total: usize = configs
        .iter()
        .map(|config| config["value"]["errors"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(validated.body["error_count"], total);
    assert!(total >= 4, "{total}");

    // A sink without topics.
    let sink = api
        .put_json(
            "/connector-plugins/FileStreamSinkConnector/config/validate",
            &json!({"connector.class": "FileStreamSink", "name": "s", "file": "/tmp/out"}),
        )
        .await;
    assert_eq!(sink.status, StatusCode::OK);
    let configs = sink.body["configs"].as_array().expect("configs");
    assert_eq!(
        find(configs, "topics")["value"]["errors"],
        json!(["Must configure one of topics or topics.regex"])
    );

    let no_class = api
        .put_json(
            "/connector-plugins/FileStreamSource/config/validate",
            &json!({"topic": "t"}),
        )
        .await;
    assert_eq!(
        (no_class.status, no_class.body),
        (
            StatusCode::BAD_REQUEST,
            error(400, "Connector config {topic=t} contains no connector type")
        )
    );
    let other = api
        .put_json(
            "/connector-plugins/FileStreamSink/config/validate",
            &json!({"connector.class": "FileStreamSource"}),
        )
        .await;
    assert_eq!(
        (other.status, other.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Included connector type FileStreamSource does not match request type FileStreamSink"
            )
        )
    );
    let malformed = api
        .send(
            Method::PUT,
            "/connector-plugins/FileStreamSource/config/validate",
            Some("{nope"),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_types_are_415() {
    let api = Api::start().await;
    let body = json!({"name": "x", "config": source_config(&api, "x")}).to_string();
    for (method, path) in [
        (Method::POST, "/connectors"),
        (Method::PUT, "/connectors/x/config"),
        (Method::PATCH, "/connectors/x/config"),
        (
            Method::PUT,
            "/connector-plugins/FileStreamSource/config/validate",
        ),
        (Method::PUT, "/admin/loggers/root"),
    ] {
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let reply = api
                .send_typed(method.clone(), path, Some(&body), Some(content_type))
                .await;
            assert_eq!(
                (reply.status, reply.body),
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    error(415, "HTTP 415 Unsupported Media Type")
                ),
                "{method} {path} {content_type}"
            );
        }
    }
    // Parameters and case do not matter.
    let reply = api
        .send_typed(
            Method::POST,
            "/connectors",
            Some(&body),
            Some("Application/JSON; charset=utf-8"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert!(api.get("/connectors").await.body == json!(["x"]));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_offsets_and_topics() {
    let api = Api::start().await;
    let input = api.worker.path("input.txt");
    std::fs::write(&input, "one\ntwo\n").expect("input");
    let created = api
        .post(
            "/connectors",
            &json!({"name": "source", "config": source_config(&api, "source")}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let partition = json!({"filename": input.display().to_string()});
    let offsets = api
        .wait_for("/connectors/source/offsets", "committed offsets", |reply| {
            reply.body["offsets"][0]["offset"]["position"] == 8
        })
        .await;
    assert_eq!(
        offsets.body,
        json!({"offsets": [{"partition": partition, "offset": {"position": 8}}]})
    );

    let topics = api.get("/connectors/source/topics").await;
    assert_eq!(
        (topics.status, topics.body),
        (StatusCode::OK, json!({"source": {"topics": ["lines"]}}))
    );
    let reset = api.put("/connectors/source/topics/reset").await;
    assert_eq!(
        (reset.status, reset.body),
        (StatusCode::ACCEPTED, Value::Null)
    );
    let topics = api.get("/connectors/source/topics").await;
    assert_eq!(topics.body, json!({"source": {"topics": []}}));
    let unknown = api.get("/connectors/missing/topics").await;
    assert_eq!(
        (unknown.status, unknown.body),
        (StatusCode::OK, json!({"missing": {"topics": []}}))
    );
    assert_eq!(
        api.put("/connectors/missing/topics/reset").await.status,
        StatusCode::ACCEPTED
    );

    let alter = json!({"offsets": [{"partition": partition, "offset": {"position": 4}}]});
    let running = api.patch("/connectors/source/offsets", &alter).await;
    let not_stopped = "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/source/stop' endpoint";
    assert_eq!(
        (running.status, running.body),
        (StatusCode::BAD_REQUEST, error(400, not_stopped))
    );
    let running = api
        .send(Method::DELETE, "/connectors/source/offsets", None)
        .await;
    assert_eq!(
        (running.status, running.body),
        (StatusCode::BAD_REQUEST, error(400, not_stopped))
    );

    assert_eq!(
        api.put("/connectors/source/stop").await.status,
        StatusCode::NO_CONTENT
    );
    api.wait_for("/connectors/source/status", "STOPPED", |reply| {
        connector_state(reply) == Some("STOPPED") && reply.body["tasks"] == json!([])
    })
    .await;
    let altered = api.patch("/connectors/source/offsets", &alter).await;
    assert_eq!(
        (altered.status, altered.body),
        (
            StatusCode::OK,
            json!({"message": "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."})
        )
    );
    let offsets = api.get("/connectors/source/offsets").await;
    assert_eq!(offsets.body["offsets"][0]["offset"], json!({"position": 4}));
    for body in [
        json!({}),
        json!({"offsets": []}),
        json!({"offsets": [{"offset": {"position": 1}}]}),
    ] {
        let bad = api.patch("/connectors/source/offsets", &body).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let empty = api
        .send(Method::PATCH, "/connectors/source/offsets", Some(""))
        .await;
    assert_eq!(
        (empty.status, empty.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Partitions / offsets need to be provided for an alter offsets request"
            )
        )
    );
    let reset = api
        .send(Method::DELETE, "/connectors/source/offsets", None)
        .await;
    assert_eq!(
        (reset.status, reset.body),
        (
            StatusCode::OK,
            json!({"message": "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."})
        )
    );
    let offsets = api.get("/connectors/source/offsets").await;
    assert_eq!(offsets.body, json!({"offsets": []}));

    // Resumed, the source reads the file again from the start.
    assert_eq!(
        api.put("/connectors/source/resume").await.status,
        StatusCode::ACCEPTED
    );
    api.wait_for("/connectors/source/offsets", "offsets again", |reply| {
        reply.body["offsets"][0]["offset"]["position"] == 8
    })
    .await;

    for method in [Method::GET, Method::DELETE] {
        let missing = api
            .send(method.clone(), "/connectors/missing/offsets", None)
            .await;
        assert_eq!(
            (missing.status, missing.body),
            (
                StatusCode::NOT_FOUND,
                error(404, "Connector missing not found")
            ),
            "{method}"
        );
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_offsets_are_the_consumer_group() {
    let api = Api::start().await;
    let input = api.worker.path("input.txt");
    std::fs::write(&input, "one\ntwo\nthree\n").expect("input");
    let created = api
        .post(
            "/connectors",
            &json!({"name": "source", "config": source_config(&api, "source")}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let output = api.worker.path("output.txt");
    let sink = json!({
        "connector.class": "FileStreamSink",
        "file": output.display().to_string(),
        "topics": "lines",
    });
    let created = api.put_json("/connectors/sink/config", &sink).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let offsets = api
        .wait_for("/connectors/sink/offsets", "sink offsets", |reply| {
            reply.body["offsets"][0]["offset"]["kafka_offset"] == 3
        })
        .await;
    assert_eq!(
        offsets.body,
        json!({"offsets": [{"partition": {"kafka_topic": "lines", "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]})
    );
    let topics = api.get("/connectors/sink/topics").await;
    assert_eq!(topics.body, json!({"sink": {"topics": ["lines"]}}));

    assert_eq!(
        api.put("/connectors/sink/stop").await.status,
        StatusCode::NO_CONTENT
    );
    api.wait_for("/connectors/sink/status", "STOPPED", |reply| {
        connector_state(reply) == Some("STOPPED") && reply.body["tasks"] == json!([])
    })
    .await;
    for (body, message) in [
        (
            json!({"offsets": [{"partition": {"kafka_topic": "lines"}, "offset": null}]}),
            "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'",
        ),
        (
            json!({"offsets": [{"partition": {"kafka_topic": "lines", "kafka_partition": "x"}, "offset": null}]}),
            "Kafka partitions must be valid numbers and may not be null",
        ),
        (
            json!({"offsets": [{"partition": {"kafka_topic": "lines", "kafka_partition": 0}, "offset": {"position": 1}}]}),
            "The offset for a sink connector should either be null or contain the key 'kafka_offset'",
        ),
    ] {
        let bad = api.patch("/connectors/sink/offsets", &body).await;
        assert_eq!(
            (bad.status, bad.body),
            (StatusCode::BAD_REQUEST, error(400, message))
        );
    }
    let altered = api
        .patch(
            "/connectors/sink/offsets",
            &json!({"offsets": [{"partition": {"kafka_topic": "lines", "kafka_partition": "0"}, "offset": {"kafka_offset": "1"}}]}),
        )
        .await;
    assert_eq!(altered.status, StatusCode::OK, "{altered:?}");
    let offsets = api.get("/connectors/sink/offsets").await;
    assert_eq!(
        offsets.body["offsets"][0]["offset"],
        json!({"kafka_offset": 1})
    );
    let reset = api
        .send(Method::DELETE, "/connectors/sink/offsets", None)
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{reset:?}");
    let offsets = api.get("/connectors/sink/offsets").await;
    assert_eq!(offsets.body, json!({"offsets": []}));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loggers_can_be_read_and_set() {
    let api = Api::start().await;
    let all = api.get("/admin/loggers").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body["root"]["level"].is_string(), "{:?}", all.body);

    let set = api
        .put_json(
            "/admin/loggers/wasm_connect::rest_test",
            &json!({"level": "debug"}),
        )
        .await;
    assert_eq!(
        (set.status, set.body),
        (StatusCode::OK, json!(["wasm_connect::rest_test"]))
    );
    let one = api.get("/admin/loggers/wasm_connect::rest_test").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["level"], "DEBUG");
    assert!(one.body["last_modified"].is_u64(), "{:?}", one.body);
    let child = api
        .get("/admin/loggers/wasm_connect::rest_test::child")
        .await;
    assert_eq!(child.body, json!({"level": "DEBUG", "last_modified": null}));
    let all = api.get("/admin/loggers").await;
    assert_eq!(all.body["wasm_connect::rest_test"]["level"], "DEBUG");

    let cluster = api
        .put_json(
            "/admin/loggers/wasm_connect::rest_test?scope=cluster",
            &json!({"level": "WARN"}),
        )
        .await;
    assert_eq!(
        (cluster.status, cluster.body),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        api.get("/admin/loggers/wasm_connect::rest_test").await.body["level"],
        "WARN"
    );
    let missing = api
        .put_json("/admin/loggers/wasm_connect::rest_test", &json!({}))
        .await;
    assert_eq!(
        (missing.status, missing.body),
        (
            StatusCode::BAD_REQUEST,
            error(
                400,
                "Desired 'level' parameter was not specified in request."
            )
        )
    );
    let invalid = api
        .put_json(
            "/admin/loggers/wasm_connect::rest_test",
            &json!({"level": "loud"}),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.body),
        (
            StatusCode::NOT_FOUND,
            error(404, "invalid log level 'loud'.")
        )
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_survive_a_worker_restart() {
    let api = Api::start().await;
    std::fs::write(api.worker.path("input.txt"), "a\n").expect("input");
    for name in ["kept", "paused", "deleted"] {
        let created = api
            .post(
                "/connectors",
                &json!({"name": name, "config": source_config(&api, name)}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let patched = api
        .patch("/connectors/kept/config", &json!({"topic": "patched"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(
        api.put("/connectors/paused/pause").await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        api.send(Method::DELETE, "/connectors/deleted", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let kept_config = api.get("/connectors/kept/config").await.body;
    let dir = api.stop().await;
    assert!(dir.path().join("data/connectors.json").exists());

    // The same data.dir: the stored connectors come back with their configs and states; a
    // connector given at start (as on the command line) wins over the stored config but keeps
    // the stored state.
    // The previous worker's log closes once the last connection task let go of it.
    let config = wasm_connect_tests::worker_config(dir.path(), &[]);
    let herder = restart_worker(config).await;
    let api = Api::serve(TestWorker { herder, dir }).await;
    let mut given = source_config(&api, "paused");
    given["topic"] = json!("given");
    let given = wasm_connect::config::ConnectorSubmission::from_json(&given).expect("submission");
    api.worker
        .herder
        .restore(vec![given])
        .await
        .expect("restore");
    let names = api.get("/connectors").await;
    assert_eq!(names.body, json!(["kept", "paused"]));
    assert_eq!(api.get("/connectors/kept/config").await.body, kept_config);
    api.wait_for("/connectors/kept/status", "kept RUNNING", task_running)
        .await;
    let paused = api
        .wait_for("/connectors/paused/status", "paused PAUSED", |reply| {
            connector_state(reply) == Some("PAUSED")
        })
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    assert_eq!(
        api.get("/connectors/paused/config").await.body["topic"],
        "given"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_failed_tasks_are_restarted() {
    let api = Api::start().await;
    let created = api
        .post(
            "/connectors",
            &json!({"name": "mixed", "config": {
                "connector.class": "TestSource",
                "tasks.max": "2",
                "modes": "panic,ok",
                "topic": "mixed",
            }}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let failed = |reply: &Reply| {
        reply.body["tasks"][0]["state"] == "FAILED" && reply.body["tasks"][1]["state"] == "RUNNING"
    };
    api.wait_for("/connectors/mixed/status", "task 0 FAILED", failed)
        .await;

    let restarted = api
        .send(
            Method::POST,
            "/connectors/mixed/restart?includeTasks=true&onlyFailed=TRUE",
            None,
        )
        .await;
    assert_eq!(restarted.status, StatusCode::ACCEPTED);
    assert_eq!(
        restarted.body,
        json!({
            "name": "mixed",
            "connector": {"state": "RUNNING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION},
            "tasks": [
                {"id": 0, "state": "RESTARTING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION},
                {"id": 1, "state": "RUNNING", "worker_id": DEFAULT_WORKER_ID, "version": BUILTIN_VERSION},
            ],
            "type": "source",
        })
    );
    // The task panics again once restarted; the healthy one kept running.
    let status = api
        .wait_for("/connectors/mixed/status", "task 0 FAILED again", failed)
        .await;
    assert!(
        status.body["tasks"][0]["trace"].is_string(),
        "{:?}",
        status.body
    );
    let restarts: Vec<u64> = api
        .worker
        .herder
        .task_metrics("mixed")
        .await
        .iter()
        .map(|metrics| metrics.restarts())
        .collect();
    assert_eq!(
        restarts,
        [0, 0],
        "restarts on request are not policy restarts"
    );

    let task = api
        .send(Method::POST, "/connectors/mixed/tasks/0/restart", None)
        .await;
    assert_eq!(task.status, StatusCode::NO_CONTENT);
    api.wait_for(
        "/connectors/mixed/status",
        "task 0 FAILED once more",
        failed,
    )
    .await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_when_the_worker_is_starting() {
    let api = Api::start().await;
    api.worker.herder.set_ready(false);
    let starting = api.get("/health/").await;
    assert_eq!(starting.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(starting.body["status"], "starting");
    assert!(
        starting.body["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("Worker is still starting up.")),
        "{:?}",
        starting.body
    );
    api.worker.herder.set_ready(true);
    let healthy = api.get("/health").await;
    assert_eq!(healthy.status, StatusCode::OK);
    assert_eq!(healthy.body["status"], "healthy");
    api.stop().await;
}

/// `component` with a custom section appended: a valid component with the same class and
/// version but other bytes.
fn with_custom_section(mut component: Vec<u8>) -> Vec<u8> {
    let name = b"note";
    let payload = b"a different build";
    // Custom section: id 0, size, then the name (length-prefixed) and the payload; every
    // length here is below 128, so one LEB128 byte each.
    component.push(0);
    component.push((1 + name.len() + payload.len()) as u8);
    component.push(name.len() as u8);
    component.extend_from_slice(name);
    component.extend_from_slice(payload);
    component
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_are_uploaded_checked_versioned_and_deleted() {
    init_logging();
    // An empty plugin.path, so the test source is not there before it is uploaded.
    let empty = tempfile::tempdir().expect("temporary directory");
    let empty_path = empty.path().display().to_string();
    let worker = TestWorker::embedded(&[("plugin.path", &empty_path)]).await;
    let api = Api::serve(worker).await;
    let component = std::fs::read(wasm_connect_tests::component("test_source")).expect("guest");
    let upload = |bytes: Vec<u8>, content_type: &'static str| {
        let api = &api;
        async move {
            api.send_bytes(
                Method::POST,
                "/connector-plugins",
                Bytes::from(bytes),
                Some(content_type),
            )
            .await
        }
    };

    let created = upload(component.clone(), "application/wasm").await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["class"], "TestSource");
    assert_eq!(created.body["type"], "source");
    let digest = created.body["digest"].as_str().expect("digest").to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let version = created.body["version"]
        .as_str()
        .expect("version")
        .to_owned();
    // The same bytes again: nothing new.
    let again = upload(component.clone(), "application/octet-stream").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["digest"], digest.as_str());
    // Other bytes under the same class and version: a conflict naming both.
    let other = upload(with_custom_section(component.clone()), "application/wasm").await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{:?}", other.body);
    let message = other.body["message"].as_str().expect("message");
    assert!(
        message.contains("TestSource") && message.contains(&version) && message.contains(&digest),
        "{message}"
    );
    // Not components: 400s that say why.
    let core = upload(b"\0asm\x01\0\0\0".to_vec(), "application/wasm").await;
    assert_eq!(core.status, StatusCode::BAD_REQUEST);
    assert!(
        core.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("core wasm module")),
        "{:?}",
        core.body
    );
    let junk = upload(b"hello".to_vec(), "application/wasm").await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST, "{:?}", junk.body);
    let empty_body = upload(Vec::new(), "application/wasm").await;
    assert_eq!(empty_body.status, StatusCode::BAD_REQUEST);
    let text = upload(b"x".to_vec(), "text/plain").await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // The uploaded plugin runs, and cannot be deleted while it does.
    let created = api
        .post(
            "/connectors",
            &json!({"name": "up", "config": {"connector.class": "TestSource", "topic": "up"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    api.worker.wait_running("up", 1).await;
    let in_use = api
        .send(Method::DELETE, "/connector-plugins/TestSource", None)
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{:?}", in_use.body);
    let builtin = api
        .send(Method::DELETE, "/connector-plugins/FileStreamSource", None)
        .await;
    assert_eq!(
        builtin.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        builtin.body
    );

    // Uploads survive a restart of the worker.
    let dir = api.stop().await;
    let mut config = wasm_connect_tests::worker_config(dir.path(), &[("plugin.path", &empty_path)]);
    config.plugin_path = vec![empty.path().to_owned()];
    let herder = restart_worker(config).await;
    // The stored connector comes back on the uploaded plugin.
    herder.restore(Vec::new()).await.expect("restore");
    let api = Api::serve(TestWorker { herder, dir }).await;
    let plugins = api.get("/connector-plugins").await.body;
    assert!(
        plugins
            .as_array()
            .expect("array")
            .iter()
            .any(|plugin| plugin["class"] == "TestSource"),
        "{plugins:?}"
    );
    api.worker.wait_running("up", 1).await;
    // Once no connector uses it, it can be deleted, and is gone.
    assert_eq!(
        api.send(Method::DELETE, "/connectors/up", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let start = Instant::now();
    loop {
        let deleted = api
            .send(Method::DELETE, "/connector-plugins/TestSource", None)
            .await;
        if deleted.status == StatusCode::NO_CONTENT {
            break;
        }
        // The connector's tasks let go of the plugin as they stop.
        assert!(
            deleted.status == StatusCode::CONFLICT && start.elapsed() < Duration::from_secs(10),
            "{deleted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let plugins = api.get("/connector-plugins").await.body;
    assert!(
        !plugins
            .as_array()
            .expect("array")
            .iter()
            .any(|plugin| plugin["class"] == "TestSource"),
        "{plugins:?}"
    );
    assert_eq!(
        api.send(Method::DELETE, "/connector-plugins/TestSource", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    api.stop().await;
}

/// The plugin version a connector's status shows, with every task's (KIP-891).
fn status_versions(reply: &Reply) -> (Option<&str>, Vec<&str>) {
    let tasks = reply.body["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .map(|task| task["version"].as_str().unwrap_or("none"))
                .collect()
        })
        .unwrap_or_default();
    (reply.body["connector"]["version"].as_str(), tasks)
}

/// Whether a connector and its one task run version `version`.
fn runs_version(reply: &Reply, version: &str) -> bool {
    connector_state(reply) == Some("RUNNING")
        && reply.body["tasks"][0]["state"] == "RUNNING"
        && status_versions(reply) == (Some(version), vec![version])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_versions_side_by_side_pinning_and_upgrades() {
    init_logging();
    let empty = tempfile::tempdir().expect("temporary directory");
    let empty_path = empty.path().display().to_string();
    let api = Api::serve(TestWorker::embedded(&[("plugin.path", &empty_path)]).await).await;
    let upload = |guest: &'static str| {
        let api = &api;
        async move {
            let bytes = std::fs::read(wasm_connect_tests::component(guest)).expect("guest");
            api.send_bytes(
                Method::POST,
                "/connector-plugins",
                Bytes::from(bytes),
                Some("application/wasm"),
            )
            .await
        }
    };
    // The same class, two versions.
    let v1 = upload("test_source").await;
    let v2 = upload("test_source_v2").await;
    for (reply, version) in [(&v1, "0.1.0"), (&v2, "0.2.0")] {
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(reply.body["class"], "TestSource");
        assert_eq!(reply.body["version"], version);
    }
    assert_ne!(v1.body["digest"], v2.body["digest"]);
    let listed: Vec<Value> = api
        .get("/connector-plugins")
        .await
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter(|plugin| plugin["class"] == "TestSource")
        .cloned()
        .collect();
    assert_eq!(
        listed,
        [
            json!({"class": "TestSource", "type": "source", "version": "0.1.0"}),
            json!({"class": "TestSource", "type": "source", "version": "0.2.0"}),
        ]
    );
    // `?version=` picks one; an unknown version is a 404, a malformed range a 400.
    assert_eq!(
        api.get("/connector-plugins/TestSource/config?version=0.1.0")
            .await
            .status,
        StatusCode::OK
    );
    let unknown = api
        .get("/connector-plugins/TestSource/config?version=0.3.0")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{:?}", unknown.body);
    assert!(
        unknown.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("0.1.0, 0.2.0")),
        "{:?}",
        unknown.body
    );
    let malformed = api
        .get("/connector-plugins/TestSource/config?version=%5B0.1,0.2")
        .await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        malformed.body
    );
    assert!(
        malformed.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("[0.1,0.2") && m.contains("not closed")),
        "{:?}",
        malformed.body
    );

    // Without `connector.plugin.version` a connector runs the newest version; a range picks the
    // newest inside it.
    let config = |version: Option<&str>| {
        let mut config =
            json!({"connector.class": "TestSource", "topic": "versions", "batch.size": "1"});
        if let Some(version) = version {
            config["connector.plugin.version"] = json!(version);
        }
        config
    };
    let latest = api
        .post(
            "/connectors",
            &json!({"name": "latest", "config": config(None)}),
        )
        .await;
    assert_eq!(latest.status, StatusCode::CREATED, "{:?}", latest.body);
    let pinned = api
        .post(
            "/connectors",
            &json!({"name": "pinned", "config": config(Some("[0.1.0,0.2.0)"))}),
        )
        .await;
    assert_eq!(pinned.status, StatusCode::CREATED, "{:?}", pinned.body);
    api.wait_for("/connectors/latest/status", "latest on 0.2.0", |reply| {
        runs_version(reply, "0.2.0")
    })
    .await;
    api.wait_for("/connectors/pinned/status", "pinned on 0.1.0", |reply| {
        runs_version(reply, "0.1.0")
    })
    .await;
    let task = api.get("/connectors/pinned/tasks/0/status").await;
    assert_eq!(task.body["version"], "0.1.0", "{:?}", task.body);

    // A version in use cannot be deleted.
    let in_use = api
        .send(
            Method::DELETE,
            "/connector-plugins/TestSource?version=0.1.0",
            None,
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{:?}", in_use.body);
    assert!(
        in_use.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("0.1.0") && m.contains("in use")),
        "{:?}",
        in_use.body
    );
    // Pinning a version that is not installed is refused, and the connector keeps running
    // the one it had.
    let missing = api
        .put_json("/connectors/pinned/config", &config(Some("0.3.0")))
        .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        missing.body
    );
    assert!(
        missing.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("0.3.0") && m.contains("0.1.0, 0.2.0")),
        "{:?}",
        missing.body
    );
    assert!(runs_version(
        &api.get("/connectors/pinned/status").await,
        "0.1.0"
    ));

    // Upgrading: the connector's tasks restart on the other version; the other connector's
    // tasks keep running untouched.
    let herder = &api.worker.herder;
    let latest_tasks = herder.task_metrics("latest").await;
    let pinned_tasks = herder.task_metrics("pinned").await;
    assert_eq!((latest_tasks.len(), pinned_tasks.len()), (1, 1));
    let upgraded = api
        .put_json("/connectors/pinned/config", &config(Some("0.2.0")))
        .await;
    assert_eq!(upgraded.status, StatusCode::OK, "{:?}", upgraded.body);
    assert_eq!(upgraded.body["config"]["connector.plugin.version"], "0.2.0");
    api.wait_for("/connectors/pinned/status", "pinned on 0.2.0", |reply| {
        runs_version(reply, "0.2.0")
    })
    .await;
    let pinned_after = herder.task_metrics("pinned").await;
    assert_eq!(pinned_after.len(), 1);
    assert!(
        !std::sync::Arc::ptr_eq(&pinned_tasks[0], &pinned_after[0]),
        "the upgraded connector's task was not restarted"
    );
    let latest_after = herder.task_metrics("latest").await;
    assert!(
        std::sync::Arc::ptr_eq(&latest_tasks[0], &latest_after[0]),
        "upgrading one connector restarted another's task"
    );
    assert!(runs_version(
        &api.get("/connectors/latest/status").await,
        "0.2.0"
    ));

    // Once nothing runs 0.1.0 it can be deleted; 0.2.0, in use, cannot.
    let start = Instant::now();
    loop {
        let deleted = api
            .send(
                Method::DELETE,
                "/connector-plugins/TestSource?version=0.1.0",
                None,
            )
            .await;
        if deleted.status == StatusCode::NO_CONTENT {
            break;
        }
        // The old tasks let go of the plugin as they stop.
        assert!(
            deleted.status == StatusCode::CONFLICT && start.elapsed() < Duration::from_secs(10),
            "{deleted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_use = api
        .send(
            Method::DELETE,
            "/connector-plugins/TestSource?version=0.2.0",
            None,
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{:?}", in_use.body);
    let versions: Vec<Value> = api
        .get("/connector-plugins")
        .await
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter(|plugin| plugin["class"] == "TestSource")
        .map(|plugin| plugin["version"].clone())
        .collect();
    assert_eq!(versions, [json!("0.2.0")]);
    assert_eq!(
        api.send(
            Method::DELETE,
            "/connector-plugins/TestSource?version=0.1.0",
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    api.stop().await;
}

/// Every operation of `GET /openapi.json`, sent with its path parameters filled in, reaches a
/// handler (neither the router's 404 nor a 405), and errors from axum's own extractors come
/// as Kafka Connect's JSON error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_matches_the_router() {
    let api = Api::start().await;
    let document = api.get("/openapi.json").await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(
        document.body,
        serde_json::from_str::<Value>(wasm_connect::rest::openapi::DOCUMENT).expect("JSON")
    );
    let paths = document.body["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{name}", "no-such-thing")
            .replace("{plugin}", "NoSuchPlugin")
            .replace("{task}", "0");
        if path == "/metrics" {
            // The one answer that is not JSON.
            let (status, _, _) = api.get_text(path, None).await;
            assert!(item["get"]["responses"].get(status.as_str()).is_some());
            operations += 1;
            continue;
        }
        for method in item.as_object().expect("path item").keys() {
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            let reply = api.send(method.clone(), &concrete, None).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete}"
            );
            assert_ne!(
                reply.body,
                error(404, "HTTP 404 Not Found"),
                "{method} {concrete} is documented but not routed"
            );
            let documented = item[method.as_str().to_ascii_lowercase()]["responses"]
                .get(reply.status.as_str())
                .is_some();
            assert!(
                documented,
                "{method} {concrete} answered {reply:?}, not documented"
            );
            operations += 1;
        }
    }
    assert_eq!(
        operations,
        wasm_connect::rest::ROUTES
            .iter()
            .map(|(_, methods)| methods.len())
            .sum::<usize>()
    );
    // A path segment that is not UTF-8, and a body over axum's limit: JSON errors.
    let not_utf8 = api.get("/connectors/%FF/status").await;
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_utf8.body["error_code"], 400);
    assert!(
        not_utf8.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let huge = format!("{{\"topic\": \"{}\"}}", "x".repeat(3 << 20));
    let too_large = api
        .send(Method::PUT, "/connectors/big/config", Some(&huge))
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.body["error_code"], 413);
    api.stop().await;
}

/// Names the fuzzer's probes turned up: a name with a control character in the URL of `PUT
/// .../config` was created and then answered 500 (an invalid `Location` header); a name with
/// `/`, spaces or non-ASCII characters got a `Location` that was not a valid path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_connector_names_are_refused_or_located() {
    let api = Api::start().await;
    let config = source_config(&api, "unused");
    let mut flat = config.clone();
    flat.as_object_mut().expect("object").remove("name");
    let control = api.put_json("/connectors/a%0Ab/config", &flat).await;
    assert_eq!(
        control.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        control.body
    );
    assert!(
        control.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("control characters")),
        "{:?}",
        control.body
    );
    assert_eq!(api.get("/connectors").await.body, json!([]));

    let created = api
        .post(
            "/connectors",
            &json!({"name": "sl/ash é?", "config": flat.clone()}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let location = created.location.expect("Location");
    assert_eq!(location, "/connectors/sl%2Fash%20%C3%A9%3F");
    // The Location leads to the connector.
    let found = api.get(&location).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(found.body["name"], "sl/ash é?");
    // Created connectors have their tasks when the answer comes (Kafka Connect's standalone
    // herder): a task restart right after creation finds the task.
    let restart = api
        .send(
            Method::POST,
            "/connectors/sl%2Fash%20%C3%A9%3F/tasks/0/restart",
            None,
        )
        .await;
    assert_eq!(restart.status, StatusCode::NO_CONTENT, "{restart:?}");
    let put = api.put_json("/connectors/sp%20ace/config", &flat).await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);
    assert_eq!(put.location.as_deref(), Some("/connectors/sp%20ace"));
    api.stop().await;
}

/// A `PATCH` is merged into the config it read; the herder applies it only if that is still
/// the connector's config, so a concurrent change makes it stale (Kafka Connect's 409) and a
/// concurrent delete makes it a 404 instead of re-creating the connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_applies_only_to_the_config_it_was_merged_into() {
    let api = Api::start().await;
    let herder = &api.worker.herder;
    let config = source_config(&api, "patched");
    let created = api
        .post("/connectors", &json!({"name": "patched", "config": config}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let read = herder.connector_config("patched").await.expect("config");
    let mut settings = read.settings.clone();
    settings.insert("tasks.max".into(), "1".into());
    // Another change lands between reading and writing.
    let replaced = api
        .patch("/connectors/patched/config", &json!({"topic": "other"}))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{:?}", replaced.body);
    let stale = herder
        .patch_connector_config("patched", &read, settings.clone())
        .await
        .expect_err("stale");
    assert!(
        matches!(stale, wasm_connect::coordinator::HerderError::Stale),
        "{stale}"
    );
    assert_eq!(
        api.get("/connectors/patched/config").await.body["topic"],
        "other"
    );
    // A delete lands between reading and writing.
    let read = herder.connector_config("patched").await.expect("config");
    assert_eq!(
        api.send(Method::DELETE, "/connectors/patched", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = herder
        .patch_connector_config("patched", &read, settings)
        .await
        .expect_err("deleted");
    assert!(
        matches!(gone, wasm_connect::coordinator::HerderError::NotFound(_)),
        "{gone}"
    );
    assert_eq!(api.get("/connectors").await.body, json!([]));
    api.stop().await;
}

/// A connector whose `validate`, `start` or `task-configs` spins until its deadline holds up
/// no read of the API, and no change to another connector: only further changes to itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_spinning_in_validate_start_or_task_configs_blocks_no_reads() {
    let api = std::sync::Arc::new(Api::start().await);
    let steady = json!({"connector.class": "TestSource", "topic": "steady", "batch.size": "1"});
    let created = api
        .post("/connectors", &json!({"name": "steady", "config": steady}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    for call in ["validate", "start", "task-configs"] {
        let name = format!("spin-{call}");
        let config = json!({
            "connector.class": "TestSource",
            "topic": "spin",
            "connector.spin": call,
            "sandbox.timeout.ms": "3000",
        });
        let request = {
            let api = api.clone();
            let body = json!({"name": name, "config": config});
            tokio::spawn(async move { api.post("/connectors", &body).await })
        };
        // Let the guest get into its loop.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !request.is_finished(),
            "{call}: the request did not wait for the guest"
        );
        for path in [
            "/connectors",
            "/connectors?expand=status&expand=info",
            "/connectors/steady",
            "/connectors/steady/status",
            "/connectors/steady/tasks",
            "/connectors/steady/config",
        ] {
            let start = Instant::now();
            let reply = api.get(path).await;
            let took = start.elapsed();
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{call}: {path}: {:?}",
                reply.body
            );
            assert!(
                took < Duration::from_millis(200),
                "{call}: {path} took {took:?} while a guest spun"
            );
        }
        // Changes to other connectors go ahead too.
        let start = Instant::now();
        assert_eq!(
            api.put("/connectors/steady/pause").await.status,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            api.put("/connectors/steady/resume").await.status,
            StatusCode::ACCEPTED
        );
        assert!(
            start.elapsed() < Duration::from_millis(400),
            "{call}: pausing another connector took {:?}",
            start.elapsed()
        );
        // The spinning call ends at its deadline.
        let reply = request.await.expect("the request");
        match call {
            "validate" => {
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
                assert!(
                    reply.body["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("deadline of 3000 ms exceeded")),
                    "{:?}",
                    reply.body
                );
            }
            _ => {
                assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
                let status = api.get(&format!("/connectors/{name}/status")).await;
                assert_eq!(
                    status.body["connector"]["state"], "FAILED",
                    "{:?}",
                    status.body
                );
            }
        }
    }
    match std::sync::Arc::try_unwrap(api) {
        Ok(api) => {
            api.stop().await;
        }
        Err(_) => panic!("the API is still shared"),
    }
}

/// `/topics` (beyond Kafka Connect): records written with binary bytes and headers come back
/// as written; bad input is a 400 naming what was wrong, unknown topics a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_written_and_read_back_over_rest() {
    let api = Api::start().await;
    let written = api
        .post(
            "/topics/browse/records",
            &json!({"records": [
                {"key": "k", "value": "text"},
                {"value": {"base64": "/wA="}, "headers": [{"key": "h", "value": "v"}]},
                {"key": null, "value": null}
            ]}),
        )
        .await;
    assert_eq!(written.status, StatusCode::OK, "{:?}", written.body);
    assert_eq!(
        written.body,
        json!({"offsets": [{"partition": 0, "offset": 0}, {"partition": 0, "offset": 1},
                           {"partition": 0, "offset": 2}]})
    );
    let listed = api.get("/topics").await;
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .contains(&json!({"name": "browse",
            "partitions": [{"partition": 0, "start_offset": 0, "end_offset": 3}]})),
        "{:?}",
        listed.body
    );
    let read = api
        .get("/topics/browse/partitions/0/records?offset=1&max=1")
        .await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    let records = read.body.as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["offset"], 1);
    assert_eq!(records[0]["value"], json!({"base64": "/wA="}));
    assert_eq!(records[0]["key"], Value::Null);
    assert_eq!(records[0]["headers"], json!([{"key": "h", "value": "v"}]));
    let all = api.get("/topics/browse/partitions/0/records").await;
    assert_eq!(all.body.as_array().unwrap().len(), 3);

    let missing = api.get("/topics/absent/partitions/0/records").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);
    assert_eq!(missing.body["message"], "topic `absent` does not exist");
    let bad_offset = api
        .get("/topics/browse/partitions/0/records?offset=-1")
        .await;
    assert_eq!(bad_offset.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_offset.body["message"],
        "query parameter `offset` must be a number of at least 0, not `-1`"
    );
    for (body, message) in [
        (
            json!({"records": [[null, null]]}),
            "record 0 must be an object",
        ),
        (
            json!({"records": [{"value": {"base64": "!"}}]}),
            "record 0: the value is not valid base64",
        ),
        (
            json!({"records": [{"partition": -1}]}),
            "record 0: partition -1 is negative",
        ),
    ] {
        let refused = api.post("/topics/browse/records", &body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        let text = refused.body["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text}");
    }
    let invalid = api
        .post("/topics/bad%20name/records", &json!({"records": []}))
        .await;
    assert_eq!(
        invalid.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        invalid.body
    );
    api.stop().await;
}

/// The REST API answers while the worker still compiles its plugins (a cold compile cache):
/// `GET /` at once, `/health` says it is starting, and a connector of a `plugin.path` class
/// created meanwhile waits for its plugin instead of being refused as unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_while_plugins_compile() {
    let cold = tempfile::tempdir().unwrap();
    let cache = cold.path().display().to_string();
    let worker =
        wasm_connect_tests::child::ChildWorker::start(&[("cache.dir", cache.as_str())]).await;
    let root = worker.rest.get("/").await;
    let health = worker.rest.get("/health").await;
    let loaded_before = worker.log_text().contains("Plugins loaded.");
    assert!(
        !loaded_before,
        "the plugins were loaded before the first request was answered: {}",
        worker.log_text()
    );
    assert_eq!(root.status, StatusCode::OK, "{:?}", root.body);
    assert_eq!(
        (health.status, &health.body["status"]),
        (StatusCode::SERVICE_UNAVAILABLE, &json!("starting"))
    );
    // TestSource is on plugin.path, loaded after the built-ins.
    worker
        .create(
            "early",
            json!({"connector.class": "TestSource", "tasks.max": "1", "topic": "early"}),
        )
        .await;
    assert!(worker.log_text().contains("Plugins loaded."));
    let status = worker
        .rest
        .wait_for(
            "/connectors/early/status",
            "the early connector running",
            |reply| reply.body["connector"]["state"] == "RUNNING",
        )
        .await;
    assert_eq!(status.status, StatusCode::OK);
    let health = worker
        .rest
        .wait_for("/health", "the worker ready", |reply| {
            reply.status == StatusCode::OK
        })
        .await;
    assert_eq!(health.body["status"], "healthy");
}
