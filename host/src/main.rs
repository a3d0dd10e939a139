//! The `wasm-connect` command line: parse arguments, set up logging, run the worker and its
//! REST API until SIGTERM or Ctrl-C, then stop tasks gracefully (flushing offsets). Nothing else
//! lives here.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use wasm_connect::{
    config::{
        ConnectorSubmission, WorkerConfig,
        worker::{LogBackend, LogFormat},
    },
    coordinator::RestoreError,
    log::{LogError, embedded::EmbeddedLog},
    rest,
    topics::{self, LogTopics, RestTopics, Topics},
};

/// jemalloc rather than glibc's malloc: a record's buffers are allocated on the thread that
/// polls the guest and freed on the one that sends them, and glibc's per-thread caches do
/// not cover that pattern (the bench's host path took about 25% more CPU per record).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A Kafka Connect-compatible connector runtime in which every connector is a sandboxed
/// WebAssembly component.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a single worker, like `connect-standalone.sh`.
    Standalone {
        /// Worker properties (Kafka Connect's keys: bootstrap.servers, offset.storage.file.filename, ...).
        worker: PathBuf,
        /// Connector configurations: .properties, or .json (a POST /connectors body or a flat config).
        connectors: Vec<PathBuf>,
    },
    /// Runs a worker of a distributed cluster, like `connect-distributed.sh`: workers with the
    /// same `group.id` share the connectors, keeping configs, offsets and statuses in Kafka.
    Distributed {
        /// Worker properties (bootstrap.servers, group.id, config.storage.topic,
        /// offset.storage.topic, status.storage.topic, ...).
        worker: PathBuf,
    },
    /// Lists, reads and writes the topics of a worker's record log: Kafka when the worker
    /// file sets `bootstrap.servers`, else its embedded log (through the running worker's
    /// REST API when a worker has it open).
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Reads a password from stdin (one line) and prints its Argon2id hash, for
    /// `tenancy.operator.password.hash`.
    HashPassword,
}

