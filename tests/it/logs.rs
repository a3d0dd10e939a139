//! The worker's own log with `log.format=json`: one JSON object per line, task-level events
//! carrying their connector and task.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasm_connect_tests::child::ChildWorker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_log_is_one_object_per_line_with_the_connector_and_task_of_task_events() {
    let worker = ChildWorker::start(&[("log.format", "json")]).await;
    let missing = worker.files().join("not-yet.txt");
    worker
        .create(
            "waiting",
            json!({"connector.class": "FileStreamSource", "file": missing.display().to_string(),
                   "topic": "t"}),
        )
        .await;
    // The task logs that it started (the worker, in the task's span) and the guest logs that
    // the file is missing (an event with the connector and task as fields).
    let start = Instant::now();
    let lines = loop {
        let text = worker.log_text();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
            })
            .collect();
        let guest = lines.iter().any(|l| l["target"] == "connector");
        let started = lines.iter().any(|l| l["message"] == "Task started.");
        if guest && started {
            break lines;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no task events: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for line in &lines {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line.get(key).is_some(), "no {key} in {line}");
        }
    }
    let started = lines
        .iter()
        .find(|l| l["message"] == "Task started.")
        .unwrap();
    assert_eq!(
        (&started["span"]["connector"], &started["span"]["task"]),
        (&json!("waiting"), &json!(0)),
        "{started}"
    );
    let guest = lines.iter().find(|l| l["target"] == "connector").unwrap();
    assert_eq!(
        (&guest["connector"], &guest["task"], &guest["level"]),
        (&json!("waiting"), &json!(0), &json!("WARN")),
        "{guest}"
    );
    assert!(
        guest["message"].as_str().unwrap().contains("not-yet.txt"),
        "{guest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_task_events_carry_the_tenant() {
    let hash = wasm_connect::tenancy::hash_password("operator-password-1");
    let worker = ChildWorker::start(&[
        ("log.format", "json"),
        ("tenancy.enabled", "true"),
        ("tenancy.operator.password.hash", &hash),
    ])
    .await;
    let operator = worker.rest.with_basic("operator", "operator-password-1");
    let reply = operator
        .post(
            "/admin/tenants",
            &json!({"name": "acme", "password": "acme-password-1"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{:?}", reply.body);
    let reply = worker
        .rest
        .with_basic("acme", "acme-password-1")
        .post(
            "/connectors",
            &json!({"name": "chatty", "config": {"connector.class": "TestSource",
                    "topic": "acme.chatty", "modes": "leak-config"}}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{:?}", reply.body);
    let start = Instant::now();
    let (guest, started) = loop {
        let lines: Vec<Value> = worker
            .log_text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let guest = lines
            .iter()
            .find(|l| l["target"] == "connector" && l["connector"] == "acme/chatty")
            .cloned();
        let started = lines
            .iter()
            .find(|l| l["message"] == "Task started." && l["span"]["connector"] == "acme/chatty")
            .cloned();
        if let (Some(guest), Some(started)) = (guest, started) {
            break (guest, started);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no task events:\n{}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(guest["tenant"], json!("acme"), "{guest}");
    assert_eq!(started["span"]["tenant"], json!("acme"), "{started}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_task_says_so_once() {
    let worker = ChildWorker::start(&[("log.format", "json")]).await;
    // Every poll spins past sandbox.throttle.after.ms (100 ms), so every poll is throttled.
    worker
        .create(
            "burner",
            json!({"connector.class": "TestSource", "modes": "burn", "topic": "burn",
                   "burn.iterations": "150000000"}),
        )
        .await;
    let start = Instant::now();
    loop {
        let reply = worker.rest.get_text("/metrics", None).await.2;
        let polls = reply
            .lines()
            .find(|line| {
                line.starts_with("wasm_connect_task_guest_call_duration_seconds_count")
                    && line.contains("connector=\"burner\"")
                    && line.contains("function=\"poll\"")
            })
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        if polls >= 3.0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "fewer than 3 polls finished:\n{reply}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lines: Vec<Value> = worker
        .log_text()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|line: &Value| {
            line["fields"]["message"]
                .as_str()
                .or(line["message"].as_str())
                .is_some_and(|m| m.contains("sandbox.throttle.after.ms"))
        })
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(
        (&line["connector"], &line["task"], &line["level"]),
        (&json!("burner"), &json!(0), &json!("WARN")),
        "{line}"
    );
}
