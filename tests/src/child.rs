//! A `wasm-connect` worker in a child process (the real binary, on its own data directory
//! and an ephemeral REST port), for tests that measure what the worker process itself holds
//! and writes (resident memory, its log) while a guest goes after it; and a neighbour
//! pipeline in it (FileStreamSource → FileStreamSink, fed a line every 20 ms) whose progress
//! such tests watch.

use std::{
    io::Write,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use hyper::StatusCode;
use serde_json::{Value, json};

use crate::{binary, component, files_dir, rest_client::RestClient, shared_cache_dir};

/// A worker process; killed when dropped.
pub struct ChildWorker {
    child: Child,
    pub dir: tempfile::TempDir,
    pub rest: RestClient,
    log: PathBuf,
    /// `standalone` or `distributed`.
    mode: &'static str,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl ChildWorker {
    /// Starts a worker with the test guests on its plugin path, fast offset flushes, string
    /// converters and `extra` worker settings; returns once its REST API answers.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with_env(extra, &[]).await
    }

    /// [`Self::start`] with `env` added to the process's environment.
    pub async fn start_with_env(extra: &[(&str, &str)], env: &[(&str, &str)]) -> Self {
        Self::start_with(extra, env, &["test_source", "test_sink"]).await
    }

    /// [`Self::start_with_env`] with only the test guests `guests` on the plugin path.
    pub async fn start_with(extra: &[(&str, &str)], env: &[(&str, &str)], guests: &[&str]) -> Self {
        Self::start_in("standalone", extra, env, guests).await
    }

    /// A worker of a distributed cluster (`extra` names its Kafka cluster, group and
    /// topics), on a fixed port of its own so it keeps its worker id when restarted.
    pub async fn start_distributed(extra: &[(&str, &str)]) -> Self {
        let port = fixed_port().to_string();
        let listeners = format!("http://127.0.0.1:{port}");
        let mut settings: Vec<(&str, &str)> = vec![("listeners", &listeners)];
        settings.extend_from_slice(extra);
        // Only the built-in connectors: the tests upload what else they need.
        Self::start_in("distributed", &settings, &[], &[]).await
    }

    async fn start_in(
        mode: &'static str,
        extra: &[(&str, &str)],
        env: &[(&str, &str)],
        guests: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugin dir");
        for name in guests {
            std::fs::copy(component(name), plugins.join(format!("{name}.wasm")))
                .expect("copy test guest");
        }
        component("file_source");
        let listeners = if extra.iter().any(|(key, _)| *key == "listeners") {
            String::new()
        } else {
            "listeners=http://127.0.0.1:0\n".to_owned()
        };
        let mut properties = format!(
            "data.dir={}\ncache.dir={}\nplugin.path={}\n{listeners}\
             offset.flush.interval.ms=100\n\
             plugin.compile.baseline.min.bytes=-1\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
            dir.path().join("data").display(),
            shared_cache_dir().display(),
            plugins.display(),
        );
        for (key, value) in extra {
            properties.push_str(&format!("{key}={value}\n"));
        }
        let config = dir.path().join("worker.properties");
        std::fs::write(&config, properties).expect("worker properties");
        let log = dir.path().join("worker.log");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let child = spawn(mode, &config, &env, &log, false);
        let mut worker = Self {
            child,
            dir,
            rest: RestClient::new(String::new()),
            log,
            mode,
            config,
            env,
        };
        worker.wait_listening(0).await;
        worker
    }

    /// Starts the worker again (after [`Self::kill`] or [`Self::stop`]) on the same directory,
    /// settings and port; returns once its REST API answers.
    pub async fn restart(&mut self) {
        let from = self.log_bytes();
        self.child = spawn(self.mode, &self.config, &self.env, &self.log, true);
        self.wait_listening(from).await;
    }

    /// Stops the worker gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the worker.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits until the log, from byte `from` on, says the REST API listens, and points
    /// [`Self::rest`] at it.
    async fn wait_listening(&mut self, from: u64) {
        let worker = self;
        let start = Instant::now();
        let address = loop {
            let text = std::fs::read_to_string(&worker.log).unwrap_or_default();
            let text = text.get(from as usize..).unwrap_or_default().to_owned();
            if let Some(address) = text
                .lines()
                .find(|line| line.contains("REST API listening."))
                .and_then(listening_address)
            {
                break address;
            }
            assert!(
                worker.child.try_wait().expect("worker status").is_none(),
                "the worker exited: {text}"
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the worker did not start: {text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        worker.rest = RestClient::new(format!("http://{address}"));
    }

    /// Where tests keep files the worker's connectors may be granted.
    pub fn files(&self) -> PathBuf {
        files_dir(self.dir.path())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The worker's resident memory now, in bytes.
    pub fn rss(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:") * 1024
    }

    /// The worker's memory mappings now (lines of `/proc/<pid>/maps`).
    pub fn mappings(&self) -> usize {
        std::fs::read_to_string(format!("/proc/{}/maps", self.pid()))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// CPU time the worker has used so far, user and system (`/proc/<pid>/stat`).
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces), from field 3 on.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15, in clock ticks.
        #[allow(unsafe_code, reason = "sysconf has no safe wrapper in std")]
        // SAFETY: `sysconf` reads a constant of the system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
    }

    /// Bytes the worker has logged so far.
    pub fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// The worker's log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process (as `kill -9`), keeping its directory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("worker status").is_none()
    }

    /// Creates a connector; panics unless the worker answers 201.
    pub async fn create(&self, name: &str, config: Value) {
        let reply = self
            .rest
            .post("/connectors", &json!({"name": name, "config": config}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }

    /// Waits until task `task` of `name` has failed, and returns its trace.
    pub async fn failed_trace(&self, name: &str, task: u32, timeout: Duration) -> String {
        let path = format!("/connectors/{name}/tasks/{task}/status");
        let start = Instant::now();
        loop {
            let reply = self.rest.get(&path).await;
            if reply.body["state"] == "FAILED" {
                return reply.body["trace"]
                    .as_str()
                    .expect("a failed task has a trace")
                    .to_owned();
            }
            assert!(
                start.elapsed() < timeout,
                "task {task} of {name} did not fail within {timeout:?}: {:?}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes a connector and waits until the worker's resident memory is at most `target`
    /// bytes (up to `timeout`); the resident memory it got down to.
    pub async fn delete_and_settle(&self, name: &str, target: u64, timeout: Duration) -> u64 {
        let reply = self.rest.delete(&format!("/connectors/{name}")).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
        let start = Instant::now();
        loop {
            let rss = self.rss();
            if rss <= target || start.elapsed() > timeout {
                return rss;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port below the ephemeral range, of this process's own: a worker restarted on it
/// must find it free, and an ephemeral port may meanwhile become some client connection's
/// local port (or another test's listener).
pub(crate) fn fixed_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 50) as u16 * 200;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 200;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Runs `wasm-connect <mode> <config>`, logging to `log` (appending when `append`).
fn spawn(
    mode: &str,
    config: &std::path::Path,
    env: &[(String, String)],
    log: &std::path::Path,
    append: bool,
) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(log)
        .expect("log file");
    Command::new(binary())
        .arg(mode)
        .arg(config)
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start wasm-connect")
}

/// The address of a "REST API listening." line, as text (`address=...`) or JSON
/// (`log.format=json`: `"address": "..."`).
fn listening_address(line: &str) -> Option<String> {
    if line.starts_with('{') {
        let json: Value = serde_json::from_str(line).ok()?;
        return json["address"].as_str().map(str::to_owned);
    }
    let rest = line.split("address=").nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// A field of `/proc/<pid>/status` in KiB (0 if unreadable).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// A healthy pipeline in a child worker: FileStreamSource reads `neighbour-in.txt`, which a
/// thread appends a line to every 20 ms, into topic `neighbour`, and FileStreamSink writes it
/// to `neighbour-out.txt`.
pub struct Neighbour {
    output: PathBuf,
    stop: Arc<AtomicBool>,
    feeder: Option<JoinHandle<()>>,
}

impl Neighbour {
    /// Creates the two connectors and waits until lines come out.
    pub async fn start(worker: &ChildWorker) -> Self {
        let input = worker.files().join("neighbour-in.txt");
        let output = worker.files().join("neighbour-out.txt");
        std::fs::write(&input, "").expect("neighbour input");
        worker
            .create(
                "neighbour-source",
                json!({"connector.class": "FileStreamSource", "file": input.display().to_string(),
                       "topic": "neighbour"}),
            )
            .await;
        worker
            .create(
                "neighbour-sink",
                json!({"connector.class": "FileStreamSink", "file": output.display().to_string(),
                       "topics": "neighbour"}),
            )
            .await;
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&input)
                    .expect("neighbour input");
                let mut line = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    writeln!(file, "neighbour line {line}").expect("append");
                    line += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let neighbour = Self {
            output,
            stop,
            feeder: Some(feeder),
        };
        let start = Instant::now();
        while neighbour.output_bytes() == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the neighbour moved no records"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        neighbour
    }

    fn output_bytes(&self) -> u64 {
        std::fs::metadata(&self.output).map_or(0, |m| m.len())
    }

    /// Starts watching the neighbour's progress and the worker's memory.
    pub fn watch(&self, worker: &ChildWorker) -> Monitor {
        Monitor::start(worker.pid(), self.output.clone())
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
    }
}

/// What a [`Monitor`] saw.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    /// The longest time the neighbour's output did not grow.
    pub max_gap: Duration,
    /// The worker's highest resident memory, in bytes.
    pub max_rss: u64,
    /// How long it watched.
    pub watched: Duration,
}

/// Samples a neighbour's output and the worker's resident memory every 10 ms, on a thread of
/// its own (so a test's own waiting does not distort the gaps).
pub struct Monitor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Watched>>,
}

impl Monitor {
    fn start(pid: u32, output: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut last_growth = Instant::now();
                let mut last_size = std::fs::metadata(&output).map_or(0, |m| m.len());
                let mut watched = Watched {
                    max_gap: Duration::ZERO,
                    max_rss: 0,
                    watched: Duration::ZERO,
                };
                while !stop.load(Ordering::Relaxed) {
                    let size = std::fs::metadata(&output).map_or(0, |m| m.len());
                    let now = Instant::now();
                    if size > last_size {
                        last_size = size;
                        last_growth = now;
                    }
                    watched.max_gap = watched.max_gap.max(now - last_growth);
                    watched.max_rss = watched.max_rss.max(status_kib(pid, "VmRSS:") * 1024);
                    std::thread::sleep(Duration::from_millis(10));
                }
                watched.watched = start.elapsed();
                watched
            })
        };
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops watching; what it saw.
    pub fn finish(mut self) -> Watched {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("watching")
            .join()
            .expect("the monitor thread")
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// MiB, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}
