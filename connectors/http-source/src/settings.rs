//! The settings of `http-source` ([`config_def`]) and their parsed form ([`Settings`]).

use std::sync::Arc;
use std::time::Duration;

use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error};

pub const URLS: &str = "http.urls";
pub const TOPIC: &str = "topic";
pub const POLL_INTERVAL_MS: &str = "http.poll.interval.ms";
pub const RECORDS_FIELD: &str = "http.records.field";
pub const CURSOR_FIELD: &str = "http.cursor.field";
pub const CURSOR_PARAM: &str = "http.cursor.param";
pub const HEADERS: &str = "http.headers";
pub const TIMEOUT_MS: &str = "http.timeout.ms";
pub const BACKOFF_MAX_MS: &str = "http.backoff.max.ms";
/// Set by the connector in each task configuration: the task's share of `http.urls`.
pub const TASK_URLS: &str = "http.task.urls";

/// The settings.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(URLS, ConfigType::List)
                .importance(Importance::High)
                .documentation(
                    "Comma-separated endpoints to poll with GET, split round-robin over \
                     tasks.max tasks. Each must be on the connector's sandbox.http.allow list.",
                ),
        )
        .define(
            ConfigKey::new(TOPIC, ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::NonEmptyString)
                .documentation("The topic to write records to."),
        )
        .define(
            ConfigKey::new(POLL_INTERVAL_MS, ConfigType::Long)
                .default_value(5_000)
                .validator(Validator::at_least(0.0))
                .documentation(
                    "Milliseconds between polls of an endpoint once it has no new records. \
                     While pages keep coming (the cursor moves and records arrive), the next \
                     page is fetched at once.",
                ),
        )
        .define(
            ConfigKey::new(RECORDS_FIELD, ConfigType::String)
                .default_value("")
                .documentation(
                    "Top-level field of the JSON response holding the array of records; empty \
                     = the response itself is the array (or, if it is not an array, one record).",
                ),
        )
        .define(
            ConfigKey::new(CURSOR_FIELD, ConfigType::String)
                .default_value("")
                .documentation(
                    "Top-level field of the JSON response holding the cursor of the next page \
                     (a string or number); empty = no cursor, every poll reads the endpoint as \
                     it is. The cursor is the source offset: a restarted task resumes from it.",
                ),
        )
        .define(
            ConfigKey::new(CURSOR_PARAM, ConfigType::String)
                .default_value("cursor")
                .documentation("Query parameter the cursor is sent back in."),
        )
        .define(
            ConfigKey::new(HEADERS, ConfigType::String)
                .default_value("")
                .documentation("Extra request headers, `Name: value` pairs separated by `|`."),
        )
        .define(
            ConfigKey::new(TIMEOUT_MS, ConfigType::Long)
                .default_value(10_000)
                .validator(Validator::at_least(1.0))
                .documentation(
                    "Connect, first-byte and between-bytes timeout of each request, in \
                     milliseconds (the worker caps it with sandbox.http.timeout.ms).",
                ),
        )
        .define(
            ConfigKey::new(BACKOFF_MAX_MS, ConfigType::Long)
                .default_value(60_000)
                .validator(Validator::at_least(1.0))
                .documentation(
                    "Longest wait after 408, 429, 5xx or a connection error (the wait starts \
                     at 1 s and doubles; a Retry-After in seconds is honoured up to this).",
                ),
        )
}

/// Parsed settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub urls: Vec<String>,
    pub topic: Arc<str>,
    pub poll_interval: Duration,
    pub records_field: Option<String>,
    pub cursor_field: Option<String>,
    pub cursor_param: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub backoff_max: Duration,
}

fn millis(config: &Config, key: &str, default: i64, min: u64) -> Result<Duration, Error> {
    let value = config.get_long_or(key, default)?;
    u64::try_from(value)
        .ok()
        .filter(|&v| v >= min)
        .map(Duration::from_millis)
        .ok_or_else(|| Error::invalid_config(format!("{key} must be at least {min}")))
}

fn optional(config: &Config, key: &str) -> Option<String> {
    Some(config.get_str_or(key, "").trim().to_owned()).filter(|s| !s.is_empty())
}

impl Settings {
    /// The settings of the connector (`http.urls`) or of a task (its `http.task.urls`).
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let urls = if config.contains(TASK_URLS) {
            config.get_list(TASK_URLS)?
        } else {
            config.get_list(URLS)?
        };
        let urls: Vec<String> = urls.into_iter().filter(|u| !u.is_empty()).collect();
        if urls.is_empty() {
            return Err(Error::invalid_config(format!("{URLS} names no endpoint")));
        }
        for url in &urls {
            wasm_connect_http_client::Url::parse(url)
                .map_err(|e| Error::invalid_config(format!("{URLS}: {e}")))?;
        }
        Ok(Self {
            urls,
            topic: config.get_str(TOPIC)?.into(),
            poll_interval: millis(config, POLL_INTERVAL_MS, 5_000, 0)?,
            records_field: optional(config, RECORDS_FIELD),
            cursor_field: optional(config, CURSOR_FIELD),
            cursor_param: optional(config, CURSOR_PARAM).unwrap_or_else(|| "cursor".into()),
            headers: parse_headers(config.get_str_or(HEADERS, ""))?,
            timeout: millis(config, TIMEOUT_MS, 10_000, 1)?,
            backoff_max: millis(config, BACKOFF_MAX_MS, 60_000, 1)?,
        })
    }
}

/// `Name: value|Name2: value2` into pairs.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, Error> {
    text.split('|')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|header| {
            let (name, value) = header.split_once(':').ok_or_else(|| {
                Error::invalid_config(format!("{HEADERS}: `{header}` is not `Name: value`"))
            })?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}
