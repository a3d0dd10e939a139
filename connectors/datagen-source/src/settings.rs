//! The settings of `datagen-source` ([`config_def`]) and their parsed form ([`Settings`]).

use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error};

/// The `topic` setting.
pub const TOPIC: &str = "topic";
/// The `count` setting: records in total across all tasks, -1 for no end.
pub const COUNT: &str = "count";
/// The `rate` setting: records per second per task, -1 for as fast as possible.
pub const RATE: &str = "rate";
/// The `batch.size` setting.
pub const BATCH_SIZE: &str = "batch.size";
/// The `value.size` setting.
pub const VALUE_SIZE: &str = "value.size";
/// The `value.shape` setting.
pub const VALUE_SHAPE: &str = "value.shape";
/// The `key.shape` setting.
pub const KEY_SHAPE: &str = "key.shape";
/// The `struct.fields` setting.
pub const STRUCT_FIELDS: &str = "struct.fields";
/// Set by the connector in each task configuration: the task's number, from 0.
pub const TASK_ID: &str = "task.id";

/// The settings.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(TOPIC, ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::NonEmptyString)
                .documentation("The topic to write to."),
        )
        .define(
            ConfigKey::new(COUNT, ConfigType::Long)
                .default_value(-1)
                .validator(Validator::at_least(-1.0))
                .documentation(
                    "How many records to generate in total, split evenly between the tasks; -1 \
                     for no end.",
                ),
        )
        .define(
            ConfigKey::new(RATE, ConfigType::Double)
                .default_value(-1)
                .documentation(
                    "Records per second per task; -1 (or any value <= 0) for as fast as possible.",
                ),
        )
        .define(
            ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                .default_value(1000)
                .validator(Validator::at_least(1.0))
                .documentation("The most records one poll returns."),
        )
        .define(
            ConfigKey::new(VALUE_SIZE, ConfigType::Int)
                .default_value(100)
                .validator(Validator::at_least(0.0))
                .documentation(
                    "Bytes per value: the length of a bytes or string value, or the total \
                     length of a struct's string fields.",
                ),
        )
        .define(
            ConfigKey::new(VALUE_SHAPE, ConfigType::String)
                .default_value("bytes")
                .validator(Validator::one_of(["bytes", "string", "struct"]))
                .documentation(
                    "`bytes` (BYTES schema), `string` (STRING schema) or `struct` (a struct of \
                     `struct.fields` string fields).",
                ),
        )
        .define(
            ConfigKey::new(KEY_SHAPE, ConfigType::String)
                .default_value("none")
                .validator(Validator::one_of(["none", "sequence", "string"]))
                .documentation(
                    "`none` (null key), `sequence` (the INT64 sequence number) or `string` (the \
                     sequence number as a STRING).",
                ),
        )
        .define(
            ConfigKey::new(STRUCT_FIELDS, ConfigType::Int)
                .default_value(4)
                .validator(Validator::at_least(1.0))
                .documentation("How many string fields a `struct` value has."),
        )
}

/// The shape of generated values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueShape {
    /// BYTES.
    Bytes,
    /// STRING.
    String,
    /// A struct of string fields.
    Struct,
}

/// The shape of generated keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// A null key.
    None,
    /// The INT64 sequence number.
    Sequence,
    /// The sequence number as a string.
    String,
}

/// Parsed settings of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where to write.
    pub topic: String,
    /// Records in total (for the connector) or for this task (for a task); none for no end.
    pub count: Option<u64>,
    /// Records per second; none for as fast as possible.
    pub rate: Option<f64>,
    /// The most records per poll.
    pub batch_size: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// The value shape.
    pub value_shape: ValueShape,
    /// The key shape.
    pub key_shape: KeyShape,
    /// String fields per struct.
    pub struct_fields: usize,
    /// The task number.
    pub task_id: i64,
}

fn non_negative(key: &str, value: i64) -> Result<usize, Error> {
    usize::try_from(value)
        .map_err(|_| Error::invalid_config(format!("setting `{key}` must not be negative")))
}

impl Settings {
    /// Parses and checks `config`.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        config_def().check(config)?;
        let count = config.get_long_or(COUNT, -1)?;
        let rate = config.get_double_or(RATE, -1.0)?;
        let value_shape = match config.get_str_or(VALUE_SHAPE, "bytes").trim() {
            s if s.eq_ignore_ascii_case("string") => ValueShape::String,
            s if s.eq_ignore_ascii_case("struct") => ValueShape::Struct,
            _ => ValueShape::Bytes,
        };
        let key_shape = match config.get_str_or(KEY_SHAPE, "none").trim() {
            s if s.eq_ignore_ascii_case("sequence") => KeyShape::Sequence,
            s if s.eq_ignore_ascii_case("string") => KeyShape::String,
            _ => KeyShape::None,
        };
        Ok(Self {
            topic: config.get_str(TOPIC)?.to_owned(),
            count: u64::try_from(count).ok(),
            rate: (rate > 0.0).then_some(rate),
            batch_size: non_negative(BATCH_SIZE, config.get_int_or(BATCH_SIZE, 1000)?.into())?
                .max(1),
            value_size: non_negative(VALUE_SIZE, config.get_int_or(VALUE_SIZE, 100)?.into())?,
            value_shape,
            key_shape,
            struct_fields: non_negative(
                STRUCT_FIELDS,
                config.get_int_or(STRUCT_FIELDS, 4)?.into(),
            )?
            .max(1),
            task_id: config.get_long_or(TASK_ID, 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let settings = Settings::from_config(&Config::from_pairs([("topic", "t")])).unwrap();
        assert_eq!(
            settings,
            Settings {
                topic: "t".into(),
                count: None,
                rate: None,
                batch_size: 1000,
                value_size: 100,
                value_shape: ValueShape::Bytes,
                key_shape: KeyShape::None,
                struct_fields: 4,
                task_id: 0,
            }
        );
    }

    #[test]
    fn bad_shapes_and_numbers_are_invalid_config() {
        for (key, value) in [
            ("value.shape", "json"),
            ("key.shape", "uuid"),
            ("count", "many"),
            ("batch.size", "0"),
        ] {
            let err = Settings::from_config(&Config::from_pairs([("topic", "t"), (key, value)]))
                .unwrap_err();
            assert!(matches!(err, Error::InvalidConfig(_)), "{key}: {err:?}");
        }
    }
}
