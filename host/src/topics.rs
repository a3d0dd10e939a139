//! Browsing a worker's record log: what `wasm-connect topics list|consume|produce` and the REST
//! API's `/topics` resources (beyond Kafka Connect) do. Reaches the log itself (Kafka, or an
//! embedded log no worker has open) or a running worker's REST API, and owns the JSON both
//! speak: keys, values and headers as text when they are UTF-8, else `{"base64": "..."}`.

use std::{io::Write, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::log::{
    ConsumedRecord, LogHeader, ProduceRecord, RecordLog, TopicDescription, TopicPartition,
};

/// The most records one read returns.
pub const MAX_RECORDS_PER_READ: usize = 10_000;

/// The most bytes of keys, values and headers one read returns (at least one record is
/// always returned, however large).
pub const MAX_BYTES_PER_READ: usize = 16 << 20;

/// Bytes as JSON: the text when it is UTF-8, else base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Payload {
    Text(String),
    Binary { base64: String },
}

impl Payload {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Self::Text(text),
            Err(error) => Self::Binary {
                base64: base64::engine::general_purpose::STANDARD.encode(error.into_bytes()),
            },
        }
    }

    pub fn into_bytes(self) -> Result<Vec<u8>, base64::DecodeError> {
        match self {
            Self::Text(text) => Ok(text.into_bytes()),
            Self::Binary { base64 } => base64::engine::general_purpose::STANDARD.decode(base64),
        }
    }

    /// As a line of text: the text, or the base64 of binary bytes.
    fn display(&self) -> &str {
        match self {
            Self::Text(text) | Self::Binary { base64: text } => text,
        }
    }
}

/// A record header as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderView {
    pub key: String,
    pub value: Option<Payload>,
}

/// A record read from a topic, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Payload>,
    pub value: Option<Payload>,
    #[serde(default)]
    pub headers: Vec<HeaderView>,
}

impl From<ConsumedRecord> for RecordView {
    fn from(record: ConsumedRecord) -> Self {
        Self {
            topic: record.topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key.map(Payload::from_bytes),
            value: record.value.map(Payload::from_bytes),
            headers: record
                .headers
                .into_iter()
                .map(|header| HeaderView {
                    key: header.key,
                    value: header.value.map(Payload::from_bytes),
                })
                .collect(),
        }
    }
}

/// A record to write, as JSON. Without a partition the log's partitioner places it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRecord {
    #[serde(default)]
    pub key: Option<Payload>,
    #[serde(default)]
    pub value: Option<Payload>,
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub headers: Vec<HeaderView>,
}

/// Where a written record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub partition: i32,
    pub offset: i64,
}

/// A record to write that cannot be written as given (e.g. bytes that are not base64).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRecord(pub String);

/// Up to `max` records (at most [`MAX_RECORDS_PER_READ`] and about [`MAX_BYTES_PER_READ`]) of
/// a partition from `offset` on.
pub async fn read_log(
    log: &dyn RecordLog,
    partition: &TopicPartition,
    offset: i64,
    max: usize,
) -> anyhow::Result<Vec<RecordView>> {
    let records = log
        .read(partition, offset, max.clamp(1, MAX_RECORDS_PER_READ))
        .await?;
    let mut bytes = 0;
    let mut views = Vec::with_capacity(records.len());
    for record in records {
        let size = record.key.as_ref().map_or(0, Vec::len)
            + record.value.as_ref().map_or(0, Vec::len)
            + record
                .headers
                .iter()
                .map(|h| h.key.len() + h.value.as_ref().map_or(0, Vec::len))
                .sum::<usize>();
        if !views.is_empty() && bytes + size > MAX_BYTES_PER_READ {
            break;
        }
        bytes += size;
        views.push(RecordView::from(record));
    }
    Ok(views)
}

/// Writes `records` to `topic` and waits until each is acknowledged.
pub async fn write_log(
    log: &dyn RecordLog,
    topic: &str,
    records: Vec<NewRecord>,
) -> anyhow::Result<Vec<Written>> {
    crate::log::embedded::validate_topic(topic)?;
    let topic: Arc<str> = Arc::from(topic);
    let batch = records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let bytes = |payload: Option<Payload>, what: &str| {
                payload
                    .map(Payload::into_bytes)
                    .transpose()
                    .map_err(|error| {
                        InvalidRecord(format!(
                            "record {index}: the {what} is not valid base64 ({error})"
                        ))
                    })
            };
            let headers = record
                .headers
                .into_iter()
                .map(|header| {
                    Ok(LogHeader {
                        value: bytes(header.value, "header value")?,
                        key: header.key,
                    })
                })
                .collect::<Result<_, InvalidRecord>>()?;
            Ok(ProduceRecord {
                topic: Arc::clone(&topic),
                partition: record.partition,
                key: bytes(record.key, "key")?,
                value: bytes(record.value, "value")?,
                headers,
                timestamp: None,
            })
        })
        .collect::<Result<Vec<_>, InvalidRecord>>()?;
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let producer = log.producer("wasm-connect-topics")?;
    let delivery = producer.send(batch).await?;
    delivery
        .await
        .into_iter()
        .map(|outcome| {
            let metadata = outcome?;
            Ok(Written {
                partition: metadata.partition,
                offset: metadata.offset,
            })
        })
        .collect()
}

