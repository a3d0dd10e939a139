//! Config providers (`${file:…}`, `${dir:…}`, `${env:…}`): connectors get the values, and no
//! value ever shows again in a REST response, the worker's log, a status trace, the worker's
//! files or the dead letter queue; references that cannot be resolved are refused by name.

use std::{path::Path, time::Duration};

use hyper::StatusCode;
use serde_json::{Value, json};
use wasm_connect_tests::child::ChildWorker;

const FILE_SECRET: &str = "pw-from-file-7c1e9a";
const DIR_SECRET: &str = "token-from-dir-52d0b4";
const ENV_SECRET: &str = "pass-from-env-e83f61";

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_secrets_reach_the_connector_and_never_show_anywhere_else() {
    let secrets = tempfile::tempdir().unwrap();
    let properties = secrets.path().join("db.properties");
    std::fs::write(&properties, format!("password={FILE_SECRET}\n")).unwrap();
    let mounted = secrets.path().join("mounted");
    std::fs::create_dir(&mounted).unwrap();
    std::fs::write(mounted.join("token"), DIR_SECRET).unwrap();
    let allowed = secrets.path().display().to_string();
    let worker = ChildWorker::start_with_env(
        &[
            ("config.providers", "file,dir,env"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            ("config.providers.file.param.allowed.paths", &allowed),
            (
                "config.providers.dir.class",
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            ),
            ("config.providers.dir.param.allowed.paths", &allowed),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ),
            ("config.providers.env.param.allowlist.pattern", "WC_TEST_.*"),
        ],
        &[("WC_TEST_DB_PASSWORD", ENV_SECRET)],
    )
    .await;
    let file_ref = format!("${{file:{}:password}}", properties.display());
    let dir_ref = format!("${{dir:{}:token}}", mounted.display());
    let env_ref = "${env:WC_TEST_DB_PASSWORD}";
    let connection = format!("host=db user=app password={env_ref}");
    let secret_keys = json!({
        "db.password": file_ref,
        "api.token": dir_ref,
        "connection": connection,
    });
    let mut replies: Vec<Value> = Vec::new();

    // A source that logs its config (logging, stdout, stderr) and fails with it.
    let mut source = json!({"connector.class": "TestSource", "topic": "leaks",
                            "modes": "leak-config"});
    source
        .as_object_mut()
        .unwrap()
        .extend(secret_keys.as_object().unwrap().clone());
    worker.create("leaky-source", source.clone()).await;
    let trace = worker
        .failed_trace("leaky-source", 0, Duration::from_secs(30))
        .await;
    // The guest got the values: the trace shows where each was, as its reference.
    assert!(
        trace.contains(&format!("db.password={file_ref}"))
            && trace.contains(&format!("api.token={dir_ref}"))
            && trace.contains(&format!("connection=host=db user=app password={env_ref}")),
        "{trace}"
    );

    // A sink that reports every record as errant with its config, into a dead letter queue
    // with the error in its headers.
    let mut sink = json!({"connector.class": "TestSink", "topics": "leak-in",
                          "mode": "leak-config", "errors.tolerance": "all",
                          "errors.deadletterqueue.topic.name": "leak-dlq",
                          "errors.deadletterqueue.context.headers.enable": "true"});
    sink.as_object_mut()
        .unwrap()
        .extend(secret_keys.as_object().unwrap().clone());
    worker.create("leaky-sink", sink).await;
    let written = worker
        .rest
        .post(
            "/topics/leak-in/records",
            &json!({"records": [{"value": "one"}, {"value": "two"}]}),
        )
        .await;
    assert_eq!(written.status, StatusCode::OK, "{:?}", written.body);
    let start = std::time::Instant::now();
    let dlq = loop {
        let reply = worker
            .rest
            .get("/topics/leak-dlq/partitions/0/records?offset=0")
            .await;
        if reply.body.as_array().is_some_and(|r| r.len() == 2) {
            break reply.body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the dead letter queue: {:?}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let dlq_text = dlq.to_string();
    assert!(
        dlq_text.contains("errant with my config") && dlq_text.contains("db.password=${file:"),
        "{dlq_text}"
    );
    replies.push(dlq);

    // The REST API shows the references as written.
    let config = worker.rest.get("/connectors/leaky-source/config").await;
    assert_eq!(config.body["db.password"], json!(file_ref));
    assert_eq!(config.body["connection"], json!(connection));
    let tasks = worker.rest.get("/connectors/leaky-source/tasks").await;
    assert_eq!(
        tasks.body[0]["config"]["api.token"],
        json!(dir_ref),
        "{:?}",
        tasks.body
    );
    for path in [
        "/connectors?expand=info&expand=status",
        "/connectors/leaky-source/status",
        "/connectors/leaky-sink/tasks",
        "/connectors/leaky-sink/status",
        "/connectors/leaky-source/offsets",
    ] {
        replies.push(worker.rest.get(path).await.body);
    }
    replies.push(config.body);
    replies.push(tasks.body);
    let validated = worker
        .rest
        .put_json(
            "/connector-plugins/TestSource/config/validate",
            &json!({"connector.class": "TestSource", "name": "v", "topic": "leaks",
                    "db.password": file_ref, "tasks.max": env_ref}),
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{:?}", validated.body);
    // `tasks.max` got the value and said what is wrong with it, showing the reference.
    let tasks_max = validated.body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "tasks.max")
        .unwrap()["value"]
        .clone();
    assert_eq!(tasks_max["value"], json!(env_ref), "{tasks_max}");
    assert!(
        !tasks_max["errors"].as_array().unwrap().is_empty(),
        "{tasks_max}"
    );
    replies.push(validated.body);
    // A create whose framework value comes from a reference and is wrong: the 400 names the
    // reference, not the value.
    let refused = worker
        .rest
        .post(
            "/connectors",
            &json!({"name": "bad-max", "config": {"connector.class": "TestSource",
                    "topic": "t", "tasks.max": env_ref}}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        refused.body
    );
    assert!(
        refused.body["message"].as_str().unwrap().contains(env_ref),
        "{:?}",
        refused.body
    );
    replies.push(refused.body);

    for secret in [FILE_SECRET, DIR_SECRET, ENV_SECRET] {
        for reply in &replies {
            assert!(!reply.to_string().contains(secret), "{secret} in {reply}");
        }
        let log = worker.log_text();
        assert!(
            !log.contains(secret),
            "{secret} in the worker's log:\n{log}"
        );
        let files = files_containing(&worker.dir.path().join("data"), secret);
        assert!(files.is_empty(), "{secret} in {files:?}");
    }
    // The log did get what the guest logged, with the references.
    let log = worker.log_text();
    for line in ["my config: ", "stdout config: ", "stderr config: "] {
        assert!(
            log.lines()
                .any(|l| l.contains(line) && l.contains(&format!("db.password={file_ref}"))),
            "no `{line}` line in:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_that_cannot_be_resolved_are_refused_naming_key_and_reference() {
    let secrets = tempfile::tempdir().unwrap();
    let inside = secrets.path().join("inside");
    std::fs::create_dir(&inside).unwrap();
    std::fs::write(inside.join("db.properties"), "password=x\n").unwrap();
    std::fs::write(secrets.path().join("outside.properties"), "password=y\n").unwrap();
    let worker = ChildWorker::start(&[
        ("config.providers", "file"),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider",
        ),
        (
            "config.providers.file.param.allowed.paths",
            &inside.display().to_string(),
        ),
    ])
    .await;
    for (reference, why) in [
        (
            format!("${{file:{}/db.properties:user}}", inside.display()),
            "has no key `user`",
        ),
        (
            format!(
                "${{file:{}/../outside.properties:password}}",
                inside.display()
            ),
            "outside this provider's allowed.paths",
        ),
    ] {
        let reply = worker
            .rest
            .post(
                "/connectors",
                &json!({"name": "unresolved", "config": {"connector.class": "TestSource",
                        "topic": "t", "db.password": reference}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
        let message = reply.body["message"].as_str().unwrap();
        assert!(
            message.contains("`db.password`: cannot resolve")
                && message.contains(&reference)
                && message.contains(why),
            "{message}"
        );
    }
    let listed = worker.rest.get("/connectors").await;
    assert_eq!(listed.body, json!([]), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_secrets_reach_its_connectors_and_never_show_anywhere_else() {
    const SECRET: &str = "acme-db-password-4e2a91";
    let hash = wasm_connect::tenancy::hash_password("operator-password-1");
    let worker = ChildWorker::start(&[
        ("tenancy.enabled", "true"),
        ("tenancy.operator.password.hash", &hash),
    ])
    .await;
    let operator = worker.rest.with_basic("operator", "operator-password-1");
    for name in ["acme", "globex"] {
        let reply = operator
            .post(
                "/admin/tenants",
                &json!({"name": name, "password": format!("{name}-password-1")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let acme = worker.rest.with_basic("acme", "acme-password-1");
    let globex = worker.rest.with_basic("globex", "globex-password-1");
    let reply = acme
        .put_json("/secrets/db", &json!({"value": SECRET}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_eq!(acme.get("/secrets").await.body, json!(["db"]));
    assert_eq!(globex.get("/secrets").await.body, json!([]));
    let reply = operator
        .put_json("/secrets/db", &json!({"value": "x"}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);

    let config = json!({"connector.class": "TestSource", "topic": "acme.leaks",
                        "modes": "leak-config", "db.password": "${secret:db}"});
    let reply = acme
        .post("/connectors", &json!({"name": "leaky", "config": config}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let mut replies = vec![reply.body];
    let start = std::time::Instant::now();
    let trace = loop {
        let reply = acme.get("/connectors/leaky/tasks/0/status").await;
        if reply.body["state"] == "FAILED" {
            break reply.body["trace"].as_str().unwrap().to_owned();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The task had the value; its trace shows the reference.
    assert!(trace.contains("db.password=${secret:db}"), "{trace}");
    for path in [
        "/connectors/leaky/config",
        "/connectors/leaky/tasks",
        "/connectors/leaky/status",
        "/connectors?expand=info",
    ] {
        replies.push(acme.get(path).await.body);
    }
    for path in ["/connectors?expand=info", "/admin/tenants/acme"] {
        replies.push(operator.get(path).await.body);
    }
    // Another tenant's `${secret:db}` is its own: it has none.
    let reply = globex
        .post(
            "/connectors",
            &json!({"name": "thief", "config": {"connector.class": "TestSource",
                    "topic": "globex.x", "db.password": "${secret:db}"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert!(
        reply.body["message"].as_str().unwrap().contains(
            "`db.password`: cannot resolve `${secret:db}`: tenant globex has no secret `db`"
        ),
        "{:?}",
        reply.body
    );
    replies.push(reply.body);
    for reply in &replies {
        assert!(!reply.to_string().contains(SECRET), "the secret in {reply}");
    }
    let log = worker.log_text();
    assert!(
        !log.contains(SECRET),
        "the secret in the worker's log:\n{log}"
    );
    assert!(
        log.contains("my config: ") && log.contains("${secret:db}"),
        "{log}"
    );
    let files = files_containing(worker.dir.path(), SECRET);
    assert!(files.is_empty(), "the secret in {files:?}");
    // Deleted, it is gone; the connector keeps its reference.
    assert_eq!(
        acme.delete("/secrets/db").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        acme.delete("/secrets/db").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(acme.get("/secrets").await.body, json!([]));
}
