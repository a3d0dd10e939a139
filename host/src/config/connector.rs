//! Connector configurations: reading them from `.properties` or `.json` files (both of Kafka
//! Connect's JSON shapes) and the framework keys the host acts on (`name`, `connector.class`,
//! `tasks.max`, `topics`, converters, `errors.*`, `sandbox.*`).

use std::path::Path;

use super::{
    ConfigError, Settings, SettingsExt,
    worker::{ConverterSpec, WorkerConfig, converter_spec, sandbox_limits},
};
use crate::runtime::SandboxLimits;

/// The state a connector is created in (`initial_state`, KIP-980).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    #[default]
    Running,
    Paused,
    Stopped,
}

impl InitialState {
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(Self::Running),
            "PAUSED" => Ok(Self::Paused),
            "STOPPED" => Ok(Self::Stopped),
            _ => Err(ConfigError::Invalid {
                key: "initial_state".into(),
                value: value.into(),
                expected: "RUNNING, PAUSED or STOPPED",
            }),
        }
    }
}

/// A connector as submitted on the command line or over REST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSubmission {
    pub name: String,
    pub config: Settings,
    pub initial_state: InitialState,
}

impl ConnectorSubmission {
    /// Reads a connector file: Java properties, or JSON as a `POST /connectors` body
    /// (`{"name", "config", "initial_state"}`) or a flat `PUT /connectors/{name}/config` map.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let is_json = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        if !is_json {
            return Self::from_config(
                super::properties::read_properties(path)?,
                InitialState::Running,
            );
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| ConfigError::Parse {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        Self::from_json(&json).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    }

    /// Either JSON shape Kafka Connect accepts.
    pub fn from_json(json: &serde_json::Value) -> Result<Self, ConfigError> {
        let object = json
            .as_object()
            .ok_or_else(|| ConfigError::Other("a connector must be a JSON object".into()))?;
        if let Some(config) = object.get("config") {
            let mut settings = json_settings(config)?;
            let initial_state = match object.get("initial_state") {
                None | Some(serde_json::Value::Null) => InitialState::Running,
                Some(serde_json::Value::String(state)) => InitialState::parse(state)?,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        key: "initial_state".into(),
                        value: other.to_string(),
                        expected: "RUNNING, PAUSED or STOPPED",
                    });
                }
            };
            if let Some(name) = object.get("name").and_then(|name| name.as_str()) {
                let name = name.trim();
                match settings.get("name") {
                    Some(inner) if inner != name => {
                        return Err(ConfigError::Other(format!(
                            "Connector name configuration ({inner}) doesn't match connector name in the URL ({name})"
                        )));
                    }
                    _ => {
                        settings.insert("name".into(), name.to_owned());
                    }
                }
            }
            Self::from_config(settings, initial_state)
        } else {
            Self::from_config(json_settings(json)?, InitialState::Running)
        }
    }

    pub fn from_config(config: Settings, initial_state: InitialState) -> Result<Self, ConfigError> {
        let name = config.required("name")?.to_owned();
        if name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid {
                key: "name".into(),
                value: name,
                expected: "a name without control characters",
            });
        }
        Ok(Self {
            name,
            config,
            initial_state,
        })
    }
}

/// A flat JSON object of settings; numbers and booleans become strings as Jackson coerces them.
fn json_settings(json: &serde_json::Value) -> Result<Settings, ConfigError> {
    let object = json.as_object().ok_or_else(|| {
        ConfigError::Other("connector config must be a JSON object of strings".into())
    })?;
    object
        .iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                serde_json::Value::Bool(flag) => flag.to_string(),
                serde_json::Value::Null => {
                    return Err(ConfigError::Other(
                        "Null value can not be supplied as the configuration value.".into(),
                    ));
                }
                _ => {
                    return Err(ConfigError::Invalid {
                        key: key.clone(),
                        value: value.to_string(),
                        expected: "a string, number or boolean",
                    });
                }
            };
            Ok((key.clone(), value))
        })
        .collect()
}

/// How tolerant a connector is of bad records (`errors.tolerance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTolerance {
    None,
    All,
}

/// The framework keys of a connector, validated.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    /// `connector.plugin.version`, if pinned.
    pub plugin_version: Option<String>,
    pub tasks_max: u32,
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    pub key_converter: ConverterSpec,
    pub value_converter: ConverterSpec,
    pub header_converter: ConverterSpec,
    pub errors_tolerance: ErrorTolerance,
    pub dlq_topic: Option<String>,
    pub dlq_context_headers: bool,
    pub dlq_replication_factor: i16,
    pub sandbox: SandboxLimits,
    /// Everything as written, passed to the connector.
    pub settings: Settings,
}

