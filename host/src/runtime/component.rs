//! Loading a connector or transform component: check that the bytes are a component, compile
//! it (through the cache), check which world it targets (`source-connector`, `sink-connector`
//! or `transform`) and that it imports nothing the host does not provide, pre-instantiate it,
//! and probe a throwaway instance for its [`PluginInfo`]. A [`Plugin`] then makes connector,
//! task and transform instances, from baseline code until its optimized code is ready
//! ([`CodeTier`]).

use std::sync::{Arc, RwLock, Weak};

use wasmtime::component::{Component, InstancePre, Linker};

use super::{
    InstanceContext, PluginInfo, PluginKind, RuntimeError, SandboxLimits,
    bindings::{
        sink::{SinkConnector, SinkConnectorPre},
        source::{SourceConnector, SourceConnectorPre},
        transform::TransformPre,
    },
    engine::{Runtime, Shared, sha256_hex},
    instance::{ConnectorGuest, ConnectorInstance, Sandbox, SinkTaskInstance, SourceTaskInstance},
    state::HostState,
    transform::TransformInstance,
};

/// WIT package of the connector interfaces, without version.
const PACKAGE: &str = "wasm-connect:connector";
/// The connector interfaces' major version (semver-compatible versions are accepted).
const PACKAGE_VERSION_PREFIX: &str = "0.1.";
/// Host interfaces a connector may import.
const HOST_INTERFACES: &[&str] = &[
    "types",
    "config-def",
    "logging",
    "connector-context",
    "offset-storage-reader",
    "source-task-context",
    "sink-task-context",
    "errant-record-reporter",
    "network",
];
/// Host interfaces a transform may import: it only logs.
const TRANSFORM_HOST_INTERFACES: &[&str] = &["types", "config-def", "logging"];
/// WASI 0.2 packages the host links (`wasmtime_wasi::p2`, `wasmtime_wasi_http::p2`).
const WASI_PACKAGES: &[&str] = &[
    "wasi:io",
    "wasi:clocks",
    "wasi:filesystem",
    "wasi:random",
    "wasi:cli",
    "wasi:sockets",
    "wasi:http",
];
const WASI_VERSION_PREFIX: &str = "0.2.";

/// A loaded connector component, ready to make instances. Share it with `Arc`.
pub struct Plugin {
    pub info: PluginInfo,
    origin: String,
    shared: Arc<Shared>,
    /// The code new instances are made from: baseline code until the optimized code
    /// replaces it. Instances made earlier keep the code they were made from.
    pre: RwLock<Arc<WorldPre>>,
    tier: tokio::sync::watch::Sender<CodeTier>,
    /// Linear memories an instance defines: slots of the worker's capacity it takes.
    memories: usize,
}

/// Which compiler's code a plugin's new instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTier {
    /// The optimizing compiler's (Cranelift).
    Optimized,
    /// The baseline compiler's (Winch), while the optimized code is compiled in the
    /// background (`plugin.compile.baseline.min.bytes`).
    Baseline,
    /// The baseline compiler's, for good: compiling the optimized code failed (logged).
    BaselineOnly,
}

impl CodeTier {
    pub fn name(self) -> &'static str {
        match self {
            CodeTier::Optimized => "optimized",
            CodeTier::Baseline => "baseline",
            CodeTier::BaselineOnly => "baseline only",
        }
    }
}

