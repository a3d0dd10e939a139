//! Kafka Connect's config providers (KIP-297): `${provider:[path:]key}` references in connector
//! configs, resolved by the `file`, `dir` and `env` providers a worker registers in
//! `config.providers`, and what a resolved config must never show again ([`Secrets`]): every
//! value a reference brought in, to be put back as its reference wherever the host would
//! store, log or echo it.
//!
//! The raw config (references unresolved) is what the config store keeps and the REST API
//! returns; the resolved config is what the connector and its tasks get. Resolution happens
//! when a connector is validated and each time it starts.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, LazyLock},
};

use regex::Regex;

use super::{ConfigError, Settings, SettingsExt, filesystem::FsPolicy};

/// Kafka's class names of the providers this worker implements.
pub const FILE_PROVIDER_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
pub const DIRECTORY_PROVIDER_CLASS: &str =
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
pub const ENV_PROVIDER_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

/// The provider name of a tenant's own secrets: `${secret:name}`.
pub const SECRET_PROVIDER: &str = "secret";

/// Looks up a tenant's secret by name.
pub type SecretLookup<'a> = dyn Fn(&str) -> Result<String, String> + 'a;

/// `config.provider.value.max.bytes`: the most one reference may bring in (1 MiB).
pub const DEFAULT_VALUE_MAX_BYTES: usize = 1 << 20;

/// Resolved values shorter than this are put back only where they are a whole config value
/// (a task config's); in free text (log lines, error messages) replacing every occurrence of
/// a two-letter value would garble the text and hide nothing.
pub const MIN_CONCEALED_IN_TEXT: usize = 6;

/// Kafka's reference pattern: `${provider:[path:]key}`.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}").expect("the reference pattern is valid")
});

/// One registered provider.
#[derive(Debug, Clone)]
enum Provider {
    /// `FileConfigProvider`: `${file:/path/to/file.properties:key}`.
    File { allowed: Vec<PathBuf> },
    /// `DirectoryConfigProvider`: `${dir:/path/to/dir:file}`, the file's content.
    Directory { allowed: Vec<PathBuf> },
    /// `EnvVarConfigProvider`: `${env:NAME}`, names matching the allow-list only.
    Env { allowlist: Regex },
}

/// The providers a worker registered (`config.providers`), by name.
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
    /// `config.provider.value.max.bytes`.
    value_max_bytes: usize,
}

