//! The REST API against an in-process worker over real HTTP: Kafka Connect's paths, status
//! codes and bodies for creating, reading, pausing, resuming, stopping and deleting connectors,
//! and its error bodies for duplicates, invalid configs, malformed JSON and unknown names.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, body::Bytes, header};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use wasm_connect::{config::worker::DEFAULT_WORKER_ID, rest::router};
use wasm_connect_tests::{TestWorker, init_logging};

/// A worker serving the API on an ephemeral port, and an HTTP client for it.
struct Api {
    worker: TestWorker,
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    server: tokio::task::JoinHandle<()>,
}

/// One response: status, `Location` header and the JSON body (`Null` when empty).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: Value,
}

impl Api {
    async fn start() -> Self {
        init_logging();
        let worker = TestWorker::embedded(&[]).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let app = router(worker.herder.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            worker,
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
            server,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
            .expect("request");
        let response = self.client.request(request).await.expect("response");
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| value.to_str().expect("ascii").to_owned());
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                panic!("not JSON ({error}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        Reply {
            status,
            location,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn put(&self, path: &str) -> Reply {
        self.send(Method::PUT, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(&body.to_string())).await
    }

    /// Polls `GET path` until its body satisfies `done`.
    async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
        let start = Instant::now();
        loop {
            let reply = self.get(path).await;
            if done(&reply) {
                return reply;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}; last reply {reply:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.server.abort();
        self.worker.stop().await;
    }
}

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
        json!({"name": "source", "config": config, "tasks": [], "type": "source"})
    );

    let running = api
        .wait_for("/connectors/source/status", "RUNNING", |reply| {
            connector_state(reply) == Some("RUNNING")
                && reply.body["tasks"][0]["state"] == "RUNNING"
        })
        .await;
    assert_eq!(running.status, StatusCode::OK);
    let task_running = json!({"id": 0, "state": "RUNNING", "worker_id": DEFAULT_WORKER_ID});
    let status_running = json!({
        "name": "source",
        "connector": {"state": "RUNNING", "worker_id": DEFAULT_WORKER_ID},
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
            "connector": {"state": "STOPPED", "worker_id": DEFAULT_WORKER_ID},
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
    assert_eq!(root.body.as_object().map(|object| object.len()), Some(3));

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