/// A worker's topics, reached one way or another.
#[async_trait]
pub trait Topics: Send + Sync {
    /// What is reached, for messages (`the embedded log in ...`, `the worker at ...`).
    fn describe(&self) -> String;
    async fn list(&self) -> anyhow::Result<Vec<TopicDescription>>;
    async fn read(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max: usize,
    ) -> anyhow::Result<Vec<RecordView>>;
    async fn write(&self, topic: &str, records: Vec<NewRecord>) -> anyhow::Result<Vec<Written>>;
}

/// The log itself.
pub struct LogTopics {
    pub log: Arc<dyn RecordLog>,
    pub description: String,
}

#[async_trait]
impl Topics for LogTopics {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn list(&self) -> anyhow::Result<Vec<TopicDescription>> {
        Ok(self.log.describe_topics().await?)
    }

    async fn read(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max: usize,
    ) -> anyhow::Result<Vec<RecordView>> {
        read_log(self.log.as_ref(), partition, offset, max).await
    }

    async fn write(&self, topic: &str, records: Vec<NewRecord>) -> anyhow::Result<Vec<Written>> {
        write_log(self.log.as_ref(), topic, records).await
    }
}

/// A running worker's REST API (`GET /topics`, `GET /topics/{topic}/partitions/{p}/records`,
/// `POST /topics/{topic}/records`).
pub struct RestTopics {
    base: String,
    agent: ureq::Agent,
}

impl RestTopics {
    /// The API at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// Sends a request (POST with `body`, else GET) and returns the JSON of a 2xx answer, or
    /// the API's error message.
    async fn request<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: String,
        body: Option<String>,
    ) -> anyhow::Result<T> {
        let agent = self.agent.clone();
        let url = format!("{}{path}", self.base);
        tokio::task::spawn_blocking(move || {
            let sent = match body {
                Some(body) => agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(body),
                None => agent.get(&url).call(),
            };
            let mut response =
                sent.with_context(|| format!("the worker's REST API at {url} did not answer"))?;
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .with_context(|| format!("failed to read the answer of {url}"))?;
            if !(200..300).contains(&status) {
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|error| error.get("message")?.as_str().map(str::to_owned))
                    .unwrap_or(text);
                bail!("{url} answered {status}: {message}");
            }
            serde_json::from_str(&text).with_context(|| format!("{url} answered with bad JSON"))
        })
        .await?
    }
}

#[async_trait]
impl Topics for RestTopics {
    fn describe(&self) -> String {
        format!("the worker at {}", self.base)
    }

    async fn list(&self) -> anyhow::Result<Vec<TopicDescription>> {
        self.request("/topics".into(), None).await
    }

    async fn read(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max: usize,
    ) -> anyhow::Result<Vec<RecordView>> {
        self.request(
            format!(
                "/topics/{}/partitions/{}/records?offset={offset}&max={max}",
                partition.topic, partition.partition
            ),
            None,
        )
        .await
    }

    async fn write(&self, topic: &str, records: Vec<NewRecord>) -> anyhow::Result<Vec<Written>> {
        crate::log::embedded::validate_topic(topic)?;
        let body = serde_json::to_string(&serde_json::json!({ "records": records }))?;
        #[derive(Deserialize)]
        struct Answer {
            offsets: Vec<Written>,
        }
        let answer: Answer = self
            .request(format!("/topics/{topic}/records"), Some(body))
            .await?;
        Ok(answer.offsets)
    }
}

/// How `consume` and `list` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Values (or `list`'s table) as text, one per line.
    #[default]
    Text,
    /// One JSON object per line, with partition, offset, timestamp, key, value and headers.
    Json,
}

