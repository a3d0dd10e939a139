//! The worker's wasm instance capacity: connectors and tasks past `sandbox.instances.max` are
//! refused by name while the worker keeps serving and every other task keeps moving, and one
//! instance costs the memory mappings `GET /` reports (what the derived maximum rests on).

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};
use wasm_connect_tests::{
    child::{ChildWorker, Neighbour},
    init_logging,
};

/// The longest the neighbour pipeline may stand still while connectors are refused.
const MAX_GAP: Duration = Duration::from_secs(1);

fn idle_source(tasks: usize) -> Value {
    json!({
        "connector.class": "TestSource",
        "topic": "idle",
        "tasks.max": tasks.to_string(),
        "modes": vec!["ok"; tasks].join(","),
        "count": "0",
    })
}

async fn capacity(worker: &ChildWorker) -> Value {
    let reply = worker.rest.get("/").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["capacity"].clone()
}

async fn task_states(worker: &ChildWorker, name: &str, tasks: usize) -> Vec<Value> {
    worker
        .rest
        .wait_for(
            &format!("/connectors/{name}/status"),
            "every task started or failed",
            |reply| {
                reply.body["tasks"].as_array().is_some_and(|all| {
                    all.len() == tasks
                        && all
                            .iter()
                            .all(|task| task["state"] == "RUNNING" || task["state"] == "FAILED")
                })
            },
        )
        .await
        .body["tasks"]
        .as_array()
        .expect("tasks")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_past_the_capacity_are_refused_by_name_while_the_rest_keep_moving() {
    init_logging();
    let worker = ChildWorker::start(&[("sandbox.instances.max", "6")]).await;
    // Two connectors and their two tasks: four instances.
    let neighbour = Neighbour::start(&worker).await;
    let before = capacity(&worker).await;
    assert_eq!(before["instances"], 4, "{before}");
    assert_eq!(before["instances_max"], 6, "{before}");
    assert_eq!(before["limited_by"], "sandbox.instances.max", "{before}");
    let monitor = neighbour.watch(&worker);

    // The connector and one of its three tasks fit; the other two fail, naming the limit.
    worker.create("over", idle_source(3)).await;
    let tasks = task_states(&worker, "over", 3).await;
    let failed: Vec<&Value> = tasks.iter().filter(|t| t["state"] == "FAILED").collect();
    assert_eq!(failed.len(), 2, "{tasks:?}");
    for task in failed {
        let trace = task["trace"].as_str().expect("trace");
        assert!(
            trace.contains("already runs 6 of its 6 wasm instances (sandbox.instances.max)"),
            "{trace}"
        );
    }

    // A further connector is refused before anything is stored; so is a validation.
    let refused = worker
        .rest
        .post(
            "/connectors",
            &json!({"name": "refused", "config": idle_source(1)}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    let message = refused.body["message"].as_str().expect("message");
    assert!(message.contains("sandbox.instances.max"), "{message}");
    let missing = worker.rest.get("/connectors/refused").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let mut validate = idle_source(1);
    validate["name"] = json!("check");
    let validation = worker
        .rest
        .put_json("/connector-plugins/TestSource/config/validate", &validate)
        .await;
    assert_eq!(
        validation.status,
        StatusCode::CONFLICT,
        "{:?}",
        validation.body
    );
    assert_eq!(capacity(&worker).await["instances"], 6);

    // Deleting gives the slots back, and a new connector runs.
    let deleted = worker.rest.delete("/connectors/over").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    worker
        .rest
        .wait_for("/", "the slots given back", |reply| {
            reply.body["capacity"]["instances"] == 4
        })
        .await;
    worker.create("fits", idle_source(1)).await;
    let tasks = task_states(&worker, "fits", 1).await;
    assert_eq!(tasks[0]["state"], "RUNNING", "{tasks:?}");
    // Statuses name the address the worker bound (Kafka Connect's advertised URL).
    let port = worker
        .rest
        .base
        .rsplit(':')
        .next()
        .expect("a port")
        .to_owned();
    assert_eq!(
        tasks[0]["worker_id"],
        format!("127.0.0.1:{port}"),
        "{tasks:?}"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let watched = monitor.finish();
    assert!(
        watched.max_gap < MAX_GAP,
        "the neighbour stood still for {:?}",
        watched.max_gap
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_costs_the_memory_mappings_the_worker_reports() {
    init_logging();
    const TASKS: usize = 60;
    let worker = ChildWorker::start(&[]).await;
    // Load the plugin's code once, so only instances are counted.
    worker.create("warm", idle_source(1)).await;
    task_states(&worker, "warm", 1).await;
    let report = capacity(&worker).await;
    let per_instance = report["mappings_per_instance"].as_u64().expect("number") as usize;
    assert!(
        report["limited_by"]
            .as_str()
            .is_some_and(|why| why.contains("vm.max_map_count")),
        "{report}"
    );
    let before = worker.mappings();
    worker.create("many", idle_source(TASKS)).await;
    let tasks = task_states(&worker, "many", TASKS).await;
    assert!(tasks.iter().all(|t| t["state"] == "RUNNING"), "{tasks:?}");
    // Every store has made a call by now, so holds its fiber stack.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let added = worker.mappings() - before;
    let instances = TASKS + 1;
    eprintln!(
        "{instances} instances added {added} mappings ({:.2} each; {per_instance} reported)",
        added as f64 / instances as f64
    );
    // The allocator maps a little for the instances' host state; more than half a mapping an
    // instance beyond the report would make the derived maximum a lie.
    assert!(
        added <= instances * per_instance + instances / 2,
        "{added} mappings for {instances} instances at {per_instance} each"
    );
    assert!(
        added >= instances * (per_instance - 1),
        "{added} mappings for {instances} instances: fewer than the {per_instance} reported, \
         so the derived maximum is too low"
    );
}
