//! The connector: Kafka's `FileStreamSinkConnector`. One setting, `file`; the framework's
//! `topics`/`topics.regex` pass through. Returns `max_tasks` copies of its configuration.

use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error, PluginInfo, SinkConnector};

/// The `file` setting.
pub const FILE_CONFIG: &str = "file";

/// The settings.
pub fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(FILE_CONFIG, ConfigType::String)
            .importance(Importance::High)
            .validator(Validator::NonEmptyString)
            .documentation(
                "Destination filename. Unlike Kafka's connector, required: a component has no \
                 standard output.",
            ),
    )
}

/// Kafka's `FileStreamSinkConnector`.
#[derive(Debug)]
pub struct FileStreamSink {
    config: Config,
}

impl SinkConnector for FileStreamSink {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "FileStreamSink",
            "Appends record values to a file, one per line, like Kafka's FileStreamSinkConnector.",
        )
        .alias("FileStreamSinkConnector")
        .alias("org.apache.kafka.connect.file.FileStreamSinkConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn start(config: Config) -> Result<Self, Error> {
        config_def().check(&config)?;
        Ok(Self { config })
    }

    /// `max_tasks` copies of the connector's configuration, as Kafka does. All tasks append to
    /// the same file.
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        Ok(vec![self.config.clone(); max_tasks as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_one_config_per_max_task() {
        let config = Config::from_pairs([("file", "/out.txt"), ("topics", "a,b")]);
        let mut connector = FileStreamSink::start(config.clone()).unwrap();
        assert_eq!(connector.task_configs(3).unwrap(), vec![config; 3]);
    }

    #[test]
    fn file_is_required() {
        let err = FileStreamSink::start(Config::from_pairs([("topics", "a")])).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
        let info = FileStreamSink::describe();
        assert_eq!(info.class_name, "FileStreamSink");
        assert_eq!(info.aliases.len(), 2);
    }
}
