//! The traits a connector implements: [`SourceConnector`] with [`SourceTask`], or
//! [`SinkConnector`] with [`SinkTask`] (Kafka Connect's `Connector`, `SourceTask` and
//! `SinkTask`), plus [`PluginInfo`] and [`TaskOptions`].
//!
//! One component instance serves either the connector or one task, and the host calls it from
//! one thread, so implementations keep their state in `self` and need no locking. Connectors
//! and tasks are constructed by `start`.

use crate::Error;
use crate::config::{Config, ConfigDef, ConfigValue};
use crate::records::{
    RecordMetadata, SinkRecord, SourceRecord, TopicPartition, TopicPartitionOffset,
};

/// What the host lists in `/connector-plugins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The class name users put in `connector.class`, e.g. `FileStreamSource`.
    pub class_name: String,
    /// Further names that resolve to this plugin, e.g. the Java class name it replaces.
    pub aliases: Vec<String>,
    /// One line saying what the connector does.
    pub description: String,
}

impl PluginInfo {
    /// Plugin info without aliases.
    pub fn new(class_name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            class_name: class_name.into(),
            aliases: Vec::new(),
            description: description.into(),
        }
    }

    /// Adds an alias.
    #[must_use]
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }
}

/// How a source task wants to be driven, returned by [`SourceTask::options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskOptions {
    /// Whether the host should call [`SourceTask::commit_record`]. Costs a copy of every
    /// record, so leave it off unless the task acknowledges records upstream.
    pub wants_commit_records: bool,
}

/// A source connector: turns the user's configuration into task configurations. Kafka
/// Connect's `SourceConnector`.
pub trait SourceConnector: Sized + 'static {
    /// Names and describes the plugin. Called when the component is loaded.
    fn describe() -> PluginInfo;

    /// The connector's version, e.g. `env!("CARGO_PKG_VERSION").to_owned()`.
    fn version() -> String;

    /// The connector's own settings (the host adds the framework's, such as `tasks.max`).
    fn config_def() -> ConfigDef;

    /// Checks a configuration, one entry per setting. The default checks
    /// [`SourceConnector::config_def`]: required settings present, types parse, validators
    /// hold. Override to add cross-field rules. May run on an instance that is never started.
    fn validate(config: &Config) -> Vec<ConfigValue> {
        Self::config_def().validate(config)
    }

    /// Starts the connector with its full configuration. An error fails the connector.
    fn start(config: Config) -> Result<Self, Error>;

    /// Splits the work into at most `max_tasks` task configurations. Called after `start` and
    /// after each [`crate::host::request_task_reconfiguration`].
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error>;

    /// Stops the connector. The instance is dropped afterwards.
    fn stop(&mut self) {}
}

/// A sink connector: turns the user's configuration into task configurations. Kafka Connect's
/// `SinkConnector`. The host adds `topics`/`topics.regex` to every task configuration.
pub trait SinkConnector: Sized + 'static {
    /// Names and describes the plugin. Called when the component is loaded.
    fn describe() -> PluginInfo;

    /// The connector's version, e.g. `env!("CARGO_PKG_VERSION").to_owned()`.
    fn version() -> String;

    /// The connector's own settings (the host adds the framework's, such as `topics`).
    fn config_def() -> ConfigDef;

    /// Checks a configuration, one entry per setting. The default checks
    /// [`SinkConnector::config_def`]. Override to add cross-field rules.
    fn validate(config: &Config) -> Vec<ConfigValue> {
        Self::config_def().validate(config)
    }

    /// Starts the connector with its full configuration. An error fails the connector.
    fn start(config: Config) -> Result<Self, Error>;

    /// Splits the work into at most `max_tasks` task configurations.
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error>;

    /// Stops the connector. The instance is dropped afterwards.
    fn stop(&mut self) {}
}

/// A source task: reads from the external system. Kafka Connect's `SourceTask`.
pub trait SourceTask: Sized + 'static {
    /// Starts the task with the configuration its connector produced. An error fails the task.
    fn start(config: Config) -> Result<Self, Error>;

    /// How the host should drive the task; asked once, right after `start`.
    fn options(&self) -> TaskOptions {
        TaskOptions::default()
    }

    /// Returns the next records; an empty batch means "nothing now" and the host backs off
    /// briefly. Should not block for long. A retriable error is retried; others fail the task.
    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error>;

    /// Called after the host durably stored the offsets of acknowledged records. An error is
    /// logged only.
    fn commit(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// A polled record the log acknowledged (`metadata` says where it went) or that was dropped
    /// (`metadata` is none), in poll order. Called only if [`SourceTask::options`] asked for it.
    /// An error is logged only.
    fn commit_record(
        &mut self,
        record: SourceRecord,
        metadata: Option<RecordMetadata>,
    ) -> Result<(), Error> {
        let _ = (record, metadata);
        Ok(())
    }

    /// Stops the task. The instance is dropped afterwards.
    fn stop(&mut self) {}
}

/// A sink task: writes to the external system. Kafka Connect's `SinkTask`.
pub trait SinkTask: Sized + 'static {
    /// Starts the task with its configuration. An error fails the task.
    fn start(config: Config) -> Result<Self, Error>;

    /// Partitions newly assigned to this task, before records from them are put.
    fn open(&mut self, partitions: Vec<TopicPartition>) -> Result<(), Error> {
        let _ = partitions;
        Ok(())
    }

    /// Delivers records. A retriable error makes the host deliver the same batch again; any
    /// other error fails the task.
    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), Error>;

    /// Makes everything put so far durable. Called by the default [`SinkTask::pre_commit`].
    fn flush(&mut self, offsets: &[TopicPartitionOffset]) -> Result<(), Error> {
        let _ = offsets;
        Ok(())
    }

    /// Returns the offsets safe to commit: `offsets` are the next offsets to read for
    /// everything put so far (original topic/partition/offset). The default flushes, then
    /// returns `offsets`, as Kafka Connect does; an empty list commits nothing. An error is
    /// logged and the consumer rewinds to the last committed offsets.
    fn pre_commit(
        &mut self,
        offsets: Vec<TopicPartitionOffset>,
    ) -> Result<Vec<TopicPartitionOffset>, Error> {
        self.flush(&offsets)?;
        Ok(offsets)
    }

    /// Partitions taken away from this task, after a final `pre_commit`. An error is logged.
    fn close(&mut self, partitions: Vec<TopicPartition>) -> Result<(), Error> {
        let _ = partitions;
        Ok(())
    }

    /// Stops the task. The instance is dropped afterwards.
    fn stop(&mut self) {}
}
