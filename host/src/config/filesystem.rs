//! The operator's filesystem policy for connectors' directory grants (`sandbox.fs.read`,
//! `sandbox.fs.write`, and the directory of the built-in file connectors' `file`): whether
//! any grant is allowed (`sandbox.fs.enabled`), the roots every grant must lie within
//! (`sandbox.fs.allowed.roots`), and what no grant may ever touch: `/proc`, `/sys`, `/dev`,
//! the worker's own state (`data.dir`, the embedded log, the compile cache, the offsets file,
//! uploaded plugins), its `plugin.path`, its config and connector files and its TLS trust
//! file, and the operator's `sandbox.fs.denied.paths`.
//!
//! A grant is resolved first (made absolute, symlinks followed), so a link cannot lead it
//! elsewhere; it must then neither be, lie inside nor contain a denied path (a grant of `/`
//! contains `/proc`), and must lie inside an allowed root when roots are set. Inside a grant
//! the sandbox (cap-std) refuses paths and links that lead out of it.

use std::path::{Path, PathBuf};

/// Why a path may never be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub path: PathBuf,
    pub reason: String,
}

/// The filesystem policy of a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsPolicy {
    /// `sandbox.fs.enabled` (default true): false refuses every grant.
    pub enabled: bool,
    /// `sandbox.fs.allowed.roots`, resolved; empty = anywhere not denied.
    pub allowed_roots: Vec<PathBuf>,
    /// What no grant may be, lie in or contain.
    pub denied: Vec<Denied>,
    /// The tenant whose `filesystem.roots` `allowed_roots` are; None = the worker's.
    pub tenant: Option<String>,
}

impl Default for FsPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_roots: Vec::new(),
            denied: Self::system_denied(),
            tenant: None,
        }
    }
}

impl FsPolicy {
    /// The system directories no grant may touch.
    pub fn system_denied() -> Vec<Denied> {
        [
            ("/proc", "the processes' memory, environment and open files"),
            ("/sys", "the kernel's and the devices' settings"),
            ("/dev", "the devices"),
        ]
        .into_iter()
        .map(|(path, reason)| Denied {
            path: PathBuf::from(path),
            reason: reason.to_owned(),
        })
        .collect()
    }

    /// Adds a path no grant may touch, resolved as far as it exists.
    pub fn deny(&mut self, path: &Path, reason: impl Into<String>) {
        self.denied.push(Denied {
            path: resolve_lenient(path),
            reason: reason.into(),
        });
    }

    /// Checks a directory a connector asks for (`key` names the setting, for the message)
    /// and returns it resolved: the path the sandbox opens.
    pub fn check(&self, key: &str, dir: &Path) -> Result<PathBuf, String> {
        let shown = dir.display();
        if !self.enabled {
            return Err(match &self.tenant {
                None => format!(
                    "{key} asks for `{shown}`, but this worker grants no directory \
                     (sandbox.fs.enabled=false)"
                ),
                Some(tenant) => format!(
                    "{key} asks for `{shown}`, but tenant {tenant} may be granted no directory \
                     (it has no filesystem.roots)"
                ),
            });
        }
        let resolved = std::fs::canonicalize(dir).map_err(|error| {
            format!("{key}: cannot grant `{shown}`: {error}; grant an existing directory")
        })?;
        if !resolved.is_dir() {
            return Err(format!(
                "{key}: cannot grant `{shown}`: it is not a directory"
            ));
        }
        let via = if resolved == dir {
            String::new()
        } else {
            format!(" (resolved to `{}`)", resolved.display())
        };
        for denied in &self.denied {
            let relation = if resolved == denied.path {
                "is"
            } else if resolved.starts_with(&denied.path) {
                "is inside"
            } else if denied.path.starts_with(&resolved) {
                "contains"
            } else {
                continue;
            };
            return Err(format!(
                "{key}: `{shown}`{via} {relation} `{}`, which no connector may be granted \
                 ({}); grant a directory of its own",
                denied.path.display(),
                denied.reason
            ));
        }
        if !self.allowed_roots.is_empty()
            && !self
                .allowed_roots
                .iter()
                .any(|root| resolved.starts_with(root))
        {
            let roots: Vec<String> = self
                .allowed_roots
                .iter()
                .map(|root| root.display().to_string())
                .collect();
            return Err(match &self.tenant {
                None => format!(
                    "{key}: `{shown}`{via} is outside every directory this worker allows \
                     (sandbox.fs.allowed.roots={})",
                    roots.join(",")
                ),
                Some(tenant) => format!(
                    "{key}: `{shown}`{via} is outside every directory tenant {tenant} may use \
                     (filesystem.roots={})",
                    roots.join(",")
                ),
            });
        }
        Ok(resolved)
    }
}

/// `path` made absolute, its longest existing ancestor resolved (symlinks followed): a path
/// that does not exist yet (a `data.dir` created later) is still compared correctly.
pub fn resolve_lenient(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = std::fs::canonicalize(existing) {
            let mut resolved = resolved;
            for part in rest.iter().rev() {
                resolved.push(part);
            }
            return resolved;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_that_touch_a_denied_path_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let mut policy = FsPolicy::default();
        policy.deny(&data, "the worker's data.dir");
        // data.dir does not exist yet, and is denied all the same.
        assert_eq!(
            policy.check("sandbox.fs.read", &files).unwrap(),
            files.canonicalize().unwrap()
        );
        let error = policy.check("sandbox.fs.read", dir.path()).unwrap_err();
        assert!(
            error.contains("contains") && error.contains("the worker's data.dir"),
            "{error}"
        );
        std::fs::create_dir_all(data.join("log")).unwrap();
        let error = policy
            .check("sandbox.fs.write", &data.join("log"))
            .unwrap_err();
        assert!(error.contains("is inside"), "{error}");
        let error = policy.check("sandbox.fs.read", Path::new("/")).unwrap_err();
        assert!(error.contains("contains `/proc`"), "{error}");
        let error = policy
            .check("sandbox.fs.read", Path::new("/proc/self"))
            .unwrap_err();
        assert!(error.contains("is inside `/proc`"), "{error}");
    }

    #[test]
    fn a_symlink_is_followed_before_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("innocent");
        std::os::unix::fs::symlink("/proc/self", &link).unwrap();
        let error = FsPolicy::default()
            .check("sandbox.fs.read", &link)
            .unwrap_err();
        assert!(
            error.contains("(resolved to `/proc/") && error.contains("is inside `/proc`"),
            "{error}"
        );
    }

    #[test]
    fn grants_must_lie_in_an_allowed_root() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let other = dir.path().join("other");
        std::fs::create_dir_all(allowed.join("a")).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let policy = FsPolicy {
            allowed_roots: vec![allowed.canonicalize().unwrap()],
            ..FsPolicy::default()
        };
        policy.check("sandbox.fs.read", &allowed.join("a")).unwrap();
        let error = policy.check("sandbox.fs.read", &other).unwrap_err();
        assert!(
            error.contains("is outside every directory this worker allows"),
            "{error}"
        );
        let error = FsPolicy {
            enabled: false,
            ..FsPolicy::default()
        }
        .check("sandbox.fs.read", &allowed)
        .unwrap_err();
        assert!(error.contains("sandbox.fs.enabled=false"), "{error}");
    }
}
