//! `PostgresSource`: copies PostgreSQL tables (or a query) to topics, as Confluent's JDBC
//! source connector does, in `bulk`, `incrementing`, `timestamp` or
//! `timestamp+incrementing` mode. The connector splits the tables over the tasks; each table
//! is a source partition with its own offset; one task watches the database and asks for a
//! reconfiguration when tables appear or disappear. Settings are in `settings.rs`, catalog
//! queries in `catalog.rs`, reading a table in `reader.rs`.

mod catalog;
mod reader;
mod settings;

use std::time::Instant;

use wasm_connect_postgres::{Pg, QualifiedName, connection};
use wasm_connect_sdk::config::ConfigValue;
use wasm_connect_sdk::{
    Config, ConfigDef, Error, PluginInfo, SourceConnector, SourceRecord, SourceTask, host,
};

pub use reader::{Position, Reader, Source};
pub use settings::{Mode, Settings, config_def};
use settings::{TABLE_INCLUDE_LIST, TASK_ALL_TABLES, TASK_TABLES, TASK_WATCH};

/// The connector.
pub struct PostgresSource {
    config: Config,
    settings: Settings,
}

impl SourceConnector for PostgresSource {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "PostgresSource",
            "Copies PostgreSQL tables or a query to topics (Confluent JDBC source settings).",
        )
        .alias("PostgresSourceConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    /// The settings' own checks, then a connection: a bad host or database shows on
    /// `connection.url`, bad credentials on `connection.password`, and tables of
    /// `table.include.list` that do not exist on it.
    fn validate(config: &Config) -> Vec<ConfigValue> {
        let mut values = config_def().validate(config);
        if values.iter().any(|value| !value.errors.is_empty()) {
            return values;
        }
        let settings = match Settings::from_config(config) {
            Ok(settings) => settings,
            Err(error) => {
                connection::add_error(&mut values, settings::MODE, error.to_string());
                return values;
            }
        };
        if let Some(pg) = connection::check_connection(&mut values, &settings.connection)
            && settings.query.is_none()
        {
            match catalog::missing_tables(&pg, &settings) {
                Ok(missing) if !missing.is_empty() => connection::add_error(
                    &mut values,
                    TABLE_INCLUDE_LIST,
                    format!(
                        "no such table in schema {}: {}",
                        settings.schema,
                        missing.join(", ")
                    ),
                ),
                Ok(_) => {}
                Err(error) => {
                    connection::add_error(&mut values, TABLE_INCLUDE_LIST, error.to_string())
                }
            }
        }
        values
    }

    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        Ok(Self { config, settings })
    }

    /// A query is one task. Tables are split round-robin over at most `max_tasks` tasks;
    /// with no table at all, one task only watches for tables to appear.
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        if self.settings.query.is_some() {
            return Ok(vec![self.config.clone()]);
        }
        let pg = Pg::connect(&self.settings.connection).map_err(Error::from)?;
        let tables = catalog::list_tables(&pg, &self.settings)?;
        let all = join(&tables);
        let tasks = (max_tasks.max(1) as usize).min(tables.len()).max(1);
        Ok((0..tasks)
            .map(|task| {
                let mine: Vec<QualifiedName> =
                    tables.iter().skip(task).step_by(tasks).cloned().collect();
                let mut config = self.config.clone();
                config.set(TASK_TABLES, join(&mine));
                config.set(TASK_ALL_TABLES, all.clone());
                config.set(TASK_WATCH, (task == 0).to_string());
                config
            })
            .collect())
    }
}

fn join(tables: &[QualifiedName]) -> String {
    tables
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The task.
pub struct PostgresSourceTask {
    settings: Settings,
    pg: Option<Pg>,
    readers: Vec<Reader>,
    /// For the watching task: the tables the connector split, and when to look again.
    watch: Option<(String, Instant)>,
}

impl SourceTask for PostgresSourceTask {
    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        let pg = Pg::connect(&settings.connection).map_err(Error::from)?;
        let sources: Vec<Source> = match &settings.query {
            Some(query) => vec![Source::Query(query.clone())],
            None => config
                .get_list_or(TASK_TABLES, &[])
                .iter()
                .filter(|name| !name.is_empty())
                .map(|name| Source::Table(QualifiedName::parse(name, &settings.schema)))
                .collect(),
        };
        let mut readers = Vec::with_capacity(sources.len());
        for source in sources {
            readers.push(Reader::open(&pg, &settings, source)?);
        }
        let watch = (settings.query.is_none() && config.get_str_or(TASK_WATCH, "false") == "true")
            .then(|| {
                (
                    config.get_str_or(TASK_ALL_TABLES, "").to_owned(),
                    Instant::now() + settings.table_poll_interval,
                )
            });
        Ok(Self {
            settings,
            pg: Some(pg),
            readers,
            watch,
        })
    }

    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
        let pg = match self.pg.take() {
            Some(pg) if !pg.is_closed() => pg,
            _ => {
                host::warn("reconnecting to the database");
                Pg::connect(&self.settings.connection).map_err(Error::from)?
            }
        };
        let result = self.poll_with(&pg);
        self.pg = Some(pg);
        result
    }

    fn stop(&mut self) {
        self.pg = None;
    }
}

impl PostgresSourceTask {
    fn poll_with(&mut self, pg: &Pg) -> Result<Vec<SourceRecord>, Error> {
        if let Some((all, next)) = &mut self.watch
            && Instant::now() >= *next
        {
            *next = Instant::now() + self.settings.table_poll_interval;
            let now = join(&catalog::list_tables(pg, &self.settings)?);
            if now != *all {
                host::info(&format!(
                    "the tables changed (were [{all}], now [{now}]); asking for a reconfiguration"
                ));
                *all = now;
                host::request_task_reconfiguration();
            }
        }
        let now = Instant::now();
        let mut records = Vec::new();
        for reader in &mut self.readers {
            if reader.next_poll > now {
                continue;
            }
            match reader.poll(
                pg,
                self.settings.batch_max_rows,
                self.settings.poll_interval,
            ) {
                Ok(mut batch) => records.append(&mut batch),
                // A table dropped under us: stop reading it and let the connector re-split.
                Err(error)
                    if error.to_string().contains("SQLSTATE 42P01")
                        && matches!(reader.source, Source::Table(_)) =>
                {
                    host::warn(&format!("{error}; asking for a reconfiguration"));
                    reader.next_poll = now + self.settings.table_poll_interval;
                    host::request_task_reconfiguration();
                }
                Err(error) => return Err(error),
            }
        }
        if records.is_empty() {
            // Not polled again before the next table (or the table watch) is due.
            let now = Instant::now();
            if let Some(wait) = self
                .readers
                .iter()
                .map(|r| r.next_poll)
                .chain(self.watch.as_ref().map(|(_, next)| *next))
                .map(|due| due.saturating_duration_since(now))
                .min()
                .filter(|wait| !wait.is_zero())
            {
                host::poll_again_after(wait)?;
            }
        }
        Ok(records)
    }
}

wasm_connect_sdk::export_source_connector!(PostgresSource, PostgresSourceTask);
