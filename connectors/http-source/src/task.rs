//! The connector splits `http.urls` round-robin over the tasks; each task polls its
//! endpoints with GET, turns the records of each page into source records (the value is the
//! record's JSON text, STRING schema) with source partition `{"url": <endpoint>}` and source
//! offset `{"cursor": <cursor of the next page>}`, and on start resumes from the committed
//! cursor of each endpoint.
//!
//! 408, 429, 5xx and connection errors back off that endpoint (1 s doubling up to
//! `http.backoff.max.ms`, or the `Retry-After` seconds) and the poll fails as retriable when
//! it got nothing else; a request the sandbox denies and other 4xx fail the task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use wasm_connect_http_client::{self as client, HttpError, Method, Request};
use wasm_connect_sdk::{
    Config, ConfigDef, Data, Error, OffsetMap, OffsetMapExt, PluginInfo, Scalar, SourceConnector,
    SourceRecord, SourceTask, host,
};

use crate::settings::{Settings, TASK_URLS, URLS, config_def};

/// The key of the source partition.
pub const URL_FIELD: &str = "url";
/// The key of the source offset.
pub const CURSOR_FIELD: &str = "cursor";
/// First backoff after a retriable failure.
const BACKOFF_START: Duration = Duration::from_secs(1);

/// `{"cursor": cursor}`, or no offset before the first cursor.
fn cursor_offset(cursor: Option<&str>) -> OffsetMap {
    match cursor {
        Some(cursor) => vec![(CURSOR_FIELD.to_owned(), Scalar::String(cursor.to_owned()))],
        None => Vec::new(),
    }
}

/// The connector.
#[derive(Debug)]
pub struct HttpSource {
    config: Config,
    urls: Vec<String>,
}

impl SourceConnector for HttpSource {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "HttpSource",
            "Polls REST endpoints and follows a cursor in each response.",
        )
        .alias("HttpSourceConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        Ok(Self {
            config,
            urls: settings.urls,
        })
    }

    /// At most one task per endpoint; endpoint `i` goes to task `i % tasks`.
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        let tasks = (max_tasks.max(1) as usize).min(self.urls.len());
        Ok((0..tasks)
            .map(|task| {
                let urls: Vec<&str> = self
                    .urls
                    .iter()
                    .skip(task)
                    .step_by(tasks)
                    .map(String::as_str)
                    .collect();
                let mut config = self.config.clone();
                config.set(TASK_URLS, urls.join(","));
                config
            })
            .collect())
    }
}

/// One endpoint of a task.
#[derive(Debug)]
struct Endpoint {
    url: String,
    /// `{"url": <url>}`, shared by the endpoint's records.
    partition: Arc<OffsetMap>,
    cursor: Option<String>,
    next_poll: Instant,
    failures: u32,
}

/// The task.
#[derive(Debug)]
pub struct HttpSourceTask {
    settings: Settings,
    endpoints: Vec<Endpoint>,
}

/// One parsed response.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<Json>,
    /// The cursor of the next page, if the response has one.
    pub cursor: Option<String>,
}

/// Parses a response body per the settings.
pub fn parse_page(
    body: &[u8],
    records_field: Option<&str>,
    cursor_field: Option<&str>,
) -> Result<Page, String> {
    let json: Json =
        serde_json::from_slice(body).map_err(|e| format!("the response is not JSON: {e}"))?;
    let cursor = match cursor_field {
        None => None,
        Some(field) => match json.get(field) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(format!(
                    "cursor field `{field}` is neither a string nor a number: {other}"
                ));
            }
        },
    };
    let records = match records_field {
        Some(field) => match json.get(field) {
            Some(Json::Array(items)) => items.clone(),
            None | Some(Json::Null) => Vec::new(),
            Some(_) => return Err(format!("records field `{field}` is not an array")),
        },
        None => match json {
            Json::Array(items) => items,
            other => vec![other],
        },
    };
    Ok(Page { records, cursor })
}

impl SourceTask for HttpSourceTask {
    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        if !config.contains(TASK_URLS) {
            host::warn(&format!(
                "no {TASK_URLS} in the task configuration; polling all of {URLS}"
            ));
        }
        let now = Instant::now();
        let mut endpoints = Vec::with_capacity(settings.urls.len());
        for url in &settings.urls {
            let partition = vec![(URL_FIELD.to_owned(), Scalar::String(url.clone()))];
            let cursor = host::offset(&partition)?
                .and_then(|offset| offset.string(CURSOR_FIELD).map(str::to_owned));
            if let Some(cursor) = &cursor {
                host::info(&format!("resuming {url} from cursor {cursor}"));
            }
            endpoints.push(Endpoint {
                url: url.clone(),
                partition: Arc::new(partition),
                cursor,
                next_poll: now,
                failures: 0,
            });
        }
        Ok(Self {
            settings,
            endpoints,
        })
    }

    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
        let mut records = Vec::new();
        let mut failure = None;
        let now = Instant::now();
        for index in 0..self.endpoints.len() {
            if self.endpoints[index].next_poll > now {
                continue;
            }
            match self.poll_endpoint(index) {
                Ok(mut batch) => records.append(&mut batch),
                Err(error) if error.is_retriable() => failure = Some(error),
                Err(error) => return Err(error),
            }
        }
        match failure {
            Some(error) if records.is_empty() => Err(error),
            _ => {
                if records.is_empty() {
                    // Not polled again before the next endpoint is due.
                    let now = Instant::now();
                    if let Some(wait) = self
                        .endpoints
                        .iter()
                        .map(|e| e.next_poll.saturating_duration_since(now))
                        .min()
                        .filter(|wait| !wait.is_zero())
                    {
                        host::poll_again_after(wait)?;
                    }
                }
                Ok(records)
            }
        }
    }
}

