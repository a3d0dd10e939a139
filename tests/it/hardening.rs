//! Guests that stay inside their per-call limits but go after the host itself: impostors
//! that take another plugin's name, and (in `hostile`) guests that make the host hold memory,
//! store offsets, expand schemas, log, echo strings or touch files without bound.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::json;
use wasm_connect_tests::{
    ServedWorker, TestWorker, component, init_logging, rest_client::Reply, restart_worker,
    wait_until, worker_config,
};

/// The version of the built-in connectors (the workspace's).
const BUILTIN_VERSION: &str = env!("CARGO_PKG_VERSION");

fn version_of(reply: &Reply) -> Option<&str> {
    reply.body["connector"]["version"].as_str()
}

fn running_version<'a>(reply: &'a Reply) -> Option<&'a str> {
    let running = reply.body["connector"]["state"] == "RUNNING"
        && reply.body["tasks"][0]["state"] == "RUNNING";
    running.then(|| version_of(reply)).flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cannot_take_a_built_in_or_plugin_path_name_even_across_restarts() {
    init_logging();
    let api = ServedWorker::start().await;
    let output = api.worker.path("out.txt");
    let sink = json!({
        "connector.class": "FileStreamSink",
        "topics": "lines",
        "file": output.display().to_string(),
    });
    let created = api
        .post("/connectors", &json!({"name": "files", "config": sink}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

    // The impostor calls itself FileStreamSink (alias: Kafka's class name), version 99.0.0.
    let impostor = std::fs::read(component("test_impostor")).expect("impostor");
    let refused = api.upload(impostor.clone()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(
        refused.body["message"],
        format!(
            "plugin FileStreamSink may not use the name `FileStreamSink`: it belongs to the \
             built-in plugin FileStreamSink {BUILTIN_VERSION}; give the plugin a class name and \
             aliases of its own"
        )
    );
    // Nor can an upload add a version to a plugin.path class (test_source is on the path).
    let newer = std::fs::read(component("test_source_v2")).expect("guest");
    let refused = api.upload(newer).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("the plugin.path plugin TestSource 0.1.0")),
        "{:?}",
        refused.body
    );
    let plugins = api.get("/connector-plugins").await.body;
    let sinks: Vec<_> = plugins
        .as_array()
        .expect("array")
        .iter()
        .filter(|plugin| plugin["class"] == "FileStreamSink")
        .collect();
    assert_eq!(
        sinks,
        [&json!({"class": "FileStreamSink", "type": "sink", "version": BUILTIN_VERSION})]
    );

    // An impostor that got into the uploads directory anyway (say, stored by an older
    // version) is skipped at the next start, and the connector runs the built-in again.
    let dir = api.stop().await;
    let uploads = dir.path().join("data/uploaded-plugins");
    std::fs::create_dir_all(&uploads).expect("uploads dir");
    std::fs::write(uploads.join("impostor.wasm"), &impostor).expect("plant the impostor");
    let herder = restart_worker(worker_config(dir.path(), &[])).await;
    herder.restore(Vec::new()).await.expect("restore");
    let api = ServedWorker::serve(TestWorker { herder, dir }).await;
    let status = api
        .wait_for("/connectors/files/status", "files running", |reply| {
            running_version(reply).is_some()
        })
        .await;
    assert_eq!(running_version(&status), Some(BUILTIN_VERSION));
    // A new connector of the Kafka class name runs the built-in too, and records arrive.
    let by_kafka_name = json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "topics": "lines",
        "file": api.worker.path("out2.txt").display().to_string(),
    });
    let created = api
        .post(
            "/connectors",
            &json!({"name": "files2", "config": by_kafka_name}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let status = api
        .wait_for("/connectors/files2/status", "files2 running", |reply| {
            running_version(reply).is_some()
        })
        .await;
    assert_eq!(running_version(&status), Some(BUILTIN_VERSION));
    api.worker.produce("lines", &["one", "two"]).await;
    wait_until(Duration::from_secs(30), "both sinks to write", || {
        wasm_connect_tests::lines(&output).len() == 2
            && wasm_connect_tests::lines(&api.worker.path("out2.txt")).len() == 2
    })
    .await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_keeps_the_plugin_it_was_created_with_until_its_config_changes() {
    init_logging();
    // An empty plugin.path: both versions of TestSource are uploads.
    let empty = tempfile::tempdir().expect("temporary directory");
    let empty_path = empty.path().display().to_string();
    let extra = [("plugin.path", empty_path.as_str())];
    let api = ServedWorker::serve(TestWorker::embedded(&extra).await).await;
    let v1 = std::fs::read(component("test_source")).expect("guest");
    assert_eq!(api.upload(v1).await.status, StatusCode::CREATED);
    let config = json!({"connector.class": "TestSource", "topic": "t", "batch.size": "1"});
    let created = api
        .post("/connectors", &json!({"name": "old", "config": config}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    api.wait_for("/connectors/old/status", "old on 0.1.0", |reply| {
        running_version(reply) == Some("0.1.0")
    })
    .await;
    // A newer version uploaded meanwhile changes nothing, not even after a restart.
    let v2 = std::fs::read(component("test_source_v2")).expect("guest");
    assert_eq!(api.upload(v2).await.status, StatusCode::CREATED);
    let dir = api.stop().await;
    let mut worker = worker_config(dir.path(), &extra);
    worker.plugin_path = vec![empty.path().to_owned()];
    let herder = restart_worker(worker).await;
    herder.restore(Vec::new()).await.expect("restore");
    let api = ServedWorker::serve(TestWorker { herder, dir }).await;
    api.wait_for("/connectors/old/status", "old on 0.1.0 again", |reply| {
        running_version(reply) == Some("0.1.0")
    })
    .await;
    // A new connector, and a changed config, take the newest.
    let created = api
        .post("/connectors", &json!({"name": "new", "config": config}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    api.wait_for("/connectors/new/status", "new on 0.2.0", |reply| {
        running_version(reply) == Some("0.2.0")
    })
    .await;
    let mut changed = config.clone();
    changed["batch.size"] = json!("2");
    assert_eq!(
        api.put_json("/connectors/old/config", &changed)
            .await
            .status,
        StatusCode::OK
    );
    api.wait_for("/connectors/old/status", "old on 0.2.0", |reply| {
        running_version(reply) == Some("0.2.0")
    })
    .await;
    api.stop().await;
}
