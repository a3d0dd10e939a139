//! Kafka Connect's `ConfigKeyInfo` and `ConfigInfos` bodies: the framework's own connector
//! settings (the table in `config::framework`) and a plugin's, rendered as the REST API shows
//! them, and the merge of the framework's checks with a connector's own `validate` results.

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub use crate::config::framework::HIDDEN;
use crate::{
    config::{
        ConfigError, ConnectorConfig, Settings, WorkerConfig,
        def::{ConfigKey, ConfigType, ConfigValue, Importance, Validator, Width},
        framework::{ConnectorKind, Default, Definition, framework_keys},
    },
    runtime::PluginKind,
    transforms::TransformChain,
};

/// The framework settings of a plugin type: none for a transformation.
fn framework_definitions(kind: PluginKind, worker: &WorkerConfig) -> Vec<Definition> {
    match kind {
        PluginKind::Source => framework_keys(ConnectorKind::Source, worker),
        PluginKind::Sink => framework_keys(ConnectorKind::Sink, worker),
        PluginKind::Transform => Vec::new(),
    }
}

/// `ConfigKeyInfo` of a definition.
fn key_json(def: &Definition) -> Value {
    let (required, default) = match &def.default {
        Default::Required => (true, Value::Null),
        Default::Null => (false, Value::Null),
        Default::Value(value) => (false, json!(value)),
    };
    json!({
        "name": def.name,
        "type": def.ty.name(),
        "required": required,
        "default_value": default,
        "importance": match def.importance {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        },
        "documentation": def.documentation,
        "group": def.group,
        "order": def.order,
        "width": match def.width {
            Width::None => "NONE",
            Width::Short => "SHORT",
            Width::Medium => "MEDIUM",
            Width::Long => "LONG",
        },
        "display_name": def.display_name,
        "dependents": def.dependents,
    })
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's own definitions, then the
/// framework's that the plugin does not define itself.
pub fn plugin_config(own: &[ConfigKey], kind: PluginKind, worker: &WorkerConfig) -> Value {
    let mut keys: Vec<Value> = own
        .iter()
        .map(|key| key_json(&Definition::from_key(key)))
        .collect();
    if kind == PluginKind::Transform {
        // A transformation has no framework settings of its own (as Kafka Connect lists them).
        return Value::Array(keys);
    }
    for def in framework_definitions(kind, worker) {
        if !own.iter().any(|key| key.name == def.name) {
            keys.push(key_json(&def));
        }
    }
    Value::Array(keys)
}

/// `ConfigInfos` for `PUT /connector-plugins/{plugin}/config/validate`: `class` as submitted,
/// the framework's definitions checked against `settings`, then the plugin's with the values
/// its `validate` returned (values without a definition first). Built-in SMTs only.
#[cfg(test)]
pub fn config_infos(
    class: &str,
    kind: PluginKind,
    own: &[ConfigKey],
    connector_values: Vec<ConfigValue>,
    settings: &Settings,
    worker: &WorkerConfig,
) -> Value {
    config_infos_with(
        class,
        kind,
        own,
        connector_values,
        settings,
        worker,
        &crate::transforms::NoTransformPlugins,
    )
}

/// [`config_infos`] where `transforms.<alias>.type` may name a transform component found in
/// `plugins`.
pub fn config_infos_with(
    class: &str,
    kind: PluginKind,
    own: &[ConfigKey],
    connector_values: Vec<ConfigValue>,
    settings: &Settings,
    worker: &WorkerConfig,
    plugins: &dyn crate::transforms::TransformPlugins,
) -> Value {
    let framework = framework_definitions(kind, worker);
    let mut errors: BTreeMap<String, Vec<String>> = framework
        .iter()
        .map(|def| {
            (
                def.name.clone(),
                def.check(settings.get(&def.name).map(String::as_str)),
            )
        })
        .collect();
    if kind == PluginKind::Sink {
        let topics = settings.get("topics").is_some_and(|v| !v.trim().is_empty());
        let regex = settings
            .get("topics.regex")
            .is_some_and(|v| !v.trim().is_empty());
        let message = match (topics, regex) {
            (true, true) => {
                Some("topics and topics.regex are mutually exclusive options, but both are set.")
            }
            (false, false) => Some("Must configure one of topics or topics.regex"),
            _ => None,
        };
        if let Some(message) = message {
            for key in ["topics", "topics.regex"] {
                errors
                    .entry(key.to_owned())
                    .or_default()
                    .push(message.to_owned());
            }
        }
    }
    if errors.values().all(Vec::is_empty) {
        // Whatever else the host itself rejects when the connector is created (sandbox maxima,
        // the DLQ rules), on the key it names; a transformation's or predicate's own settings
        // on `transforms` or `predicates`, the list that brought them in.
        let parsed = ConnectorConfig::parse(settings.clone(), worker).and_then(|config| {
            if kind == PluginKind::Sink {
                config.validate_sink()?;
            }
            Ok(())
        });
        let chain = match parsed {
            Ok(()) => TransformChain::from_settings_with(settings, plugins).err(),
            Err(_) => None,
        };
        if let Some(error) = chain {
            let key = if error.key().starts_with("predicates") {
                "predicates"
            } else {
                "transforms"
            };
            errors
                .entry(key.to_owned())
                .or_default()
                .push(crate::error_chain(&error));
        } else if let Err(error) = parsed {
            let key = match &error {
                ConfigError::Missing(key) | ConfigError::Invalid { key, .. } => key.clone(),
                ConfigError::AboveMaximum { key, .. } => (*key).to_owned(),
                _ if settings.contains_key("errors.deadletterqueue.topic.name") => {
                    "errors.deadletterqueue.topic.name".to_owned()
                }
                _ => "connector.class".to_owned(),
            };
            errors
                .entry(key)
                .or_default()
                .push(crate::error_chain(&error));
        }
    }

    let mut by_name: BTreeMap<String, ConfigValue> = BTreeMap::new();
    let mut undefined = Vec::new();
    for value in connector_values {
        if own.iter().any(|key| key.name == value.name) {
            by_name.insert(value.name.clone(), value);
        } else if let Some(framework_errors) = errors.get_mut(&value.name) {
            framework_errors.extend(value.errors);
        } else {
            undefined.push(value);
        }
    }

    let mut configs = Vec::new();
    let mut error_count = 0;
    let mut groups: Vec<String> = Vec::new();
    for value in undefined {
        error_count += value.errors.len();
        configs.push(json!({"definition": null, "value": value_json(&value, false)}));
    }
    for def in &framework {
        let errors = errors.remove(&def.name).unwrap_or_default();
        error_count += errors.len();
        note_group(&mut groups, def.group.as_deref());
        let recommended: Vec<String> = match &def.validator {
            Some(Validator::ValidString(values)) => values.clone(),
            _ if def.ty == ConfigType::Boolean => vec!["true".into(), "false".into()],
            _ => Vec::new(),
        };
        configs.push(json!({
            "definition": key_json(def),
            "value": {
                "name": def.name,
                "value": def.shown(settings.get(&def.name).map(String::as_str)),
                "recommended_values": recommended,
                "errors": errors,
                "visible": true,
            },
        }));
    }
    for key in own {
        if framework.iter().any(|def| def.name == key.name) {
            continue;
        }
        let def = Definition::from_key(key);
        note_group(&mut groups, def.group.as_deref());
        let value = match by_name.remove(&key.name) {
            Some(value) => {
                error_count += value.errors.len();
                value_json(&value, key.ty == ConfigType::Password)
            }
            None => Value::Null,
        };
        configs.push(json!({"definition": key_json(&def), "value": value}));
    }
    json!({
        "name": class,
        "error_count": error_count,
        "groups": groups,
        "configs": configs,
    })
}

fn note_group(groups: &mut Vec<String>, group: Option<&str>) {
    if let Some(group) = group
        && !groups.iter().any(|known| known == group)
    {
        groups.push(group.to_owned());
    }
}

/// `ConfigValueInfo`.
fn value_json(value: &ConfigValue, password: bool) -> Value {
    let shown = match &value.value {
        Some(_) if password => json!(HIDDEN),
        other => json!(other),
    };
    json!({
        "name": value.name,
        "value": shown,
        "recommended_values": value.recommended_values,
        "errors": value.errors,
        "visible": value.visible,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> WorkerConfig {
        WorkerConfig::from_settings(Settings::new()).unwrap()
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn framework_values_get_kafkas_messages() {
        let infos = config_infos(
            "FileStreamSink",
            PluginKind::Sink,
            &[],
            Vec::new(),
            &settings(&[("connector.class", "FileStreamSink"), ("tasks.max", "0")]),
            &worker(),
        );
        let errors = |name: &str| errors_of(&infos, name);
        assert_eq!(
            errors("name"),
            json!(["Missing required configuration \"name\" which has no default value."])
        );
        assert_eq!(
            errors("tasks.max"),
            json!(["Invalid value 0 for configuration tasks.max: Value must be at least 1"])
        );
        assert_eq!(
            errors("topics"),
            json!(["Must configure one of topics or topics.regex"])
        );
        assert_eq!(infos["error_count"], 4);
        assert_eq!(
            infos["groups"],
            json!([
                "Common",
                "Transforms",
                "Predicates",
                "Error Handling",
                "Sandbox"
            ])
        );
    }

    /// The errors of framework key `name` in `infos`.
    fn errors_of(infos: &Value, name: &str) -> Value {
        infos["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|config| config["definition"]["name"] == name)
            .unwrap()["value"]["errors"]
            .clone()
    }

    #[test]
    fn a_transforms_own_settings_are_blamed_on_the_list_that_brought_it_in() {
        let base = [
            ("name", "x"),
            ("connector.class", "FileStreamSource"),
            ("topic", "t"),
        ];
        let transform = [
            ("transforms", "a"),
            (
                "transforms.a.type",
                "org.apache.kafka.connect.transforms.InsertField$Value",
            ),
        ];
        let infos = config_infos(
            "FileStreamSource",
            PluginKind::Source,
            &[],
            Vec::new(),
            &settings(&[&base[..], &transform[..]].concat()),
            &worker(),
        );
        let errors = errors_of(&infos, "transforms");
        assert!(
            errors[0]
                .as_str()
                .unwrap()
                .contains("transforms.a.topic.field"),
            "{errors}"
        );
        assert_eq!(errors_of(&infos, "connector.class"), json!([]));

        let predicate = [("predicates", "p"), ("predicates.p.type", "Nope")];
        let infos = config_infos(
            "FileStreamSource",
            PluginKind::Source,
            &[],
            Vec::new(),
            &settings(&[&base[..], &predicate[..]].concat()),
            &worker(),
        );
        assert!(
            errors_of(&infos, "predicates")[0]
                .as_str()
                .unwrap()
                .contains("predicate class"),
            "{infos}"
        );
        assert_eq!(errors_of(&infos, "transforms"), json!([]));
    }

    #[test]
    fn passwords_are_hidden() {
        let key = ConfigKey {
            name: "secret".into(),
            ty: ConfigType::Password,
            default: None,
            importance: Importance::High,
            documentation: String::new(),
            group: Some("Connection".into()),
            order_in_group: 1,
            width: Width::None,
            display_name: "Secret".into(),
            dependents: Vec::new(),
            validator: None,
            recommended_values: Vec::new(),
        };
        let value = ConfigValue {
            name: "secret".into(),
            value: Some("hunter2".into()),
            recommended_values: Vec::new(),
            errors: Vec::new(),
            visible: true,
        };
        let infos = config_infos(
            "X",
            PluginKind::Source,
            &[key],
            vec![value],
            &settings(&[
                ("name", "x"),
                ("connector.class", "X"),
                ("secret", "hunter2"),
            ]),
            &worker(),
        );
        let last = infos["configs"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["value"]["value"], HIDDEN);
        assert!(!infos.to_string().contains("hunter2"));
    }
}
