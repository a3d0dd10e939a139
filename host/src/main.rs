//! The `wasm-connect` command line: parse arguments, set up logging, run the worker and its
//! REST API until SIGTERM or Ctrl-C, then stop tasks gracefully (flushing offsets). Nothing else
//! lives here.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use wasm_connect::{
    config::{ConnectorSubmission, WorkerConfig, properties::read_properties},
    coordinator::RestoreError,
    rest,
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
    /// Runs a worker of a distributed cluster, like `connect-distributed.sh` (not yet available).
    Distributed {
        /// Worker properties.
        worker: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    init_logging();
    let cli = Cli::parse();
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
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at `RUST_LOG` (default `info`), with levels that `/admin/loggers` can change.
fn init_logging() {
    use tracing_subscriber::{EnvFilter, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| EnvFilter::try_new(directives).is_ok())
        .unwrap_or_else(|| "info".to_owned());
    let (filter, handle) =
        tracing_subscriber::reload::Layer::new(EnvFilter::new(directives.as_str()));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a terminal, not in a log file.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    wasm_connect::logging::install(&directives, move |filter| {
        handle.reload(filter).map_err(|error| error.to_string())
    });
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Standalone { worker, connectors } => standalone(worker, connectors).await,
        Command::Distributed { .. } => anyhow::bail!(
            "distributed mode is not available yet; run `wasm-connect standalone WORKER.properties [CONNECTOR ...]`"
        ),
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
    let mut settings = read_properties(&worker)?;
    if !settings.contains_key("data.dir") {
        let dir = wasm_connect::config::worker::data_dir_beside(&worker);
        tracing::info!(data_dir = %dir.display(), "data.dir is not set; using the directory beside the worker file.");
        settings.insert("data.dir".into(), dir.display().to_string());
    }
    let mut config = WorkerConfig::from_settings(settings)
        .with_context(|| format!("invalid worker config `{}`", worker.display()))?;
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
    // Bound first: a port in use fails at once, and statuses name the address bound.
    let (host, port) = config.listener.clone();
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("failed to bind the REST API to {host}:{port}"))?;
    let address = listener.local_addr()?;
    config.worker_id = config.advertised_worker_id(address);
    let herder = wasm_connect::standalone::start(config)
        .await
        .context("failed to start the worker")?;
    tracing::info!(address = %address, "REST API listening.");
    // `GET /health` answers 503 until the connectors below are started.
    herder.set_ready(false);
    let (stop_rest, rest_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rest::serve(listener, herder.clone(), async {
        let _ = rest_stopped.await;
    }));
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
    let _ = stop_rest.send(());
    // In-flight requests get a few seconds; a request stuck on the herder does not hold the
    // shutdown.
    match tokio::time::timeout(std::time::Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(error = %error, "The REST API failed."),
        Ok(Err(error)) => tracing::warn!(error = %error, "The REST API panicked."),
        Err(_) => tracing::warn!("REST requests were still in flight at shutdown."),
    }
    tracing::info!("Shutting down: stopping tasks and flushing offsets.");
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
