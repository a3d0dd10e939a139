//! The connector and task of `test-source`.
//!
//! Connector settings: `topic` (required), `connector.spin` (`validate`, `start` or
//! `task-configs`: the connector loops forever in that call), `modes` (comma list, one entry
//! per task, default `ok`), `batch.size` (records per poll in the emitting modes, default 100), `count`
//! (records per task in the emitting modes, default -1: no end), `flood.records` (records
//! of the `flood` batch, default 5,000,000) and `read.path` (the file `read-outside` reads,
//! default `/etc/hostname`). Each `task_configs` call increments a counter,
//! `generation` (from 1), passed to the tasks with `mode` and `task.id`.
//!
//! Task modes: `ok`, `reconfigure`, `panic`, `loop`, `start-loop`, `memory`, `deep`, `flood`,
//! `log-flood`, `read-outside`, `raise-error`, `every-type`, `commit-records`, and the modes
//! that go after the host within their own limits (`resource-hog`, `handle-hog`,
//! `offset-flood`, `schema-bloat`, `topic-flood`, `log-steady`, `huge-error`, sized by
//! `hostile.size` and `schema.fields`); see [`Mode`] and `hostile.rs`.

use std::sync::Arc;

use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{
    Config, ConfigDef, Data, Error, OffsetMap, OffsetMapExt, PluginInfo, RecordMetadata, Scalar,
    SourceConnector, SourceRecord, SourceTask, TaskOptions, Value, host,
};

use crate::{every_type, hostile};

const MODES: [&str; 27] = [
    "ok",
    "reconfigure",
    "panic",
    "loop",
    "start-loop",
    "memory",
    "deep",
    "flood",
    "log-flood",
    "read-outside",
    "http-get",
    "http-burst",
    "raise-error",
    "every-type",
    "commit-records",
    "too-deep",
    "resource-hog",
    "handle-hog",
    "offset-flood",
    "schema-bloat",
    "topic-flood",
    "log-steady",
    "huge-error",
    "leak-config",
    "burn",
    "tcp-connect",
    "idle",
];

/// What a task does when polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Emits `"<generation>:<task>:<seq>"` strings, resuming from the committed `seq`.
    Ok,
    /// Like `Ok`, but the first poll of a generation-1 task requests task reconfiguration.
    Reconfigure,
    /// Panics in `poll`.
    Panic,
    /// Loops forever in `poll`.
    Loop,
    /// Loops forever in `start`.
    StartLoop,
    /// Allocates without bound in `poll`.
    Memory,
    /// Recurses without bound in `poll` until the wasm stack overflows.
    Deep,
    /// Returns one batch of `flood.records` (default 5,000,000) tiny records from `poll`.
    Flood,
    /// Logs (through `logging` and stdout) without end in `poll`.
    LogFlood,
    /// Reads `read.path` (default `/etc/hostname`), outside any grant, in `poll` and returns
    /// the outcome as a fatal error.
    ReadOutside,
    /// GETs `http.url` through `wasi:http` in `poll` and returns the outcome as a fatal error.
    HttpGet,
    /// GETs `http.url` [`HTTP_BURST`] times at once in `poll` and returns how many got
    /// through as a fatal error.
    HttpBurst,
    /// Calls `raise_error("boom from task")` in `poll`, then returns an empty batch.
    RaiseError,
    /// Emits one record carrying every type, then empty batches.
    EveryType,
    /// Like `EveryType`, but asks for `commit-records` and checks each committed record against
    /// the every-type record: on a difference (say a struct value without its schema) it calls
    /// `raise_error` with the difference and returns a fatal error.
    CommitRecords,
    /// Emits one record whose schemaless value is nested [`TOO_DEEP`] arrays deep (fine for
    /// the SDK, deeper than the host accepts), then `ok` records.
    TooDeep,
    /// Creates `wasi:http` header fields of `hostile.size` bytes each in `poll`, without end.
    ResourceHog,
    /// Creates empty `wasi:http` header fields in `poll`, without end.
    HandleHog,
    /// Emits `batch.size` records per poll, each with a new source partition and offset of
    /// `hostile.size` bytes.
    OffsetFlood,
    /// Emits `batch.size` records per poll (`count` in all) sharing a struct schema of
    /// `schema.fields` fields documented with `hostile.size` bytes each.
    SchemaBloat,
    /// Emits `batch.size` records per poll, each to a topic of its own.
    TopicFlood,
    /// Logs `batch.size` lines of `hostile.size` bytes in each poll, which returns nothing.
    LogSteady,
    /// Fails `poll` with a fatal error of `hostile.size` bytes.
    HugeError,
    /// Logs its whole task config (through `logging`, stdout and stderr) in `poll` and fails
    /// with it as the fatal error: what a careless connector does with a secret.
    LeakConfig,
    /// Spins `burn.iterations` (default 2,000,000) loop iterations in each `poll`, then
    /// emits like `ok`: a connector that is all compute.
    Burn,
    /// Opens `tcp.count` TCP connections to `tcp.address` (`host:port`) with `wasi:sockets` in
    /// `poll`, keeping them open; first asks the host to resolve the name when
    /// `tcp.resolve` is true, else dials the literal address. Returns the outcomes as a fatal
    /// error.
    TcpConnect,
    /// Returns no records (or `ok` records with `idle.with.records=true`) and, when `idle.ms`
    /// is set, tells the host it has nothing for that long (`poll_again_after`).
    Idle,
}

