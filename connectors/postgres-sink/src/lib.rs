//! `PostgresSink`: writes records to PostgreSQL tables, as Confluent's JDBC sink connector
//! does: `insert` or idempotent `upsert` on a primary key from the record key or value,
//! deletes on tombstones, tables created and evolved from the records' schemas. Each `put`
//! is one transaction, so the framework commits offsets only for rows the database
//! committed. Settings are in `settings.rs`, statements in `writer.rs`.

mod settings;
mod writer;

use wasm_connect_postgres::{Pg, connection};
use wasm_connect_sdk::config::ConfigValue;
use wasm_connect_sdk::{
    Config, ConfigDef, Error, PluginInfo, SinkConnector, SinkRecord, SinkTask, host,
};

pub use settings::{InsertMode, PkMode, Settings, config_def};
pub use writer::{DEFAULT_KEY_COLUMN, Writer};

/// The connector.
pub struct PostgresSink {
    config: Config,
}

impl SinkConnector for PostgresSink {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "PostgresSink",
            "Writes records to PostgreSQL tables: insert or upsert, deletes, auto-create \
             (Confluent JDBC sink settings).",
        )
        .alias("PostgresSinkConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    /// The settings' own checks, then a connection: a bad host or database shows on
    /// `connection.url`, bad credentials on `connection.password`.
    fn validate(config: &Config) -> Vec<ConfigValue> {
        let mut values = config_def().validate(config);
        if values.iter().any(|value| !value.errors.is_empty()) {
            return values;
        }
        match Settings::from_config(config) {
            Err(error) => connection::add_error(&mut values, settings::PK_MODE, error.to_string()),
            Ok(settings) => {
                connection::check_connection(&mut values, &settings.connection);
            }
        }
        values
    }

    fn start(config: Config) -> Result<Self, Error> {
        Settings::from_config(&config)?;
        Ok(Self { config })
    }

    /// `max_tasks` copies of the configuration: the framework splits the topic partitions.
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        Ok(vec![self.config.clone(); max_tasks.max(1) as usize])
    }
}

/// The task.
pub struct PostgresSinkTask {
    settings: Settings,
    pg: Option<Pg>,
    writer: Writer,
}

impl SinkTask for PostgresSinkTask {
    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        let pg = Pg::connect(&settings.connection).map_err(Error::from)?;
        Ok(Self {
            writer: Writer::new(settings.clone()),
            settings,
            pg: Some(pg),
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        let mut pg = match self.pg.take() {
            Some(pg) if !pg.is_closed() => pg,
            _ => {
                host::warn("reconnecting to the database");
                Pg::connect(&self.settings.connection).map_err(Error::from)?
            }
        };
        let result = self.writer.write(&mut pg, &records);
        self.pg = Some(pg);
        result
    }

    fn stop(&mut self) {
        self.pg = None;
    }
}

wasm_connect_sdk::export_sink_connector!(PostgresSink, PostgresSinkTask);
