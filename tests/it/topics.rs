//! `wasm-connect topics`: listing, reading and writing the embedded log of a running worker
//! (through its REST API, found from the worker file) and of a stopped one (opened directly).

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use wasm_connect_tests::{binary, child::ChildWorker};

/// Runs `wasm-connect topics ARGS...` with `stdin` as its input.
fn topics(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(binary())
        .arg("topics")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wasm-connect topics");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child
        .wait_with_output()
        .expect("wasm-connect topics output")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "wasm-connect topics failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Waits until `path` holds `expected`.
async fn wait_for_file(path: &Path, expected: &str) {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} holds {text:?}, not {expected:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_of_the_embedded_log_are_listed_read_and_written_with_or_without_a_worker() {
    let mut worker = ChildWorker::start(&[]).await;
    let properties = worker.dir.path().join("worker.properties");
    let properties = properties.to_str().expect("UTF-8 path").to_owned();
    let properties = properties.as_str();
    let input = worker.files().join("in.txt");
    std::fs::write(&input, "first\nsecond\nthird\n").unwrap();
    worker
        .create(
            "source",
            json!({"connector.class": "FileStreamSource", "file": input.display().to_string(),
                   "topic": "lines"}),
        )
        .await;

    // The worker holds the log: the command goes through the REST API it recorded.
    let start = Instant::now();
    loop {
        let output = topics(&["consume", properties, "lines"], "");
        if output.status.success() && stdout(&output) == "first\nsecond\nthird\n" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the source's records did not appear: {output:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = stdout(&topics(&["list", properties], ""));
    let row = listed
        .lines()
        .find(|line| line.starts_with("lines "))
        .unwrap_or_else(|| panic!("no row for `lines` in {listed}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["lines", "1", "3"]
    );

    // Lines written with the command reach a sink connector, keys split off.
    let written = topics(
        &["produce", properties, "fed", "--key-separator", ":"],
        "k1:hello\nk2:world\n",
    );
    assert!(written.status.success(), "{written:?}");
    assert!(
        String::from_utf8_lossy(&written.stderr).contains("Wrote 2 records to topic `fed`"),
        "{written:?}"
    );
    let output = worker.files().join("out.txt");
    worker
        .create(
            "sink",
            json!({"connector.class": "FileStreamSink", "file": output.display().to_string(),
                   "topics": "fed"}),
        )
        .await;
    wait_for_file(&output, "hello\nworld\n").await;
    let keyed = stdout(&topics(&["consume", properties, "fed", "--print-key"], ""));
    assert_eq!(keyed, "k1\thello\nk2\tworld\n");

    // A topic that does not exist is named, with the ones that do.
    let missing = topics(&["consume", properties, "nope"], "");
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(
        message.contains("topic `nope` does not exist") && message.contains("lines"),
        "{message}"
    );

    // Without a worker (killed: its REST URL is left behind) the command opens the log.
    worker.kill();
    let json_lines = stdout(&topics(
        &[
            "consume", properties, "lines", "--offset", "1", "--format", "json",
        ],
        "",
    ));
    let records: Vec<Value> = json_lines
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 2, "{json_lines}");
    assert_eq!(records[0]["offset"], 1);
    assert_eq!(records[0]["value"], "second");
    assert_eq!(records[1]["value"], "third");
}
