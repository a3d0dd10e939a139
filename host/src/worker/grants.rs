//! Which directories a task's sandbox may open. Deny by default: only directories the
//! connector's configuration grants (`sandbox.fs.read`, `sandbox.fs.write`, comma-separated)
//! and, for the built-in file connectors, the directory of their `file` (read-only for the
//! source, read-write for the sink); each checked against the worker's filesystem policy
//! ([`FsPolicy`]) again when the task starts, and opened as resolved then, so a directory
//! swapped for a link since the connector was created leads nowhere it may not.

use std::path::{Path, PathBuf};

use crate::{
    config::{SettingsExt, filesystem::FsPolicy},
    runtime::{ConfigMap, PluginKind, Preopen},
};

/// The preopened directories for a task, and the task config with `file` made absolute for
/// the built-in file connectors (the guest sees the paths as configured). An error says which
/// grant the policy refuses and why.
pub fn preopens_for(
    settings: &crate::config::Settings,
    task_config: &mut ConfigMap,
    kind: PluginKind,
    builtin_file_connector: bool,
    policy: &FsPolicy,
) -> Result<Vec<Preopen>, String> {
    let mut preopens: Vec<Preopen> = Vec::new();
    let mut grant = |key: &str, path: &Path, writable: bool| -> Result<(), String> {
        let guest_path = absolute(path);
        let host_path = policy.check(key, &guest_path)?;
        if let Some(existing) = preopens.iter_mut().find(|p| p.host_path == host_path) {
            existing.writable |= writable;
            return Ok(());
        }
        preopens.push(Preopen {
            guest_path: guest_path.display().to_string(),
            host_path,
            writable,
        });
        Ok(())
    };
    for dir in settings.list("sandbox.fs.read") {
        grant("sandbox.fs.read", Path::new(&dir), false)?;
    }
    for dir in settings.list("sandbox.fs.write") {
        grant("sandbox.fs.write", Path::new(&dir), true)?;
    }
    if builtin_file_connector && let Some(file) = task_config.get("file").cloned() {
        let file = absolute(Path::new(&file));
        if let Some(dir) = file.parent() {
            grant("file", dir, kind == PluginKind::Sink)?;
        }
        task_config.insert("file".into(), file.display().to_string());
    }
    Ok(preopens)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_connectors_get_their_directory_and_others_only_explicit_grants() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        let input = input.canonicalize().unwrap();
        let policy = FsPolicy::default();
        let mut config = ConfigMap::new();
        config.insert("file".into(), input.join("x.txt").display().to_string());
        let settings = crate::config::Settings::new();
        let preopens = preopens_for(
            &settings,
            &mut config.clone(),
            PluginKind::Source,
            true,
            &policy,
        )
        .unwrap();
        assert_eq!(
            preopens,
            vec![Preopen {
                host_path: input.clone(),
                guest_path: input.display().to_string(),
                writable: false
            }]
        );
        assert!(
            preopens_for(&settings, &mut config, PluginKind::Source, false, &policy)
                .unwrap()
                .is_empty()
        );
        let mut settings = crate::config::Settings::new();
        settings.insert("sandbox.fs.write".into(), input.display().to_string());
        let preopens = preopens_for(
            &settings,
            &mut ConfigMap::new(),
            PluginKind::Sink,
            false,
            &policy,
        )
        .unwrap();
        assert!(preopens[0].writable);
    }

    #[test]
    fn relative_files_become_absolute() {
        let mut config = ConfigMap::new();
        config.insert("file".into(), "rel.txt".into());
        let preopens = preopens_for(
            &crate::config::Settings::new(),
            &mut config,
            PluginKind::Sink,
            true,
            &FsPolicy::default(),
        )
        .unwrap();
        assert!(Path::new(config.get("file").unwrap()).is_absolute());
        assert!(preopens[0].writable);
    }

    #[test]
    fn the_policy_is_applied_to_the_file_connectors_too() {
        let mut config = ConfigMap::new();
        config.insert("file".into(), "/proc/self/environ".into());
        let error = preopens_for(
            &crate::config::Settings::new(),
            &mut config,
            PluginKind::Source,
            true,
            &FsPolicy::default(),
        )
        .unwrap_err();
        assert!(
            error.starts_with("file: `/proc/self`") && error.contains("is inside `/proc`"),
            "{error}"
        );
    }
}