impl ConnectorConfig {
    pub fn parse(settings: Settings, worker: &WorkerConfig) -> Result<Self, ConfigError> {
        let name = settings.required("name")?.to_owned();
        let class = settings.required("connector.class")?.to_owned();
        let tasks_max: u32 = settings.parse_or("tasks.max", 1, "an integer of at least 1")?;
        if tasks_max == 0 {
            return Err(ConfigError::Invalid {
                key: "tasks.max".into(),
                value: "0".into(),
                expected: "an integer of at least 1",
            });
        }
        let errors_tolerance = match settings.string("errors.tolerance").unwrap_or("none") {
            tolerance if tolerance.eq_ignore_ascii_case("none") => ErrorTolerance::None,
            tolerance if tolerance.eq_ignore_ascii_case("all") => ErrorTolerance::All,
            other => {
                return Err(ConfigError::Invalid {
                    key: "errors.tolerance".into(),
                    value: other.into(),
                    expected: "none or all",
                });
            }
        };
        let inherit = |key: &str, worker_spec: &ConverterSpec| {
            if settings.string(key).is_some() {
                converter_spec(&settings, key, &worker_spec.class)
            } else {
                worker_spec.clone()
            }
        };
        Ok(Self {
            plugin_version: settings
                .string("connector.plugin.version")
                .map(str::to_owned),
            topics: settings.list("topics"),
            topics_regex: settings.string("topics.regex").map(str::to_owned),
            key_converter: inherit("key.converter", &worker.key_converter),
            value_converter: inherit("value.converter", &worker.value_converter),
            header_converter: inherit("header.converter", &worker.header_converter),
            errors_tolerance,
            dlq_topic: settings
                .string("errors.deadletterqueue.topic.name")
                .map(str::to_owned),
            dlq_context_headers: settings
                .bool_or("errors.deadletterqueue.context.headers.enable", false)?,
            dlq_replication_factor: settings.parse_or(
                "errors.deadletterqueue.topic.replication.factor",
                3,
                "a replication factor (-1 for the broker default)",
            )?,
            sandbox: sandbox_limits(&settings, worker.sandbox)?,
            name,
            class,
            tasks_max,
            settings,
        })
    }

    /// Checks the sink-only rules: exactly one of `topics` and `topics.regex`, and a DLQ topic
    /// that is not one of the consumed topics.
    pub fn validate_sink(&self) -> Result<(), ConfigError> {
        match (self.topics.is_empty(), &self.topics_regex) {
            (false, Some(_)) => {
                return Err(ConfigError::Other(
                    "topics and topics.regex are mutually exclusive options, but both are set."
                        .into(),
                ));
            }
            (true, None) => {
                return Err(ConfigError::Other(
                    "Must configure one of topics or topics.regex".into(),
                ));
            }
            _ => {}
        }
        if let Some(dlq) = &self.dlq_topic
            && self.topics.contains(dlq)
        {
            return Err(ConfigError::Other(format!(
                "The DLQ topic '{dlq}' may not be included in the list of topics ('topics={}') consumed by the connector",
                self.topics.join(",")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_json_shapes_and_properties() {
        let dir = tempfile::tempdir().unwrap();
        let post = dir.path().join("a.json");
        std::fs::write(
            &post,
            r#"{"name":"a","config":{"connector.class":"FileStreamSource","tasks.max":2},"initial_state":"paused"}"#,
        )
        .unwrap();
        let submission = ConnectorSubmission::read(&post).unwrap();
        assert_eq!(submission.name, "a");
        assert_eq!(submission.config.get("tasks.max").unwrap(), "2");
        assert_eq!(submission.config.get("name").unwrap(), "a");
        assert_eq!(submission.initial_state, InitialState::Paused);

        let flat = dir.path().join("b.json");
        std::fs::write(&flat, r#"{"name":"b","connector.class":"X"}"#).unwrap();
        assert_eq!(ConnectorSubmission::read(&flat).unwrap().name, "b");

        let props = dir.path().join("c.properties");
        std::fs::write(&props, "name=c\nconnector.class=X\n").unwrap();
        assert_eq!(ConnectorSubmission::read(&props).unwrap().name, "c");
    }

    #[test]
    fn mismatched_names_and_nulls_are_rejected_with_kafka_messages() {
        let json = serde_json::json!({"name": "a", "config": {"name": "b"}});
        let error = ConnectorSubmission::from_json(&json)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "Connector name configuration (b) doesn't match connector name in the URL (a)"
        );
        let json = serde_json::json!({"name": "a", "config": {"x": null}});
        let error = ConnectorSubmission::from_json(&json)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "Null value can not be supplied as the configuration value."
        );
    }

    #[test]
    fn sink_topic_rules_follow_kafka_connect() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let parse = |pairs: &[(&str, &str)]| {
            let mut settings: Settings = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            settings.insert("name".into(), "s".into());
            settings.insert("connector.class".into(), "X".into());
            ConnectorConfig::parse(settings, &worker).unwrap()
        };
        assert!(parse(&[("topics", "a")]).validate_sink().is_ok());
        let both = parse(&[("topics", "a"), ("topics.regex", "a.*")])
            .validate_sink()
            .unwrap_err();
        assert!(both.to_string().contains("mutually exclusive"));
        assert!(
            parse(&[])
                .validate_sink()
                .unwrap_err()
                .to_string()
                .contains("Must configure one of")
        );
        let dlq = parse(&[
            ("topics", "a,b"),
            ("errors.deadletterqueue.topic.name", "b"),
        ]);
        assert!(
            dlq.validate_sink()
                .unwrap_err()
                .to_string()
                .contains("DLQ topic")
        );
    }
}
