//! The process's wasmtime [`Engine`]s (component model, fuel, epoch interruption, async): the
//! optimizing one (Cranelift) and the baseline one (Winch) that makes large components ready
//! at once; the epoch ticker that drives deadlines and fair yielding, the [`Linker`]s with
//! every host import, and the on-disk cache of compiled components (with the
//! compiled-function cache compiles share, `function_cache`).

use std::{
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::{
    Engine,
    component::{Component, HasSelf, Linker},
};

use super::{
    InstanceLayout, RuntimeConfig, bindings,
    capacity::{InstanceCapacity, KernelLimits},
    function_cache::{FunctionCache, FunctionCounts},
    state::HostState,
};

/// Wasm stack per call. Set explicitly so deep recursion traps as a stack overflow well
/// before it can touch the host's stack.
pub const MAX_WASM_STACK: usize = 1 << 20;
/// Stack of the fiber a call runs on: the wasm stack plus room for host functions.
const ASYNC_STACK_SIZE: usize = 2 << 20;

/// The wasm sandbox of the process. Cheap to clone.
///
/// The epoch ticker runs while the `Runtime` or any [`super::Plugin`] made by it is alive.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

/// What the runtime, its plugins and their instances share.
pub(crate) struct Shared {
    /// The optimizing engine (Cranelift), whose code the compile cache holds.
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    /// The baseline engine (Winch); None when `plugin.compile.baseline.min.bytes` is off or
    /// this machine has no baseline compiler.
    pub(crate) baseline: Option<Baseline>,
    /// Held by a background optimizing compile, so they run one at a time beside the tasks.
    pub(crate) optimizing: Mutex<()>,
    pub(crate) config: RuntimeConfig,
    /// How many instances may exist at once, and how many do.
    pub(crate) capacity: Arc<InstanceCapacity>,
    /// Hex of the engine's precompile compatibility hash, part of every cache file name.
    engine_hash: String,
    /// Compile cache hits, compilations and their time, for `/metrics`.
    pub(crate) compiles: crate::metrics::Compiles,
    /// Compiled functions shared between compiles; None without a cache directory or with
    /// `cache.functions.max.bytes=0`.
    functions: Option<Arc<FunctionCache>>,
    _ticker: Ticker,
}

impl Runtime {
    /// Compile cache hits, compilations and their time so far.
    pub fn compile_counts(&self) -> crate::metrics::CompileCounts {
        let mut counts = self.shared.compiles.counts();
        if let Some(functions) = &self.shared.functions {
            let FunctionCounts { reused, compiled } = functions.counts();
            counts.functions_reused = reused;
            counts.functions_compiled = compiled;
        }
        counts
    }

    /// Creates the engines, their linkers and the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasmtime_config = engine_config(&config);
        let functions = match &config.cache_dir {
            Some(dir) if config.function_cache_max_bytes > 0 => Some(Arc::new(FunctionCache::new(
                dir,
                config.function_cache_max_bytes,
            ))),
            _ => None,
        };
        if let Some(functions) = &functions {
            wasmtime_config
                .enable_incremental_compilation(functions.clone())
                .map_err(anyhow::Error::from)
                .context("failed to enable the compiled-function cache")?;
        }
        let (engine, linker) = engine_with_linker(&wasmtime_config, "wasm engine")?;
        let engine_hash = {
            let mut hasher = Sha256Hasher::default();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            hex::encode(&hasher.0.finalize()[..16])
        };
        if let Some(functions) = &functions {
            functions.set_engine_hash(&engine_hash);
        }
        let baseline = match config.baseline_min_bytes {
            Some(_) => match Baseline::new(&config) {
                Ok(baseline) => Some(baseline),
                Err(error) => {
                    tracing::warn!(
                        error = %format!("{error:#}"),
                        "The baseline compiler is not available here; every component is \
                         compiled optimized before it loads."
                    );
                    None
                }
            },
            None => None,
        };
        let mut engines = vec![engine.clone()];
        engines.extend(baseline.as_ref().map(|b| b.engine.clone()));
        let ticker = Ticker::start(engines, config.epoch_tick)?;
        let capacity = Arc::new(InstanceCapacity::new(
            &config.layout,
            config.memory_max_bytes as u64,
            KernelLimits::current(),
        ));
        Ok(Self {
            shared: Arc::new(Shared {
                engine,
                linker,
                baseline,
                optimizing: Mutex::new(()),
                config,
                capacity,
                engine_hash,
                compiles: crate::metrics::Compiles::default(),
                functions,
                _ticker: ticker,
            }),
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.shared.config
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// How many instances may run at once, how many do, and why.
    pub fn capacity(&self) -> &InstanceCapacity {
        &self.shared.capacity
    }
}

/// The settings both engines share: what the sandbox needs of compiled code.
fn engine_config(config: &RuntimeConfig) -> wasmtime::Config {
    let mut wasmtime_config = wasmtime::Config::new();
    wasmtime_config
        .wasm_component_model(true)
        .consume_fuel(config.metering)
        .epoch_interruption(config.metering)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK_SIZE)
        .with_host_stack(std::sync::Arc::new(super::stacks::FiberStacks));
    apply_layout(&mut wasmtime_config, &config.layout);
    wasmtime_config
}

/// The baseline tier: Winch compiles a component several times faster than Cranelift (an
/// 18.8 MB Python component in about 1.6 s against 7 s on two cores) into slower code, with
/// the same fuel, epochs, stack and memory layout. Its code is never cached.
///
/// Its instances always map their initial memory copy-on-write: without that, wasmtime
/// compiles (with Cranelift, whatever the strategy) a start function that copies every data
/// segment, which for a JavaScript component's 10,000 segments takes two seconds. That costs
/// two more memory mappings an instance, so an instance of baseline code takes two slots of
/// the worker's capacity unless `sandbox.memory.cow.enable` already counts them.
pub(crate) struct Baseline {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
}

impl Baseline {
    fn new(config: &RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasmtime_config = engine_config(config);
        wasmtime_config
            .strategy(wasmtime::Strategy::Winch)
            .memory_init_cow(true);
        let (engine, linker) = engine_with_linker(&wasmtime_config, "baseline engine")?;
        Ok(Self { engine, linker })
    }
}

/// An engine made with `config` and its linker of every host import; `what` names the
/// engine in errors.
fn engine_with_linker(
    config: &wasmtime::Config,
    what: &str,
) -> anyhow::Result<(Engine, Linker<HostState>)> {
    let engine = Engine::new(config)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("failed to create the {what}"))?;
    let linker = new_linker(&engine)
        .map_err(anyhow::Error::from)
        .context("failed to link the host imports")?;
    Ok((engine, linker))
}

/// Lays linear memories out as `layout` says. The guard before each memory stays (wasmtime's
/// default): it costs one mapping and no memory, and contains a code generator bug that
/// computes a negative offset.
fn apply_layout(config: &mut wasmtime::Config, layout: &InstanceLayout) {
    config
        .memory_reservation(layout.memory_reservation_bytes)
        .memory_guard_size(layout.memory_guard_bytes)
        .guard_before_linear_memory(true)
        .memory_init_cow(layout.memory_cow);
}

/// Every import a connector may use: WASI 0.2 (with `wasi:http`) and the host interfaces of
/// both worlds.
fn new_linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    use bindings::{
        sink::wasm_connect::connector as sink, source::wasm_connect::connector as source,
    };

    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    // `wasi:sockets/tcp` again, through the instance's TCP guard (`runtime::tcp`).
    linker.allow_shadowing(true);
    wasmtime_wasi::p2::bindings::sockets::tcp::add_to_linker::<_, super::tcp::GuardedTcpData>(
        &mut linker,
        HostState::guarded_tcp,
    )?;
    linker.allow_shadowing(false);
    // Outgoing HTTP, sent by the host's egress-enforcing hooks (`runtime::http`).
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    source::logging::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    source::connector_context::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    source::offset_storage_reader::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    source::source_task_context::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    source::network::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    sink::sink_task_context::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    sink::errant_record_reporter::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    Ok(linker)
}