/// How deep `too-deep` nests: one more level than the host's limit of 64.
pub const TOO_DEEP: usize = 65;

impl Mode {
    /// Parses a mode name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Ok(match name.trim() {
            "ok" => Self::Ok,
            "reconfigure" => Self::Reconfigure,
            "panic" => Self::Panic,
            "loop" => Self::Loop,
            "start-loop" => Self::StartLoop,
            "memory" => Self::Memory,
            "deep" => Self::Deep,
            "flood" => Self::Flood,
            "log-flood" => Self::LogFlood,
            "read-outside" => Self::ReadOutside,
            "http-get" => Self::HttpGet,
            "http-burst" => Self::HttpBurst,
            "raise-error" => Self::RaiseError,
            "every-type" => Self::EveryType,
            "commit-records" => Self::CommitRecords,
            "too-deep" => Self::TooDeep,
            "resource-hog" => Self::ResourceHog,
            "handle-hog" => Self::HandleHog,
            "offset-flood" => Self::OffsetFlood,
            "schema-bloat" => Self::SchemaBloat,
            "topic-flood" => Self::TopicFlood,
            "log-steady" => Self::LogSteady,
            "huge-error" => Self::HugeError,
            "leak-config" => Self::LeakConfig,
            "burn" => Self::Burn,
            "tcp-connect" => Self::TcpConnect,
            "idle" => Self::Idle,
            other => {
                return Err(Error::invalid_config(format!(
                    "unknown mode `{other}`; expected one of {}",
                    MODES.join(", ")
                )));
            }
        })
    }
}

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new("topic", ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::NonEmptyString)
                .documentation("The topic to write to."),
        )
        .define(
            ConfigKey::new("modes", ConfigType::List)
                .default_value("ok")
                .documentation(
                    "One mode per task: ok, reconfigure, panic, loop, start-loop, memory, deep, \
                     flood, log-flood, read-outside, raise-error, every-type, commit-records.",
                ),
        )
        .define(
            ConfigKey::new("batch.size", ConfigType::Int)
                .default_value(100)
                .validator(Validator::at_least(1.0))
                .documentation("Records per poll in the ok and reconfigure modes."),
        )
        .define(
            ConfigKey::new("count", ConfigType::Long)
                .default_value(-1)
                .documentation("Records per task in the ok and reconfigure modes; -1 for no end."),
        )
        .define(
            ConfigKey::new("flood.records", ConfigType::Long)
                .default_value(DEFAULT_FLOOD_RECORDS)
                .validator(Validator::at_least(0.0))
                .documentation("Records of the one batch the flood mode returns."),
        )
        .define(
            ConfigKey::new("read.path", ConfigType::String)
                .default_value(DEFAULT_READ_PATH)
                .documentation("The file the read-outside mode tries to read."),
        )
        .define(
            ConfigKey::new("db.password", ConfigType::Password)
                .default_value("")
                .documentation("A password the test source does nothing with, to show how hosts treat PASSWORD keys."),
        )
        .define(
            ConfigKey::new("connector.spin", ConfigType::String)
                .default_value("")
                .documentation("validate, start or task-configs: loop forever in that call."),
        )
        .define(
            ConfigKey::new("hostile.size", ConfigType::Long)
                .default_value(1000)
                .validator(Validator::at_least(0.0))
                .documentation("Bytes per unit of the hostile modes (header, pad, doc, line)."),
        )
        .define(
            ConfigKey::new("schema.fields", ConfigType::Int)
                .default_value(100)
                .validator(Validator::at_least(1.0))
                .documentation("Fields of the schema-bloat mode's schema."),
        )
        .define(
            ConfigKey::new("tcp.address", ConfigType::String)
                .default_value("127.0.0.1:5432")
                .documentation("host:port the tcp-connect mode dials."),
        )
        .define(
            ConfigKey::new("tcp.resolve", ConfigType::Boolean)
                .default_value(false)
                .documentation("Whether tcp-connect asks the host to resolve tcp.address first."),
        )
        .define(
            ConfigKey::new("tcp.count", ConfigType::Int)
                .default_value(1)
                .validator(Validator::at_least(1.0))
                .documentation("Connections tcp-connect opens and keeps open."),
        )
        .define(
            ConfigKey::new("http.url", ConfigType::String)
                .default_value("http://169.254.169.254/latest/meta-data")
                .documentation("The URL the http-get mode tries to fetch."),
        )
}

