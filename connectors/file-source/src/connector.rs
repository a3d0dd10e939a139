//! The connector: settings exactly as Kafka's `FileStreamSourceConnector` (`file`, `topic`,
//! `batch.size`), and one task configuration, whatever `tasks.max` says.

use wasm_connect_sdk::config::{ConfigKey, ConfigType, ConfigValue, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error, PluginInfo, SourceConnector};

/// The `file` setting.
pub const FILE_CONFIG: &str = "file";
/// The `topic` setting.
pub const TOPIC_CONFIG: &str = "topic";
/// The `batch.size` setting.
pub const TASK_BATCH_SIZE_CONFIG: &str = "batch.size";
/// The default of `batch.size`, as in Kafka.
pub const DEFAULT_TASK_BATCH_SIZE: i32 = 2000;

const SINGLE_TOPIC_ERROR: &str =
    "'topic' in FileStreamSourceConnector configuration requires definition of a single topic";

/// The settings.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FILE_CONFIG, ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::NonEmptyString)
                .documentation(
                    "Source filename. Unlike Kafka's connector, required: a component has no \
                     standard input.",
                ),
        )
        .define(
            ConfigKey::new(TOPIC_CONFIG, ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::NonEmptyString)
                .documentation("The topic to publish data to"),
        )
        .define(
            ConfigKey::new(TASK_BATCH_SIZE_CONFIG, ConfigType::Int)
                .default_value(DEFAULT_TASK_BATCH_SIZE)
                .validator(Validator::at_least(1.0))
                .importance(Importance::Low)
                .documentation(
                    "The maximum number of records the source task can read from the file each \
                     time it is polled",
                ),
        )
}

/// Kafka's `FileStreamSourceConnector`.
#[derive(Debug)]
pub struct FileStreamSource {
    file: String,
    topic: String,
    batch_size: i32,
}

impl SourceConnector for FileStreamSource {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "FileStreamSource",
            "Streams the lines of a file to a topic, like Kafka's FileStreamSourceConnector.",
        )
        .alias("FileStreamSourceConnector")
        .alias("org.apache.kafka.connect.file.FileStreamSourceConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn validate(config: &Config) -> Vec<ConfigValue> {
        let mut values = config_def().validate(config);
        if config.get(TOPIC_CONFIG).is_some_and(|t| t.contains(','))
            && let Some(topic) = values.iter_mut().find(|v| v.name == TOPIC_CONFIG)
        {
            topic.errors.push(SINGLE_TOPIC_ERROR.to_owned());
        }
        values
    }

    fn start(config: Config) -> Result<Self, Error> {
        config_def().check(&config)?;
        let topic = config.get_str(TOPIC_CONFIG)?;
        if topic.contains(',') {
            return Err(Error::invalid_config(SINGLE_TOPIC_ERROR));
        }
        Ok(Self {
            file: config.get_str(FILE_CONFIG)?.to_owned(),
            topic: topic.to_owned(),
            batch_size: config.get_int_or(TASK_BATCH_SIZE_CONFIG, DEFAULT_TASK_BATCH_SIZE)?,
        })
    }

    /// One task, whatever `max_tasks` is: a file has one reader (as in Kafka).
    fn task_configs(&mut self, _max_tasks: u32) -> Result<Vec<Config>, Error> {
        Ok(vec![
            Config::new()
                .with(FILE_CONFIG, self.file.clone())
                .with(TOPIC_CONFIG, self.topic.clone())
                .with(TASK_BATCH_SIZE_CONFIG, self.batch_size.to_string()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn one_task_config_whatever_max_tasks_is() {
        let mut connector =
            FileStreamSource::start(config(&[("file", "/data/in.txt"), ("topic", "lines")]))
                .unwrap();
        let configs = connector.task_configs(5).unwrap();
        assert_eq!(
            configs,
            [config(&[
                ("file", "/data/in.txt"),
                ("topic", "lines"),
                ("batch.size", "2000")
            ])]
        );
    }

    #[test]
    fn several_topics_are_rejected_like_kafka() {
        let bad = config(&[("file", "a"), ("topic", "a,b")]);
        assert_eq!(
            FileStreamSource::start(bad.clone()).unwrap_err(),
            Error::invalid_config(SINGLE_TOPIC_ERROR)
        );
        let errors: Vec<String> = FileStreamSource::validate(&bad)
            .into_iter()
            .flat_map(|v| v.errors)
            .collect();
        assert_eq!(errors, [SINGLE_TOPIC_ERROR]);
    }

    #[test]
    fn missing_settings_and_bad_batch_size_are_invalid_config() {
        let err =
            FileStreamSource::start(config(&[("topic", "t"), ("batch.size", "x")])).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
        assert!(err.message().contains("\"file\""), "{err}");
        assert!(err.message().contains("batch.size"), "{err}");
    }

    #[test]
    fn describes_itself_with_kafka_names() {
        let info = FileStreamSource::describe();
        assert_eq!(info.class_name, "FileStreamSource");
        assert!(
            info.aliases
                .contains(&"org.apache.kafka.connect.file.FileStreamSourceConnector".to_owned())
        );
    }
}