impl ConfigProviders {
    /// Reads `config.providers`, `config.providers.<name>.class` and
    /// `config.providers.<name>.param.*` from the worker's settings.
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        let value_max_bytes = raw.parse_or(
            "config.provider.value.max.bytes",
            DEFAULT_VALUE_MAX_BYTES,
            "a number of bytes",
        )?;
        let mut providers = BTreeMap::new();
        for name in raw.list("config.providers") {
            let class_key = format!("config.providers.{name}.class");
            let class = raw.get(&class_key).map(|c| c.trim()).ok_or_else(|| {
                ConfigError::Other(format!(
                    "config.providers names `{name}` but `{class_key}` is not set; set it to \
                     {FILE_PROVIDER_CLASS}, {DIRECTORY_PROVIDER_CLASS} or {ENV_PROVIDER_CLASS}"
                ))
            })?;
            let params = raw.with_prefix(&format!("config.providers.{name}.param."));
            let allowed_keys: &[&str] = match class {
                FILE_PROVIDER_CLASS | DIRECTORY_PROVIDER_CLASS => &["allowed.paths"],
                ENV_PROVIDER_CLASS => &["allowlist.pattern"],
                other => {
                    return Err(ConfigError::Other(format!(
                        "{class_key}={other} is not a config provider this worker has; use \
                         {FILE_PROVIDER_CLASS}, {DIRECTORY_PROVIDER_CLASS} or \
                         {ENV_PROVIDER_CLASS}"
                    )));
                }
            };
            if let Some(unknown) = params.keys().find(|k| !allowed_keys.contains(&k.as_str())) {
                return Err(ConfigError::Other(format!(
                    "config.providers.{name}.param.{unknown} is not a parameter of {class}; it \
                     takes {}",
                    allowed_keys.join(", ")
                )));
            }
            let provider = match class {
                ENV_PROVIDER_CLASS => {
                    let pattern = params.get("allowlist.pattern").map_or(".*", String::as_str);
                    let allowlist = Regex::new(&format!("^(?:{pattern})$")).map_err(|error| {
                        ConfigError::Other(format!(
                            "config.providers.{name}.param.allowlist.pattern is not a valid \
                             regular expression: {error}"
                        ))
                    })?;
                    Provider::Env { allowlist }
                }
                _ => {
                    let mut allowed = Vec::new();
                    for path in params.list("allowed.paths") {
                        let resolved = std::fs::canonicalize(&path).map_err(|error| {
                            ConfigError::Other(format!(
                                "config.providers.{name}.param.allowed.paths: `{path}` cannot \
                                 be used: {error}; list existing directories or files"
                            ))
                        })?;
                        allowed.push(resolved);
                    }
                    if class == FILE_PROVIDER_CLASS {
                        Provider::File { allowed }
                    } else {
                        Provider::Directory { allowed }
                    }
                }
            };
            providers.insert(name, provider);
        }
        Ok(Self {
            providers,
            value_max_bytes,
        })
    }

    /// Whether any provider is registered.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The names of the `file` and `dir` providers that may read any file the worker can
    /// (no `allowed.paths`), to warn the operator about at start.
    pub fn unrestricted(&self) -> Vec<&str> {
        self.providers
            .iter()
            .filter(|(_, provider)| {
                matches!(provider, Provider::File { allowed } | Provider::Directory { allowed }
                    if allowed.is_empty())
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The first reference in `settings` to a registered provider, with its key.
    pub fn first_reference<'a>(&self, settings: &'a Settings) -> Option<(&'a str, &'a str)> {
        settings.iter().find_map(|(key, value)| {
            REFERENCE
                .captures_iter(value)
                .find(|reference| self.providers.contains_key(&reference[1]))
                .map(|reference| {
                    let whole = reference.get(0).expect("group 0 always matches");
                    (key.as_str(), &value[whole.start()..whole.end()])
                })
        })
    }

    /// Resolves every reference in `settings` whose provider is registered (references to
    /// other names are left as written, as Kafka Connect leaves them). Files are read within
    /// `fs`'s denied paths as well as the provider's own `allowed.paths`. An error names the
    /// key, the reference and why, never a resolved value.
    pub fn resolve(&self, settings: &Settings, fs: &FsPolicy) -> Result<Resolved, ConfigError> {
        self.resolve_with(settings, fs, None)
    }

    /// [`Self::resolve`], with `${secret:name}` references (a tenant's secrets) resolved by
    /// `tenant_secrets` when given.
    pub fn resolve_with(
        &self,
        settings: &Settings,
        fs: &FsPolicy,
        tenant_secrets: Option<&SecretLookup<'_>>,
    ) -> Result<Resolved, ConfigError> {
        let mut resolved = Settings::new();
        let mut secrets = Secrets::default();
        for (key, value) in settings {
            if (self.providers.is_empty() && tenant_secrets.is_none()) || !value.contains("${") {
                resolved.insert(key.clone(), value.clone());
                continue;
            }
            let mut out = String::with_capacity(value.len());
            let mut last = 0;
            for reference in REFERENCE.captures_iter(value) {
                let whole = reference.get(0).expect("group 0 always matches");
                let provider_name = &reference[1];
                let path = reference.get(3).map_or("", |m| m.as_str());
                let name = &reference[4];
                let unresolved = |reason: String| ConfigError::Unresolved {
                    key: key.clone(),
                    reference: whole.as_str().to_owned(),
                    reason,
                };
                let found = match (provider_name, tenant_secrets) {
                    (SECRET_PROVIDER, Some(lookup)) if path.is_empty() => {
                        lookup(name).map_err(&unresolved)?
                    }
                    _ => {
                        let Some(provider) = self.providers.get(provider_name) else {
                            continue;
                        };
                        self.lookup(provider, path, name, fs).map_err(&unresolved)?
                    }
                };
                if found.len() > self.value_max_bytes {
                    return Err(unresolved(format!(
                        "the value is {} bytes, more than config.provider.value.max.bytes={}",
                        found.len(),
                        self.value_max_bytes
                    )));
                }
                out.push_str(&value[last..whole.start()]);
                out.push_str(&found);
                last = whole.end();
                secrets.add(found, whole.as_str());
            }
            out.push_str(&value[last..]);
            resolved.insert(key.clone(), out);
        }
        secrets.sort();
        Ok(Resolved {
            settings: resolved,
            secrets: Arc::new(secrets),
        })
    }

    fn lookup(
        &self,
        provider: &Provider,
        path: &str,
        name: &str,
        fs: &FsPolicy,
    ) -> Result<String, String> {
        match provider {
            Provider::Env { allowlist } => {
                if !allowlist.is_match(name) {
                    return Err(format!(
                        "the environment variable `{name}` is not in this provider's \
                         allowlist.pattern"
                    ));
                }
                std::env::var(name).map_err(|error| match error {
                    std::env::VarError::NotPresent => {
                        format!("the environment variable `{name}` is not set")
                    }
                    std::env::VarError::NotUnicode(_) => {
                        format!("the environment variable `{name}` is not valid UTF-8")
                    }
                })
            }
            Provider::File { allowed } => {
                let file = checked_path(path, allowed, fs)?;
                let properties = self.read(&file)?;
                let map = java_properties::read(properties.as_bytes())
                    .map_err(|error| format!("`{path}` is not a properties file: {error}"))?;
                map.get(name)
                    .cloned()
                    .ok_or_else(|| format!("`{path}` has no key `{name}`"))
            }
            Provider::Directory { allowed } => {
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(format!(
                        "`{name}` is not a file name; name a file directly inside `{path}`"
                    ));
                }
                let dir = checked_path(path, allowed, fs)?;
                let file = dir.join(name);
                // Only regular files directly inside the directory, as Kafka's provider reads
                // them; a link leading elsewhere is checked again.
                let file = checked_path(&file.display().to_string(), allowed, fs)?;
                if file.parent() != Some(dir.as_path()) {
                    return Err(format!("`{name}` in `{path}` leads outside the directory"));
                }
                self.read(&file)
            }
        }
    }

    /// Reads a file of at most `config.provider.value.max.bytes`.
    fn read(&self, file: &Path) -> Result<String, String> {
        use std::io::Read;
        let shown = file.display();
        let handle =
            std::fs::File::open(file).map_err(|error| format!("cannot read `{shown}`: {error}"))?;
        if !handle.metadata().is_ok_and(|m| m.is_file()) {
            return Err(format!("`{shown}` is not a regular file"));
        }
        let mut bytes = Vec::new();
        handle
            .take(self.value_max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| format!("cannot read `{shown}`: {error}"))?;
        if bytes.len() > self.value_max_bytes {
            return Err(format!(
                "`{shown}` is larger than config.provider.value.max.bytes={}",
                self.value_max_bytes
            ));
        }
        String::from_utf8(bytes).map_err(|_| format!("`{shown}` is not valid UTF-8"))
    }
}

