//! The connector (every task gets the same configuration) and the task: each `put` is sent in
//! chunks of `http.batch.size` records as one JSON array per request.
//!
//! - 2xx: done.
//! - 408, 429, 5xx or a connection error: retried up to `http.max.retries` times with
//!   exponential backoff (honouring `Retry-After`); then the put fails as retriable and the
//!   worker redelivers the batch.
//! - Any other 4xx: the endpoint rejected something in the chunk. A chunk of several records
//!   is sent again one record at a time; a single rejected record goes to the errant record
//!   reporter (the dead letter queue), and the others carry on.
//! - A request the sandbox denies (not on `sandbox.http.allow`, or a forbidden address) fails
//!   the task: it is a configuration problem.

use std::time::Duration;

use serde_json::Value as Json;
use wasm_connect_http_client::{self as client, HttpError, Method, Request};
use wasm_connect_sdk::{
    Config, ConfigDef, Error, PluginInfo, SinkConnector, SinkRecord, SinkTask, Value, host,
};

use crate::settings::{Settings, config_def};

/// Longest backoff between retries, and the most of a `Retry-After` honoured.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The connector.
#[derive(Debug)]
pub struct HttpSink {
    config: Config,
}

impl SinkConnector for HttpSink {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "HttpSink",
            "POSTs batches of records as JSON arrays to an HTTP endpoint.",
        )
        .alias("HttpSinkConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn start(config: Config) -> Result<Self, Error> {
        Settings::from_config(&config)?;
        Ok(Self { config })
    }

    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        Ok((0..max_tasks.max(1)).map(|_| self.config.clone()).collect())
    }
}

/// The task.
#[derive(Debug)]
pub struct HttpSinkTask {
    settings: Settings,
}

/// How one request ended.
enum Outcome {
    Delivered,
    /// A non-retriable 4xx, with the status and the start of the body.
    Rejected(String),
}

impl SinkTask for HttpSinkTask {
    fn start(config: Config) -> Result<Self, Error> {
        Ok(Self {
            settings: Settings::from_config(&config)?,
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), Error> {
        for chunk in records.chunks(self.settings.batch_size) {
            match self.post(chunk)? {
                Outcome::Delivered => {}
                Outcome::Rejected(reason) if chunk.len() == 1 => {
                    host::errant_record_reporter::report(&chunk[0], &reason)?;
                }
                Outcome::Rejected(reason) => {
                    host::warn(&format!(
                        "the endpoint rejected a batch of {} records ({reason}); sending them one by one",
                        chunk.len()
                    ));
                    for record in chunk {
                        if let Outcome::Rejected(reason) =
                            self.post(std::slice::from_ref(record))?
                        {
                            host::errant_record_reporter::report(record, &reason)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl HttpSinkTask {
    /// POSTs `records` as one JSON array, retrying retriable failures.
    fn post(&self, records: &[SinkRecord]) -> Result<Outcome, Error> {
        let body = Json::Array(records.iter().map(record_json).collect()).to_string();
        let mut request = Request::new(Method::Post, &self.settings.url)
            .header("content-type", "application/json")
            .body(body.into_bytes())
            .timeout(self.settings.timeout);
        for (name, value) in &self.settings.headers {
            request = request.header(name, value);
        }
        let mut attempt = 0;
        loop {
            let failure = match client::send(&request) {
                Ok(response) if (200..300).contains(&response.status) => {
                    return Ok(Outcome::Delivered);
                }
                Ok(response) if client::is_retriable_status(response.status) => (
                    format!("HTTP {} from {}", response.status, self.settings.url),
                    response.retry_after(),
                ),
                Ok(response) => {
                    let body = String::from_utf8_lossy(&response.body);
                    let body: String = body.chars().take(200).collect();
                    return Ok(Outcome::Rejected(format!(
                        "HTTP {} from {}: {body}",
                        response.status, self.settings.url
                    )));
                }
                Err(error @ (HttpError::Denied(_) | HttpError::InvalidUrl(_))) => {
                    return Err(Error::fatal(format!("POST {}: {error}", self.settings.url)));
                }
                Err(HttpError::Transport(error)) => {
                    (format!("POST {} failed: {error}", self.settings.url), None)
                }
            };
            attempt += 1;
            if attempt > self.settings.max_retries {
                return Err(Error::retriable(format!(
                    "{} (after {} retries)",
                    failure.0, self.settings.max_retries
                )));
            }
            let delay = failure.1.map_or_else(
                || client::backoff(self.settings.retry_backoff, attempt, MAX_BACKOFF),
                |after| after.min(MAX_BACKOFF),
            );
            host::warn(&format!(
                "{}; retry {attempt} of {} in {} ms",
                failure.0,
                self.settings.max_retries,
                delay.as_millis()
            ));
            std::thread::sleep(delay);
        }
    }
}

/// The JSON form of a record's value: strings holding a JSON object or array are embedded
/// as they are, other strings become JSON strings; structs become objects, maps with string
/// keys objects (other maps arrays of `[key, value]`), bytes UTF-8 strings (lossy).
pub fn record_json(record: &SinkRecord) -> Json {
    match &record.value {
        Some(data) => value_json(&data.value),
        None => Json::Null,
    }
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(n) => Json::from(*n),
        Value::Int16(n) => Json::from(*n),
        Value::Int32(n) => Json::from(*n),
        Value::Int64(n) => Json::from(*n),
        Value::Float32(n) => {
            serde_json::Number::from_f64(f64::from(*n)).map_or(Json::Null, Json::Number)
        }
        Value::Float64(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(json @ (Json::Object(_) | Json::Array(_))) => json,
            _ => Json::String(s.clone()),
        },
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::Array(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                Json::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), value_json(v)))
                        .collect(),
                )
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Json::Array(vec![value_json(k), value_json(v)]))
                        .collect(),
                )
            }
        }
        Value::Struct(s) => Json::Object(
            s.schema()
                .fields
                .iter()
                .zip(s.values())
                .map(|(field, v)| (field.name.clone(), value_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::{Data, SchemaBuilder, Struct};

    #[test]
    fn values_become_json() {
        let record = |value: Data| SinkRecord::new("t", 0, 0, Some(value));
        assert_eq!(
            record_json(&record(Data::string(r#"{"a":1}"#))),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            record_json(&record(Data::string("plain"))),
            serde_json::json!("plain")
        );
        assert_eq!(
            record_json(&record(Data::string("12"))),
            serde_json::json!("12")
        );
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .build();
        let value = Struct::new(schema.clone()).unwrap().with("a", 5).unwrap();
        assert_eq!(
            record_json(&record(Data::new(schema, value))),
            serde_json::json!({"a": 5})
        );
        assert_eq!(record_json(&SinkRecord::new("t", 0, 0, None)), Json::Null);
    }

    #[test]
    fn posting_outside_wasm_fails_as_retriable() {
        let mut task = HttpSinkTask::start(Config::from_pairs([
            ("http.url", "http://127.0.0.1:1/in"),
            ("http.max.retries", "0"),
        ]))
        .unwrap();
        let error = task
            .put(vec![SinkRecord::new("t", 0, 0, Some(Data::string("x")))])
            .unwrap_err();
        assert!(error.is_retriable(), "{error:?}");
    }
}