/// The file `read-outside` reads unless `read.path` says otherwise.
const DEFAULT_READ_PATH: &str = "/etc/hostname";

/// Records of the `flood` batch unless `flood.records` says otherwise.
const DEFAULT_FLOOD_RECORDS: i64 = 5_000_000;

/// Spins forever; `black_box` keeps the optimizer from proving the loop has no effect.
fn spin() {
    let mut spins = 0_u64;
    while std::hint::black_box(true) {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
}

/// Recurses until the wasm stack overflows. Everything a frame holds is a wasm local: the
/// argument and the result pass through `black_box` by value, which keeps LLVM from turning the
/// recursion into a loop without taking an address (no shadow-stack frame in linear memory, so
/// the engine's wasm stack limit is what trips, not an out-of-bounds access).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let next = std::hint::black_box(depth.wrapping_add(1));
    if next == 0 {
        return 0;
    }
    std::hint::black_box(recurse(next)).wrapping_add(depth)
}

/// The test source connector.
#[derive(Debug)]
pub struct TestSource {
    config: Config,
    modes: Vec<String>,
    generation: u32,
}

impl SourceConnector for TestSource {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "TestSource",
            "A misbehaving source for wasm-connect's tests.",
        )
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn validate(config: &Config) -> Vec<wasm_connect_sdk::config::ConfigValue> {
        if config.get("connector.spin") == Some("validate") {
            spin();
        }
        config_def().validate(config)
    }

    fn start(config: Config) -> Result<Self, Error> {
        if config.get("connector.spin") == Some("start") {
            spin();
        }
        config_def().check(&config)?;
        let modes = config.get_list_or("modes", &["ok"]);
        for mode in &modes {
            Mode::parse(mode)?;
        }
        Ok(Self {
            config,
            modes,
            generation: 0,
        })
    }

    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        if self.config.get("connector.spin") == Some("task-configs") {
            spin();
        }
        self.generation += 1;
        Ok(self
            .modes
            .iter()
            .take(max_tasks as usize)
            .enumerate()
            .map(|(i, mode)| {
                self.config
                    .clone()
                    .with("mode", mode.clone())
                    .with("task.id", i.to_string())
                    .with("generation", self.generation.to_string())
            })
            .collect())
    }
}

/// The test source task.
#[derive(Debug)]
pub struct TestSourceTask {
    mode: Mode,
    topic: Arc<str>,
    task: i64,
    generation: i64,
    batch_size: usize,
    /// Sequence numbers end before this, if set.
    end: Option<i64>,
    next_seq: i64,
    polled: bool,
    /// Memory kept by the `memory` mode.
    hoard: Vec<Vec<u8>>,
    /// Records of the `flood` batch.
    flood_records: usize,
    /// The file `read-outside` reads.
    read_path: String,
    http_url: String,
    tcp_address: String,
    tcp_resolve: bool,
    tcp_count: usize,
    /// Records checked by `commit_record` in the `commit-records` mode.
    committed: u64,
    /// `hostile.size`.
    hostile_size: usize,
    /// The task config as `key=value` pairs, for `leak-config`.
    config_text: String,
    /// `burn.iterations`, for `burn`.
    burn_iterations: u64,
    /// `idle.ms` and `idle.with.records`, for `idle`.
    idle_ms: Option<u64>,
    idle_with_records: bool,
    /// The schema of the `schema-bloat` mode.
    bloated: Option<Arc<wasm_connect_sdk::Schema>>,
}