enum WorldPre {
    Source(SourceConnectorPre<HostState>),
    Sink(SinkConnectorPre<HostState>),
    Transform(TransformPre<HostState>),
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Loads a connector component: checks, compiles (or loads from the cache) and probes it.
    /// `origin` names it in errors (e.g. its path).
    pub async fn load(&self, bytes: &[u8], origin: &str) -> Result<Arc<Plugin>, RuntimeError> {
        let max = self.shared.config.max_component_bytes;
        if bytes.len() > max {
            return Err(RuntimeError::TooLarge {
                origin: origin.to_owned(),
                size: bytes.len(),
                max,
            });
        }
        check_header(bytes, origin)?;
        let digest = sha256_hex(bytes);
        let baseline_first = self.shared.baseline.is_some()
            && self
                .shared
                .config
                .baseline_min_bytes
                .is_some_and(|min| bytes.len() >= min);
        let (component, tier) = {
            let shared = self.shared.clone();
            let bytes = bytes.to_vec();
            let digest = digest.clone();
            let name = origin.to_owned();
            tokio::task::spawn_blocking(move || {
                if baseline_first {
                    if let Some(component) = shared.cached(&digest) {
                        return Ok((component, CodeTier::Optimized));
                    }
                    match shared.compile_baseline(&bytes) {
                        Ok(component) => return Ok((component, CodeTier::Baseline)),
                        // Only a limit of the baseline compiler (e.g. an instruction it
                        // lacks); the optimizing compile says what is wrong, if anything.
                        Err(error) => tracing::info!(
                            plugin = %name,
                            error = %format!("{error:#}"),
                            "The baseline compiler cannot compile this component; compiling \
                             it optimized."
                        ),
                    }
                }
                shared
                    .compile(&bytes, &digest)
                    .map(|component| (component, CodeTier::Optimized))
            })
            .await
            .map_err(|e| RuntimeError::Compile {
                origin: origin.to_owned(),
                source: anyhow::Error::new(e),
            })?
            .map_err(|source| RuntimeError::Compile {
                origin: origin.to_owned(),
                source,
            })?
        };
        let kind = check_world(component.engine(), &component)
            .map_err(|reason| wrong_world(origin, reason))?;
        let memories = component
            .resources_required()
            .map_or(1, |r| usize::try_from(r.num_memories).unwrap_or(usize::MAX));
        let linker = self.shared.linker_for(component.engine());
        let pre = world_pre(linker, &component, kind).map_err(|e| wrong_world(origin, e))?;
        let mut plugin = Plugin {
            info: PluginInfo {
                class_name: String::new(),
                aliases: Vec::new(),
                description: String::new(),
                version: String::new(),
                kind,
                config_def: Vec::new(),
                digest: format!("sha256:{digest}"),
                start_memory_bytes: 0,
            },
            origin: origin.to_owned(),
            shared: self.shared.clone(),
            pre: RwLock::new(Arc::new(pre)),
            tier: tokio::sync::watch::Sender::new(tier),
            memories,
        };
        plugin.probe().await?;
        let plugin = Arc::new(plugin);
        if tier == CodeTier::Baseline {
            optimize_in_background(&plugin, bytes.to_vec(), digest);
        }
        Ok(plugin)
    }
}

/// Pre-instantiates `component` for its world with `linker` (of the component's engine).
fn world_pre(
    linker: &Linker<HostState>,
    component: &Component,
    kind: PluginKind,
) -> Result<WorldPre, String> {
    let instance_pre: InstancePre<HostState> = linker
        .instantiate_pre(component)
        .map_err(|e| format!("{e:#}"))?;
    Ok(match kind {
        PluginKind::Source => {
            WorldPre::Source(SourceConnectorPre::new(instance_pre).map_err(|e| format!("{e:#}"))?)
        }
        PluginKind::Sink => {
            WorldPre::Sink(SinkConnectorPre::new(instance_pre).map_err(|e| format!("{e:#}"))?)
        }
        PluginKind::Transform => {
            WorldPre::Transform(TransformPre::new(instance_pre).map_err(|e| format!("{e:#}"))?)
        }
    })
}

/// Compiles `plugin`'s component optimized on a thread of its own (one such compile at a
/// time per runtime, through the compile cache) and makes its new instances run that code.
/// A thread rather than `spawn_blocking`, so a worker shutting down does not wait for it.
fn optimize_in_background(plugin: &Arc<Plugin>, bytes: Vec<u8>, digest: String) {
    let weak = Arc::downgrade(plugin);
    let shared = plugin.shared.clone();
    let origin = plugin.origin.clone();
    let kind = plugin.kind();
    let spawned = std::thread::Builder::new()
        .name("wasm-optimize".into())
        .spawn(move || {
            let _turn = shared
                .optimizing
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            optimize(&shared, &weak, &bytes, &digest, &origin, kind);
        });
    if let Err(error) = spawned {
        tracing::warn!(
            plugin = %plugin.origin,
            %error,
            "Cannot start compiling optimized code; the plugin keeps its baseline code."
        );
        plugin.tier.send_replace(CodeTier::BaselineOnly);
    }
}