/// `path` resolved (symlinks followed), refused if it touches what the worker's filesystem
/// policy denies or lies outside the provider's `allowed.paths`.
fn checked_path(path: &str, allowed: &[PathBuf], fs: &FsPolicy) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the reference names no path; write `${provider:/path:key}`".to_owned());
    }
    let resolved =
        std::fs::canonicalize(path).map_err(|error| format!("cannot read `{path}`: {error}"))?;
    for denied in &fs.denied {
        if resolved.starts_with(&denied.path) {
            return Err(format!(
                "`{path}` lies inside `{}` ({}), which no config provider may read",
                denied.path.display(),
                denied.reason
            ));
        }
    }
    if !allowed.is_empty() && !allowed.iter().any(|root| resolved.starts_with(root)) {
        let roots: Vec<String> = allowed.iter().map(|r| r.display().to_string()).collect();
        return Err(format!(
            "`{path}` is outside this provider's allowed.paths ({})",
            roots.join(",")
        ));
    }
    Ok(resolved)
}

/// A config with its references resolved, and the values they brought in.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub settings: Settings,
    pub secrets: Arc<Secrets>,
}

/// The values references brought into a config, each with the reference it came from, to put
/// the reference back wherever the host would otherwise store, log or echo the value.
#[derive(Clone, Default)]
pub struct Secrets {
    /// (value, reference), longest value first so a value containing another is replaced
    /// whole.
    values: Vec<(String, String)>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

impl Secrets {
    fn add(&mut self, value: String, reference: &str) {
        if !value.is_empty() && !self.values.iter().any(|(v, _)| *v == value) {
            self.values.push((value, reference.to_owned()));
        }
    }