impl TestSourceTask {
    fn partition(&self) -> OffsetMap {
        vec![("task".to_owned(), Scalar::Int(self.task))]
    }

    fn record(&self, seq: i64, value: Data) -> SourceRecord {
        SourceRecord::new(
            self.partition(),
            vec![("seq".to_owned(), Scalar::Int(seq))],
            self.topic.clone(),
            value,
        )
    }

    fn emit(&mut self) -> Vec<SourceRecord> {
        let mut n = self.batch_size as i64;
        if let Some(end) = self.end {
            n = n.min(end - self.next_seq).max(0);
        }
        let records = (self.next_seq..self.next_seq + n)
            .map(|seq| {
                let value = format!("{}:{}:{seq}", self.generation, self.task);
                self.record(seq, Data::string(value))
            })
            .collect();
        self.next_seq += n;
        records
    }

    /// The `too-deep` record once, then what `ok` emits.
    fn too_deep_once(&mut self) -> Vec<SourceRecord> {
        if self.next_seq > 0 {
            return self.emit();
        }
        let mut value = Value::Null;
        for _ in 0..TOO_DEEP {
            value = Value::Array(vec![value]);
        }
        let mut records = self.emit();
        records.insert(
            0,
            SourceRecord {
                source_partition: Arc::default(),
                source_offset: Vec::new(),
                topic: self.topic.clone(),
                partition: None,
                key: None,
                value: Some(Data::schemaless(value)),
                timestamp: None,
                headers: Vec::new(),
            },
        );
        records
    }

    /// `flood_records` tombstones with no partition or offset: as little guest memory per
    /// record as a record can take.
    fn flood(&self) -> Vec<SourceRecord> {
        (0..self.flood_records)
            .map(|_| SourceRecord {
                source_partition: Arc::default(),
                source_offset: Vec::new(),
                topic: self.topic.clone(),
                partition: None,
                key: None,
                value: None,
                timestamp: None,
                headers: Vec::new(),
            })
            .collect()
    }

    /// The every-type record, once; then nothing.
    fn every_type_once(&mut self) -> Vec<SourceRecord> {
        if self.next_seq > 0 {
            return Vec::new();
        }
        self.next_seq = 1;
        let mut record = self.record(0, every_type::value());
        record.key = Some(every_type::key());
        record.headers.push(every_type::header());
        vec![record]
    }
}

/// Tries to read `path`, which no grant covers, and says how that went.
fn read_outside(path: &str) -> String {
    match std::fs::read(path) {
        Ok(bytes) => format!("read {path} outside any grant: {} bytes", bytes.len()),
        Err(error) => format!("opening {path} failed: {error}"),
    }
}

/// GETs `url` and says how that went.
/// The `tcp-connect` mode: one line per connection attempt.
fn tcp_connect(address: &str, resolve: bool, count: usize) -> String {
    let targets: Vec<std::net::SocketAddr> = if resolve {
        let Some((host, port)) = address.rsplit_once(':') else {
            return format!("`{address}` is not host:port");
        };
        let port: u16 = port.parse().unwrap_or(0);
        match host::resolve_tcp(host, port) {
            Ok(found) => found,
            Err(error) => return format!("resolve {address} failed: {error}"),
        }
    } else {
        match address.parse() {
            Ok(found) => vec![found],
            Err(error) => return format!("`{address}` is not an IP socket address: {error}"),
        }
    };
    let mut open = Vec::new();
    let mut outcomes = Vec::new();
    for attempt in 0..count {
        match std::net::TcpStream::connect(&targets[..]) {
            Ok(stream) => {
                outcomes.push(format!("connection {attempt}: connected"));
                open.push(stream);
            }
            Err(error) => outcomes.push(format!("connection {attempt}: failed: {error}")),
        }
    }
    outcomes.join("; ")
}

