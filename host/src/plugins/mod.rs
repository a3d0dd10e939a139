//! The plugin registry: the connectors built into the binary, the `.wasm` components found
//! on `plugin.path` and those uploaded over REST (stored content-addressed in
//! `<data.dir>/uploaded-plugins`), resolved by class name or alias (and version) as Kafka Connect
//! resolves `connector.class`.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use crate::runtime::{Plugin, PluginInfo, Runtime, RuntimeError};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

mod version;

pub use self::version::Requirement;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error(
        "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {available}"
    )]
    Unknown { class: String, available: String },
    #[error("connector {class} has no version {version}; available versions: {available}")]
    UnknownVersion {
        class: String,
        version: String,
        available: String,
    },
    #[error(
        "connector.plugin.version `{version}` is not a version or a version range ({reason}); give a version such as 1.2.0 or a range such as [1.0,2.0)"
    )]
    InvalidVersion { version: String, reason: String },
    #[error("failed to load plugin `{path}`")]
    Load {
        path: PathBuf,
        #[source]
        source: RuntimeError,
    },
    #[error("failed to read plugin `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "built-in connector `{0}` is not in this binary: run `cargo build-connectors`, then rebuild wasm-connect"
    )]
    NotBuilt(String),
    /// An upload that is not a loadable connector component.
    #[error("the uploaded component was rejected")]
    Rejected(#[source] RuntimeError),
    /// A plugin claims a name that belongs to another class, or a built-in or `plugin.path`
    /// class as an upload: no plugin can make connectors of another class run it.
    #[error(
        "plugin {class} may not use the name `{name}`: it belongs to {owner}; give the plugin a class name and aliases of its own"
    )]
    NameTaken {
        class: String,
        name: String,
        owner: String,
    },
    /// A stored connector's plugin is no longer installed.
    #[error(
        "connector was created with plugin {class} version {version} ({digest}), which this worker no longer has; install it again, or set connector.plugin.version in the connector's config to run another version"
    )]
    PinnedMissing {
        class: String,
        version: String,
        digest: String,
    },
    #[error(
        "plugin {class} version {version} already exists with different contents ({existing}); give the new component another version"
    )]
    Conflict {
        class: String,
        version: String,
        existing: String,
    },
    #[error(
        "plugin {class} version {version} is {source_kind}; only uploaded plugins can be deleted"
    )]
    NotUploaded {
        class: String,
        version: String,
        source_kind: &'static str,
    },
    #[error(
        "plugin {class} version {version} is in use by connectors and cannot be deleted; delete or move those connectors to another version first"
    )]
    InUse { class: String, version: String },
    /// Distributed mode: admitted here, but not written to the cluster's topic.
    #[error(
        "the plugin was admitted on this worker but could not be shared with the cluster ({0}); upload it again"
    )]
    Share(String),
    #[error("failed to store the uploaded plugin in `{path}`")]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    Builtin,
    Path(PathBuf),
    /// Uploaded over REST, stored at this path.
    Uploaded(PathBuf),
}

impl PluginSource {
    /// How the source is named in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Builtin => "built-in",
            Self::Path(_) => "plugin.path",
            Self::Uploaded(_) => "uploaded",
        }
    }
}

/// Exactly which plugin a connector runs: kept with its config, so that the connector runs
/// the same plugin after a restart, whatever was installed meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRef {
    pub class: String,
    pub version: String,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// Whether it was built in: a built-in upgraded with the binary keeps running it.
    pub builtin: bool,
}

/// What [`PluginRegistry::upload`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    /// A new plugin (or version) was stored and registered.
    Created,
    /// The same bytes were already registered.
    Existing,
}

#[derive(Clone)]
pub struct Registered {
    pub plugin: Arc<Plugin>,
    pub source: PluginSource,
    /// The tenant that uploaded it, who alone sees it; None = every caller's (built-ins,
    /// `plugin.path`, the operator's uploads).
    pub owner: Option<String>,
}

impl Registered {
    /// Whether `tenant` (None: the operator, or everybody with tenancy off) sees it.
    fn visible_to(&self, tenant: Option<&str>) -> bool {
        self.owner.is_none() || self.owner.as_deref() == tenant
    }
}