/// Prints every topic: a table of names, partitions and records, or the JSON of each.
pub async fn list(topics: &dyn Topics, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let described = topics.list().await?;
    match format {
        Format::Json => {
            for topic in &described {
                writeln!(out, "{}", serde_json::to_string(topic)?)?;
            }
        }
        Format::Text => {
            let width = described
                .iter()
                .map(|t| t.name.len())
                .max()
                .unwrap_or(0)
                .max(5);
            writeln!(out, "{:width$}  PARTITIONS  RECORDS", "TOPIC")?;
            for topic in &described {
                let records: i64 = topic
                    .partitions
                    .iter()
                    .map(|p| p.end_offset - p.start_offset)
                    .sum();
                writeln!(
                    out,
                    "{:width$}  {:>10}  {records:>7}",
                    topic.name,
                    topic.partitions.len()
                )?;
            }
        }
    }
    Ok(())
}

/// What `consume` reads and how it prints it (the `topics consume` arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConsumeOptions {
    /// The topic to read.
    pub topic: String,
    /// Only this partition (all of them when not given).
    #[arg(long)]
    pub partition: Option<i32>,
    /// Start at this offset in every partition read, instead of each one's first.
    #[arg(long)]
    pub offset: Option<i64>,
    /// Stop after this many records.
    #[arg(long)]
    pub max_records: Option<usize>,
    /// Keep printing new records as they arrive instead of stopping at the end.
    #[arg(long)]
    pub follow: bool,
    /// text: values, one per line; json: every field and header of each record.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// In the text format, print `key<TAB>value`.
    #[arg(long)]
    pub print_key: bool,
}

/// How long `consume --follow` waits before looking again at partitions with nothing new.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// Prints the records of a topic; returns how many.
pub async fn consume(
    topics: &dyn Topics,
    options: &ConsumeOptions,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let described = topics.list().await?;
    let Some(topic) = described.iter().find(|t| t.name == options.topic) else {
        let names: Vec<&str> = described.iter().map(|t| t.name.as_str()).collect();
        bail!(
            "topic `{}` does not exist in {}; its topics are: {}",
            options.topic,
            topics.describe(),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    let mut positions: Vec<(TopicPartition, i64)> = topic
        .partitions
        .iter()
        .filter(|p| options.partition.is_none_or(|only| only == p.partition))
        .map(|p| {
            (
                TopicPartition::new(&topic.name, p.partition),
                options.offset.unwrap_or(p.start_offset),
            )
        })
        .collect();
    if positions.is_empty() {
        bail!(
            "topic `{}` has no partition {} (it has {})",
            topic.name,
            options.partition.unwrap_or_default(),
            topic.partitions.len()
        );
    }
    let mut printed = 0;
    let left = |printed: usize| options.max_records.map_or(usize::MAX, |max| max - printed);
    loop {
        let mut any = false;
        for (partition, position) in &mut positions {
            if left(printed) == 0 {
                return Ok(printed);
            }
            let records = topics
                .read(partition, *position, left(printed).min(1_000))
                .await?;
            for record in &records {
                print_record(record, options, out)?;
            }
            if let Some(last) = records.last() {
                *position = last.offset + 1;
                printed += records.len();
                any = true;
            }
        }
        out.flush()?;
        if !any {
            if !options.follow {
                return Ok(printed);
            }
            tokio::time::sleep(FOLLOW_INTERVAL).await;
        }
    }
}

fn print_record(
    record: &RecordView,
    options: &ConsumeOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match options.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(record)?)?,
        Format::Text => {
            fn text(payload: &Option<Payload>) -> &str {
                payload.as_ref().map_or("null", Payload::display)
            }
            if options.print_key {
                writeln!(out, "{}\t{}", text(&record.key), text(&record.value))?;
            } else {
                writeln!(out, "{}", text(&record.value))?;
            }
        }
    }
    Ok(())
}

/// How `produce` reads its input (the `topics produce` arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProduceOptions {
    /// The topic to write to.
    pub topic: String,
    /// Write every record to this partition (the log's partitioner places them when not
    /// given).
    #[arg(long)]
    pub partition: Option<i32>,
    /// Split each line at the first SEPARATOR into the record's key and value (whole lines
    /// are values when not given).
    #[arg(long, value_name = "SEPARATOR")]
    pub key_separator: Option<String>,
}

/// How many lines `produce` sends at once, and about how many bytes (a REST request body may
/// hold 2 MiB).
const PRODUCE_BATCH: usize = 500;
const PRODUCE_BATCH_BYTES: usize = 1 << 20;