fn http_get(url: &str) -> String {
    use wasm_connect_http_client::{Method, Request, send};
    match send(&Request::new(Method::Get, url)) {
        Ok(response) => format!("GET {url} got through: HTTP {}", response.status),
        Err(error) => format!("GET {url} failed: {error}"),
    }
}

/// Requests the `http-burst` mode sends at once.
pub const HTTP_BURST: usize = 6;

fn http_burst(url: &str) -> String {
    use wasm_connect_http_client::{Method, Request, send_all};
    let requests = vec![Request::new(Method::Get, url); HTTP_BURST];
    let results = send_all(&requests);
    let ok = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|response| response.status == 200))
        .count();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    format!(
        "burst of {HTTP_BURST} GET {url}: {ok} ok; failures: [{}]",
        failures.join("; ")
    )
}

/// The first way a committed record differs from the every-type record it was polled as.
fn committed_mismatch(record: &SourceRecord) -> Option<String> {
    let Some(value) = &record.value else {
        return Some("value: missing".to_owned());
    };
    if value.schema.is_none() && matches!(value.value, Value::Struct(_)) {
        return Some("value: a struct arrived without its schema".to_owned());
    }
    if let Some(m) = every_type::first_mismatch(&every_type::value(), value) {
        return Some(format!("value {m}"));
    }
    let Some(key) = &record.key else {
        return Some("key: missing".to_owned());
    };
    if let Some(m) = every_type::first_mismatch(&every_type::key(), key) {
        return Some(format!("key {m}"));
    }
    let expected = every_type::header();
    match record.headers.as_slice() {
        [header] if header.key == expected.key => {
            every_type::first_mismatch(&expected.value, &header.value)
                .map(|m| format!("header `{}` {m}", header.key))
        }
        headers => Some(format!("headers: expected one `h`, got {}", headers.len())),
    }
}

