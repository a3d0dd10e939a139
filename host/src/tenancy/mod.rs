//! Tenants: who may call the worker (the operator, or a tenant by its credentials), what each
//! tenant owns (connectors named `<tenant>/<name>` inside the worker), the topics it may use and
//! its quotas. Tenants are kept in the connector config store, so distributed mode carries them
//! through the config topic. Off unless `tenancy.enabled=true`; then every REST request but
//! `/`, `/health` and `/openapi.json` names its caller.
//!
//! Passwords are kept as Argon2id hashes; bearer tokens (256 random bits, shown once) as their
//! SHA-256, compared in constant time. A credential that verified is remembered by a SHA-256 of
//! what was presented, so a client sending Basic credentials with every request pays for
//! Argon2 once, not on every call.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, RwLock},
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _, password_hash::SaltString,
};
use base64::Engine as _;
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

pub mod secrets;

use crate::{
    config::Settings,
    storage::{ConfigBackingStore, StoreError},
};

/// What separates a tenant's name from its connector's in the worker's own connector name.
pub const SEPARATOR: char = '/';

/// How many verified credentials are remembered.
const VERIFIED_CACHE_ENTRIES: usize = 1024;

/// The worker's tenancy settings (`tenancy.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenancySettings {
    /// `tenancy.enabled` (default false).
    pub enabled: bool,
    /// `tenancy.operator.user` (default `operator`).
    pub operator_user: String,
    /// `tenancy.operator.password.hash`: an Argon2 hash in PHC form
    /// (`wasm-connect hash-password` prints one).
    pub operator_password_hash: Option<String>,
    /// `tenancy.secrets.key.file` (default `<data.dir>/secrets.key`): the key tenants'
    /// secrets are sealed with.
    pub secrets_key_file: std::path::PathBuf,
    /// `tenancy.secrets.max` (default 1000): secrets one tenant may keep.
    pub secrets_max: usize,
    /// `tenancy.secret.max.bytes` (default 65536): the longest secret value.
    pub secret_max_bytes: usize,
}

impl TenancySettings {
    pub fn from_settings(
        raw: &Settings,
        data_dir: &std::path::Path,
    ) -> Result<Self, crate::config::ConfigError> {
        use crate::config::SettingsExt as _;
        let enabled = raw.bool_or("tenancy.enabled", false)?;
        let operator_user = raw
            .string("tenancy.operator.user")
            .unwrap_or("operator")
            .to_owned();
        let operator_password_hash = raw
            .string("tenancy.operator.password.hash")
            .map(str::to_owned);
        if let Some(hash) = &operator_password_hash
            && PasswordHash::new(hash).is_err()
        {
            return Err(crate::config::ConfigError::Other(
                "tenancy.operator.password.hash is not an Argon2 hash in PHC form \
                 ($argon2id$v=19$...); make one with `wasm-connect hash-password`"
                    .into(),
            ));
        }
        if enabled && operator_password_hash.is_none() {
            return Err(crate::config::ConfigError::Other(
                "tenancy.enabled=true needs tenancy.operator.password.hash, the operator's \
                 credential; make one with `wasm-connect hash-password`"
                    .into(),
            ));
        }
        Ok(Self {
            enabled,
            operator_user,
            operator_password_hash,
            secrets_key_file: raw
                .string("tenancy.secrets.key.file")
                .map_or_else(|| data_dir.join("secrets.key"), std::path::PathBuf::from),
            secrets_max: raw.parse_or("tenancy.secrets.max", 1000, "a number of secrets")?,
            secret_max_bytes: raw.parse_or(
                "tenancy.secret.max.bytes",
                65_536,
                "a number of bytes",
            )?,
        })
    }
}

/// Hashes a password for storage (Argon2id, a random salt, PHC form).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 with default parameters hashes any password")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex_encode(&Sha256::digest(bytes))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new bearer token: `wct_` and 256 random bits, base64url.
fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!(
        "wct_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A tenant's limits. None = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    /// `connectors`: how many connectors it may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectors: Option<u32>,
    /// `tasks`: the sum of its connectors' `tasks.max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,
    /// `memory_bytes`: the sum of its instances' memory caps (`sandbox.memory.max.bytes` of
    /// each connector and each of its `tasks.max` tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// `plugin_bytes`: the bytes of the components it uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_bytes: Option<u64>,
    /// `http_connections`: the outgoing HTTP connections all its instances may have open at
    /// once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_connections: Option<u32>,
    /// `records_per_second`: the records all its tasks may produce and consume per second,
    /// held to by backpressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_per_second: Option<u64>,
    /// `fuel_per_second`: the fuel all its tasks may burn per second; a tenant over it is
    /// slowed (its calls wait), never failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_per_second: Option<u64>,
}