/// Where `topics` finds the log.
#[derive(clap::Args)]
struct Target {
    /// The worker properties file whose log to use.
    worker: PathBuf,
    /// Reach a running worker's REST API at this URL (e.g. http://127.0.0.1:8083) instead.
    #[arg(long)]
    url: Option<String>,
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Lists every topic with its number of partitions and records.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_enum, default_value_t)]
        format: topics::Format,
    },
    /// Prints the records of a topic (a dead letter queue, a connector's output), oldest
    /// first, and stops at the end unless --follow is given.
    Consume {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        options: topics::ConsumeOptions,
    },
    /// Writes each line of standard input to a topic as a record's value (creating the topic
    /// with one partition where the log does so on a write).
    Produce {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        options: topics::ProduceOptions,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The worker file says how to log (`log.format`), so it is read before anything is logged.
    let format = match &cli.command {
        Command::Standalone { worker, .. } | Command::Distributed { worker } => {
            match log_format(worker) {
                Ok(format) => format,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        Command::Topics(_) | Command::HashPassword => LogFormat::Text,
    };
    // The topics commands print records on stdout; only problems go to stderr.
    init_logging(
        match cli.command {
            Command::Topics(_) | Command::HashPassword => "warn",
            _ => "info",
        },
        format,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            match format {
                // A log read by machines ends with a line they can read too.
                LogFormat::Json => {
                    tracing::error!(error = %format!("{error:#}"), "The worker failed.")
                }
                LogFormat::Text => eprintln!("error: {error:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// `log.format` of a worker file.
fn log_format(worker: &std::path::Path) -> anyhow::Result<LogFormat> {
    let settings = wasm_connect::config::properties::read_properties(worker)?;
    LogFormat::from_settings(&settings)
        .with_context(|| format!("invalid worker config `{}`", worker.display()))
}

/// Logs to stderr at `RUST_LOG` (default `default`), with levels that `/admin/loggers` can
/// change: as text lines (coloured only on a terminal), or with `log.format=json` one JSON
/// object per line (`timestamp`, `level`, `target`, `message`, the event's fields, and `span`
/// with the fields of the innermost span, e.g. a task's `connector` and `task`).
fn init_logging(default: &str, format: LogFormat) {
    use tracing_subscriber::{EnvFilter, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| EnvFilter::try_new(directives).is_ok())
        .unwrap_or_else(|| default.to_owned());
    let (filter, handle) =
        tracing_subscriber::reload::Layer::new(EnvFilter::new(directives.as_str()));
    let text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
    });
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .init();
    wasm_connect::logging::install(&directives, move |filter| {
        handle.reload(filter).map_err(|error| error.to_string())
    });
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Standalone { worker, connectors } => standalone(worker, connectors).await,
        Command::Distributed { worker } => distributed(worker).await,
        Command::Topics(command) => run_topics(command).await,
        Command::HashPassword => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("failed to read the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!password.is_empty(), "no password on stdin");
            println!("{}", wasm_connect::tenancy::hash_password(password));
            Ok(())
        }
    }
}

async fn run_topics(command: TopicsCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        TopicsCommand::List { target, format } => {
            topics::list(open_topics(&target)?.as_ref(), format, &mut out).await
        }
        TopicsCommand::Consume { target, options } => {
            topics::consume(open_topics(&target)?.as_ref(), &options, &mut out)
                .await
                .map(drop)
        }
        TopicsCommand::Produce { target, options } => {
            let topics = open_topics(&target)?;
            let written =
                topics::produce(topics.as_ref(), &options, std::io::stdin().lock()).await?;
            eprintln!(
                "Wrote {written} records to topic `{}` of {}.",
                options.topic,
                topics.describe()
            );
            Ok(())
        }
    }
}

/// The worker's log: Kafka, the embedded log when no worker has it open, else the REST API
/// of the worker that does.
fn open_topics(target: &Target) -> anyhow::Result<Box<dyn Topics>> {
    if let Some(url) = &target.url {
        return Ok(Box::new(RestTopics::new(url.clone())));
    }
    let config = WorkerConfig::read_file(&target.worker)?;
    match &config.log {
        LogBackend::Kafka { bootstrap_servers } => Ok(Box::new(LogTopics {
            log: wasm_connect::standalone::open_log(&config)?,
            description: format!("Kafka at {bootstrap_servers}"),
        })),
        LogBackend::Embedded { dir } => {
            if !dir.exists() {
                anyhow::bail!(
                    "there is no embedded log at `{}`: no worker has run with `{}` yet (or set its data.dir)",
                    dir.display(),
                    target.worker.display()
                );
            }
            match EmbeddedLog::open_with_cache(dir, 64 << 20) {
                Ok(log) => Ok(Box::new(LogTopics {
                    log: std::sync::Arc::new(log),
                    description: format!("the embedded log in `{}`", dir.display()),
                })),
                Err(LogError::InUse(_)) => Ok(Box::new(RestTopics::new(config.local_rest_url()))),
                Err(error) => Err(error.into()),
            }
        }
    }
}

/// Raises the soft limit on open files to the hard one, as the JVM does for Kafka Connect:
/// tasks hold files and sockets, and the default soft limit (often 1,024) is far below what
/// a worker of many tasks needs.
fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // An unlimited hard limit still stops at the kernel's `fs.nr_open`.
    let target = limit.maximum.or_else(|| {
        std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|text| text.trim().parse().ok())
    });
    let (Some(current), Some(target)) = (limit.current, target) else {
        return;
    };
    if current >= target {
        return;
    }
    let raised = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::info!(
            from = current,
            to = target,
            "Raised the open files limit (RLIMIT_NOFILE) to the hard limit."
        ),
        Err(error) => tracing::warn!(
            %error,
            "Could not raise the open files limit (RLIMIT_NOFILE); raise it with `ulimit -n`."
        ),
    }
}