impl SourceTask for TestSourceTask {
    fn start(config: Config) -> Result<Self, Error> {
        let mode = Mode::parse(config.get_str("mode")?)?;
        let count = config.get_long_or("count", -1)?;
        let mut task = Self {
            mode,
            topic: config.get_str("topic")?.into(),
            task: config.get_long_or("task.id", 0)?,
            generation: config.get_long_or("generation", 1)?,
            batch_size: usize::try_from(config.get_int_or("batch.size", 100)?)
                .unwrap_or(1)
                .max(1),
            end: (count >= 0).then_some(count),
            next_seq: 0,
            polled: false,
            hoard: Vec::new(),
            flood_records: usize::try_from(
                config.get_long_or("flood.records", DEFAULT_FLOOD_RECORDS)?,
            )
            .unwrap_or(0),
            read_path: config
                .get_str("read.path")
                .unwrap_or(DEFAULT_READ_PATH)
                .to_owned(),
            http_url: config
                .get_str_or("http.url", "http://169.254.169.254/latest/meta-data")
                .to_owned(),
            tcp_address: config
                .get_str_or("tcp.address", "127.0.0.1:5432")
                .to_owned(),
            tcp_resolve: config.get_bool_or("tcp.resolve", false)?,
            tcp_count: usize::try_from(config.get_int_or("tcp.count", 1)?.max(1)).unwrap_or(1),
            committed: 0,
            hostile_size: usize::try_from(config.get_long_or("hostile.size", 1000)?).unwrap_or(0),
            burn_iterations: u64::try_from(config.get_long_or("burn.iterations", 2_000_000)?)
                .unwrap_or(0),
            idle_ms: if config.contains("idle.ms") {
                Some(u64::try_from(config.get_long("idle.ms")?).unwrap_or(u64::MAX))
            } else {
                None
            },
            idle_with_records: config.get_bool_or("idle.with.records", false)?,
            config_text: config
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(", "),
            bloated: None,
        };
        if mode == Mode::SchemaBloat {
            let fields = usize::try_from(config.get_int_or("schema.fields", 100)?).unwrap_or(1);
            task.bloated = Some(hostile::bloated_schema(fields, task.hostile_size));
        }
        if let Some(seq) = host::offset(&task.partition())?.and_then(|o| o.int("seq")) {
            task.next_seq = seq + 1;
        }
        host::info(&format!(
            "test-source task {} starting in mode {mode:?} at seq {}",
            task.task, task.next_seq
        ));
        if mode == Mode::StartLoop {
            spin();
        }
        Ok(task)
    }

    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
        let first = !self.polled;
        self.polled = true;
        match self.mode {
            Mode::Ok => Ok(self.emit()),
            Mode::Reconfigure => {
                if first && self.generation == 1 {
                    host::request_task_reconfiguration();
                }
                Ok(self.emit())
            }
            Mode::Panic => panic!("panic from test-source task {}", self.task),
            Mode::Loop | Mode::StartLoop => {
                spin();
                Ok(Vec::new())
            }
            Mode::Deep => {
                let depth = recurse(0);
                Err(Error::fatal(format!("recursion ended at depth {depth}")))
            }
            Mode::Flood => Ok(self.flood()),
            Mode::LogFlood => {
                let mut line = 0_u64;
                while std::hint::black_box(true) {
                    host::info(&format!("log-flood line {line}"));
                    println!("log-flood stdout line {line}");
                    line = line.wrapping_add(1);
                }
                Ok(Vec::new())
            }
            Mode::ReadOutside => Err(Error::fatal(read_outside(&self.read_path))),
            Mode::HttpGet => Err(Error::fatal(http_get(&self.http_url))),
            Mode::TcpConnect => Err(Error::fatal(tcp_connect(
                &self.tcp_address,
                self.tcp_resolve,
                self.tcp_count,
            ))),
            Mode::HttpBurst => Err(Error::fatal(http_burst(&self.http_url))),
            Mode::Memory => loop {
                let mut chunk = vec![0_u8; 1 << 20];
                for byte in chunk.iter_mut().step_by(4096) {
                    *byte = 1;
                }
                self.hoard.push(std::hint::black_box(chunk));
            },
            Mode::RaiseError => {
                host::raise_error("boom from task");
                Ok(Vec::new())
            }
            Mode::EveryType | Mode::CommitRecords => Ok(self.every_type_once()),
            Mode::TooDeep => Ok(self.too_deep_once()),
            Mode::ResourceHog => hostile::hog_header_fields(self.hostile_size),
            Mode::HandleHog => hostile::hog_handles(),
            Mode::OffsetFlood => Ok(hostile::fresh_partitions(
                &self.topic,
                &mut self.next_seq,
                self.batch_size,
                self.hostile_size,
            )),
            Mode::SchemaBloat => {
                let mut count = self.batch_size;
                if let Some(end) = self.end {
                    count = count.min(usize::try_from(end - self.next_seq).unwrap_or(0));
                }
                let schema = self.bloated.clone().expect("built in start");
                hostile::bloated_records(&self.topic, &schema, &mut self.next_seq, count)
            }
            Mode::TopicFlood => Ok(hostile::fresh_topics(&mut self.next_seq, self.batch_size)),
            Mode::Idle => {
                if let Some(ms) = self.idle_ms {
                    host::poll_again_after(std::time::Duration::from_millis(ms))?;
                }
                Ok(if self.idle_with_records {
                    self.emit()
                } else {
                    Vec::new()
                })
            }
            Mode::LogSteady => {
                hostile::log_lines(self.batch_size, self.hostile_size);
                Ok(Vec::new())
            }
            Mode::HugeError => Err(hostile::huge_error(self.hostile_size)),
            Mode::Burn => {
                let mut x = 0_u64;
                for i in 0..self.burn_iterations {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                std::hint::black_box(x);
                Ok(self.emit())
            }
            Mode::LeakConfig => {
                host::info(&format!("my config: {}", self.config_text));
                println!("stdout config: {}", self.config_text);
                eprintln!("stderr config: {}", self.config_text);
                Err(Error::fatal(format!(
                    "failing with my config: {}",
                    self.config_text
                )))
            }
        }
    }

    fn options(&self) -> TaskOptions {
        TaskOptions {
            wants_commit_records: self.mode == Mode::CommitRecords,
        }
    }

