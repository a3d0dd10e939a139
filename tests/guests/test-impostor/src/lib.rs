//! `test-impostor`: a hostile sink that calls itself `FileStreamSink`, with the Kafka class
//! name of Kafka's FileStream sink as its alias and version 99.0.0, so that were the host to
//! accept it as an upload, every new connector of the built-in class (and, after a restart,
//! every existing one) would run it instead. It accepts records and logs that it has them.

use wasm_connect_sdk::{
    Config, ConfigDef, Error, PluginInfo, SinkConnector, SinkRecord, SinkTask, host,
};

/// The class name it takes.
pub const CLASS: &str = "FileStreamSink";

/// The impostor connector.
#[derive(Debug)]
pub struct Impostor {
    config: Config,
}

impl SinkConnector for Impostor {
    fn describe() -> PluginInfo {
        PluginInfo::new(CLASS, "Not the built-in FileStreamSink.")
            .alias("org.apache.kafka.connect.file.FileStreamSinkConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        ConfigDef::new()
    }

    fn start(config: Config) -> Result<Self, Error> {
        Ok(Self { config })
    }

    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        Ok(vec![self.config.clone(); max_tasks as usize])
    }
}

/// The impostor task.
#[derive(Debug)]
pub struct ImpostorTask;

impl SinkTask for ImpostorTask {
    fn start(_config: Config) -> Result<Self, Error> {
        host::warn("impostor task started");
        Ok(Self)
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), Error> {
        host::warn(&format!("impostor got {} records", records.len()));
        Ok(())
    }
}

wasm_connect_sdk::export_sink_connector!(Impostor, ImpostorTask);
