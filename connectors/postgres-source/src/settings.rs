//! The settings of `PostgresSource` ([`config_def`]), named as Confluent's JDBC source
//! connector names them, and their parsed form ([`Settings`]).

use std::time::Duration;

use wasm_connect_postgres::{ConnectionSettings, connection};
use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error};

pub const TABLE_INCLUDE_LIST: &str = "table.include.list";
pub const TABLE_EXCLUDE_LIST: &str = "table.exclude.list";
pub const SCHEMA_PATTERN: &str = "schema.pattern";
pub const MODE: &str = "mode";
pub const INCREMENTING_COLUMN: &str = "incrementing.column.name";
pub const TIMESTAMP_COLUMN: &str = "timestamp.column.name";
pub const QUERY: &str = "query";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const TABLE_POLL_INTERVAL_MS: &str = "table.poll.interval.ms";
/// Set by the connector in each task configuration: the task's tables.
pub const TASK_TABLES: &str = "tables";
/// Set by the connector in each task configuration: every table it split, so the task that
/// watches can tell when the set changed.
pub const TASK_ALL_TABLES: &str = "tables.all";
/// Set on the one task that watches the database for tables that appear or disappear.
pub const TASK_WATCH: &str = "tables.watch";

const GROUP_MODE: &str = "Mode";
const GROUP_CONNECTOR: &str = "Connector";

/// How rows are picked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole table, every poll interval.
    Bulk,
    /// Rows with a larger `incrementing.column.name` than the last seen.
    Incrementing,
    /// Rows with a later `timestamp.column.name` than the last seen.
    Timestamp,
    /// Rows with a later timestamp, or the same and a larger incrementing id: new and updated
    /// rows, none skipped.
    TimestampIncrementing,
}

impl Mode {
    pub fn uses_incrementing(self) -> bool {
        matches!(self, Self::Incrementing | Self::TimestampIncrementing)
    }

    pub fn uses_timestamp(self) -> bool {
        matches!(self, Self::Timestamp | Self::TimestampIncrementing)
    }
}

