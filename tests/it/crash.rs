//! `kill -9` of the `wasm-connect` binary in the middle of a file copy, then a restart: every
//! line arrives, in order of first appearance, and the duplicates are the bounded replay of
//! what was not yet committed. Also checks that SIGTERM stops the worker cleanly, and that
//! workers started from different files without a `data.dir` keep their state apart.

use std::{
    io::Write,
    ops::{Deref, DerefMut},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use wasm_connect_tests::{binary, component, files_dir, lines, shared_cache_dir};

const LINES: usize = 200_000;
const CHUNK: usize = 2_000;

/// A worker process, killed when dropped so that a failing assertion does not leave it running.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Deref for Worker {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Worker {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn start_worker(dir: &Path, run: u32) -> Worker {
    let log = std::fs::File::create(dir.join(format!("worker-{run}.log"))).unwrap();
    // Make sure the built-ins exist before blaming the worker.
    component("file_source");
    let child = Command::new(binary())
        .arg("standalone")
        .arg(dir.join("worker.properties"))
        .arg(dir.join("source.properties"))
        .arg(dir.join("sink.json"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start wasm-connect");
    Worker(child)
}

fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_mid_copy_loses_nothing_and_replays_little() {
    let dir = tempfile::tempdir().unwrap();
    // Beside the worker's data and config files, which no connector may be granted.
    let input = files_dir(dir.path()).join("input.txt");
    let output = files_dir(dir.path()).join("output.txt");
    std::fs::write(
        dir.path().join("worker.properties"),
        format!(
            "data.dir={}\ncache.dir={}\nlisteners=http://127.0.0.1:0\noffset.flush.interval.ms=200\nkey.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n",
            dir.path().join("data").display(),
            shared_cache_dir().display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("source.properties"),
        format!(
            "name=source\nconnector.class=FileStreamSource\ntasks.max=1\nfile={}\ntopic=lines\n",
            input.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sink.json"),
        serde_json::json!({
            "name": "sink",
            "config": {"connector.class": "FileStreamSink", "tasks.max": "1", "file": output.display().to_string(), "topics": "lines"}
        })
        .to_string(),
    )
    .unwrap();
    let expected: Vec<String> = (0..LINES).map(|i| format!("line-{i:06}")).collect();
    let mut file = std::fs::File::create(&input).unwrap();
    let mut written = 0;
    let mut append = |file: &mut std::fs::File, count: usize| {
        let end = (written + count).min(LINES);
        let mut text = String::new();
        for line in &expected[written..end] {
            text.push_str(line);
            text.push('\n');
        }
        file.write_all(text.as_bytes()).unwrap();
        written = end;
    };

    // Feed the file while the worker copies it, so the kill lands mid-copy.
    let mut worker = start_worker(dir.path(), 1);
    let start = Instant::now();
    let mut first_line = None;
    while lines(&output).len() < LINES / 3 {
        if first_line.is_none() && !lines(&output).is_empty() {
            first_line = Some(Instant::now());
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the first run copied too little"
        );
        assert!(
            worker.try_wait().unwrap().is_none(),
            "the worker exited early; see worker-1.log"
        );
        append(&mut file, CHUNK);
        std::thread::sleep(Duration::from_millis(20));
    }
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    let copying = first_line.map_or(Duration::from_secs(1), |at| at.elapsed());
    let copied_before_kill = lines(&output).len();
    assert!(copied_before_kill < LINES, "the kill did not land mid-copy");
    append(&mut file, LINES);
    drop(file);

    let mut worker = start_worker(dir.path(), 2);
    wait_for(
        "every line after the restart",
        Duration::from_secs(120),
        || {
            let got = lines(&output);
            got.last().is_some_and(|last| *last == expected[LINES - 1]) && got.len() >= LINES
        },
    );
    // A graceful stop flushes offsets and exits 0.
    sigterm(worker.id());
    let status = worker.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM should stop the worker cleanly, got {status}"
    );

    let got = lines(&output);
    let mut seen = vec![false; LINES];
    let mut next_new = 0;
    for line in &got {
        let index: usize = line
            .strip_prefix("line-")
            .and_then(|n| n.parse().ok())
            .expect("a copied line");
        if !seen[index] {
            assert_eq!(
                index, next_new,
                "line {index} arrived before line {next_new}"
            );
            seen[index] = true;
            next_new += 1;
        }
    }
    assert_eq!(next_new, LINES, "lines are missing");
    let duplicates = got.len() - LINES;
    eprintln!(
        "copied {copied_before_kill} lines before kill -9; {duplicates} duplicates after restart"
    );
    // Replays are bounded by what was not committed: a flush interval (200 ms) at each end,
    // or more on a loaded machine (CI once saw 1.25 s), so at most a second and a half's
    // worth of copying at the rate measured before the kill (and never more than a quarter
    // of the file on a quiet machine, where that time is shorter), and always less than
    // everything copied before the kill, which is what replaying without any commit gives.
    let per_second = copied_before_kill as f64 / copying.as_secs_f64().max(0.001);
    let bound = ((per_second * 1.5) as usize)
        .max(LINES / 4)
        .min(copied_before_kill - 1);
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates is more than {bound} (1.5 s of copying at {per_second:.0} lines/s, under {copied_before_kill} copied before the kill)"
    );
}

/// Sends SIGTERM through the `kill` command (the tests avoid `unsafe`).
fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts the binary on `worker_file` (and `connector_files`), returning it and its REST API
/// once it listens.
async fn start_from(
    worker_file: &Path,
    connector_files: &[&Path],
) -> (Worker, wasm_connect_tests::rest_client::RestClient) {
    let log_path = worker_file.with_extension("log");
    let child = Command::new(binary())
        .arg("standalone")
        .arg(worker_file)
        .args(connector_files)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start wasm-connect");
    let mut worker = Worker(child);
    let start = Instant::now();
    let address = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(address) = text
            .lines()
            .find(|line| line.contains("REST API listening."))
            .and_then(|line| line.split("address=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            break address.to_owned();
        }
        assert!(
            worker.try_wait().unwrap().is_none(),
            "the worker exited: {text}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no REST API: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rest = wasm_connect_tests::rest_client::RestClient::new(format!("http://{address}"));
    // The API answers while plugins load; the connectors are back once it is healthy.
    rest.wait_for("/health", "the worker ready", |reply| {
        reply.status == hyper::StatusCode::OK
    })
    .await;
    (worker, rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_from_different_files_without_a_data_dir_keep_their_state_apart() {
    let dir = tempfile::tempdir().unwrap();
    let input = files_dir(dir.path()).join("input.txt");
    std::fs::write(&input, "").unwrap();
    let settings = format!(
        "cache.dir={}\nlisteners=http://127.0.0.1:0\n",
        shared_cache_dir().display()
    );
    let (a, b) = (
        dir.path().join("a.properties"),
        dir.path().join("b.properties"),
    );
    std::fs::write(&a, &settings).unwrap();
    std::fs::write(&b, &settings).unwrap();
    let source = dir.path().join("source.properties");
    std::fs::write(
        &source,
        format!(
            "name=source\nconnector.class=FileStreamSource\nfile={}\ntopic=lines\n",
            input.display()
        ),
    )
    .unwrap();
    component("file_source");

    let (worker, rest) = start_from(&a, &[&source]).await;
    let names = rest.get("/connectors").await;
    assert_eq!(names.body, serde_json::json!(["source"]));
    drop(worker);
    assert!(dir.path().join("a.data/connectors.json").exists());

    // Another file, another state: the first worker's connector is not restored here.
    let (_worker, rest) = start_from(&b, &[]).await;
    let names = rest.get("/connectors").await;
    assert_eq!(names.body, serde_json::json!([]));
    assert!(dir.path().join("b.data").is_dir());
    // And the first file's worker restores its own.
    drop(_worker);
    let (_worker, rest) = start_from(&a, &[]).await;
    assert_eq!(
        rest.get("/connectors").await.body,
        serde_json::json!(["source"])
    );
}