impl HttpSourceTask {
    fn poll_endpoint(&mut self, index: usize) -> Result<Vec<SourceRecord>, Error> {
        let settings = &self.settings;
        let endpoint = &mut self.endpoints[index];
        let url = match (&settings.cursor_field, &endpoint.cursor) {
            (Some(_), Some(cursor)) => {
                client::with_query_param(&endpoint.url, &settings.cursor_param, cursor)
            }
            _ => endpoint.url.clone(),
        };
        let mut request = Request::new(Method::Get, &url)
            .header("accept", "application/json")
            .timeout(settings.timeout);
        for (name, value) in &settings.headers {
            request = request.header(name, value);
        }
        let (reason, retry_after) = match client::send(&request) {
            Ok(response) if (200..300).contains(&response.status) => {
                let page = parse_page(
                    &response.body,
                    settings.records_field.as_deref(),
                    settings.cursor_field.as_deref(),
                )
                .map_err(|e| Error::fatal(format!("GET {url}: {e}")))?;
                endpoint.failures = 0;
                let moved = page.cursor.is_some() && page.cursor != endpoint.cursor;
                let before = cursor_offset(endpoint.cursor.as_deref());
                if let Some(cursor) = page.cursor {
                    endpoint.cursor = Some(cursor);
                }
                // While pages keep coming, fetch the next one at once.
                endpoint.next_poll = if moved && !page.records.is_empty() {
                    Instant::now()
                } else {
                    Instant::now() + settings.poll_interval
                };
                // Only the page's last record carries the next page's cursor: a task that
                // stops with part of the page acknowledged reads the page again.
                let after = cursor_offset(endpoint.cursor.as_deref());
                let last = page.records.len().saturating_sub(1);
                return Ok(page
                    .records
                    .into_iter()
                    .enumerate()
                    .map(|(i, record)| {
                        SourceRecord::new(
                            endpoint.partition.clone(),
                            if i == last {
                                after.clone()
                            } else {
                                before.clone()
                            },
                            settings.topic.clone(),
                            Data::string(record.to_string()),
                        )
                    })
                    .collect());
            }
            Ok(response) if client::is_retriable_status(response.status) => (
                format!("GET {url}: HTTP {}", response.status),
                response.retry_after(),
            ),
            Ok(response) => {
                let body: String = String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(200)
                    .collect();
                return Err(Error::fatal(format!(
                    "GET {url}: HTTP {}: {body}",
                    response.status
                )));
            }
            Err(error @ (HttpError::Denied(_) | HttpError::InvalidUrl(_))) => {
                return Err(Error::fatal(format!("GET {url}: {error}")));
            }
            Err(HttpError::Transport(error)) => (format!("GET {url} failed: {error}"), None),
        };
        endpoint.failures += 1;
        let delay = retry_after
            .unwrap_or_else(|| {
                client::backoff(BACKOFF_START, endpoint.failures, settings.backoff_max)
            })
            .min(settings.backoff_max);
        endpoint.next_poll = Instant::now() + delay;
        host::warn(&format!("{reason}; backing off {} ms", delay.as_millis()));
        Err(Error::retriable(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::testing;

    #[test]
    fn endpoints_are_split_round_robin() {
        let mut connector = HttpSource::start(Config::from_pairs([
            ("http.urls", "http://a/1,http://a/2,http://a/3"),
            ("topic", "t"),
        ]))
        .unwrap();
        let configs = connector.task_configs(2).unwrap();
        let urls: Vec<&str> = configs.iter().map(|c| c.get(TASK_URLS).unwrap()).collect();
        assert_eq!(urls, ["http://a/1,http://a/3", "http://a/2"]);
        assert_eq!(connector.task_configs(10).unwrap().len(), 3);
    }

    #[test]
    fn pages_yield_records_and_cursors() {
        let page = parse_page(
            br#"{"items":[{"id":1},{"id":2}],"next":"abc"}"#,
            Some("items"),
            Some("next"),
        )
        .unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.cursor.as_deref(), Some("abc"));
        let page = parse_page(br#"{"items":[],"next":7}"#, Some("items"), Some("next")).unwrap();
        assert_eq!(page.cursor.as_deref(), Some("7"));
        let page = parse_page(br#"[1,2,3]"#, None, None).unwrap();
        assert_eq!(page.records.len(), 3);
        assert!(parse_page(b"nope", None, None).is_err());
        assert!(parse_page(br#"{"items":1}"#, Some("items"), None).is_err());
    }

    #[test]
    fn tasks_resume_from_the_committed_cursor() {
        testing::reset();
        testing::set_offset(
            vec![(URL_FIELD.to_owned(), Scalar::String("http://a/1".into()))],
            vec![(CURSOR_FIELD.to_owned(), Scalar::String("42".into()))],
        );
        let task = HttpSourceTask::start(Config::from_pairs([
            ("http.task.urls", "http://a/1"),
            ("topic", "t"),
            ("http.cursor.field", "next"),
        ]))
        .unwrap();
        assert_eq!(task.endpoints[0].cursor.as_deref(), Some("42"));
    }
}
