//! Kafka Connect's `ConfigKeyInfo` and `ConfigInfos` bodies: the framework's own connector
//! settings (`ConnectorConfig`, `SinkConnectorConfig`, `SourceConnectorConfig`, plus this
//! host's `connector.plugin.version`, `sandbox.*` and `restart.*`), their validation with
//! Kafka's `ConfigDef` messages, and the merge with a connector's own definitions and
//! `validate` results.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{
    config::{
        ConfigError, ConnectorConfig, Settings, WorkerConfig,
        def::{ConfigKey, ConfigType, ConfigValue, Importance, Validator, Width},
    },
    runtime::PluginKind,
    transforms::TransformChain,
};

/// What `PASSWORD` values are shown as.
pub const HIDDEN: &str = "[hidden]";

/// The default of a definition.
#[derive(Debug, Clone, PartialEq)]
enum Default {
    /// `NO_DEFAULT_VALUE`: the setting is required.
    Required,
    /// A `null` default: optional, unset.
    Null,
    Value(String),
}

/// One definition as the REST API renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    name: String,
    ty: ConfigType,
    default: Default,
    importance: Importance,
    documentation: String,
    group: Option<String>,
    order: i32,
    width: Width,
    display_name: String,
    dependents: Vec<String>,
    validator: Option<Validator>,
}

impl Definition {
    pub fn from_key(key: &ConfigKey) -> Self {
        Self {
            name: key.name.clone(),
            ty: key.ty,
            default: key
                .default
                .clone()
                .map_or(Default::Required, Default::Value),
            importance: key.importance,
            documentation: key.documentation.clone(),
            group: key.group.clone(),
            order: key.order_in_group,
            width: key.width,
            display_name: key.display_name.clone(),
            dependents: key.dependents.clone(),
            validator: key.validator.clone(),
        }
    }

    /// `ConfigKeyInfo`.
    pub fn to_json(&self) -> Value {
        let (required, default) = match &self.default {
            Default::Required => (true, Value::Null),
            Default::Null => (false, Value::Null),
            Default::Value(value) => (false, json!(value)),
        };
        json!({
            "name": self.name,
            "type": self.ty.name(),
            "required": required,
            "default_value": default,
            "importance": match self.importance {
                Importance::High => "HIGH",
                Importance::Medium => "MEDIUM",
                Importance::Low => "LOW",
            },
            "documentation": self.documentation,
            "group": self.group,
            "order": self.order,
            "width": match self.width {
                Width::None => "NONE",
                Width::Short => "SHORT",
                Width::Medium => "MEDIUM",
                Width::Long => "LONG",
            },
            "display_name": self.display_name,
            "dependents": self.dependents,
        })
    }

