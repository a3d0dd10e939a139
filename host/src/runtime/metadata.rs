//! What the host keeps of a guest's self-description and validation answers: identity
//! strings (class names, aliases, versions) are checked and refused when malformed, free
//! text (descriptions, documentation, config values and errors) is truncated to
//! `sandbox.string.max.bytes`, and lists are capped. These strings live as long as the plugin
//! and are echoed by every `GET /connector-plugins`, so a guest must not be able to make them
//! megabytes long, nor take another plugin's name with look-alike characters.

use crate::config::def::{ConfigKey, ConfigValue, Validator};

use super::{HostLimits, PluginInfo};

/// Longest class name or alias.
pub const MAX_CLASS_NAME_BYTES: usize = 255;
/// Most aliases one plugin may have.
pub const MAX_ALIASES: usize = 16;
/// Longest version.
pub const MAX_VERSION_BYTES: usize = 64;
/// Most settings a plugin's `config-def` may define.
pub const MAX_CONFIG_KEYS: usize = 1_000;
/// Longest setting name.
pub const MAX_CONFIG_NAME_BYTES: usize = 255;
/// Most entries of any list in a setting's definition or validation result (recommended
/// values, dependents, valid strings, errors).
pub const MAX_LIST_ENTRIES: usize = 1_000;
/// Most results one `validate` call may return.
pub const MAX_CONFIG_VALUES: usize = 10_000;
/// The largest task config `task-configs` may return, keys and values together: a task
/// config is stored and echoed by `GET /connectors/{name}/tasks` (and in distributed mode
/// must fit in one record of the config topic).
pub const MAX_TASK_CONFIG_BYTES: usize = 1 << 20;

/// Why a plugin's description was refused.
pub type Refusal = String;

/// Checks the identity strings of `info` and bounds its free text and lists.
pub fn bound_plugin_info(info: &mut PluginInfo, limits: &HostLimits) -> Result<(), Refusal> {
    check_class_name("class name", &info.class_name)?;
    if info.aliases.len() > MAX_ALIASES {
        return Err(format!(
            "it has {} aliases; at most {MAX_ALIASES} are allowed",
            info.aliases.len()
        ));
    }
    for alias in &info.aliases {
        check_class_name("alias", alias)?;
    }
    check_version(&info.version)?;
    crate::text::truncate(&mut info.description, limits.string_max_bytes);
    let keys = std::mem::take(&mut info.config_def);
    info.config_def = bound_config_keys(keys, limits)?;
    Ok(())
}

/// A class name or alias: 1 to 255 ASCII characters, dot-separated Java-like identifiers
/// (letters, digits, `_`, `$`, `-`; no segment starts with a digit or `-`). ASCII only, so no
/// plugin can pass for another with look-alike characters.
pub fn check_class_name(what: &str, name: &str) -> Result<(), Refusal> {
    let shown = || crate::text::bounded(name, 80);
    if name.is_empty() || name.len() > MAX_CLASS_NAME_BYTES {
        return Err(format!(
            "its {what} `{}` is {} bytes long; it must be 1 to {MAX_CLASS_NAME_BYTES}",
            shown(),
            name.len()
        ));
    }
    let valid_segment = |segment: &str| {
        let mut chars = segment.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'))
    };
    if !name.split('.').all(valid_segment) {
        return Err(format!(
            "its {what} `{}` is not a class name: use ASCII letters, digits, `_`, `$` and `-` \
             in dot-separated parts that each start with a letter, `_` or `$`",
            shown()
        ));
    }
    Ok(())
}

/// A version: 1 to 64 ASCII letters, digits, `.`, `-`, `_` and `+`, starting with a letter or
/// digit.
pub fn check_version(version: &str) -> Result<(), Refusal> {
    let valid = !version.is_empty()
        && version.len() <= MAX_VERSION_BYTES
        && version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "its version `{}` is not a version: use 1 to {MAX_VERSION_BYTES} ASCII letters, \
             digits, `.`, `-`, `_` and `+`, such as 1.2.0",
            crate::text::bounded(version, 80)
        ))
    }
}

fn check_setting_name(name: &str) -> Result<(), Refusal> {
    if name.is_empty() || name.len() > MAX_CONFIG_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(format!(
            "its config-def has a setting named `{}`: names must be 1 to \
             {MAX_CONFIG_NAME_BYTES} bytes without control characters",
            crate::text::bounded(name, 80).escape_debug()
        ));
    }
    Ok(())
}

fn bound_list(list: &mut Vec<String>, what: &str, max_bytes: usize) -> Result<(), Refusal> {
    if list.len() > MAX_LIST_ENTRIES {
        return Err(format!(
            "it returned {} {what}; at most {MAX_LIST_ENTRIES} are allowed",
            list.len()
        ));
    }
    for entry in list {
        crate::text::truncate(entry, max_bytes);
    }
    Ok(())
}