/// The settings.
pub fn config_def() -> ConfigDef {
    connection::define(ConfigDef::new())
        .define(
            ConfigKey::new(TABLE_INCLUDE_LIST, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .group("Database", 5)
                .documentation(
                    "Tables to copy (`table` or `schema.table`); empty = every table of \
                     schema.pattern not excluded. Tables are split over tasks.max tasks.",
                ),
        )
        .define(
            ConfigKey::new(TABLE_EXCLUDE_LIST, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .group("Database", 6)
                .documentation("Tables not to copy (`table` or `schema.table`)."),
        )
        .define(
            ConfigKey::new(SCHEMA_PATTERN, ConfigType::String)
                .default_value("public")
                .importance(Importance::Medium)
                .group("Database", 7)
                .documentation("The schema whose tables are copied."),
        )
        .define(
            ConfigKey::new(MODE, ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::one_of([
                    "bulk",
                    "incrementing",
                    "timestamp",
                    "timestamp+incrementing",
                ]))
                .recommended_values([
                    "bulk",
                    "incrementing",
                    "timestamp",
                    "timestamp+incrementing",
                ])
                .group(GROUP_MODE, 1)
                .dependent(INCREMENTING_COLUMN)
                .dependent(TIMESTAMP_COLUMN)
                .documentation(
                    "How rows are picked up: `bulk` copies whole tables every poll; \
                     `incrementing` picks up new rows by a strictly increasing column; \
                     `timestamp` picks up new and updated rows by a timestamp column; \
                     `timestamp+incrementing` does both, without missing rows that share a \
                     timestamp.",
                ),
        )
        .define(
            ConfigKey::new(INCREMENTING_COLUMN, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .group(GROUP_MODE, 2)
                .documentation(
                    "The strictly increasing integer column of incrementing modes (e.g. a \
                     serial primary key).",
                ),
        )
        .define(
            ConfigKey::new(TIMESTAMP_COLUMN, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .group(GROUP_MODE, 3)
                .documentation(
                    "The timestamp column of timestamp modes, set on insert and on every \
                     update.",
                ),
        )
        .define(
            ConfigKey::new(QUERY, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .group(GROUP_MODE, 4)
                .documentation(
                    "A query to copy instead of tables (one task; the mode's conditions are \
                     added around it). Its records go to topic.prefix.",
                ),
        )
        .define(
            ConfigKey::new(TOPIC_PREFIX, ConfigType::String)
                .importance(Importance::High)
                .group(GROUP_CONNECTOR, 1)
                .documentation(
                    "Prefix of the topic names: a table's rows go to <prefix><table>; a query's \
                     to <prefix>.",
                ),
        )
        .define(
            ConfigKey::new(POLL_INTERVAL_MS, ConfigType::Int)
                .default_value(5_000)
                .validator(Validator::at_least(0.0))
                .group(GROUP_CONNECTOR, 2)
                .documentation(
                    "Milliseconds between polls of a table once it has no more new rows.",
                ),
        )
        .define(
            ConfigKey::new(BATCH_MAX_ROWS, ConfigType::Int)
                .default_value(100)
                .validator(Validator::at_least(1.0))
                .group(GROUP_CONNECTOR, 3)
                .documentation("The most rows one poll reads from one table."),
        )
        .define(
            ConfigKey::new(TABLE_POLL_INTERVAL_MS, ConfigType::Long)
                .default_value(60_000)
                .validator(Validator::at_least(1.0))
                .group(GROUP_CONNECTOR, 4)
                .documentation(
                    "Milliseconds between checks for tables that appeared or disappeared; a \
                     change reconfigures the tasks.",
                ),
        )
}

/// Parsed settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connection: ConnectionSettings,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub schema: String,
    pub mode: Mode,
    pub incrementing_column: Option<String>,
    pub timestamp_column: Option<String>,
    pub query: Option<String>,
    pub topic_prefix: String,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    pub table_poll_interval: Duration,
}

fn optional(config: &Config, key: &str) -> Option<String> {
    Some(config.get_str_or(key, "").trim().to_owned()).filter(|s| !s.is_empty())
}

fn list(config: &Config, key: &str) -> Result<Vec<String>, Error> {
    Ok(config
        .get_list_or(key, &[])
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        config_def().check(config)?;
        let mode = match config.get_str(MODE)? {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            other => {
                return Err(Error::invalid_config(format!(
                    "{MODE}=`{other}` is not bulk, incrementing, timestamp or \
                     timestamp+incrementing"
                )));
            }
        };
        let incrementing_column = optional(config, INCREMENTING_COLUMN);
        let timestamp_column = optional(config, TIMESTAMP_COLUMN);
        if mode.uses_incrementing() && incrementing_column.is_none() {
            return Err(Error::invalid_config(format!(
                "{MODE}={} needs {INCREMENTING_COLUMN}",
                config.get_str(MODE)?
            )));
        }
        if mode.uses_timestamp() && timestamp_column.is_none() {
            return Err(Error::invalid_config(format!(
                "{MODE}={} needs {TIMESTAMP_COLUMN}",
                config.get_str(MODE)?
            )));
        }
        let millis = |key: &str, default: i64| -> Result<Duration, Error> {
            Ok(Duration::from_millis(
                u64::try_from(config.get_long_or(key, default)?).unwrap_or(0),
            ))
        };
        Ok(Self {
            connection: ConnectionSettings::from_config(config)?,
            include: list(config, TABLE_INCLUDE_LIST)?,
            exclude: list(config, TABLE_EXCLUDE_LIST)?,
            schema: config
                .get_str_or(SCHEMA_PATTERN, "public")
                .trim()
                .to_owned(),
            mode,
            incrementing_column,
            timestamp_column,
            query: optional(config, QUERY),
            topic_prefix: config.get_str(TOPIC_PREFIX)?.to_owned(),
            poll_interval: millis(POLL_INTERVAL_MS, 5_000)?,
            batch_max_rows: usize::try_from(config.get_int_or(BATCH_MAX_ROWS, 100)?.max(1))
                .unwrap_or(100),
            table_poll_interval: millis(TABLE_POLL_INTERVAL_MS, 60_000)?
                .max(Duration::from_millis(1)),
        })
    }
}
