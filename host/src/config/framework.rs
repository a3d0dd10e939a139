//! The framework's own connector settings, defined once (Kafka Connect's `ConnectorConfig`,
//! `SinkConnectorConfig` and `SourceConnectorConfig` keys, plus this host's
//! `connector.plugin.version`, `sandbox.*` and `restart.*`): their types, defaults,
//! validators, groups and documentation, and their checks with Kafka's `ConfigDef`
//! messages. [`super::ConnectorConfig::parse`] reads the same keys with the same defaults
//! (a test holds the two together), and the REST API renders this table for
//! `/connector-plugins/{plugin}/config` and `/config/validate`.

use super::{
    WorkerConfig,
    connector::{
        DEFAULT_DLQ_REPLICATION_FACTOR, DEFAULT_ERRORS_RETRY_DELAY_MAX_MS,
        DEFAULT_ERRORS_RETRY_TIMEOUT_MS, DEFAULT_RESTART_BACKOFF_INITIAL_MS,
        DEFAULT_RESTART_BACKOFF_MAX_MS, DEFAULT_TASKS_MAX,
    },
    def::{ConfigKey, ConfigType, Importance, Validator, Width},
};

/// Which framework settings apply: a source's or a sink's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    Source,
    Sink,
}

/// What `PASSWORD` values are shown as.
pub const HIDDEN: &str = "[hidden]";

/// The default of a definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// `NO_DEFAULT_VALUE`: the setting is required.
    Required,
    /// A `null` default: optional, unset.
    Null,
    Value(String),
}

/// One definition as the REST API renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub ty: ConfigType,
    pub default: Default,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub validator: Option<Validator>,
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

    /// Checks a value with Kafka's `ConfigDef` messages: required, type, validator.
    pub fn check(&self, value: Option<&str>) -> Vec<String> {
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
    pub fn shown(&self, value: Option<&str>) -> Option<String> {
        let value = match (value, &self.default) {
            (Some(value), _) => Some(value.to_owned()),
            (None, Default::Value(default)) => Some(default.clone()),
            _ => None,
        };
        match value {
            Some(_) if self.ty == ConfigType::Password => Some(HIDDEN.to_owned()),
            other => other,
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
pub fn framework_keys(kind: ConnectorKind, worker: &WorkerConfig) -> Vec<Definition> {
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
        value(&DEFAULT_TASKS_MAX.to_string()),
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
    if kind == ConnectorKind::Sink {
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
    defs.define("errors.retry.timeout", Long, value(&DEFAULT_ERRORS_RETRY_TIMEOUT_MS.to_string()), None, Medium,
        "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
        ERRORS, 1, Width::Medium, "Retry Timeout for Errors");
    defs.define("errors.retry.delay.max.ms", Long, value(&DEFAULT_ERRORS_RETRY_DELAY_MAX_MS.to_string()), None, Medium,
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
        ConnectorKind::Sink => {
            defs.define("errors.deadletterqueue.topic.name", String, value(""), None, Medium,
                "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ.",
                ERRORS, 6, Width::Medium, "Dead Letter Queue Topic Name");
            defs.define("errors.deadletterqueue.topic.replication.factor", Short, value(&DEFAULT_DLQ_REPLICATION_FACTOR.to_string()), None, Medium,
                "Replication factor used to create the dead letter queue topic when it doesn't already exist.",
                ERRORS, 7, Width::Medium, "Dead Letter Queue Topic Replication Factor");
            defs.define("errors.deadletterqueue.context.headers.enable", Boolean, value("false"), None, Medium,
                "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys, all error context header keys will start with __connect.errors.",
                ERRORS, 8, Width::Medium, "Enable Error Context Headers");
        }
        ConnectorKind::Source => {
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
        value(&DEFAULT_RESTART_BACKOFF_INITIAL_MS.to_string()),
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
        value(&DEFAULT_RESTART_BACKOFF_MAX_MS.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConnectorConfig, Settings};

    /// What parsing makes of a connector's framework settings (everything but the raw maps).
    fn parsed(settings: &Settings, worker: &WorkerConfig) -> String {
        let mut config = ConnectorConfig::parse(settings.clone(), worker).unwrap();
        config.settings.clear();
        config.raw.clear();
        format!("{config:?}")
    }

    /// The table and the parser cannot drift apart: writing out any default of the table
    /// parses exactly as leaving the setting out, and every value the table's checks accept
    /// for a setting with a validator, parsing accepts too.
    #[test]
    fn every_default_in_the_table_is_what_parsing_assumes() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        for kind in [ConnectorKind::Source, ConnectorKind::Sink] {
            let mut minimal: Settings = [("name", "c"), ("connector.class", "X")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if kind == ConnectorKind::Sink {
                minimal.insert("topics".into(), "t".into());
            }
            let bare = parsed(&minimal, &worker);
            for def in framework_keys(kind, &worker) {
                let Default::Value(default) = &def.default else {
                    continue;
                };
                if minimal.contains_key(&def.name) {
                    continue;
                }
                assert!(
                    def.check(Some(default)).is_empty(),
                    "the table's own default of {} fails its check",
                    def.name
                );
                let mut explicit = minimal.clone();
                explicit.insert(def.name.clone(), default.clone());
                assert_eq!(
                    parsed(&explicit, &worker),
                    bare,
                    "{} = {default} (the table's default) parses differently from leaving it out",
                    def.name
                );
            }
        }
    }
}