/// Bounds a `config-def`: at most [`MAX_CONFIG_KEYS`] settings with valid names; their text
/// truncated, their lists capped.
pub fn bound_config_keys(
    mut keys: Vec<ConfigKey>,
    limits: &HostLimits,
) -> Result<Vec<ConfigKey>, Refusal> {
    if keys.len() > MAX_CONFIG_KEYS {
        return Err(format!(
            "its config-def defines {} settings; at most {MAX_CONFIG_KEYS} are allowed",
            keys.len()
        ));
    }
    let max = limits.string_max_bytes;
    for key in &mut keys {
        check_setting_name(&key.name)?;
        crate::text::truncate(&mut key.documentation, max);
        crate::text::truncate(&mut key.display_name, max);
        if let Some(group) = &mut key.group {
            crate::text::truncate(group, max);
        }
        if let Some(default) = &mut key.default {
            crate::text::truncate(default, max);
        }
        bound_list(&mut key.recommended_values, "recommended values", max)?;
        bound_list(&mut key.dependents, "dependents", max)?;
        if let Some(Validator::ValidString(values)) = &mut key.validator {
            bound_list(values, "valid strings", max)?;
        }
    }
    Ok(keys)
}

/// Bounds what `validate` returned: at most [`MAX_CONFIG_VALUES`] results; their text
/// truncated, their lists capped.
pub fn bound_config_values(
    mut values: Vec<ConfigValue>,
    limits: &HostLimits,
) -> Result<Vec<ConfigValue>, Refusal> {
    if values.len() > MAX_CONFIG_VALUES {
        return Err(format!(
            "validate returned {} results; at most {MAX_CONFIG_VALUES} are allowed",
            values.len()
        ));
    }
    let max = limits.string_max_bytes;
    for value in &mut values {
        crate::text::truncate(&mut value.name, MAX_CONFIG_NAME_BYTES);
        if let Some(text) = &mut value.value {
            crate::text::truncate(text, max);
        }
        bound_list(&mut value.recommended_values, "recommended values", max)?;
        bound_list(&mut value.errors, "errors for one setting", max)?;
    }
    Ok(values)
}

/// Checks what `task-configs` returned: each task config at most [`MAX_TASK_CONFIG_BYTES`].
pub fn check_task_configs(configs: &[super::ConfigMap]) -> Result<(), Refusal> {
    for (task, config) in configs.iter().enumerate() {
        let bytes: usize = config.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_TASK_CONFIG_BYTES {
            return Err(format!(
                "task-configs returned a config of {bytes} bytes for task {task}; at most \
                 {MAX_TASK_CONFIG_BYTES} are allowed"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::PluginKind;

    fn info(class: &str, version: &str) -> PluginInfo {
        PluginInfo {
            class_name: class.into(),
            aliases: Vec::new(),
            description: String::new(),
            version: version.into(),
            kind: PluginKind::Source,
            config_def: Vec::new(),
            digest: String::new(),
            start_memory_bytes: 0,
        }
    }

    #[test]
    fn class_names_are_ascii_identifiers_of_bounded_length() {
        for good in [
            "FileStreamSink",
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "io.x.My_Connector$Inner",
            "my-connector",
        ] {
            check_class_name("class name", good).unwrap();
        }
        for bad in [
            "",
            "FileStreamS\u{0456}nk", // Cyrillic і: a look-alike of FileStreamSink
            "a..b",
            ".a",
            "1abc",
            "with space",
            "new\nline",
        ] {
            assert!(check_class_name("class name", bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(20 << 20);
        let error = check_class_name("class name", &long).unwrap_err();
        assert!(
            error.contains("is 20971520 bytes long; it must be 1 to 255"),
            "{error}"
        );
        // The refusal does not echo the whole name.
        assert!(error.len() < 300, "{}", error.len());
    }

    #[test]
    fn versions_are_short_and_plain() {
        for good in ["1.0.0", "2.0.0-SNAPSHOT", "1.2+build.7", "v3"] {
            check_version(good).unwrap();
        }
        for bad in ["", "-1", "1 0", &"9".repeat(65)] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn free_text_is_truncated_and_lists_are_capped() {
        let limits = HostLimits {
            string_max_bytes: 1024,
            ..HostLimits::default()
        };
        let mut plugin = info("Big", "1.0");
        plugin.description = "d".repeat(50 << 20);
        plugin.config_def = vec![ConfigKey {
            name: "k".into(),
            ty: crate::config::def::ConfigType::String,
            default: Some("v".repeat(5000)),
            importance: crate::config::def::Importance::High,
            documentation: "x".repeat(5000),
            group: None,
            order_in_group: 0,
            width: crate::config::def::Width::None,
            display_name: String::new(),
            dependents: Vec::new(),
            validator: None,
            recommended_values: vec!["r".repeat(2000)],
        }];
        bound_plugin_info(&mut plugin, &limits).unwrap();
        assert!(plugin.description.len() < 1100);
        assert!(plugin.config_def[0].documentation.len() < 1100);
        assert!(plugin.config_def[0].default.as_ref().unwrap().len() < 1100);
        assert!(plugin.config_def[0].recommended_values[0].len() < 1100);

        plugin.config_def[0].dependents = vec![String::new(); MAX_LIST_ENTRIES + 1];
        assert!(
            bound_plugin_info(&mut plugin, &limits)
                .unwrap_err()
                .contains("1001 dependents")
        );
        let mut many = info("Many", "1.0");
        many.aliases = vec!["A".into(); MAX_ALIASES + 1];
        assert!(bound_plugin_info(&mut many, &limits).is_err());
    }

    #[test]
    fn task_configs_over_a_mebibyte_are_refused() {
        let mut config = super::super::ConfigMap::new();
        config.insert("k".into(), "v".repeat(MAX_TASK_CONFIG_BYTES));
        assert!(check_task_configs(std::slice::from_ref(&config)).is_err());
        config.insert("k".into(), "v".into());
        check_task_configs(&[config]).unwrap();
    }
}