async fn standalone(worker: PathBuf, connectors: Vec<PathBuf>) -> anyhow::Result<()> {
    raise_open_files_limit();
    let mut config = WorkerConfig::read_file(&worker)?;
    // What the worker was started with is no connector's business either.
    config.fs.deny(&worker, "the worker's config file");
    for path in &connectors {
        config
            .fs
            .deny(path, "a connector config file the worker was started with");
    }
    let submissions = connectors
        .iter()
        .map(|path| {
            ConnectorSubmission::read(path)
                .with_context(|| format!("invalid connector config `{}`", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (listener, address) = bind_rest(&mut config).await?;
    let log = wasm_connect::standalone::open_log(&config).context("failed to start the worker")?;
    let herder = wasm_connect::standalone::assemble(config, log)
        .await
        .context("failed to start the worker")?;
    // `GET /health` answers 503 until the plugins are loaded and the connectors below started.
    herder.set_ready(false);
    let (stop_rest, rest_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rest::serve(listener, herder.clone(), async {
        let _ = rest_stopped.await;
    }));
    tracing::info!(address = %address, "REST API listening.");
    // Compiling components takes seconds (a large Python one, tens on its first start); the
    // REST API answers meanwhile, and requests naming a plugin wait for the loading to end.
    let loading = std::time::Instant::now();
    if let Err(error) = herder.load_plugins().await {
        herder.shutdown().await;
        return Err(anyhow::Error::new(error).context("failed to load the built-in connectors"));
    }
    tracing::info!(
        plugins = herder.plugins(None).len(),
        elapsed_ms = loading.elapsed().as_millis() as u64,
        "Plugins loaded."
    );
    // Connectors stored in `<data.dir>/connectors.json` (created, changed, paused or stopped
    // over REST) start again. A connector also given on the command line is started from its
    // file instead, keeping its stored target state.
    if let Err(error) = herder.restore(submissions).await {
        herder.shutdown().await;
        let context = match &error {
            RestoreError::Given { index, name, .. } => format!(
                "failed to create connector `{name}` from `{}`",
                connectors[*index].display()
            ),
            RestoreError::Store(_) => "failed to load the stored connectors".to_owned(),
        };
        return Err(match error {
            RestoreError::Given { source, .. } => anyhow::Error::new(source),
            store => anyhow::Error::new(store),
        })
        .context(context);
    }
    herder.set_ready(true);
    wait_for_signal().await;
    stop_serving(stop_rest, server).await;
    tracing::info!("Shutting down: stopping tasks and flushing offsets.");
    herder.shutdown().await;
    tracing::info!("Worker stopped.");
    Ok(())
}

/// Binds the REST API first (a port in use fails at once, and statuses name the address
/// bound), sets the worker id from it, and records the URL in `data.dir` for `wasm-connect
/// topics`, which reaches the embedded log through this API while the worker holds it.
async fn bind_rest(
    config: &mut WorkerConfig,
) -> anyhow::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    let (host, port) = config.listener.clone();
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("failed to bind the REST API to {host}:{port}"))?;
    let address = listener.local_addr()?;
    config.worker_id = config.advertised_worker_id(address);
    let url_file = config.rest_url_file();
    if let Err(error) = std::fs::create_dir_all(&config.data_dir).and_then(|()| {
        std::fs::write(
            &url_file,
            wasm_connect::config::worker::local_url(address) + "\n",
        )
    }) {
        tracing::warn!(file = %url_file.display(), %error, "Could not record the REST API's URL; `wasm-connect topics` will need --url.");
    }
    Ok((listener, address))
}

/// Stops the REST API: in-flight requests get a few seconds; a request stuck on the herder
/// does not hold the shutdown.
async fn stop_serving(
    stop_rest: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let _ = stop_rest.send(());
    match tokio::time::timeout(std::time::Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(error = %error, "The REST API failed."),
        Ok(Err(error)) => tracing::warn!(error = %error, "The REST API panicked."),
        Err(_) => tracing::warn!("REST requests were still in flight at shutdown."),
    }
}

async fn distributed(worker: PathBuf) -> anyhow::Result<()> {
    raise_open_files_limit();
    let mut config = WorkerConfig::read_file(&worker)?;
    config.fs.deny(&worker, "the worker's config file");
    // Settings errors before anything binds or connects.
    wasm_connect::distributed::DistributedConfig::from_settings(&config.raw)
        .with_context(|| format!("invalid worker config `{}`", worker.display()))?;
    let (listener, address) = bind_rest(&mut config).await?;
    let url = format!("http://{}", config.worker_id);
    let log = wasm_connect::standalone::open_log(&config).context("failed to start the worker")?;
    let member = wasm_connect::distributed::assemble(config, log, url.clone())
        .await
        .context("failed to start the worker")?;
    let herder = member.herder.clone();
    herder.set_ready(false);
    let (stop_rest, rest_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rest::serve(listener, herder.clone(), async {
        let _ = rest_stopped.await;
    }));
    tracing::info!(address = %address, url = %url, group = %member.config.group_id, "REST API listening.");
    if let Err(error) = herder.load_plugins().await {
        herder.shutdown().await;
        return Err(anyhow::Error::new(error).context("failed to load the built-in connectors"));
    }
    herder.sync_desired().await;
    // Ready (`GET /health`) once it applied its first assignment.
    let stop = tokio_util::sync::CancellationToken::new();
    let driver = tokio::spawn(member.run(stop.clone()));
    wait_for_signal().await;
    stop_serving(stop_rest, server).await;
    tracing::info!("Shutting down: stopping tasks and flushing offsets.");
    stop.cancel();
    let _ = driver.await;
    herder.shutdown().await;
    tracing::info!("Worker stopped.");
    Ok(())
}

async fn wait_for_signal() {
    let mut terminate = match tokio::signal::unix::signal(
        tokio::signal::unix::SignalKind::terminate(),
    ) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(error = %error, "Cannot listen for SIGTERM; only Ctrl-C stops the worker.");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