/// Writes each line of `input` as a record; returns how many.
pub async fn produce(
    topics: &dyn Topics,
    options: &ProduceOptions,
    input: impl std::io::BufRead,
) -> anyhow::Result<usize> {
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    let mut written = 0;
    for (number, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("failed to read input line {}", number + 1))?;
        let (key, value) = match &options.key_separator {
            Some(separator) => {
                let Some((key, value)) = line.split_once(separator.as_str()) else {
                    bail!(
                        "input line {} has no key separator `{separator}`; {written} records were written before it",
                        number + 1
                    );
                };
                (Some(key.to_owned()), value.to_owned())
            }
            None => (None, line),
        };
        batch_bytes += key.as_ref().map_or(0, String::len) + value.len();
        batch.push(NewRecord {
            key: key.map(Payload::Text),
            value: Some(Payload::Text(value)),
            partition: options.partition,
            headers: Vec::new(),
        });
        if batch.len() == PRODUCE_BATCH || batch_bytes >= PRODUCE_BATCH_BYTES {
            batch_bytes = 0;
            written += topics
                .write(&options.topic, std::mem::take(&mut batch))
                .await?
                .len();
        }
    }
    written += topics.write(&options.topic, batch).await?.len();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::embedded::EmbeddedLog;

    fn embedded() -> (tempfile::TempDir, LogTopics) {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let topics = LogTopics {
            log: Arc::new(log),
            description: "a test log".into(),
        };
        (dir, topics)
    }

    #[test]
    fn payloads_are_text_when_utf8_and_base64_otherwise() {
        let text = Payload::from_bytes(b"hello".to_vec());
        assert_eq!(serde_json::to_string(&text).unwrap(), r#""hello""#);
        let binary = Payload::from_bytes(vec![0xff, 0x00]);
        let json = serde_json::to_string(&binary).unwrap();
        assert_eq!(json, r#"{"base64":"/wA="}"#);
        let back: Payload = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_bytes().unwrap(), vec![0xff, 0x00]);
    }

    #[tokio::test]
    async fn lines_produced_are_consumed_back_with_their_keys() {
        let (_dir, topics) = embedded();
        let options = ProduceOptions {
            topic: "lines".into(),
            key_separator: Some(":".into()),
            ..ProduceOptions::default()
        };
        let input = "a:one\nb:two\nc:three:with colon\n";
        assert_eq!(
            produce(&topics, &options, input.as_bytes()).await.unwrap(),
            3
        );
        let mut out = Vec::new();
        let consumed = consume(
            &topics,
            &ConsumeOptions {
                topic: "lines".into(),
                print_key: true,
                ..ConsumeOptions::default()
            },
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(consumed, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\tone\nb\ttwo\nc\tthree:with colon\n"
        );
    }

    #[tokio::test]
    async fn a_line_without_the_separator_is_refused_by_number() {
        let (_dir, topics) = embedded();
        let options = ProduceOptions {
            topic: "lines".into(),
            key_separator: Some("=".into()),
            ..ProduceOptions::default()
        };
        let error = produce(&topics, &options, "k=v\nnope\n".as_bytes())
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("input line 2 has no key separator `=`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn consume_starts_at_an_offset_stops_at_a_maximum_and_prints_json() {
        let (_dir, topics) = embedded();
        let records = (0..10)
            .map(|i| NewRecord {
                value: Some(Payload::Text(format!("v{i}"))),
                headers: vec![HeaderView {
                    key: "h".into(),
                    value: Some(Payload::from_bytes(vec![0xfe])),
                }],
                ..NewRecord::default()
            })
            .collect();
        topics.write("t", records).await.unwrap();
        let mut out = Vec::new();
        let options = ConsumeOptions {
            topic: "t".into(),
            offset: Some(4),
            max_records: Some(3),
            format: Format::Json,
            ..ConsumeOptions::default()
        };
        assert_eq!(consume(&topics, &options, &mut out).await.unwrap(), 3);
        let lines: Vec<RecordView> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let offsets: Vec<i64> = lines.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [4, 5, 6]);
        assert_eq!(lines[0].value, Some(Payload::Text("v4".into())));
        assert_eq!(
            lines[0].headers[0].value,
            Some(Payload::Binary {
                base64: "/g==".into()
            })
        );
    }

    #[tokio::test]
    async fn an_unknown_topic_names_the_topics_there_are() {
        let (_dir, topics) = embedded();
        topics
            .write("present", vec![NewRecord::default()])
            .await
            .unwrap();
        let error = consume(
            &topics,
            &ConsumeOptions {
                topic: "absent".into(),
                ..ConsumeOptions::default()
            },
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "topic `absent` does not exist in a test log; its topics are: present"
        );
    }

    #[tokio::test]
    async fn list_counts_records_per_topic() {
        let (_dir, topics) = embedded();
        topics
            .write("abc", vec![NewRecord::default(), NewRecord::default()])
            .await
            .unwrap();
        let mut out = Vec::new();
        list(&topics, Format::Text, &mut out).await.unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TOPIC  PARTITIONS  RECORDS\nabc             1        2\n"
        );
    }
}