    fn sort(&mut self) {
        self.values
            .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every resolved value of at least [`MIN_CONCEALED_IN_TEXT`] bytes replaced
    /// by its reference: for log lines, error messages and traces.
    pub fn conceal<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for (value, reference) in &self.values {
            if value.len() >= MIN_CONCEALED_IN_TEXT && text.contains(value.as_str()) {
                text = Cow::Owned(text.replace(value.as_str(), reference));
            }
        }
        text
    }

    /// [`Self::conceal`] in place, for owned messages.
    pub fn conceal_in_place(&self, text: &mut String) {
        if let Cow::Owned(concealed) = self.conceal(text) {
            *text = concealed;
        }
    }

    /// A config value with resolved values put back as their references: a whole value of
    /// any length, and longer values inside it. Resolving the result gives `value` again.
    pub fn conceal_value(&self, value: &str) -> String {
        if let Some((_, reference)) = self.values.iter().find(|(v, _)| v == value) {
            return reference.clone();
        }
        self.conceal(value).into_owned()
    }

    /// A config stored with [`Self::conceal_config`] with its references resolved again (for
    /// task configs another worker stored, in distributed mode).
    pub fn reveal_config(&self, config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        if self.is_empty() {
            return config.clone();
        }
        config
            .iter()
            .map(|(key, value)| {
                let mut value = value.clone();
                for (resolved, reference) in &self.values {
                    if value.contains(reference.as_str()) {
                        value = value.replace(reference.as_str(), resolved);
                    }
                }
                (key.clone(), value)
            })
            .collect()
    }

    /// [`Self::conceal_value`] over every value of a config.
    pub fn conceal_config(&self, config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        if self.is_empty() {
            return config.clone();
        }
        config
            .iter()
            .map(|(key, value)| (key.clone(), self.conceal_value(value)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn providers(pairs: &[(&str, &str)]) -> ConfigProviders {
        ConfigProviders::from_settings(&settings(pairs)).unwrap()
    }

    #[test]
    fn file_dir_and_env_references_resolve_and_conceal_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("db.properties"),
            "user=app\npassword=s3cret-pw\n",
        )
        .unwrap();
        let secrets_dir = dir.path().join("mounted");
        std::fs::create_dir(&secrets_dir).unwrap();
        std::fs::write(secrets_dir.join("token"), "tok-123456").unwrap();
        let providers = providers(&[
            ("config.providers", "file,dir,env"),
            ("config.providers.file.class", FILE_PROVIDER_CLASS),
            ("config.providers.dir.class", DIRECTORY_PROVIDER_CLASS),
            ("config.providers.env.class", ENV_PROVIDER_CLASS),
            ("config.providers.env.param.allowlist.pattern", "PATH|WC_.*"),
        ]);
        let file = dir.path().join("db.properties").display().to_string();
        let password = format!("${{file:{file}:password}}");
        let user = format!("${{file:{file}:user}}");
        let url = format!("jdbc://app:{password}@db");
        let token = format!("${{dir:{}:token}}", secrets_dir.display());
        let raw = settings(&[
            ("password", &password),
            ("user", &user),
            ("url", &url),
            ("token", &token),
            ("env", "${env:PATH}"),
            ("router", "${topic}-${timestamp}"),
            ("other", "${vault:secret/db:password}"),
        ]);
        let resolved = providers.resolve(&raw, &FsPolicy::default()).unwrap();
        assert_eq!(resolved.settings["password"], "s3cret-pw");
        assert_eq!(resolved.settings["url"], "jdbc://app:s3cret-pw@db");
        assert_eq!(resolved.settings["token"], "tok-123456");
        assert_eq!(resolved.settings["env"], std::env::var("PATH").unwrap());
        // No colon: not a reference. An unregistered provider: left as written.
        assert_eq!(resolved.settings["router"], "${topic}-${timestamp}");
        assert_eq!(resolved.settings["other"], "${vault:secret/db:password}");

        let secrets = &resolved.secrets;
        assert_eq!(
            secrets.conceal_config(&resolved.settings),
            raw.clone().into_iter().collect::<BTreeMap<_, _>>()
        );
        assert_eq!(
            secrets.conceal("connecting with s3cret-pw and tok-123456"),
            format!("connecting with {password} and {token}")
        );
        // "app" is too short to hunt for in text, but a whole value is put back.
        assert_eq!(secrets.conceal("application"), "application");
        assert_eq!(secrets.conceal_value("app"), user);
    }

    #[test]
    fn what_cannot_be_resolved_is_an_error_naming_key_and_reference() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::write(allowed.join("a.properties"), "k=v\n").unwrap();
        std::fs::write(dir.path().join("outside.properties"), "k=v\n").unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("outside.properties"),
            allowed.join("link.properties"),
        )
        .unwrap();
        let providers = providers(&[
            ("config.providers", "file,env"),
            ("config.providers.file.class", FILE_PROVIDER_CLASS),
            (
                "config.providers.file.param.allowed.paths",
                &allowed.display().to_string(),
            ),
            ("config.providers.env.class", ENV_PROVIDER_CLASS),
            ("config.providers.env.param.allowlist.pattern", "APP_.*"),
        ]);
        let error = |value: String| {
            providers
                .resolve(&settings(&[("k", &value)]), &FsPolicy::default())
                .unwrap_err()
                .to_string()
        };
        let a = allowed.join("a.properties").display().to_string();
        let message = error(format!("${{file:{a}:missing}}"));
        assert!(
            message.starts_with("`k`: cannot resolve `${file:") && message.contains("no key"),
            "{message}"
        );
        let message = error(format!(
            "${{file:{}/outside.properties:k}}",
            dir.path().display()
        ));
        assert!(
            message.contains("outside this provider's allowed.paths"),
            "{message}"
        );
        let message = error(format!(
            "${{file:{}:k}}",
            allowed.join("link.properties").display()
        ));
        assert!(
            message.contains("outside this provider's allowed.paths"),
            "{message}"
        );
        let message = error(format!(
            "${{file:{}/../outside.properties:k}}",
            allowed.display()
        ));
        assert!(
            message.contains("outside this provider's allowed.paths"),
            "{message}"
        );
        let message = error("${env:HOME}".to_owned());
        assert!(message.contains("allowlist.pattern"), "{message}");
        let message = error("${env:APP_SURELY_UNSET_VARIABLE}".to_owned());
        assert!(message.contains("is not set"), "{message}");