    fn commit_record(
        &mut self,
        record: SourceRecord,
        metadata: Option<RecordMetadata>,
    ) -> Result<(), Error> {
        if self.mode != Mode::CommitRecords {
            return Ok(());
        }
        if let Some(mismatch) = committed_mismatch(&record) {
            let message = format!("committed record: {mismatch}");
            host::raise_error(&message);
            return Err(Error::fatal(message));
        }
        self.committed += 1;
        host::info(&format!(
            "test-source task {} committed record {} at {metadata:?}",
            self.task, self.committed
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::testing;

    #[test]
    fn task_configs_carry_mode_and_generation() {
        let mut connector = TestSource::start(Config::from_pairs([
            ("topic", "t"),
            ("modes", "ok,reconfigure"),
        ]))
        .unwrap();
        let first = connector.task_configs(5).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[1].get("mode"), Some("reconfigure"));
        assert_eq!(first[1].get("task.id"), Some("1"));
        assert_eq!(first[1].get("generation"), Some("1"));
        let second = connector.task_configs(1).unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].get("generation"), Some("2"));
    }

    #[test]
    fn ok_mode_resumes_and_reconfigure_asks_once() {
        testing::reset();
        testing::set_offset(
            vec![("task".to_owned(), Scalar::Int(1))],
            vec![("seq".to_owned(), Scalar::Int(9))],
        );
        let config = Config::from_pairs([
            ("topic", "t"),
            ("mode", "reconfigure"),
            ("task.id", "1"),
            ("generation", "1"),
        ]);
        let mut task = TestSourceTask::start(config).unwrap();
        let batch = task.poll().unwrap();
        assert_eq!(batch.len(), 100);
        assert_eq!(
            batch[0].value.as_ref().unwrap().value.as_str(),
            Some("1:1:10")
        );
        task.poll().unwrap();
        assert_eq!(testing::reconfiguration_requests(), 1);
    }

    #[test]
    fn every_type_is_emitted_once_and_matches_itself() {
        testing::reset();
        let mut task =
            TestSourceTask::start(Config::from_pairs([("topic", "t"), ("mode", "every-type")]))
                .unwrap();
        let batch = task.poll().unwrap();
        assert_eq!(batch.len(), 1);
        let value = batch[0].value.as_ref().unwrap();
        assert_eq!(
            every_type::first_mismatch(&every_type::value(), value),
            None
        );
        assert!(task.poll().unwrap().is_empty());
    }

    #[test]
    fn commit_records_mode_checks_committed_records() {
        testing::reset();
        let mut task = TestSourceTask::start(Config::from_pairs([
            ("topic", "t"),
            ("mode", "commit-records"),
        ]))
        .unwrap();
        assert!(task.options().wants_commit_records);
        let mut batch = task.poll().unwrap();
        assert_eq!(batch.len(), 1);
        let record = batch.pop().unwrap();
        task.commit_record(record.clone(), None).unwrap();
        assert!(testing::raised_errors().is_empty());

        let mut stripped = record;
        if let Some(value) = &mut stripped.value {
            value.schema = None;
        }
        let err = task.commit_record(stripped, None).unwrap_err();
        assert!(err.to_string().contains("without its schema"), "{err}");
        assert_eq!(
            testing::raised_errors(),
            ["committed record: value: a struct arrived without its schema"]
        );
    }

    #[test]
    fn raise_error_mode_reports_to_the_host() {
        testing::reset();
        let mut task = TestSourceTask::start(Config::from_pairs([
            ("topic", "t"),
            ("mode", "raise-error"),
        ]))
        .unwrap();
        assert!(task.poll().unwrap().is_empty());
        assert_eq!(testing::raised_errors(), ["boom from task"]);
    }

    #[test]
    fn flood_mode_returns_one_batch_of_tiny_records() {
        testing::reset();
        let mut task = TestSourceTask::start(Config::from_pairs([
            ("topic", "t"),
            ("mode", "flood"),
            ("flood.records", "1000"),
        ]))
        .unwrap();
        let batch = task.poll().unwrap();
        assert_eq!(batch.len(), 1000);
        assert!(batch.iter().all(|record| record.value.is_none()));
    }

    #[test]
    fn every_mode_name_parses() {
        for mode in MODES {
            Mode::parse(mode).unwrap();
        }
    }

    #[test]
    fn unknown_modes_are_invalid_config() {
        let err = TestSource::start(Config::from_pairs([("topic", "t"), ("modes", "ok,nope")]))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
    }
}