/// One tenant, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub name: String,
    /// Argon2 PHC hash of its password, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// SHA-256 (hex) of its bearer token.
    pub token_sha256: String,
    #[serde(default)]
    pub quotas: Quotas,
    /// Topic name prefixes its connectors may read and write (default `<name>.`).
    pub topic_prefixes: Vec<String>,
    /// Directories (resolved) its connectors' directory grants must lie in; none = no grants.
    #[serde(default)]
    pub fs_roots: Vec<std::path::PathBuf>,
    /// `scheme://host:port` rules its connectors' `sandbox.http.allow` must lie within; none
    /// = no outgoing HTTP.
    #[serde(default)]
    pub egress_allow: Vec<String>,
    /// `host:port` rules its connectors' `sandbox.tcp.allow` must lie within; none = no
    /// outgoing TCP.
    #[serde(default)]
    pub tcp_allow: Vec<String>,
    /// Its secrets by name, sealed ([`secrets::SecretKey`]).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl Tenant {
    /// The first of `rules` (a connector's `sandbox.http.allow`) outside the tenant's egress
    /// ceiling.
    pub fn egress_outside<'a>(
        &self,
        rules: &'a [crate::config::egress::AllowRule],
    ) -> Option<&'a crate::config::egress::AllowRule> {
        let ceiling =
            crate::config::egress::parse_allow_list(&self.egress_allow).unwrap_or_default();
        rules
            .iter()
            .find(|rule| !ceiling.iter().any(|outer| rule.within(outer)))
    }

    /// The first of `rules` (a connector's `sandbox.tcp.allow`) outside the tenant's TCP
    /// ceiling (`egress.tcp`).
    pub fn tcp_outside<'a>(
        &self,
        rules: &'a [crate::config::tcp::TcpRule],
    ) -> Option<&'a crate::config::tcp::TcpRule> {
        let ceiling = crate::config::tcp::parse_tcp_allow_list(&self.tcp_allow).unwrap_or_default();
        rules
            .iter()
            .find(|rule| !ceiling.iter().any(|outer| rule.within(outer)))
    }

    /// The filesystem policy of its connectors: the worker's, with grants only inside the
    /// tenant's roots (none at all without roots).
    pub fn fs_policy(
        &self,
        worker: &crate::config::filesystem::FsPolicy,
    ) -> crate::config::filesystem::FsPolicy {
        let mut policy = worker.clone();
        policy.enabled = worker.enabled && !self.fs_roots.is_empty();
        policy.allowed_roots.clone_from(&self.fs_roots);
        policy.tenant = Some(self.name.clone());
        policy
    }

    /// What the REST API shows of a tenant: never a credential.
    pub fn public_json(&self, usage: &Usage) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "quotas": self.quotas,
            "usage": {"connectors": usage.connectors, "tasks": usage.tasks,
                      "memory_bytes": usage.memory_bytes},
            "topics": {"prefixes": self.topic_prefixes},
            "filesystem": {"roots": self.fs_roots},
            "egress": {"allow": self.egress_allow, "tcp": self.tcp_allow},
            "secrets": self.secrets.len(),
            "password": self.password_hash.is_some(),
        })
    }

    /// Whether `topic` lies in the tenant's namespace.
    pub fn owns_topic(&self, topic: &str) -> bool {
        self.topic_prefixes
            .iter()
            .any(|prefix| topic.starts_with(prefix.as_str()))
    }

    /// Whether a `topics.regex` can only match topics in the namespace: every literal prefix
    /// of what it matches (`acme\.orders-.*` → `acme.orders-`) starts with one of the
    /// tenant's prefixes. `.*` or an alternation reaching outside is refused.
    pub fn owns_topic_regex(&self, regex: &str) -> bool {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let Ok(hir) = regex_syntax::parse(regex) else {
            return false;
        };
        let literals = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
        literals.literals().is_some_and(|literals| {
            !literals.is_empty()
                && literals.iter().all(|literal| {
                    self.topic_prefixes
                        .iter()
                        .any(|prefix| literal.as_bytes().starts_with(prefix.as_bytes()))
                })
        })
    }
}

/// What a tenant uses now, against its quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub connectors: u32,
    pub tasks: u32,
    pub memory_bytes: u64,
}