/// Every plugin this worker can run.
pub struct PluginRegistry {
    runtime: Runtime,
    plugins: RwLock<Vec<Registered>>,
    /// Built-ins that were not compiled into this binary, by class names they would answer to.
    missing_builtins: Vec<(&'static str, &'static [&'static str])>,
}

/// The class names each built-in answers to, to explain a missing artifact.
const BUILTIN_CLASSES: &[(&str, &[&str])] = &[
    (
        "file_source",
        &[
            "FileStreamSource",
            "FileStreamSourceConnector",
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
        ],
    ),
    (
        "file_sink",
        &[
            "FileStreamSink",
            "FileStreamSinkConnector",
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
        ],
    ),
    (
        "datagen_source",
        &["DatagenSource", "DatagenSourceConnector"],
    ),
    ("http_source", &["HttpSource", "HttpSourceConnector"]),
    ("http_sink", &["HttpSink", "HttpSinkConnector"]),
    (
        "postgres_source",
        &["PostgresSource", "PostgresSourceConnector"],
    ),
    ("postgres_sink", &["PostgresSink", "PostgresSinkConnector"]),
];

impl PluginRegistry {
    /// An empty registry; [`Self::load_builtins`] adds the built-in connectors.
    pub fn new(runtime: Runtime) -> Self {
        let missing_builtins = BUILTIN_COMPONENTS
            .iter()
            .filter(|(_, bytes)| bytes.is_none())
            .map(|(name, _)| {
                let classes = BUILTIN_CLASSES
                    .iter()
                    .find(|(builtin, _)| builtin == name)
                    .map_or(&[][..], |(_, classes)| *classes);
                (*name, classes)
            })
            .collect();
        Self {
            runtime,
            plugins: RwLock::new(Vec::new()),
            missing_builtins,
        }
    }

    /// A registry with the built-in connectors loaded.
    pub async fn with_builtins(runtime: Runtime) -> Result<Self, PluginError> {
        let registry = Self::new(runtime);
        registry.load_builtins().await?;
        Ok(registry)
    }

    /// Compiles (or loads from the cache) the built-in connectors compiled into this binary
    /// and registers them. Call it first: names belong to the first plugin registered.
    pub async fn load_builtins(&self) -> Result<(), PluginError> {
        for (name, bytes) in BUILTIN_COMPONENTS {
            let Some(bytes) = bytes else { continue };
            let plugin = self
                .runtime
                .load(bytes, &format!("built-in {name}"))
                .await
                .map_err(|source| PluginError::Load {
                    path: PathBuf::from(format!("<built-in {name}>")),
                    source,
                })?;
            self.plugins
                .write()
                .expect("plugin registry lock poisoned")
                .push(Registered {
                    plugin,
                    source: PluginSource::Builtin,
                    owner: None,
                });
        }
        Ok(())
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// How many plugins come from each place: `builtin`, `plugin.path`, `uploaded`.
    pub fn counts_by_source(&self) -> Vec<(&'static str, u64)> {
        let plugins = self.plugins.read().expect("plugin registry lock poisoned");
        let count = |wanted: fn(&PluginSource) -> bool| {
            plugins.iter().filter(|r| wanted(&r.source)).count() as u64
        };
        vec![
            ("builtin", count(|s| matches!(s, PluginSource::Builtin))),
            ("plugin.path", count(|s| matches!(s, PluginSource::Path(_)))),
            (
                "uploaded",
                count(|s| matches!(s, PluginSource::Uploaded(_))),
            ),
        ]
    }

    /// Loads every `.wasm` file in these directories (and their immediate subdirectories, as
    /// Kafka Connect scans plugin directories). A file that fails to load is logged and
    /// skipped, as Kafka Connect does with broken plugins.
    pub async fn load_plugin_path(&self, dirs: &[PathBuf]) -> Vec<PluginError> {
        let mut errors = Vec::new();
        for dir in dirs {
            for path in wasm_files(dir) {
                if let Err(error) = self.load_file(&path).await {
                    tracing::error!(path = %path.display(), error = %crate::error_chain(&error), "Skipping plugin.");
                    errors.push(error);
                }
            }
        }
        errors
    }

    /// Loads one component file and registers it.
    pub async fn load_file(&self, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let plugin = self
            .runtime
            .load(&bytes, &path.display().to_string())
            .await
            .map_err(|source| PluginError::Load {
                path: path.to_path_buf(),
                source,
            })?;
        self.admit(&plugin, PluginSource::Path(path.to_path_buf()), None)?;
        tracing::info!(
            class = %plugin.info.class_name,
            version = %plugin.info.version,
            kind = plugin.info.kind.name(),
            path = %path.display(),
            "Loaded plugin."
        );
        Ok(plugin)
    }

    /// Loads every component uploaded earlier, so uploads survive a
    /// restart (`<data.dir>/uploaded-plugins`). A file that fails to load is logged and
    /// skipped.
    pub async fn load_uploads(&self, dir: &Path) -> Vec<PluginError> {
        let mut errors = Vec::new();
        if !dir.exists() {
            // Nothing was ever uploaded.
            return errors;
        }
        let mut files: Vec<(PathBuf, Option<String>)> = wasm_files(dir)
            .into_iter()
            .map(|path| (path, None))
            .collect();
        // Tenants' uploads: `<dir>/tenants/<tenant>/<sha256>.wasm`.
        if let Ok(tenants) = std::fs::read_dir(dir.join(TENANTS_DIR)) {
            for tenant in tenants.flatten() {
                let owner = tenant.file_name().to_string_lossy().into_owned();
                if let Ok(entries) = std::fs::read_dir(tenant.path()) {
                    let mut own: Vec<PathBuf> = entries
                        .flatten()
                        .map(|entry| entry.path())
                        .filter(|path| is_wasm(path))
                        .collect();
                    own.sort();
                    files.extend(own.into_iter().map(|path| (path, Some(owner.clone()))));
                }
            }
        }
        for (path, owner) in files {
            let loaded = match std::fs::read(&path) {
                Ok(bytes) => self
                    .runtime
                    .load(&bytes, &path.display().to_string())
                    .await
                    .map_err(|source| PluginError::Load {
                        path: path.clone(),
                        source,
                    }),
                Err(source) => Err(PluginError::Read {
                    path: path.clone(),
                    source,
                }),
            }
            .and_then(|plugin| {
                self.admit(&plugin, PluginSource::Uploaded(path.clone()), owner.clone())
            });
            if let Err(error) = loaded {
                tracing::error!(path = %path.display(), error = %crate::error_chain(&error), "Skipping uploaded plugin.");
                errors.push(error);
            }
        }
        errors
    }

    /// Admits an uploaded component: the sandbox's checks (size, component encoding, a
    /// connector world, allowed imports), precompilation and a probe, then stores it as
    /// `<dir>/<sha256>.wasm` and registers it. The same bytes again are a no-op; other bytes
    /// under an existing class name and version are a conflict.
    pub async fn upload(
        &self,
        bytes: &[u8],
        dir: &Path,
    ) -> Result<(Arc<Plugin>, Uploaded), PluginError> {
        self.upload_for(None, bytes, dir).await
    }

    /// [`Self::upload`] by `tenant` (None: a shared upload): a tenant's upload is stored under
    /// `<dir>/tenants/<tenant>/` and seen by that tenant alone; its names need only be free
    /// among what the tenant sees, so two tenants may each upload a class of the same name.
    /// A shared upload's names must be free among every plugin, any tenant's included.
    pub async fn upload_for(
        &self,
        tenant: Option<&str>,
        bytes: &[u8],
        dir: &Path,
    ) -> Result<(Arc<Plugin>, Uploaded), PluginError> {
        let plugin = self
            .runtime
            .load(bytes, "uploaded component")
            .await
            .map_err(PluginError::Rejected)?;
        let dir = match tenant {
            Some(tenant) => dir.join(TENANTS_DIR).join(tenant),
            None => dir.to_path_buf(),
        };
        let dir = dir.as_path();
        {
            let plugins = self.plugins.read().expect("plugin registry lock poisoned");
            let owner = tenant.map(str::to_owned);
            if let Some(taken) = name_conflict_for(
                &plugins,
                &plugin.info,
                &PluginSource::Uploaded(dir.into()),
                &owner,
            ) {
                return Err(taken);
            }
            if let Some(existing) = plugins.iter().find(|registered| {
                registered.owner == owner
                    && registered.plugin.info.class_name == plugin.info.class_name
                    && registered.plugin.info.version == plugin.info.version
            }) {
                if existing.plugin.info.digest == plugin.info.digest {
                    return Ok((existing.plugin.clone(), Uploaded::Existing));
                }
                return Err(PluginError::Conflict {
                    class: plugin.info.class_name.clone(),
                    version: plugin.info.version.clone(),
                    existing: existing.plugin.info.digest.clone(),
                });
            }
        }
        let hex = plugin
            .info
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&plugin.info.digest);
        let path = dir.join(format!("{hex}.wasm"));
        let store = |source| PluginError::Store {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(store)?;
        let temporary = dir.join(format!(".{hex}.wasm.tmp"));
        std::fs::write(&temporary, bytes).map_err(store)?;
        std::fs::rename(&temporary, &path).map_err(store)?;
        if let Err(taken) = self.admit(
            &plugin,
            PluginSource::Uploaded(path.clone()),
            tenant.map(str::to_owned),
        ) {
            // Another upload took the name meanwhile.
            let _ = std::fs::remove_file(&path);
            return Err(taken);
        }
        tracing::info!(
            class = %plugin.info.class_name,
            version = %plugin.info.version,
            digest = %plugin.info.digest,
            tenant = tenant.unwrap_or_default(),
            "Uploaded plugin."
        );
        Ok((plugin, Uploaded::Created))
    }

    /// Deletes an uploaded plugin version. Refused for built-ins and `plugin.path` files,
    /// and while any connector or task holds the plugin.
    pub fn delete(&self, class: &str, version: Option<&str>) -> Result<Arc<Plugin>, PluginError> {
        self.delete_for(None, class, version)
    }

    /// [`Self::delete`] by `tenant`: of what it sees, only its own uploads (the operator: the
    /// shared uploads).
    pub fn delete_for(
        &self,
        tenant: Option<&str>,
        class: &str,
        version: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        let plugin = self.resolve_in(tenant, class, version)?;
        let mut plugins = self.plugins.write().expect("plugin registry lock poisoned");
        let index = plugins
            .iter()
            .position(|registered| Arc::ptr_eq(&registered.plugin, &plugin))
            .expect("a resolved plugin is registered");
        let info = &plugin.info;
        if plugins[index].owner.as_deref() != tenant {
            return Err(PluginError::NotUploaded {
                class: info.class_name.clone(),
                version: info.version.clone(),
                source_kind: "shared by the operator",
            });
        }
        let path = match &plugins[index].source {
            PluginSource::Uploaded(path) => path.clone(),
            other => {
                return Err(PluginError::NotUploaded {
                    class: info.class_name.clone(),
                    version: info.version.clone(),
                    source_kind: match other {
                        PluginSource::Builtin => "built in",
                        _ => "loaded from plugin.path",
                    },
                });
            }
        };
        // The registry and `plugin` hold it; anything more is a connector or a task.
        if Arc::strong_count(&plugin) > 2 {
            return Err(PluginError::InUse {
                class: info.class_name.clone(),
                version: info.version.clone(),
            });
        }
        plugins.remove(index);
        if let Err(error) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %error, "Could not remove an uploaded plugin's file.");
        }
        Ok(plugin)
    }

    /// Registers a plugin unless it claims a name that belongs to another plugin
    /// ([`name_conflict_for`]).
    fn admit(
        &self,
        plugin: &Arc<Plugin>,
        source: PluginSource,
        owner: Option<String>,
    ) -> Result<(), PluginError> {
        let mut plugins = self.plugins.write().expect("plugin registry lock poisoned");
        if let Some(taken) = name_conflict_for(&plugins, &plugin.info, &source, &owner) {
            return Err(taken);
        }
        Self::register_locked(&mut plugins, plugin.clone(), source, owner);
        Ok(())
    }

    fn register_locked(
        plugins: &mut Vec<Registered>,
        plugin: Arc<Plugin>,
        source: PluginSource,
        owner: Option<String>,
    ) {
        plugins.retain(|existing| {
            !(existing.owner == owner
                && existing.plugin.info.class_name == plugin.info.class_name
                && existing.plugin.info.version == plugin.info.version)
        });
        plugins.push(Registered {
            plugin,
            source,
            owner,
        });
    }

    /// The digests of every plugin registered (built in, on `plugin.path` or uploaded).
    pub fn digests(&self) -> std::collections::BTreeSet<String> {
        self.plugins
            .read()
            .expect("plugin registry lock poisoned")
            .iter()
            .map(|registered| registered.plugin.info.digest.clone())
            .collect()
    }

    /// Whether an uploaded plugin with this digest (`sha256:<hex>`) is registered.
    pub fn has_upload(&self, digest: &str) -> bool {
        self.plugins
            .read()
            .expect("plugin registry lock poisoned")
            .iter()
            .any(|registered| {
                matches!(registered.source, PluginSource::Uploaded(_))
                    && registered.plugin.info.digest == digest
            })
    }

    /// Forgets the uploaded plugin with this digest and removes its file (distributed mode:
    /// another worker deleted it); the registered plugins removed.
    pub fn remove_upload(&self, digest: &str) -> usize {
        let mut plugins = self.plugins.write().expect("plugin registry lock poisoned");
        let mut removed = 0;
        plugins.retain(|registered| {
            let PluginSource::Uploaded(path) = &registered.source else {
                return true;
            };
            if registered.plugin.info.digest != digest {
                return true;
            }
            if let Err(error) = std::fs::remove_file(path) {
                tracing::warn!(path = %path.display(), error = %error, "Could not remove an uploaded plugin's file.");
            }
            removed += 1;
            false
        });
        removed
    }

    /// Forgets every plugin `tenant` uploaded and removes their files (when the tenant is
    /// deleted; it owns no connectors then). Returns how many.
    pub fn remove_owner(&self, tenant: &str) -> usize {
        let mut plugins = self.plugins.write().expect("plugin registry lock poisoned");
        let mut removed = 0;
        plugins.retain(|registered| {
            if registered.owner.as_deref() != Some(tenant) {
                return true;
            }
            if let PluginSource::Uploaded(path) = &registered.source
                && let Err(error) = std::fs::remove_file(path)
            {
                tracing::warn!(path = %path.display(), error = %error, "Could not remove an uploaded plugin's file.");
            }
            removed += 1;
            false
        });
        removed
    }

    /// Bytes of `tenant`'s uploaded components (for its `quotas.plugin_bytes`).
    pub fn uploaded_bytes(&self, tenant: &str) -> u64 {
        let plugins = self.plugins.read().expect("plugin registry lock poisoned");
        plugins
            .iter()
            .filter(|registered| registered.owner.as_deref() == Some(tenant))
            .filter_map(|registered| match &registered.source {
                PluginSource::Uploaded(path) => std::fs::metadata(path).ok().map(|m| m.len()),
                _ => None,
            })
            .sum()
    }

    /// Where a loaded plugin came from.
    pub fn source_of(&self, plugin: &Arc<Plugin>) -> Option<PluginSource> {
        let plugins = self.plugins.read().expect("plugin registry lock poisoned");
        plugins
            .iter()
            .find(|registered| Arc::ptr_eq(&registered.plugin, plugin))
            .map(|registered| registered.source.clone())
    }

    /// Every registered plugin.
    pub fn list(&self) -> Vec<PluginInfo> {
        self.list_for(None)
    }

    /// Every plugin `tenant` sees: the shared ones and its own uploads.
    pub fn list_for(&self, tenant: Option<&str>) -> Vec<PluginInfo> {
        let plugins = self.plugins.read().expect("plugin registry lock poisoned");
        plugins
            .iter()
            .filter(|registered| registered.visible_to(tenant))
            .map(|registered| registered.plugin.info.clone())
            .collect()
    }

    /// What a connector running `plugin` keeps to find it again ([`Self::resolve_pinned`]).
    pub fn pin(&self, plugin: &Arc<Plugin>) -> PluginRef {
        PluginRef {
            class: plugin.info.class_name.clone(),
            version: plugin.info.version.clone(),
            digest: plugin.info.digest.clone(),
            builtin: self.source_of(plugin) == Some(PluginSource::Builtin),
        }
    }

    /// The plugin a connector was created with: the same component (by digest), else the
    /// same class and version (names cannot be taken over, so it is the same plugin rebuilt),
    /// else, for a built-in, the built-in of that class this binary has.
    pub fn resolve_pinned(&self, pin: &PluginRef) -> Result<Arc<Plugin>, PluginError> {
        self.resolve_pinned_in(None, pin)
    }

    /// [`Self::resolve_pinned`] among what `tenant` sees.
    pub fn resolve_pinned_in(
        &self,
        tenant: Option<&str>,
        pin: &PluginRef,
    ) -> Result<Arc<Plugin>, PluginError> {
        let plugins = self.plugins.read().expect("plugin registry lock poisoned");
        let plugins: Vec<&Registered> = plugins
            .iter()
            .filter(|registered| registered.visible_to(tenant))
            .collect();
        let found = plugins
            .iter()
            .find(|r| r.plugin.info.digest == pin.digest)
            .or_else(|| {
                plugins.iter().find(|r| {
                    r.plugin.info.class_name == pin.class && r.plugin.info.version == pin.version
                })
            })
            .or_else(|| {
                plugins.iter().find(|r| {
                    pin.builtin
                        && r.source == PluginSource::Builtin
                        && r.plugin.info.class_name == pin.class
                })
            });
        found
            .map(|registered| registered.plugin.clone())
            .ok_or_else(|| PluginError::PinnedMissing {
                class: pin.class.clone(),
                version: pin.version.clone(),
                digest: pin.digest.clone(),
            })
    }

    /// The plugin a `connector.class` (and optional `connector.plugin.version`) names: the
    /// class name, an alias, or either without its `Connector` suffix, compared exactly first
    /// and then case-insensitively. Without a version the newest is chosen.
    pub fn resolve(&self, class: &str, version: Option<&str>) -> Result<Arc<Plugin>, PluginError> {
        self.resolve_in(None, class, version)
    }

    /// [`Self::resolve`] among what `tenant` sees: the shared plugins and its own uploads.
    pub fn resolve_in(
        &self,
        tenant: Option<&str>,
        class: &str,
        version: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        let plugins = self.plugins.read().expect("plugin registry lock poisoned");
        let plugins: Vec<&Registered> = plugins
            .iter()
            .filter(|registered| registered.visible_to(tenant))
            .collect();
        let mut matches: Vec<&Arc<Plugin>> = plugins
            .iter()
            .map(|registered| &registered.plugin)
            .filter(|plugin| names(&plugin.info).any(|name| name == class))
            .collect();
        if matches.is_empty() {
            matches = plugins
                .iter()
                .map(|registered| &registered.plugin)
                .filter(|plugin| names(&plugin.info).any(|name| name.eq_ignore_ascii_case(class)))
                .collect();
        }
        if matches.is_empty() {
            if let Some((name, _)) = self
                .missing_builtins
                .iter()
                .find(|(_, classes)| classes.iter().any(|c| c.eq_ignore_ascii_case(class)))
            {
                return Err(PluginError::NotBuilt(name.replace('_', "-")));
            }
            let mut available: Vec<String> = plugins
                .iter()
                .map(|registered| registered.plugin.info.class_name.clone())
                .collect();
            available.sort();
            available.dedup();
            return Err(PluginError::Unknown {
                class: class.to_owned(),
                available: available.join(", "),
            });
        }
        match version {
            Some(version) => {
                let requirement =
                    Requirement::parse(version).map_err(|reason| PluginError::InvalidVersion {
                        version: version.to_owned(),
                        reason,
                    })?;
                matches
                    .iter()
                    .filter(|plugin| requirement.matches(&plugin.info.version))
                    .max_by(|a, b| compare_versions(&a.info.version, &b.info.version))
                    .map(|plugin| Arc::clone(plugin))
                    .ok_or_else(|| PluginError::UnknownVersion {
                        class: class.to_owned(),
                        version: version.to_owned(),
                        available: matches
                            .iter()
                            .map(|plugin| plugin.info.version.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
            None => Ok(Arc::clone(
                matches
                    .into_iter()
                    .max_by(|a, b| compare_versions(&a.info.version, &b.info.version))
                    .expect("matches is not empty"),
            )),
        }
    }
}

impl crate::transforms::TransformPlugins for PluginRegistry {
    /// The newest transform component answering to `class` (connectors are not transforms).
    fn transform(&self, class: &str) -> Option<Arc<Plugin>> {
        self.resolve(class, None)
            .ok()
            .filter(|plugin| plugin.info.kind == crate::runtime::PluginKind::Transform)
    }
}

/// The registry as one tenant sees it, for resolving its transform chains.
pub struct TenantView<'a> {
    pub registry: &'a PluginRegistry,
    pub tenant: Option<&'a str>,
}

impl crate::transforms::TransformPlugins for TenantView<'_> {
    fn transform(&self, class: &str) -> Option<Arc<Plugin>> {
        self.registry
            .resolve_in(self.tenant, class, None)
            .ok()
            .filter(|plugin| plugin.info.kind == crate::runtime::PluginKind::Transform)
    }
}

/// Where tenants' uploads are kept inside the uploads directory.
const TENANTS_DIR: &str = "tenants";

/// [`name_conflict_among`] for a plugin of `owner`: a tenant's upload against what that tenant
/// sees; anything shared against every plugin, tenants' included (a shared name must not
/// shadow one a tenant already uses).
fn name_conflict_for(
    plugins: &[Registered],
    candidate: &PluginInfo,
    source: &PluginSource,
    owner: &Option<String>,
) -> Option<PluginError> {
    let relevant = || {
        plugins.iter().filter(|registered| match owner {
            Some(tenant) => registered.visible_to(Some(tenant)),
            None => true,
        })
    };
    if let Some(taken) = name_conflict_among(
        relevant().map(|registered| (&registered.plugin.info, &registered.source)),
        candidate,
        source,
    ) {
        return Some(taken);
    }
    // Across owners a class belongs to one of them: nobody adds versions to, or shadows, a
    // class another owner's plugin answers to.
    for other in relevant().filter(|registered| registered.owner != *owner) {
        if let Some(name) = names(candidate)
            .find(|name| names(&other.plugin.info).any(|owned| owned.eq_ignore_ascii_case(name)))
        {
            let info = &other.plugin.info;
            return Some(PluginError::NameTaken {
                class: candidate.class_name.clone(),
                name: name.to_owned(),
                owner: match &other.owner {
                    Some(tenant) => format!(
                        "the plugin {} {} tenant {tenant} uploaded",
                        info.class_name, info.version
                    ),
                    None => format!(
                        "the shared {} plugin {} {}",
                        other.source.describe(),
                        info.class_name,
                        info.version
                    ),
                },
            });
        }
    }
    None
}

/// The namespace of Kafka's own classes: only built-ins may answer to names in it.
const KAFKA_NAMESPACE: &str = "org.apache.kafka.";

/// Why `candidate`, coming from `source`, may not be registered beside `plugins`, if it may
/// not. Every name a plugin answers to (class name, aliases, and their short forms, compared
/// case-insensitively as [`PluginRegistry::resolve`] falls back to) belongs to one class:
/// - another class may not answer to it;
/// - versions of a class come from one kind of source: an upload cannot add a version of a
///   built-in or `plugin.path` class, nor a `plugin.path` file one of a built-in class;
/// - names in Kafka's namespace (`org.apache.kafka.`) belong to the built-ins.
fn name_conflict_among<'a>(
    plugins: impl IntoIterator<Item = (&'a PluginInfo, &'a PluginSource)>,
    candidate: &PluginInfo,
    source: &PluginSource,
) -> Option<PluginError> {
    let taken = |name: &str, owner: String| PluginError::NameTaken {
        class: candidate.class_name.clone(),
        name: name.to_owned(),
        owner,
    };
    let rank = |source: &PluginSource| match source {
        PluginSource::Builtin => 0,
        PluginSource::Path(_) => 1,
        PluginSource::Uploaded(_) => 2,
    };
    for (owner, owner_source) in plugins {
        let owner_name = || {
            format!(
                "the {} plugin {} {}",
                owner_source.describe(),
                owner.class_name,
                owner.version
            )
        };
        if owner.class_name == candidate.class_name {
            if rank(owner_source) < rank(source) {
                return Some(taken(&candidate.class_name, owner_name()));
            }
            continue;
        }
        for name in names(candidate) {
            if names(owner).any(|owned| owned.eq_ignore_ascii_case(name)) {
                return Some(taken(name, owner_name()));
            }
        }
    }
    if *source != PluginSource::Builtin
        && let Some(name) = names(candidate).find(|name| {
            name.len() >= KAFKA_NAMESPACE.len()
                && name[..KAFKA_NAMESPACE.len()].eq_ignore_ascii_case(KAFKA_NAMESPACE)
        })
    {
        return Some(taken(name, "Kafka's own classes".into()));
    }
    None
}

/// Every name a plugin answers to.
fn names(info: &PluginInfo) -> impl Iterator<Item = &str> {
    std::iter::once(info.class_name.as_str())
        .chain(info.aliases.iter().map(String::as_str))
        .flat_map(|name| {
            let simple = name.rsplit('.').next().unwrap_or(name);
            let pruned = simple.strip_suffix("Connector");
            [Some(name), Some(simple), pruned].into_iter().flatten()
        })
}

/// Orders dotted versions numerically where possible (`1.10.0` > `1.9.2`).
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-'])
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "Plugin path entry is not a readable directory.");
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Ok(inner) = std::fs::read_dir(&path) {
                files.extend(inner.flatten().map(|e| e.path()).filter(|p| is_wasm(p)));
            }
        } else if is_wasm(&path) {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn is_wasm(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(class: &str, aliases: &[&str], version: &str) -> PluginInfo {
        PluginInfo {
            class_name: class.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            description: String::new(),
            version: version.into(),
            kind: crate::runtime::PluginKind::Sink,
            config_def: Vec::new(),
            digest: String::new(),
            start_memory_bytes: 0,
        }
    }

    #[test]
    fn names_belong_to_one_class_and_built_in_names_to_the_built_ins() {
        let builtin = info("FileStreamSink", &["FileStreamSinkConnector"], "0.1.0");
        let path = info("TestSource", &[], "0.1.0");
        let upload_source = PluginSource::Uploaded("u.wasm".into());
        let path_source = PluginSource::Path("p.wasm".into());
        let installed = [(&builtin, &PluginSource::Builtin), (&path, &path_source)];
        let conflict = |candidate: &PluginInfo, source: &PluginSource| {
            name_conflict_among(installed, candidate, source).map(|error| error.to_string())
        };
        // The built-in's class, under any version, by upload or on plugin.path.
        let impostor = info("FileStreamSink", &[], "99.0.0");
        assert_eq!(
            conflict(&impostor, &upload_source).unwrap(),
            "plugin FileStreamSink may not use the name `FileStreamSink`: it belongs to the \
             built-in plugin FileStreamSink 0.1.0; give the plugin a class name and aliases of \
             its own"
        );
        assert!(conflict(&impostor, &path_source).is_some());
        // Another class answering to one of its names, in any case or as a short form.
        for alias in [
            "filestreamsink",
            "com.evil.FileStreamSinkConnector",
            "FILESTREAMSINKCONNECTOR",
        ] {
            let claim = info("Evil", &[alias], "1.0");
            assert!(conflict(&claim, &upload_source).is_some(), "{alias}");
        }
        // Kafka's namespace belongs to the built-ins.
        let kafka = info("org.apache.kafka.connect.transforms.Cast", &[], "1.0");
        assert!(
            conflict(&kafka, &upload_source)
                .unwrap()
                .contains("Kafka's own classes")
        );
        // A plugin.path class gets no uploaded versions, but more plugin.path ones.
        let v2 = info("TestSource", &[], "0.2.0");
        assert!(
            conflict(&v2, &upload_source)
                .unwrap()
                .contains("the plugin.path plugin TestSource 0.1.0")
        );
        assert_eq!(conflict(&v2, &path_source), None);
        // A name of its own is fine.
        assert_eq!(
            conflict(&info("Mine", &["MineConnector"], "1.0"), &upload_source),
            None
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(compare_versions("1.10.0", "1.9.2").is_gt());
        assert!(compare_versions("2.0", "2.0.1").is_lt());
    }
}
