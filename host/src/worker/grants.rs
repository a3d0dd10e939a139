//! Which directories a task's sandbox may open. Deny by default: only directories the
//! connector's configuration grants (`sandbox.fs.read`, `sandbox.fs.write`, comma-separated)
//! and, for the built-in file connectors, the directory of their `file` (read-only for the
//! source, read-write for the sink).

use std::path::{Path, PathBuf};

use crate::{
    config::SettingsExt,
    runtime::{ConfigMap, PluginKind, Preopen},
};

/// The preopened directories for a task, and the task config with `file` made absolute for
/// the built-in file connectors (the guest sees host paths unchanged).
pub fn preopens_for(
    settings: &crate::config::Settings,
    task_config: &mut ConfigMap,
    kind: PluginKind,
    builtin_file_connector: bool,
) -> Vec<Preopen> {
    let mut preopens = Vec::new();
    let mut grant = |path: &Path, writable: bool| {
        let host_path = absolute(path);
        if let Some(existing) = preopens
            .iter_mut()
            .find(|p: &&mut Preopen| p.host_path == host_path)
        {
            existing.writable |= writable;
            return;
        }
        preopens.push(Preopen {
            guest_path: host_path.display().to_string(),
            host_path,
            writable,
        });
    };
    for dir in settings.list("sandbox.fs.read") {
        grant(Path::new(&dir), false);
    }
    for dir in settings.list("sandbox.fs.write") {
        grant(Path::new(&dir), true);
    }
    if builtin_file_connector && let Some(file) = task_config.get("file").cloned() {
        let file = absolute(Path::new(&file));
        if let Some(dir) = file.parent() {
            grant(dir, kind == PluginKind::Sink);
        }
        task_config.insert("file".into(), file.display().to_string());
    }
    preopens
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_connectors_get_their_directory_and_others_only_explicit_grants() {
        let mut config = ConfigMap::new();
        config.insert("file".into(), "/data/in/x.txt".into());
        let settings = crate::config::Settings::new();
        let preopens = preopens_for(&settings, &mut config.clone(), PluginKind::Source, true);
        assert_eq!(
            preopens,
            vec![Preopen {
                host_path: "/data/in".into(),
                guest_path: "/data/in".into(),
                writable: false
            }]
        );
        assert!(preopens_for(&settings, &mut config, PluginKind::Source, false).is_empty());
        let mut settings = crate::config::Settings::new();
        settings.insert("sandbox.fs.write".into(), "/w".into());
        let preopens = preopens_for(&settings, &mut ConfigMap::new(), PluginKind::Sink, false);
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
        );
        assert!(Path::new(config.get("file").unwrap()).is_absolute());
        assert!(preopens[0].writable);
    }
}