/// A tenant as the operator creates or changes it (`POST /admin/tenants`, `PUT
/// /admin/tenants/{tenant}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    #[serde(default)]
    pub name: Option<String>,
    /// A password for HTTP Basic (`<tenant>:<password>`); none = bearer token only.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub quotas: Option<Quotas>,
    #[serde(default)]
    pub topics: Option<TopicsSpec>,
    /// Directories its connectors may be granted, each inside what the worker allows; the
    /// operator's REST handler resolves and checks them against the worker's policy.
    #[serde(default)]
    pub filesystem: Option<FilesystemSpec>,
    #[serde(default)]
    pub egress: Option<EgressSpec>,
    /// On update: issue a new bearer token (the old one stops working).
    #[serde(default)]
    pub rotate_token: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsSpec {
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSpec {
    #[serde(default)]
    pub allow: Vec<String>,
    /// `host:port` rules (`sandbox.tcp.allow` ceiling).
    #[serde(default)]
    pub tcp: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemSpec {
    pub roots: Vec<std::path::PathBuf>,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The operator (and everybody when tenancy is off): sees and does everything.
    Operator,
    /// A tenant: its own connectors only.
    Tenant(Arc<str>),
}

impl Principal {
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Self::Operator => None,
            Self::Tenant(name) => Some(name),
        }
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this worker requires credentials (HTTP Basic or a bearer token)")]
    Missing,
    #[error("the credentials are not valid")]
    Invalid,
}

/// Why a tenant change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Invalid(String),
    #[error("tenant {0} already exists")]
    Exists(String),
    #[error("tenant {0} not found")]
    NotFound(String),
    #[error("secret {0} not found")]
    SecretNotFound(String),
    #[error("{0}")]
    TooMany(String),
    #[error("tenant {tenant} still owns connectors ({}); delete them first", .connectors.join(", "))]
    InUse {
        tenant: String,
        connectors: Vec<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The worker's tenants.
pub struct Tenants {
    settings: TenancySettings,
    /// Each tenant's compute budget, shared by its tasks (made at first use).
    budgets: Mutex<BTreeMap<String, Arc<FuelBudget>>>,
    /// Each tenant's throughput budget in records (made at first use).
    throughputs: Mutex<BTreeMap<String, Arc<FuelBudget>>>,
    /// Each tenant's open-connection slots and the quota they were made for.
    connections: Mutex<BTreeMap<String, (u32, Arc<tokio::sync::Semaphore>)>>,
    /// The key secrets are sealed with (tenancy on only).
    key: Option<secrets::SecretKey>,
    store: Arc<dyn ConfigBackingStore>,
    tenants: RwLock<BTreeMap<String, Arc<Tenant>>>,
    /// SHA-256 of a presented credential that verified → who it is. Cleared when any tenant
    /// changes.
    verified: Mutex<BTreeMap<[u8; 32], Principal>>,
    /// Serializes changes.
    changes: tokio::sync::Mutex<()>,
}

impl Tenants {
    /// The tenants the config store holds.
    pub async fn load(
        settings: TenancySettings,
        store: Arc<dyn ConfigBackingStore>,
    ) -> Result<Self, StoreError> {
        let mut tenants = BTreeMap::new();
        for (name, json) in store.load_tenants().await? {
            match serde_json::from_value::<Tenant>(json) {
                Ok(tenant) => {
                    tenants.insert(name, Arc::new(tenant));
                }
                Err(error) => {
                    tracing::error!(tenant = %name, %error, "A stored tenant cannot be read; it is left out.");
                }
            }
        }
        let key = if settings.enabled {
            Some(
                secrets::SecretKey::load_or_create(&settings.secrets_key_file).map_err(
                    |message| StoreError::Corrupt {
                        path: settings.secrets_key_file.clone(),
                        message,
                    },
                )?,
            )
        } else {
            None
        };
        Ok(Self {
            settings,
            budgets: Mutex::new(BTreeMap::new()),
            throughputs: Mutex::new(BTreeMap::new()),
            connections: Mutex::new(BTreeMap::new()),
            key,
            store,
            tenants: RwLock::new(tenants),
            verified: Mutex::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub fn get(&self, name: &str) -> Option<Arc<Tenant>> {
        self.read().get(name).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Tenant>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Tenant>>> {
        self.tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Who the `Authorization` header says is calling. With tenancy off, everybody is the
    /// operator.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        if !self.settings.enabled {
            return Ok(Principal::Operator);
        }
        let header = authorization.ok_or(AuthError::Missing)?.trim();
        let key: [u8; 32] = Sha256::digest(header.as_bytes()).into();
        if let Some(known) = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(known.clone());
        }
        let principal = self.verify(header)?;
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VERIFIED_CACHE_ENTRIES {
            verified.clear();
        }
        verified.insert(key, principal.clone());
        Ok(principal)
    }

    fn verify(&self, header: &str) -> Result<Principal, AuthError> {
        let (scheme, credentials) = header.split_once(' ').ok_or(AuthError::Invalid)?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let presented = Sha256::digest(credentials.as_bytes());
            let presented = hex_encode(&presented);
            // Every tenant's token is compared, in constant time, so the time taken says
            // nothing about which one came close.
            let mut found = None;
            for tenant in self.read().values() {
                if bool::from(presented.as_bytes().ct_eq(tenant.token_sha256.as_bytes())) {
                    found = Some(Principal::Tenant(tenant.name.as_str().into()));
                }
            }
            return found.ok_or(AuthError::Invalid);
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError::Invalid);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(AuthError::Invalid)?;
        let (user, password) = decoded.split_once(':').ok_or(AuthError::Invalid)?;
        if user == self.settings.operator_user {
            let hash = self
                .settings
                .operator_password_hash
                .as_deref()
                .ok_or(AuthError::Invalid)?;
            return verify_password(password, hash)
                .then_some(Principal::Operator)
                .ok_or(AuthError::Invalid);
        }
        let tenant = self.get(user).ok_or(AuthError::Invalid)?;
        let hash = tenant.password_hash.as_deref().ok_or(AuthError::Invalid)?;
        verify_password(password, hash)
            .then(|| Principal::Tenant(tenant.name.as_str().into()))
            .ok_or(AuthError::Invalid)
    }

    /// Creates a tenant; returns it and its bearer token (shown this once).
    pub async fn create(&self, spec: TenantSpec) -> Result<(Arc<Tenant>, String), TenantError> {
        let _changing = self.changes.lock().await;
        let name = spec
            .name
            .clone()
            .ok_or_else(|| TenantError::Invalid("a tenant needs a `name`".into()))?;
        check_tenant_name(&name)?;
        if name == self.settings.operator_user {
            return Err(TenantError::Invalid(format!(
                "`{name}` is the operator's user name (tenancy.operator.user); choose another"
            )));
        }
        if self.get(&name).is_some() {
            return Err(TenantError::Exists(name));
        }
        let token = new_token();
        let prefixes = match spec.topics {
            Some(topics) => check_prefixes(topics.prefixes)?,
            None => vec![format!("{name}.")],
        };
        let tenant = Tenant {
            password_hash: spec.password.as_deref().map(checked_password).transpose()?,
            token_sha256: sha256_hex(token.as_bytes()),
            quotas: spec.quotas.unwrap_or_default(),
            topic_prefixes: prefixes,
            fs_roots: spec.filesystem.map(|fs| fs.roots).unwrap_or_default(),
            egress_allow: match &spec.egress {
                Some(egress) => check_egress(egress.allow.clone())?,
                None => Vec::new(),
            },
            tcp_allow: match spec.egress {
                Some(egress) => check_tcp(egress.tcp)?,
                None => Vec::new(),
            },
            secrets: BTreeMap::new(),
            name: name.clone(),
        };
        self.store_tenant(tenant.clone()).await?;
        Ok((Arc::new(tenant), token))
    }

    /// Changes a tenant: what `spec` sets, the rest kept. Returns the new token if one was
    /// issued.
    pub async fn update(
        &self,
        name: &str,
        spec: TenantSpec,
    ) -> Result<(Arc<Tenant>, Option<String>), TenantError> {
        let _changing = self.changes.lock().await;
        let mut tenant = Tenant::clone(
            self.get(name)
                .ok_or_else(|| TenantError::NotFound(name.to_owned()))?
                .as_ref(),
        );
        if let Some(other) = &spec.name
            && other != name
        {
            return Err(TenantError::Invalid(format!(
                "a tenant cannot be renamed (`name` is {other}, the path says {name})"
            )));
        }
        if let Some(password) = &spec.password {
            tenant.password_hash = Some(checked_password(password)?);
        }
        if let Some(quotas) = spec.quotas {
            tenant.quotas = quotas;
        }
        if let Some(topics) = spec.topics {
            tenant.topic_prefixes = check_prefixes(topics.prefixes)?;
        }
        if let Some(filesystem) = spec.filesystem {
            tenant.fs_roots = filesystem.roots;
        }
        if let Some(egress) = spec.egress {
            tenant.egress_allow = check_egress(egress.allow)?;
            tenant.tcp_allow = check_tcp(egress.tcp)?;
        }
        let token = spec.rotate_token.then(new_token);
        if let Some(token) = &token {
            tenant.token_sha256 = sha256_hex(token.as_bytes());
        }
        let tenant = self.store_tenant(tenant).await?;
        Ok((tenant, token))
    }

    /// Removes a tenant that owns none of `connectors` (the worker's connector names).
    pub async fn remove(&self, name: &str, connectors: &[String]) -> Result<(), TenantError> {
        let _changing = self.changes.lock().await;
        if self.get(name).is_none() {
            return Err(TenantError::NotFound(name.to_owned()));
        }
        let owned: Vec<String> = connectors
            .iter()
            .filter_map(|connector| {
                split(connector)
                    .filter(|(tenant, _)| *tenant == name)
                    .map(|(_, own)| own.to_owned())
            })
            .collect();
        if !owned.is_empty() {
            return Err(TenantError::InUse {
                tenant: name.to_owned(),
                connectors: owned,
            });
        }
        self.store.put_tenant(name, None).await?;
        self.tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        self.forget_verified();
        Ok(())
    }

    /// Writes (or replaces) `tenant`'s secret `name`.
    pub async fn put_secret(
        &self,
        tenant: &str,
        name: &str,
        value: &str,
    ) -> Result<(), TenantError> {
        let _changing = self.changes.lock().await;
        check_secret_name(name)?;
        if value.len() > self.settings.secret_max_bytes {
            return Err(TenantError::Invalid(format!(
                "the value is {} bytes, more than tenancy.secret.max.bytes={}",
                value.len(),
                self.settings.secret_max_bytes
            )));
        }
        let key = self.key.as_ref().ok_or_else(|| {
            TenantError::Invalid("tenancy is off on this worker: there are no secrets".into())
        })?;
        let mut record = Tenant::clone(
            self.get(tenant)
                .ok_or_else(|| TenantError::NotFound(tenant.to_owned()))?
                .as_ref(),
        );
        if !record.secrets.contains_key(name) && record.secrets.len() >= self.settings.secrets_max {
            return Err(TenantError::TooMany(format!(
                "tenant {tenant} keeps {} secrets, the most it may (tenancy.secrets.max); \
                 delete one first",
                record.secrets.len()
            )));
        }
        record
            .secrets
            .insert(name.to_owned(), key.seal(tenant, name, value));
        self.store_tenant(record).await.map(|_| ())
    }

    /// Deletes `tenant`'s secret `name`.
    pub async fn delete_secret(&self, tenant: &str, name: &str) -> Result<(), TenantError> {
        let _changing = self.changes.lock().await;
        let mut record = Tenant::clone(
            self.get(tenant)
                .ok_or_else(|| TenantError::NotFound(tenant.to_owned()))?
                .as_ref(),
        );
        if record.secrets.remove(name).is_none() {
            return Err(TenantError::SecretNotFound(name.to_owned()));
        }
        self.store_tenant(record).await.map(|_| ())
    }

    /// The names of `tenant`'s secrets.
    pub fn secret_names(&self, tenant: &str) -> Vec<String> {
        self.get(tenant)
            .map(|record| record.secrets.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The value of `tenant`'s secret `name`, for resolving `${secret:name}`.
    pub fn secret_value(&self, tenant: &str, name: &str) -> Result<String, String> {
        let record = self
            .get(tenant)
            .ok_or_else(|| format!("tenant {tenant} does not exist"))?;
        let sealed = record.secrets.get(name).ok_or_else(|| {
            format!("tenant {tenant} has no secret `{name}`; PUT /secrets/{name} first")
        })?;
        self.key
            .as_ref()
            .ok_or_else(|| "tenancy is off on this worker: there are no secrets".to_owned())?
            .open(tenant, name, sealed)
    }

    /// Distributed mode: takes the tenants as the config store holds them now (another
    /// worker changed one), with their budgets' rates, and forgets verified credentials.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _changing = self.changes.lock().await;
        let mut tenants = BTreeMap::new();
        for (name, json) in self.store.load_tenants().await? {
            match serde_json::from_value::<Tenant>(json) {
                Ok(tenant) => {
                    tenants.insert(name, Arc::new(tenant));
                }
                Err(error) => {
                    tracing::error!(tenant = %name, %error, "A stored tenant cannot be read; it is left out.");
                }
            }
        }
        for tenant in tenants.values() {
            self.apply_rates(tenant);
        }
        *self
            .tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tenants;
        self.forget_verified();
        Ok(())
    }

    /// Running tasks see a changed budget at their next call.
    fn apply_rates(&self, tenant: &Tenant) {
        if let Some(budget) = self
            .budgets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant.name)
        {
            budget.set_rate(tenant.quotas.fuel_per_second.unwrap_or(0));
        }
        if let Some(budget) = self
            .throughputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant.name)
        {
            budget.set_rate(tenant.quotas.records_per_second.unwrap_or(0));
        }
    }

    async fn store_tenant(&self, tenant: Tenant) -> Result<Arc<Tenant>, TenantError> {
        let json = serde_json::to_value(&tenant).expect("a tenant serializes");
        self.store.put_tenant(&tenant.name, Some(json)).await?;
        let tenant = Arc::new(tenant);
        self.tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant.name.clone(), tenant.clone());
        self.forget_verified();
        self.apply_rates(&tenant);
        Ok(tenant)
    }

    /// Tenant `tenant`'s compute budget, at its current `quotas.fuel_per_second`.
    pub fn budget(&self, tenant: &str) -> Arc<FuelBudget> {
        let rate = self
            .get(tenant)
            .and_then(|record| record.quotas.fuel_per_second);
        shared_bucket(&self.budgets, tenant, rate)
    }

    /// Tenant `tenant`'s throughput budget, in records, at its current
    /// `quotas.records_per_second` (the same kind of bucket as its fuel budget).
    pub fn throughput(&self, tenant: &str) -> Arc<FuelBudget> {
        let rate = self
            .get(tenant)
            .and_then(|record| record.quotas.records_per_second);
        shared_bucket(&self.throughputs, tenant, rate)
    }

    /// Tenant `tenant`'s open-connection slots, if `quotas.http_connections` limits it. A
    /// changed quota applies to instances started after the change.
    pub fn http_connections(&self, tenant: &str) -> Option<Arc<tokio::sync::Semaphore>> {
        let limit = self.get(tenant)?.quotas.http_connections?;
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match connections.get(tenant) {
            Some((made_for, slots)) if *made_for == limit => Some(slots.clone()),
            _ => {
                let slots = Arc::new(tokio::sync::Semaphore::new(limit as usize));
                connections.insert(tenant.to_owned(), (limit, slots.clone()));
                Some(slots)
            }
        }
    }

    fn forget_verified(&self) {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// `tenant`'s bucket in `buckets` (made at first use), set to `rate` (None: unlimited).
fn shared_bucket(
    buckets: &Mutex<BTreeMap<String, Arc<FuelBudget>>>,
    tenant: &str,
    rate: Option<u64>,
) -> Arc<FuelBudget> {
    let rate = rate.unwrap_or(0);
    let mut buckets = buckets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let bucket = buckets
        .entry(tenant.to_owned())
        .or_insert_with(|| Arc::new(FuelBudget::new(rate)));
    bucket.set_rate(rate);
    bucket.clone()
}

/// A tenant's compute budget (and, counting records, its throughput budget): a bucket of fuel
/// refilled at `quotas.fuel_per_second` and
/// holding at most a tenth of a second's worth. A call's fuel is charged once it ran, so the
/// bucket can go into debt; the tenant's next calls then wait until the debt is paid off, so
/// over time its tasks burn no more than the rate, and a call is never cut short for it.
pub struct FuelBudget {
    /// Fuel per second; 0 = unlimited.
    rate: std::sync::atomic::AtomicU64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    /// Fuel available (negative: owed).
    fuel: f64,
    at: std::time::Instant,
}

impl FuelBudget {
    pub fn new(rate: u64) -> Self {
        Self {
            rate: std::sync::atomic::AtomicU64::new(rate),
            bucket: Mutex::new(Bucket {
                fuel: rate as f64 / 10.0,
                at: std::time::Instant::now(),
            }),
        }
    }

    pub fn set_rate(&self, rate: u64) {
        self.rate.store(rate, std::sync::atomic::Ordering::Relaxed);
    }

    /// The bucket refilled up to now, and the rate.
    fn refilled(&self) -> (std::sync::MutexGuard<'_, Bucket>, f64) {
        let rate = self.rate.load(std::sync::atomic::Ordering::Relaxed) as f64;
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.fuel = (bucket.fuel + elapsed * rate).min(rate / 10.0);
        bucket.at = now;
        (bucket, rate)
    }
}

impl crate::runtime::ComputeBudget for FuelBudget {
    fn delay(&self) -> Option<std::time::Duration> {
        let (bucket, rate) = self.refilled();
        (rate > 0.0 && bucket.fuel < 0.0)
            .then(|| std::time::Duration::from_secs_f64(-bucket.fuel / rate))
    }

    fn charge(&self, fuel: u64) {
        let (mut bucket, rate) = self.refilled();
        if rate > 0.0 {
            bucket.fuel -= fuel as f64;
        }
    }
}

/// Tenant names: lower-case letters, digits, `-` and `_`, starting with a letter or digit, at
/// most 64 characters (they prefix connector names, consumer groups and topics).
fn check_tenant_name(name: &str) -> Result<(), TenantError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(TenantError::Invalid(format!(
            "`{name}` is not a tenant name: use 1 to 64 lower-case letters, digits, `-` and \
             `_`, starting with a letter or digit"
        )))
    }
}

/// Secret names: 1 to 128 letters, digits, `.`, `_` and `-`.
fn check_secret_name(name: &str) -> Result<(), TenantError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(TenantError::Invalid(format!(
            "`{name}` is not a secret name: use 1 to 128 letters, digits, `.`, `_` and `-`"
        )))
    }
}