fn optimize(
    shared: &Shared,
    plugin: &Weak<Plugin>,
    bytes: &[u8],
    digest: &str,
    origin: &str,
    kind: PluginKind,
) {
    if plugin.strong_count() == 0 {
        // Deleted (or replaced) meanwhile: nothing runs it any more.
        return;
    }
    let started = std::time::Instant::now();
    let pre = shared
        .compile(bytes, digest)
        .map_err(|e| format!("{e:#}"))
        .and_then(|component| world_pre(&shared.linker, &component, kind));
    let Some(plugin) = plugin.upgrade() else {
        return;
    };
    match pre {
        Ok(pre) => {
            *plugin.pre.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pre);
            plugin.tier.send_replace(CodeTier::Optimized);
            tracing::info!(
                plugin = %origin,
                class = %plugin.info.class_name,
                seconds = started.elapsed().as_secs_f64(),
                "Optimized code is ready; instances started from now on run it."
            );
        }
        Err(error) => {
            plugin.tier.send_replace(CodeTier::BaselineOnly);
            tracing::warn!(
                plugin = %origin,
                class = %plugin.info.class_name,
                %error,
                "Compiling optimized code failed; the plugin keeps its baseline code."
            );
        }
    }
}

fn wrong_world(origin: &str, reason: String) -> RuntimeError {
    RuntimeError::WrongWorld {
        origin: origin.to_owned(),
        reason,
    }
}

/// Checks the binary header: `\0asm`, then the component encoding (version 0x0d, layer 1).
pub(crate) fn check_header(bytes: &[u8], origin: &str) -> Result<(), RuntimeError> {
    let not_a_component = |reason: &str| RuntimeError::NotAComponent {
        origin: origin.to_owned(),
        reason: reason.to_owned(),
    };
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(not_a_component(
            "not a WebAssembly binary (it does not start with `\\0asm`)",
        ));
    }
    match &bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(not_a_component(
            "this is a core wasm module; build a component (e.g. cargo build --target wasm32-wasip2)",
        )),
        other => Err(not_a_component(&format!(
            "unknown WebAssembly encoding (version bytes {})",
            hex::encode(other)
        ))),
    }
}

/// Splits `ns:pkg/iface@1.2.3` into `ns:pkg/iface` and `1.2.3`.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (name, None),
    }
}

fn is_host_import(name: &str, kind: PluginKind) -> bool {
    let (path, version) = split_version(name);
    let Some((package, interface)) = path.split_once('/') else {
        return false;
    };
    if package == PACKAGE {
        let allowed = if kind == PluginKind::Transform {
            TRANSFORM_HOST_INTERFACES
        } else {
            HOST_INTERFACES
        };
        return allowed.contains(&interface)
            && version.is_some_and(|v| v.starts_with(PACKAGE_VERSION_PREFIX));
    }
    WASI_PACKAGES.contains(&package) && version.is_some_and(|v| v.starts_with(WASI_VERSION_PREFIX))
}