impl Shared {
    /// Compiles `bytes`, or loads the compiled form from the cache. Blocking: run it on
    /// `spawn_blocking`.
    pub(crate) fn compile(&self, bytes: &[u8], sha256_hex: &str) -> anyhow::Result<Component> {
        if let Some(component) = self.cached(sha256_hex) {
            return Ok(component);
        }
        let started = std::time::Instant::now();
        let Some(dir) = &self.config.cache_dir else {
            let component = Component::new(&self.engine, bytes).map_err(anyhow::Error::from);
            self.compiles.compiled(started.elapsed());
            return component;
        };
        let path = self.cache_path(dir, sha256_hex);
        let session = self.functions.as_ref().map(|f| f.session());
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from);
        let took = started.elapsed();
        self.compiles.compiled(took);
        let compiled = compiled?;
        let functions = session.map(|s| s.finish(sha256_hex)).unwrap_or_default();
        tracing::info!(
            sha256 = sha256_hex,
            seconds = took.as_secs_f64(),
            functions_reused = functions.reused,
            functions_compiled = functions.compiled,
            "Compiled a component."
        );
        match write_atomically(dir, &path, &compiled) {
            // Load from the file: the mapping is shared copy-on-write by every instance.
            Ok(()) => match self.deserialize(&path) {
                Ok(component) => return Ok(component),
                Err(error) => tracing::warn!(
                    path = %path.display(),
                    error = %format!("{error:#}"),
                    "Freshly cached component is unusable; using it from memory."
                ),
            },
            Err(error) => tracing::warn!(
                path = %path.display(),
                error = %format!("{error:#}"),
                "Could not cache the compiled component."
            ),
        }
        #[allow(unsafe_code)]
        // SAFETY: `compiled` was produced by `precompile_component` of this very engine a
        // moment ago; it is not outside input.
        let component = unsafe { Component::deserialize(&self.engine, &compiled) };
        component.map_err(anyhow::Error::from)
    }

    /// The optimized component of `sha256_hex` from the compile cache, if it holds a usable
    /// one. Blocking.
    pub(crate) fn cached(&self, sha256_hex: &str) -> Option<Component> {
        let path = self.cache_path(self.config.cache_dir.as_ref()?, sha256_hex);
        if !path.is_file() {
            return None;
        }
        match self.deserialize(&path) {
            Ok(component) => {
                self.compiles.hit();
                Some(component)
            }
            Err(error) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %format!("{error:#}"),
                    "Cached component is unusable; compiling it again."
                );
                None
            }
        }
    }

    /// Compiles `bytes` with the baseline compiler. Blocking.
    pub(crate) fn compile_baseline(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        let baseline = self
            .baseline
            .as_ref()
            .context("this runtime has no baseline compiler")?;
        let started = std::time::Instant::now();
        let component = Component::new(&baseline.engine, bytes).map_err(anyhow::Error::from)?;
        self.compiles.baseline(started.elapsed());
        Ok(component)
    }

    /// The linker for components compiled by `engine` (either tier's).
    pub(crate) fn linker_for(&self, engine: &Engine) -> &Linker<HostState> {
        match &self.baseline {
            Some(baseline) if Engine::same(engine, &baseline.engine) => &baseline.linker,
            _ => &self.linker,
        }
    }

    /// Slots of the worker's capacity an instance with `memories` linear memories of code
    /// compiled by `engine` takes (see [`Baseline`]).
    pub(crate) fn capacity_units(&self, engine: &Engine, memories: usize) -> usize {
        let baseline = self
            .baseline
            .as_ref()
            .is_some_and(|baseline| Engine::same(engine, &baseline.engine));
        if baseline && !self.config.layout.memory_cow {
            memories.max(1).saturating_mul(2)
        } else {
            memories
        }
    }

    fn cache_path(&self, dir: &Path, sha256_hex: &str) -> PathBuf {
        dir.join(format!("{sha256_hex}-{}.cwasm", self.engine_hash))
    }

    fn deserialize(&self, path: &Path) -> anyhow::Result<Component> {
        #[allow(unsafe_code)]
        // SAFETY: the cache directory is ours and holds only files this process wrote with
        // `precompile_component` (written to a temporary file, then renamed); the file name
        // carries the engine's compatibility hash, and wasmtime checks the header (version and
        // engine settings) again and fails cleanly on a mismatch.
        let component = unsafe { Component::deserialize_file(&self.engine, path) };
        component.map_err(anyhow::Error::from)
    }
}

/// Writes `bytes` to `path` through a temporary file in `dir` and a rename, so readers never
/// see a partial file.
pub(super) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the cache directory `{}`", dir.display()))?;
    // Unique per process and per write, so concurrent loads of one component do not collide.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let temp: PathBuf = dir.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    if let Err(error) = std::fs::write(&temp, bytes) {
        let _ = std::fs::remove_file(&temp);
        return Err(error).with_context(|| format!("cannot write `{}`", temp.display()));
    }
    std::fs::rename(&temp, path).with_context(|| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot rename `{}` to `{}`", temp.display(), path.display())
    })
}

/// Feeds `Hash` output into SHA-256, so the engine hash is stable across Rust versions
/// (`DefaultHasher` is not).
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Advances the engines' epochs every tick on a small thread; stops when dropped.
struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engines: Vec<Engine>, tick: Duration) -> anyhow::Result<Self> {
        let tick = tick.max(Duration::from_micros(100));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    for engine in &engines {
                        engine.increment_epoch();
                    }
                }
            })
            .context("failed to start the epoch ticker thread")?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `sha256` of `bytes` as lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
