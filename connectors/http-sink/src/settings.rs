//! The settings of `http-sink` ([`config_def`]) and their parsed form ([`Settings`]).

use std::time::Duration;

use wasm_connect_sdk::config::{ConfigKey, ConfigType, Importance, Validator};
use wasm_connect_sdk::{Config, ConfigDef, Error};

pub const URL: &str = "http.url";
pub const BATCH_SIZE: &str = "http.batch.size";
pub const MAX_RETRIES: &str = "http.max.retries";
pub const RETRY_BACKOFF_MS: &str = "http.retry.backoff.ms";
pub const HEADERS: &str = "http.headers";
pub const TIMEOUT_MS: &str = "http.timeout.ms";

/// The settings.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(URL, ConfigType::String)
                .importance(Importance::High)
                .validator(Validator::NonEmptyString)
                .documentation(
                    "The endpoint records are POSTed to (http:// or https://). It must be on \
                     the connector's sandbox.http.allow list.",
                ),
        )
        .define(
            ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                .default_value(100)
                .validator(Validator::at_least(1.0))
                .documentation("The most records in one request (a JSON array)."),
        )
        .define(
            ConfigKey::new(MAX_RETRIES, ConfigType::Int)
                .default_value(5)
                .validator(Validator::at_least(0.0))
                .documentation(
                    "Retries of a request that failed with 408, 429, 5xx or a connection \
                     error, within one put; after that the put fails as retriable and the \
                     worker redelivers the batch.",
                ),
        )
        .define(
            ConfigKey::new(RETRY_BACKOFF_MS, ConfigType::Long)
                .default_value(500)
                .validator(Validator::at_least(0.0))
                .documentation(
                    "Milliseconds before the first retry; doubles with each retry (at most \
                     30 s). A Retry-After header in seconds is honoured up to 30 s.",
                ),
        )
        .define(
            ConfigKey::new(HEADERS, ConfigType::String)
                .default_value("")
                .documentation(
                    "Extra request headers, `Name: value` pairs separated by `|`, e.g. \
                     `Authorization: Bearer x|X-Source: connect`.",
                ),
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
}

/// Parsed settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub url: String,
    pub batch_size: usize,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let url = config.get_str(URL)?.trim().to_owned();
        wasm_connect_http_client::Url::parse(&url)
            .map_err(|e| Error::invalid_config(format!("{URL}: {e}")))?;
        let batch_size = config.get_int_or(BATCH_SIZE, 100)?;
        let max_retries = config.get_int_or(MAX_RETRIES, 5)?;
        let backoff = config.get_long_or(RETRY_BACKOFF_MS, 500)?;
        let timeout = config.get_long_or(TIMEOUT_MS, 10_000)?;
        Ok(Self {
            url,
            batch_size: usize::try_from(batch_size)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::invalid_config(format!("{BATCH_SIZE} must be at least 1")))?,
            max_retries: u32::try_from(max_retries)
                .map_err(|_| Error::invalid_config(format!("{MAX_RETRIES} must be at least 0")))?,
            retry_backoff: Duration::from_millis(u64::try_from(backoff).map_err(|_| {
                Error::invalid_config(format!("{RETRY_BACKOFF_MS} must be at least 0"))
            })?),
            headers: parse_headers(config.get_str_or(HEADERS, ""))?,
            timeout: Duration::from_millis(
                u64::try_from(timeout)
                    .ok()
                    .filter(|&t| t > 0)
                    .ok_or_else(|| {
                        Error::invalid_config(format!("{TIMEOUT_MS} must be positive"))
                    })?,
            ),
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
            let name = name.trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(Error::invalid_config(format!(
                    "{HEADERS}: `{name}` is not a header name"
                )));
            }
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_have_defaults_and_headers_parse() {
        let settings =
            Settings::from_config(&Config::from_pairs([(URL, "http://127.0.0.1:1/in")])).unwrap();
        assert_eq!(settings.batch_size, 100);
        assert_eq!(settings.max_retries, 5);
        assert!(settings.headers.is_empty());
        assert_eq!(
            parse_headers("A: 1 | X-Y: b:c").unwrap(),
            vec![("A".into(), "1".into()), ("X-Y".into(), "b:c".into())]
        );
        assert!(parse_headers("nope").is_err());
        assert!(Settings::from_config(&Config::from_pairs([(URL, "ftp://x")])).is_err());
    }
}