/// Which connector world the component targets, or why it targets none.
pub(crate) fn check_world(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<PluginKind, String> {
    let ty = component.component_type();
    let mut connector = false;
    let mut source = false;
    let mut sink = false;
    let mut transform = false;
    let mut exports = Vec::new();
    for (name, _) in ty.exports(engine) {
        exports.push(format!("`{name}`"));
        let (path, version) = split_version(name);
        let Some(interface) = path
            .strip_prefix(PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            continue;
        };
        if !matches!(
            interface,
            "connector" | "source-task" | "sink-task" | "transformation"
        ) {
            continue;
        }
        if !version.is_some_and(|v| v.starts_with(PACKAGE_VERSION_PREFIX)) {
            return Err(format!(
                "it exports `{name}`, but this host supports only {PACKAGE}@{PACKAGE_VERSION_PREFIX}x"
            ));
        }
        match interface {
            "connector" => connector = true,
            "source-task" => source = true,
            "transformation" => transform = true,
            _ => sink = true,
        }
    }
    let kind = match (source, sink) {
        _ if transform => {
            if connector || source || sink {
                return Err(format!(
                    "it exports `{PACKAGE}/transformation` and connector interfaces; a \
                     transform component exports only `{PACKAGE}/transformation` (build it for \
                     the `transform` world)"
                ));
            }
            PluginKind::Transform
        }
        (true, false) => PluginKind::Source,
        (false, true) => PluginKind::Sink,
        (true, true) => {
            return Err(format!(
                "it exports both `{PACKAGE}/source-task` and `{PACKAGE}/sink-task`; a component \
                 is either a source or a sink connector"
            ));
        }
        (false, false) => {
            return Err(format!(
                "it exports neither `{PACKAGE}/source-task`, `{PACKAGE}/sink-task` nor \
                 `{PACKAGE}/transformation` (build it for the `source-connector`, \
                 `sink-connector` or `transform` world); its exports are: {}",
                if exports.is_empty() {
                    "none".to_owned()
                } else {
                    exports.join(", ")
                }
            ));
        }
    };
    if !connector && kind != PluginKind::Transform {
        return Err(format!(
            "it exports `{PACKAGE}/{}` but not `{PACKAGE}/connector`",
            if source { "source-task" } else { "sink-task" }
        ));
    }
    for (name, _) in ty.imports(engine) {
        if kind == PluginKind::Transform && !is_host_import(name, kind) {
            return Err(format!(
                "it imports `{name}`, which a transform may not use (a transform may import \
                 only WASI 0.2 interfaces ({}) and `{PACKAGE}` {PACKAGE_VERSION_PREFIX}x \
                 `logging`; it gets no connector context, offsets or records of its own)",
                WASI_PACKAGES.join(", ")
            ));
        }
        if !is_host_import(name, kind) {
            return Err(format!(
                "it imports `{name}`, which the host does not provide (a connector may import \
                 only WASI 0.2 interfaces ({}) and `{PACKAGE}` {PACKAGE_VERSION_PREFIX}x \
                 interfaces)",
                WASI_PACKAGES.join(", ")
            ));
        }
    }
    Ok(kind)
}

impl Plugin {
    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }

    /// Which compiler's code new instances run.
    pub fn tier(&self) -> CodeTier {
        *self.tier.borrow()
    }

    /// Waits until the plugin's code is final: optimized, or baseline for good.
    pub async fn settled(&self) -> CodeTier {
        let mut tier = self.tier.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let settled = tier.wait_for(|tier| *tier != CodeTier::Baseline).await;
        settled.map_or(CodeTier::BaselineOnly, |tier| *tier)
    }

    /// The code new instances are made from now.
    fn code(&self) -> Arc<WorldPre> {
        self.pre.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Where the component came from, as given to [`Runtime::load`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Fills `info` from a throwaway connector (or transform) instance.
    async fn probe(&mut self) -> Result<(), RuntimeError> {
        if let WorldPre::Transform(_) = &*self.code() {
            let mut instance = self.transform(self.probe_context()).await?;
            let described = instance.describe().await?;
            self.info.class_name = described.class_name;
            self.info.aliases = described.aliases;
            self.info.description = described.description;
            self.info.version = instance.version().await?;
            self.info.config_def = instance.config_def().await?;
            self.info.start_memory_bytes = instance.memory_used();
            return self.bound_info();
        }
        let mut instance = self.connector(self.probe_context()).await?;
        let described = instance.describe().await?;
        self.info.class_name = described.class_name;
        self.info.aliases = described.aliases;
        self.info.description = described.description;
        self.info.version = instance.version().await?;
        self.info.config_def = instance.config_def().await?;
        self.info.start_memory_bytes = instance.memory_used();
        self.bound_info()
    }

    /// Refuses malformed identity strings and bounds the rest of what the probe learned.
    fn bound_info(&mut self) -> Result<(), RuntimeError> {
        super::metadata::bound_plugin_info(&mut self.info, &self.shared.config.limits).map_err(
            |reason| RuntimeError::BadDescription {
                origin: self.origin.clone(),
                reason,
            },
        )
    }

    /// The context of a throwaway instance that only answers `describe` and the like.
    fn probe_context(&self) -> InstanceContext {
        InstanceContext::detached(
            format!("(loading {})", self.origin),
            None,
            SandboxLimits::default(),
        )
    }

    /// A new instance for the connector itself (either kind of plugin).
    pub async fn connector(&self, ctx: InstanceContext) -> Result<ConnectorInstance, RuntimeError> {
        Ok(match &*self.code() {
            WorldPre::Source(pre) => {
                let (sandbox, bindings) = self.instantiate_source(pre, ctx).await?;
                ConnectorInstance::new(sandbox, ConnectorGuest::Source(Box::new(bindings)))
            }
            WorldPre::Sink(pre) => {
                let (sandbox, bindings) = self.instantiate_sink(pre, ctx).await?;
                ConnectorInstance::new(sandbox, ConnectorGuest::Sink(Box::new(bindings)))
            }
            WorldPre::Transform(_) => return Err(self.not_a_connector()),
        })
    }

    /// A new instance of a transform plugin, for one task's transform step (or a probe);
    /// fails for a connector plugin. The caller calls `configure` on it.
    pub async fn transform(&self, ctx: InstanceContext) -> Result<TransformInstance, RuntimeError> {
        let code = self.code();
        let WorldPre::Transform(pre) = &*code else {
            return Err(wrong_world(
                &self.origin,
                format!(
                    "`{}` is a {} connector, not a transformation",
                    self.info.class_name,
                    self.info.kind.name()
                ),
            ));
        };
        let mut sandbox =
            Sandbox::new(&self.shared, pre.engine(), ctx, &self.origin, self.memories)?;
        let deadline = sandbox.begin("instantiate")?;
        let instantiate = sandbox.claimed(|store| pre.instantiate_async(store));
        let outcome = tokio::time::timeout(deadline, instantiate).await;
        let bindings = sandbox.finish_instantiate(&self.origin, outcome)?;
        Ok(TransformInstance::new(sandbox, bindings))
    }

    fn not_a_connector(&self) -> RuntimeError {
        wrong_world(
            &self.origin,
            format!(
                "`{}` is a transformation, not a connector: use it in a connector's \
                 `transforms.<alias>.type`",
                self.info.class_name
            ),
        )
    }

    /// A new instance for one source task; fails for a sink plugin.
    pub async fn source_task(
        &self,
        ctx: InstanceContext,
    ) -> Result<SourceTaskInstance, RuntimeError> {
        match &*self.code() {
            WorldPre::Source(pre) => {
                let (sandbox, bindings) = self.instantiate_source(pre, ctx).await?;
                Ok(SourceTaskInstance::new(sandbox, bindings))
            }
            WorldPre::Sink(_) => Err(self.not_a(PluginKind::Source)),
            WorldPre::Transform(_) => Err(self.not_a_connector()),
        }
    }

    /// A new instance for one sink task; fails for a source plugin.
    pub async fn sink_task(&self, ctx: InstanceContext) -> Result<SinkTaskInstance, RuntimeError> {
        match &*self.code() {
            WorldPre::Sink(pre) => {
                let (sandbox, bindings) = self.instantiate_sink(pre, ctx).await?;
                Ok(SinkTaskInstance::new(sandbox, bindings))
            }
            WorldPre::Source(_) => Err(self.not_a(PluginKind::Sink)),
            WorldPre::Transform(_) => Err(self.not_a_connector()),
        }
    }

    fn not_a(&self, wanted: PluginKind) -> RuntimeError {
        wrong_world(
            &self.origin,
            format!(
                "`{}` is a {} connector, not a {} connector",
                self.info.class_name,
                self.info.kind.name(),
                wanted.name()
            ),
        )
    }

    async fn instantiate_source(
        &self,
        pre: &SourceConnectorPre<HostState>,
        ctx: InstanceContext,
    ) -> Result<(Sandbox, SourceConnector), RuntimeError> {
        let mut sandbox =
            Sandbox::new(&self.shared, pre.engine(), ctx, &self.origin, self.memories)?;
        let deadline = sandbox.begin("instantiate")?;
        let instantiate = sandbox.claimed(|store| pre.instantiate_async(store));
        let outcome = tokio::time::timeout(deadline, instantiate).await;
        let bindings = sandbox.finish_instantiate(&self.origin, outcome)?;
        Ok((sandbox, bindings))
    }

    async fn instantiate_sink(
        &self,
        pre: &SinkConnectorPre<HostState>,
        ctx: InstanceContext,
    ) -> Result<(Sandbox, SinkConnector), RuntimeError> {
        let mut sandbox =
            Sandbox::new(&self.shared, pre.engine(), ctx, &self.origin, self.memories)?;
        let deadline = sandbox.begin("instantiate")?;
        let instantiate = sandbox.claimed(|store| pre.instantiate_async(store));
        let outcome = tokio::time::timeout(deadline, instantiate).await;
        let bindings = sandbox.finish_instantiate(&self.origin, outcome)?;
        Ok((sandbox, bindings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_module_is_not_a_component() {
        let error = check_header(b"\0asm\x01\0\0\0", "m.wasm").unwrap_err();
        assert!(
            error.to_string().contains("m.wasm")
                && format!("{error:?}").contains("core wasm module"),
            "{error:?}"
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0", "c.wasm").is_ok());
        assert!(check_header(b"hello", "h").is_err());
    }

    #[tokio::test]
    async fn a_component_over_the_size_limit_is_refused_before_compiling() {
        let runtime = Runtime::new(crate::runtime::RuntimeConfig {
            max_component_bytes: 16,
            ..Default::default()
        })
        .expect("runtime");
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        bytes.resize(17, 0);
        let error = runtime.load(&bytes, "big.wasm").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "`big.wasm` is 17 bytes, more than the worker's limit of 16 bytes (raise `plugin.max.bytes` to load it)"
        );
    }

    #[test]
    fn host_imports_are_wasi_02_and_our_interfaces() {
        assert!(is_host_import("wasi:io/streams@0.2.6", PluginKind::Source));
        assert!(is_host_import(
            "wasm-connect:connector/logging@0.1.0",
            PluginKind::Transform
        ));
        assert!(!is_host_import(
            "wasm-connect:connector/offset-storage-reader@0.1.0",
            PluginKind::Transform
        ));
        assert!(is_host_import(
            "wasm-connect:connector/offset-storage-reader@0.1.0",
            PluginKind::Source
        ));
        assert!(is_host_import(
            "wasi:cli/environment@0.2.0",
            PluginKind::Sink
        ));
        assert!(is_host_import(
            "wasm-connect:connector/logging@0.1.0",
            PluginKind::Sink
        ));
        assert!(is_host_import(
            "wasi:http/outgoing-handler@0.2.0",
            PluginKind::Sink
        ));
        assert!(!is_host_import("wasi:http/handler@0.3.0", PluginKind::Sink));
        assert!(!is_host_import("wasi:io/streams@0.3.0", PluginKind::Sink));
        assert!(!is_host_import(
            "wasm-connect:connector/logging@0.2.0",
            PluginKind::Sink
        ));
        assert!(!is_host_import(
            "wasm-connect:connector/secrets@0.1.0",
            PluginKind::Sink
        ));
        assert!(!is_host_import("env", PluginKind::Sink));
    }
}