fn checked_password(password: &str) -> Result<String, TenantError> {
    if password.len() < 12 {
        return Err(TenantError::Invalid(
            "a tenant password must have at least 12 characters".into(),
        ));
    }
    Ok(hash_password(password))
}

fn check_tcp(rules: Vec<String>) -> Result<Vec<String>, TenantError> {
    crate::config::tcp::parse_tcp_allow_list(&rules)
        .map_err(|error| TenantError::Invalid(format!("egress.tcp: {error}")))?;
    Ok(rules)
}

fn check_egress(rules: Vec<String>) -> Result<Vec<String>, TenantError> {
    crate::config::egress::parse_allow_list(&rules)
        .map_err(|error| TenantError::Invalid(format!("egress.allow: {error}")))?;
    Ok(rules)
}

fn check_prefixes(prefixes: Vec<String>) -> Result<Vec<String>, TenantError> {
    if prefixes.is_empty() {
        return Err(TenantError::Invalid(
            "`topics.prefixes` is empty: a tenant needs at least one topic prefix".into(),
        ));
    }
    for prefix in &prefixes {
        if prefix.is_empty()
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(TenantError::Invalid(format!(
                "`{prefix}` is not a topic prefix: use letters, digits, `.`, `_` and `-`"
            )));
        }
    }
    Ok(prefixes)
}