    /// Checks a value with Kafka's `ConfigDef` messages: required, type, validator.
    fn check(&self, value: Option<&str>) -> Vec<String> {
        let Some(value) = value else {
            return match self.default {
                Default::Required => vec![format!(
                    "Missing required configuration \"{}\" which has no default value.",
                    self.name
                )],
                _ => Vec::new(),
            };
        };
        let invalid = |why: &str| {
            format!(
                "Invalid value {value} for configuration {}: {why}",
                self.name
            )
        };
        let trimmed = value.trim();
        let number: Option<f64> = match self.ty {
            ConfigType::Int => match trimmed.parse::<i32>() {
                Ok(number) => Some(number.into()),
                Err(_) => return vec![invalid("Not a number of type INT")],
            },
            ConfigType::Short => match trimmed.parse::<i16>() {
                Ok(number) => Some(number.into()),
                Err(_) => return vec![invalid("Not a number of type SHORT")],
            },
            ConfigType::Long => match trimmed.parse::<i64>() {
                Ok(number) => Some(number as f64),
                Err(_) => return vec![invalid("Not a number of type LONG")],
            },
            ConfigType::Double => match trimmed.parse::<f64>() {
                Ok(number) => Some(number),
                Err(_) => return vec![invalid("Not a number of type DOUBLE")],
            },
            ConfigType::Boolean => {
                if !trimmed.eq_ignore_ascii_case("true") && !trimmed.eq_ignore_ascii_case("false") {
                    return vec![invalid("Expected value to be either true or false")];
                }
                None
            }
            _ => None,
        };
        match &self.validator {
            Some(Validator::Range { min, max }) => {
                if let Some(number) = number {
                    if let Some(min) = min
                        && number < *min
                    {
                        return vec![invalid(&format!("Value must be at least {min}"))];
                    }
                    if let Some(max) = max
                        && number > *max
                    {
                        return vec![invalid(&format!("Value must be no more than {max}"))];
                    }
                }
            }
            Some(Validator::ValidString(allowed))
                if !allowed
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(trimmed)) =>
            {
                return vec![invalid(&format!(
                    "String must be one of: {}",
                    allowed.join(", ")
                ))];
            }
            Some(Validator::NonEmptyString) => {
                if trimmed.is_empty() {
                    return vec![invalid("String must be non-empty")];
                }
                if value.chars().any(char::is_control) {
                    return vec![invalid("String may not contain control characters")];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The value shown for a setting: as given, else the default; passwords hidden.
    fn shown(&self, value: Option<&str>) -> Value {
        let value = match (value, &self.default) {
            (Some(value), _) => Some(value.to_owned()),
            (None, Default::Value(default)) => Some(default.clone()),
            _ => None,
        };
        match value {
            Some(_) if self.ty == ConfigType::Password => json!(HIDDEN),
            other => json!(other),
        }
    }
}

/// A builder for the framework's definitions, keeping Kafka Connect's orders.
struct Defs(Vec<Definition>);

impl Defs {
    #[allow(clippy::too_many_arguments)]
    fn define(
        &mut self,
        name: &str,
        ty: ConfigType,
        default: Default,
        validator: Option<Validator>,
        importance: Importance,
        documentation: &str,
        group: &str,
        order: i32,
        width: Width,
        display_name: &str,
    ) {
        self.0.push(Definition {
            name: name.to_owned(),
            ty,
            default,
            importance,
            documentation: documentation.to_owned(),
            group: Some(group.to_owned()),
            order,
            width,
            display_name: display_name.to_owned(),
            dependents: Vec::new(),
            validator,
        });
    }
}

fn value(text: &str) -> Default {
    Default::Value(text.to_owned())
}

fn one_of(values: &[&str]) -> Option<Validator> {
    Some(Validator::ValidString(
        values.iter().map(|value| (*value).to_owned()).collect(),
    ))
}

fn at_least(min: f64) -> Option<Validator> {
    Some(Validator::Range {
        min: Some(min),
        max: None,
    })
}

/// The framework's definitions for a source or sink connector, in Kafka Connect's order, then
/// this host's own.
pub fn framework_definitions(kind: PluginKind, worker: &WorkerConfig) -> Vec<Definition> {
    use ConfigType::*;
    use Importance::*;
    const COMMON: &str = "Common";
    const ERRORS: &str = "Error Handling";
    let mut defs = Defs(Vec::new());
    defs.define(
        "name",
        String,
        Default::Required,
        Some(Validator::NonEmptyString),
        High,
        "Globally unique name to use for this connector.",
        COMMON,
        1,
        Width::Medium,
        "Connector name",
    );
    defs.define("connector.class", String, Default::Required, None, High,
        "Name or alias of the class for this connector. Must be a connector component installed on this worker. If the connector is org.apache.kafka.connect.file.FileStreamSinkConnector, you can either specify this full name, or use \"FileStreamSink\" or \"FileStreamSinkConnector\" to make the configuration a bit shorter",
        COMMON, 2, Width::Long, "Connector class");
    defs.define(
        "tasks.max",
        Int,
        value("1"),
        at_least(1.0),
        High,
        "Maximum number of tasks to use for this connector.",
        COMMON,
        3,
        Width::Short,
        "Tasks max",
    );
    defs.define("tasks.max.enforce", Boolean, value("true"), None, Low,
        "(Deprecated) Whether to enforce that the tasks.max property is respected by the connector. This host always enforces it.",
        COMMON, 4, Width::Short, "Enforce tasks max");
    defs.define("key.converter", Class, Default::Null, None, Low,
        "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the keys in messages written to or read from Kafka. Defaults to the worker's key.converter.",
        COMMON, 5, Width::Short, "Key converter class");
    defs.define("value.converter", Class, Default::Null, None, Low,
        "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the values in messages written to or read from Kafka. Defaults to the worker's value.converter.",
        COMMON, 6, Width::Short, "Value converter class");
    defs.define("header.converter", Class, Default::Null, None, Low,
        "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. Defaults to the worker's header.converter.",
        COMMON, 7, Width::Short, "Header converter class");
    defs.define(
        "transforms",
        List,
        value(""),
        None,
        Low,
        "Aliases for the transformations to be applied to records.",
        "Transforms",
        8,
        Width::Long,
        "Transforms",
    );
    defs.define(
        "predicates",
        List,
        value(""),
        None,
        Low,
        "Aliases for the predicates used by transformations.",
        "Predicates",
        9,
        Width::Long,
        "Predicates",
    );
    defs.define("config.action.reload", String, value("restart"), one_of(&["none", "restart"]), Low,
        "The action that Connect should take on the connector when changes in external configuration providers result in a change in the connector's configuration properties.",
        COMMON, 10, Width::Medium, "Reload Action");
    defs.define(
        "connector.plugin.version",
        String,
        Default::Null,
        None,
        Medium,
        "The version of the connector plugin to use; the newest installed version when unset.",
        COMMON,
        11,
        Width::Medium,
        "Connector plugin version",
    );
    if kind == PluginKind::Sink {
        defs.define(
            "topics",
            List,
            value(""),
            None,
            High,
            "List of topics to consume, separated by commas",
            COMMON,
            4,
            Width::Long,
            "Topics",
        );
        defs.define("topics.regex", String, value(""), None, High,
            "Regular expression giving topics to consume. Under the hood, the regex is compiled to a regular expression and the consumer subscribes to the topics matching it. Only one of topics or topics.regex should be specified.",
            COMMON, 4, Width::Long, "Topics regex");
    }
    defs.define("errors.retry.timeout", Long, value("0"), None, Medium,
        "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
        ERRORS, 1, Width::Medium, "Retry Timeout for Errors");
    defs.define("errors.retry.delay.max.ms", Long, value("60000"), None, Medium,
        "The maximum duration in milliseconds between consecutive retry attempts. Jitter will be added to the delay once this limit is reached to prevent thundering herd issues.",
        ERRORS, 2, Width::Medium, "Maximum Delay Between Retries for Errors");
    defs.define("errors.tolerance", String, value("none"), one_of(&["none", "all"]), Medium,
        "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.",
        ERRORS, 3, Width::Short, "Error Tolerance");
    defs.define("errors.log.enable", Boolean, value("false"), None, Medium,
        "If true, write each error and the details of the failed operation and problematic record to the Connect application log. This is 'false' by default, so that only errors that are not tolerated are reported.",
        ERRORS, 4, Width::Short, "Log Errors");
    defs.define("errors.log.include.messages", Boolean, value("false"), None, Medium,
        "Whether to include in the log the Connect record that resulted in a failure. For sink records, the topic, partition, offset, and timestamp will be logged. For source records, the key and value (and their schemas), all headers, and the timestamp, Kafka topic, Kafka partition, source partition, and source offset will be logged. This is 'false' by default, which will prevent record keys, values, and headers from being written to log files.",
        ERRORS, 5, Width::Short, "Log Error Details");
    match kind {
        // A transformation's own definitions are all there is (see `plugin_config`).
        PluginKind::Transform => {}
        PluginKind::Sink => {
            defs.define("errors.deadletterqueue.topic.name", String, value(""), None, Medium,
                "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ.",
                ERRORS, 6, Width::Medium, "Dead Letter Queue Topic Name");
            defs.define("errors.deadletterqueue.topic.replication.factor", Short, value("3"), None, Medium,
                "Replication factor used to create the dead letter queue topic when it doesn't already exist.",
                ERRORS, 7, Width::Medium, "Dead Letter Queue Topic Replication Factor");
            defs.define("errors.deadletterqueue.context.headers.enable", Boolean, value("false"), None, Medium,
                "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys, all error context header keys will start with __connect.errors.",
                ERRORS, 8, Width::Medium, "Enable Error Context Headers");
        }
        PluginKind::Source => {
            defs.define(
                "topic.creation.groups",
                List,
                value(""),
                None,
                Low,
                "Groups of configurations for topics created by source connectors",
                "Topic Creation",
                1,
                Width::Long,
                "Topic Creation Groups",
            );
            defs.define("exactly.once.support", String, value("requested"), one_of(&["requested", "required"]), Medium,
                "Permitted values are requested, required. If set to \"required\", forces a preflight check for the connector to ensure that it can provide exactly-once semantics with the given configuration.",
                "Exactly Once Support", 1, Width::Medium, "Exactly once support");
            defs.define("transaction.boundary", String, value("poll"), one_of(&["poll", "interval", "connector"]), Medium,
                "Permitted values are: poll, interval, connector. If set to 'poll', a new producer transaction will be started and committed for every batch of records that each task from this connector provides to Connect.",
                "Exactly Once Support", 2, Width::Medium, "Transaction Boundary");
            defs.define("transaction.boundary.interval.ms", Long, Default::Null, at_least(0.0), Low,
                "If 'transaction.boundary' is set to 'interval', determines the interval for producer transaction commits by connector tasks.",
                "Exactly Once Support", 3, Width::Short, "Transaction boundary interval");
            defs.define("offsets.storage.topic", String, Default::Null, None, Low,
                "The name of a separate offsets topic to use for this connector. Not used by a standalone worker, which keeps source offsets in offset.storage.file.filename.",
                "offsets.topic", 1, Width::Long, "Offsets topic");
        }
    }
    const SANDBOX: &str = "Sandbox";
    let limits = worker.sandbox;
    defs.define("sandbox.fuel.per.call", Long, value(&limits.fuel_per_call.unwrap_or(0).to_string()), at_least(0.0), Medium,
        "Fuel (WebAssembly instructions, roughly) each call into the connector may use; 0 runs unmetered. At most the worker's sandbox.max.fuel.per.call.",
        SANDBOX, 1, Width::Medium, "Fuel per call");
    defs.define("sandbox.timeout.ms", Long, value(&limits.timeout.as_millis().to_string()), at_least(1.0), Medium,
        "Wall-clock limit of each call into the connector. At most the worker's sandbox.max.timeout.ms.",
        SANDBOX, 2, Width::Medium, "Call timeout");
    defs.define("sandbox.memory.max.bytes", Long, value(&limits.memory_max_bytes.to_string()), at_least(1_048_576.0), Medium,
        "Memory cap of each connector and task instance. At most the worker's sandbox.max.memory.bytes.",
        SANDBOX, 3, Width::Medium, "Memory cap");
    defs.define("restart.policy", String, value("none"), one_of(&["none", "on-failure"]), Low,
        "'none' (Kafka Connect's behaviour) leaves failed tasks FAILED until restarted over REST; 'on-failure' restarts them after an exponential backoff.",
        SANDBOX, 4, Width::Short, "Restart policy");
    defs.define(
        "restart.backoff.initial.ms",
        Long,
        value("1000"),
        at_least(1.0),
        Low,
        "The first backoff of restart.policy=on-failure.",
        SANDBOX,
        5,
        Width::Short,
        "Restart backoff",
    );
    defs.define(
        "restart.backoff.max.ms",
        Long,
        value("60000"),
        at_least(1.0),
        Low,
        "The longest backoff of restart.policy=on-failure.",
        SANDBOX,
        6,
        Width::Short,
        "Maximum restart backoff",
    );
    defs.0
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's own definitions, then the
/// framework's that the plugin does not define itself.
pub fn plugin_config(own: &[ConfigKey], kind: PluginKind, worker: &WorkerConfig) -> Value {
    let mut keys: Vec<Value> = own
        .iter()
        .map(|key| Definition::from_key(key).to_json())
        .collect();
    if kind == PluginKind::Transform {
        // A transformation has no framework settings of its own (as Kafka Connect lists them).
        return Value::Array(keys);
    }
    for def in framework_definitions(kind, worker) {
        if !own.iter().any(|key| key.name == def.name) {
            keys.push(def.to_json());
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
        // the DLQ rules), on the key it names.
        let parsed = ConnectorConfig::parse(settings.clone(), worker)
            .and_then(|config| {
                if kind == PluginKind::Sink {
                    config.validate_sink()?;
                }
                Ok(())
            })
            .and_then(|()| {
                TransformChain::from_settings_with(settings, plugins)
                    .map(|_| ())
                    .map_err(|error| ConfigError::Other(error.to_string()))
            });
        if let Err(error) = parsed {
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
            "definition": def.to_json(),
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
        configs.push(json!({"definition": def.to_json(), "value": value}));
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
        let errors = |name: &str| {
            infos["configs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|config| config["definition"]["name"] == name)
                .unwrap()["value"]["errors"]
                .clone()
        };
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