        let open = providers_open();
        let message = open
            .resolve(
                &settings(&[("k", "${file:/proc/self/environ:x}")]),
                &FsPolicy::default(),
            )
            .unwrap_err()
            .to_string();
        assert!(message.contains("no config provider may read"), "{message}");
    }

    fn providers_open() -> ConfigProviders {
        providers(&[
            ("config.providers", "file,dir"),
            ("config.providers.file.class", FILE_PROVIDER_CLASS),
            ("config.providers.dir.class", DIRECTORY_PROVIDER_CLASS),
        ])
    }

    #[test]
    fn directory_references_name_a_file_directly_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/inner"), "x").unwrap();
        let open = providers_open();
        assert_eq!(open.unrestricted(), vec!["dir", "file"]);
        let shown = dir.path().display();
        for name in ["sub/inner", "..", ""] {
            let value = format!("${{dir:{shown}:{name}}}");
            let result = open.resolve(&settings(&[("k", &value)]), &FsPolicy::default());
            assert!(result.is_err(), "{name}");
        }
    }

    #[test]
    fn bad_registrations_are_refused_with_the_fix() {
        let error = |pairs: &[(&str, &str)]| {
            ConfigProviders::from_settings(&settings(pairs))
                .unwrap_err()
                .to_string()
        };
        let message = error(&[("config.providers", "file")]);
        assert!(message.contains("config.providers.file.class"), "{message}");
        let message = error(&[
            ("config.providers", "vault"),
            (
                "config.providers.vault.class",
                "io.confluent.VaultConfigProvider",
            ),
        ]);
        assert!(
            message.contains("not a config provider this worker has"),
            "{message}"
        );
        let message = error(&[
            ("config.providers", "env"),
            ("config.providers.env.class", ENV_PROVIDER_CLASS),
            ("config.providers.env.param.allowed.paths", "/tmp"),
        ]);
        assert!(message.contains("takes allowlist.pattern"), "{message}");
    }
}