/// The worker's name of tenant `tenant`'s connector `name`.
pub fn qualify(tenant: &str, name: &str) -> String {
    format!("{tenant}{SEPARATOR}{name}")
}

/// The tenant and own name of a worker connector name, if a tenant's.
pub fn split(qualified: &str) -> Option<(&str, &str)> {
    qualified.split_once(SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn tenants(enabled: bool) -> (tempfile::TempDir, Tenants) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::storage::FileConfigStore::open(dir.path()).unwrap());
        let settings = TenancySettings {
            enabled,
            operator_user: "operator".into(),
            operator_password_hash: Some(hash_password("operator-secret")),
            secrets_key_file: dir.path().join("secrets.key"),
            secrets_max: 2,
            secret_max_bytes: 64,
        };
        let tenants = Tenants::load(settings, store).await.unwrap();
        (dir, tenants)
    }

    #[tokio::test]
    async fn a_tenants_tcp_ceiling_bounds_its_connectors_allow_lists() {
        let (_dir, tenants) = tenants(true).await;
        let spec: TenantSpec = serde_json::from_value(serde_json::json!({
            "name": "acme",
            "egress": {"tcp": ["*.db.acme.com:5432"]}
        }))
        .unwrap();
        let (tenant, _) = tenants.create(spec).await.unwrap();
        let rules = |list: &[&str]| {
            crate::config::tcp::parse_tcp_allow_list(
                &list.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>(),
            )
            .unwrap()
        };
        assert!(
            tenant
                .tcp_outside(&rules(&["eu.db.acme.com:5432"]))
                .is_none()
        );
        let outside = rules(&["eu.db.acme.com:5432", "db.globex.com:5432"]);
        assert_eq!(
            tenant.tcp_outside(&outside).map(ToString::to_string),
            Some("db.globex.com:5432".to_owned())
        );
        assert!(
            tenant
                .tcp_outside(&rules(&["eu.db.acme.com:5433"]))
                .is_some()
        );
        // HTTP's ceiling is separate: none was given, so no HTTP at all.
        assert!(tenant.egress_allow.is_empty());
        let bad: TenantSpec = serde_json::from_value(serde_json::json!({
            "name": "globex",
            "egress": {"tcp": ["db.globex.com"]}
        }))
        .unwrap();
        let error = tenants.create(bad).await.unwrap_err().to_string();
        assert!(
            error.contains("egress.tcp") && error.contains("no port"),
            "{error}"
        );
    }

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[tokio::test]
    async fn credentials_name_the_caller_and_survive_a_restart() {
        let (dir, tenants) = tenants(true).await;
        let (acme, token) = tenants
            .create(TenantSpec {
                name: Some("acme".into()),
                password: Some("acme-password-1".into()),
                ..TenantSpec::default()
            })
            .await
            .unwrap();
        assert_eq!(acme.topic_prefixes, vec!["acme.".to_owned()]);
        let acme_principal = Principal::Tenant("acme".into());
        assert_eq!(
            tenants.authenticate(Some(&basic("acme", "acme-password-1"))),
            Ok(acme_principal.clone())
        );
        // Again, from the cache.
        assert_eq!(
            tenants.authenticate(Some(&basic("acme", "acme-password-1"))),
            Ok(acme_principal.clone())
        );
        assert_eq!(
            tenants.authenticate(Some(&format!("Bearer {token}"))),
            Ok(acme_principal.clone())
        );
        assert_eq!(
            tenants.authenticate(Some(&basic("operator", "operator-secret"))),
            Ok(Principal::Operator)
        );
        for wrong in [
            basic("acme", "acme-password-2"),
            basic("operator", "acme-password-1"),
            basic("nobody", "x"),
            "Bearer wct_nope".to_owned(),
            "Digest x".to_owned(),
        ] {
            assert_eq!(
                tenants.authenticate(Some(&wrong)),
                Err(AuthError::Invalid),
                "{wrong}"
            );
        }
        assert_eq!(tenants.authenticate(None), Err(AuthError::Missing));

        // The store keeps no credential in clear.
        let stored = std::fs::read_to_string(dir.path().join("connectors.json")).unwrap();
        assert!(
            !stored.contains("acme-password-1") && !stored.contains(&token),
            "{stored}"
        );
        let (_, rotated) = tenants
            .update(
                "acme",
                TenantSpec {
                    rotate_token: true,
                    ..TenantSpec::default()
                },
            )
            .await
            .unwrap();
        let rotated = rotated.unwrap();
        assert_eq!(
            tenants.authenticate(Some(&format!("Bearer {token}"))),
            Err(AuthError::Invalid)
        );
        let store = Arc::new(crate::storage::FileConfigStore::open(dir.path()).unwrap());
        let reloaded = Tenants::load(tenants.settings.clone(), store)
            .await
            .unwrap();
        assert_eq!(
            reloaded.authenticate(Some(&format!("Bearer {rotated}"))),
            Ok(acme_principal)
        );
        let error = reloaded
            .remove("acme", &["acme/orders".to_owned(), "other".to_owned()])
            .await
            .unwrap_err();
        assert!(error.to_string().contains("(orders)"), "{error}");
        reloaded.remove("acme", &[]).await.unwrap();
        assert!(reloaded.get("acme").is_none());
    }

    #[tokio::test]
    async fn secrets_are_sealed_in_the_store_and_open_only_for_their_tenant() {
        let (dir, tenants) = tenants(true).await;
        for name in ["acme", "globex"] {
            tenants
                .create(TenantSpec {
                    name: Some(name.into()),
                    ..TenantSpec::default()
                })
                .await
                .unwrap();
        }
        tenants
            .put_secret("acme", "db", "acme-db-password")
            .await
            .unwrap();
        assert_eq!(
            tenants.secret_value("acme", "db").unwrap(),
            "acme-db-password"
        );
        assert!(
            tenants
                .secret_value("globex", "db")
                .unwrap_err()
                .contains("no secret `db`")
        );
        let stored = std::fs::read_to_string(dir.path().join("connectors.json")).unwrap();
        assert!(!stored.contains("acme-db-password"), "{stored}");
        // Limits: the value's size and the number of secrets.
        let error = tenants
            .put_secret("acme", "big", &"x".repeat(65))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("tenancy.secret.max.bytes=64"),
            "{error}"
        );
        tenants.put_secret("acme", "two", "v").await.unwrap();
        let error = tenants.put_secret("acme", "three", "v").await.unwrap_err();
        assert!(error.to_string().contains("tenancy.secrets.max"), "{error}");
        tenants
            .put_secret("acme", "db", "replaced-value")
            .await
            .unwrap();
        assert_eq!(
            tenants.secret_names("acme"),
            vec!["db".to_owned(), "two".to_owned()]
        );
        tenants.delete_secret("acme", "two").await.unwrap();
        assert!(tenants.delete_secret("acme", "two").await.is_err());
        // After a restart, with the same key file.
        let store = Arc::new(crate::storage::FileConfigStore::open(dir.path()).unwrap());
        let reloaded = Tenants::load(tenants.settings.clone(), store)
            .await
            .unwrap();
        assert_eq!(
            reloaded.secret_value("acme", "db").unwrap(),
            "replaced-value"
        );
    }

    #[tokio::test]
    async fn with_tenancy_off_everybody_is_the_operator() {
        let (_dir, tenants) = tenants(false).await;
        assert_eq!(tenants.authenticate(None), Ok(Principal::Operator));
    }

    #[tokio::test]
    async fn bad_tenants_are_refused_with_the_rule() {
        let (_dir, tenants) = tenants(true).await;
        for (spec, expected) in [
            (
                TenantSpec {
                    name: Some("Acme".into()),
                    ..TenantSpec::default()
                },
                "not a tenant name",
            ),
            (
                TenantSpec {
                    name: Some("operator".into()),
                    ..TenantSpec::default()
                },
                "operator's user name",
            ),
            (
                TenantSpec {
                    name: Some("short".into()),
                    password: Some("short".into()),
                    ..TenantSpec::default()
                },
                "at least 12 characters",
            ),
            (
                TenantSpec {
                    name: Some("spaces".into()),
                    topics: Some(TopicsSpec {
                        prefixes: vec!["a b".into()],
                    }),
                    ..TenantSpec::default()
                },
                "not a topic prefix",
            ),
        ] {
            let error = tenants.create(spec).await.unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_budget_in_debt_delays_calls_until_it_is_paid_off() {
        use crate::runtime::ComputeBudget as _;
        let budget = FuelBudget::new(1_000_000);
        // A tenth of a second's worth is there at once.
        assert_eq!(budget.delay(), None);
        budget.charge(100_000);
        budget.charge(400_000);
        // 0.4 s of debt at a million per second.
        let delay = budget.delay().unwrap();
        assert!(
            delay > std::time::Duration::from_millis(350)
                && delay <= std::time::Duration::from_millis(400),
            "{delay:?}"
        );
        // Unlimited: never a delay, nothing charged.
        budget.set_rate(0);
        assert_eq!(budget.delay(), None);
    }

    #[test]
    fn topic_namespaces_cover_names_and_anchored_regexes() {
        let tenant = Tenant {
            name: "acme".into(),
            password_hash: None,
            token_sha256: String::new(),
            quotas: Quotas::default(),
            topic_prefixes: vec!["acme.".into()],
            fs_roots: Vec::new(),
            egress_allow: Vec::new(),
            tcp_allow: Vec::new(),
            secrets: BTreeMap::new(),
        };
        assert!(tenant.owns_topic("acme.orders"));
        assert!(!tenant.owns_topic("acmeorders"));
        assert!(!tenant.owns_topic("other.orders"));
        assert!(tenant.owns_topic_regex(r"acme\.orders-.*"));
        assert!(tenant.owns_topic_regex(r"^acme\..*"));
        assert!(!tenant.owns_topic_regex(r"acme..*"));
        assert!(!tenant.owns_topic_regex(r".*"));
        assert!(!tenant.owns_topic_regex(r"(acme\.x|other\.y)"));
        assert!(!tenant.owns_topic_regex(r"acme\.orders|other\..*"));
        assert!(tenant.owns_topic_regex(r"acme\.(orders|payments)"));
    }
}
