//! The settings of `PostgresSink` ([`config_def`]), named as Confluent's JDBC sink connector
//! names them, and their parsed form ([`Settings`]).

use wasm_connect_postgres::{ConnectionSettings, connection};
use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error};

pub const INSERT_MODE: &str = "insert.mode";
pub const PK_MODE: &str = "pk.mode";
pub const PK_FIELDS: &str = "pk.fields";
pub const TABLE_NAME_FORMAT: &str = "table.name.format";
pub const AUTO_CREATE: &str = "auto.create";
pub const AUTO_EVOLVE: &str = "auto.evolve";
pub const DELETE_ENABLED: &str = "delete.enabled";
pub const BATCH_SIZE: &str = "batch.size";

const GROUP_WRITES: &str = "Writes";
const GROUP_DATA: &str = "Data Mapping";
const GROUP_DDL: &str = "DDL Support";

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertMode {
    /// `INSERT`: a key that exists fails the write.
    Insert,
    /// `INSERT ... ON CONFLICT (pk) DO UPDATE`: idempotent, so replays after a crash leave
    /// the table as if each record had been written once.
    Upsert,
}

/// Where the primary key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkMode {
    None,
    /// The record key: a primitive (one `pk.fields` name) or a struct (its fields, or those
    /// `pk.fields` lists).
    RecordKey,
    /// Fields of the record value (`pk.fields`).
    RecordValue,
}

/// The settings.
pub fn config_def() -> ConfigDef {
    connection::define(ConfigDef::new())
        .define(
            ConfigKey::new(INSERT_MODE, ConfigType::String)
                .default_value("insert")
                .validator(Validator::one_of(["insert", "upsert"]))
                .recommended_values(["insert", "upsert"])
                .importance(Importance::High)
                .group(GROUP_WRITES, 1)
                .documentation(
                    "`insert` (INSERT; an existing key fails the task) or `upsert` (INSERT ... \
                     ON CONFLICT DO UPDATE on the primary key; idempotent).",
                ),
        )
        .define(
            ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                .default_value(3_000)
                .validator(Validator::at_least(1.0))
                .importance(Importance::Medium)
                .group(GROUP_WRITES, 2)
                .documentation("The most rows one statement writes. Every put is one transaction."),
        )
        .define(
            ConfigKey::new(DELETE_ENABLED, ConfigType::Boolean)
                .default_value(false)
                .importance(Importance::Medium)
                .group(GROUP_WRITES, 3)
                .documentation(
                    "Whether a tombstone (null value) deletes the row with its key. Needs \
                     pk.mode=record_key.",
                ),
        )
        .define(
            ConfigKey::new(TABLE_NAME_FORMAT, ConfigType::String)
                .default_value("${topic}")
                .importance(Importance::Medium)
                .group(GROUP_DATA, 1)
                .documentation(
                    "The destination table; `${topic}` is replaced by the record's topic. \
                     `schema.table` names a schema.",
                ),
        )
        .define(
            ConfigKey::new(PK_MODE, ConfigType::String)
                .default_value("none")
                .validator(Validator::one_of(["none", "record_key", "record_value"]))
                .recommended_values(["none", "record_key", "record_value"])
                .importance(Importance::High)
                .group(GROUP_DATA, 2)
                .dependent(PK_FIELDS)
                .documentation(
                    "Where the primary key comes from: `none`, `record_key` (the key: a \
                     primitive named by pk.fields, or a struct) or `record_value` (fields of \
                     the value named by pk.fields).",
                ),
        )
        .define(
            ConfigKey::new(PK_FIELDS, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .group(GROUP_DATA, 3)
                .documentation(
                    "Primary key columns: for a primitive key its one column name (default \
                     `__connect_key`); for a struct key the fields to use (default all); for \
                     record_value the value's fields (required).",
                ),
        )
        .define(
            ConfigKey::new(AUTO_CREATE, ConfigType::Boolean)
                .default_value(false)
                .importance(Importance::Medium)
                .group(GROUP_DDL, 1)
                .documentation(
                    "Create a missing table from the record's schema (CREATE TABLE with the \
                     primary key of pk.mode).",
                ),
        )
        .define(
            ConfigKey::new(AUTO_EVOLVE, ConfigType::Boolean)
                .default_value(false)
                .importance(Importance::Medium)
                .group(GROUP_DDL, 2)
                .documentation(
                    "Add a column for a field the table lacks (ALTER TABLE ADD COLUMN, \
                     nullable). Without it such a record fails the task.",
                ),
        )
}

/// Parsed settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connection: ConnectionSettings,
    pub insert_mode: InsertMode,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    pub table_name_format: String,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub delete_enabled: bool,
    pub batch_size: usize,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        config_def().check(config)?;
        let insert_mode = match config.get_str_or(INSERT_MODE, "insert") {
            "upsert" => InsertMode::Upsert,
            _ => InsertMode::Insert,
        };
        let pk_mode = match config.get_str_or(PK_MODE, "none") {
            "record_key" => PkMode::RecordKey,
            "record_value" => PkMode::RecordValue,
            _ => PkMode::None,
        };
        let pk_fields: Vec<String> = config
            .get_list_or(PK_FIELDS, &[])
            .into_iter()
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        if pk_mode == PkMode::RecordValue && pk_fields.is_empty() {
            return Err(Error::invalid_config(format!(
                "{PK_MODE}=record_value needs {PK_FIELDS}: the value fields of the primary key"
            )));
        }
        if insert_mode == InsertMode::Upsert && pk_mode == PkMode::None {
            return Err(Error::invalid_config(format!(
                "{INSERT_MODE}=upsert needs a primary key: set {PK_MODE} to record_key or \
                 record_value"
            )));
        }
        let delete_enabled = config.get_bool_or(DELETE_ENABLED, false)?;
        if delete_enabled && pk_mode != PkMode::RecordKey {
            return Err(Error::invalid_config(format!(
                "{DELETE_ENABLED}=true needs {PK_MODE}=record_key (a tombstone has only its key)"
            )));
        }
        Ok(Self {
            connection: ConnectionSettings::from_config(config)?,
            insert_mode,
            pk_mode,
            pk_fields,
            table_name_format: config.get_str_or(TABLE_NAME_FORMAT, "${topic}").to_owned(),
            auto_create: config.get_bool_or(AUTO_CREATE, false)?,
            auto_evolve: config.get_bool_or(AUTO_EVOLVE, false)?,
            delete_enabled,
            batch_size: usize::try_from(config.get_int_or(BATCH_SIZE, 3_000)?.max(1))
                .unwrap_or(3_000),
        })
    }

    /// The table a record of `topic` goes to.
    pub fn table_for(&self, topic: &str) -> String {
        self.table_name_format.replace("${topic}", topic)
    }
}
