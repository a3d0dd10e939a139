//! A task's key, value and header converters, and turning records into log records and back.

use std::sync::Arc;

use super::errant::Stage;
use crate::{
    config::ConnectorConfig,
    convert::{self, ConvertError, Converter, HeaderConverter},
    data::{Header, SinkRecord, SourceRecord},
    log::{ConsumedRecord, LogHeader, ProduceRecord},
};

/// The converters of one connector.
#[derive(Clone)]
pub struct RecordConverters {
    pub key: Arc<dyn Converter>,
    pub value: Arc<dyn Converter>,
    pub header: Arc<dyn HeaderConverter>,
    /// The class names, for error reports.
    classes: Arc<[String; 3]>,
    /// `sandbox.record.max.bytes`: the largest record a source task may produce.
    record_max_bytes: usize,
}

/// The class Kafka Connect names when the producer refuses a record.
const PRODUCER_CLASS: &str = "org.apache.kafka.clients.producer.KafkaProducer";

/// Bytes of a record as the log stores it: key, value, and header keys and values.
pub(crate) fn record_bytes(record: &ProduceRecord) -> usize {
    record.key.as_ref().map_or(0, Vec::len)
        + record.value.as_ref().map_or(0, Vec::len)
        + record
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
}

/// Which converter failed, as Kafka Connect's error stages name them.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error("KEY_CONVERTER failed for topic `{topic}`")]
    Key {
        topic: Arc<str>,
        classes: Arc<[String; 3]>,
        #[source]
        source: ConvertError,
    },
    #[error("VALUE_CONVERTER failed for topic `{topic}`")]
    Value {
        topic: Arc<str>,
        classes: Arc<[String; 3]>,
        #[source]
        source: ConvertError,
    },
    #[error("HEADER_CONVERTER failed for header `{header}` on topic `{topic}`")]
    Header {
        topic: Arc<str>,
        classes: Arc<[String; 3]>,
        header: String,
        #[source]
        source: ConvertError,
    },
    /// The converted record is larger than a task may produce (what a Kafka producer reports
    /// as `RecordTooLargeException`).
    #[error(
        "the record for topic `{topic}` is {bytes} bytes as converted, more than the {max} a task may produce (sandbox.record.max.bytes)"
    )]
    TooLarge {
        topic: Arc<str>,
        bytes: usize,
        max: usize,
    },
}

impl super::errors::StageError for ConversionError {
    fn stage(&self) -> Stage {
        match self {
            Self::Key { .. } => Stage::KeyConverter,
            Self::Value { .. } => Stage::ValueConverter,
            Self::Header { .. } => Stage::HeaderConverter,
            Self::TooLarge { .. } => Stage::KafkaProduce,
        }
    }

    fn class(&self) -> String {
        match self {
            Self::Key { classes, .. } => classes[0].clone(),
            Self::Value { classes, .. } => classes[1].clone(),
            Self::Header { classes, .. } => classes[2].clone(),
            Self::TooLarge { .. } => PRODUCER_CLASS.to_owned(),
        }
    }
}

impl RecordConverters {
    pub fn for_connector(config: &ConnectorConfig) -> Result<Self, ConvertError> {
        Ok(Self {
            key: convert::converter(
                &config.key_converter.class,
                &config.key_converter.settings,
                true,
            )?,
            value: convert::converter(
                &config.value_converter.class,
                &config.value_converter.settings,
                false,
            )?,
            header: convert::header_converter(
                &config.header_converter.class,
                &config.header_converter.settings,
            )?,
            classes: Arc::new([
                config.key_converter.class.clone(),
                config.value_converter.class.clone(),
                config.header_converter.class.clone(),
            ]),
            record_max_bytes: usize::MAX,
        })
    }

    /// Refuses converted records larger than `max` bytes ([`ConversionError::TooLarge`]).
    pub fn with_record_max_bytes(mut self, max: usize) -> Self {
        self.record_max_bytes = max;
        self
    }

    fn check_size(&self, record: ProduceRecord) -> Result<ProduceRecord, ConversionError> {
        let bytes = record_bytes(&record);
        if bytes > self.record_max_bytes {
            return Err(ConversionError::TooLarge {
                topic: record.topic,
                bytes,
                max: self.record_max_bytes,
            });
        }
        Ok(record)
    }

    /// A source record as a log record.
    pub fn to_log(&self, record: &SourceRecord) -> Result<ProduceRecord, ConversionError> {
        let topic = &record.topic;
        let key = self
            .key
            .from_connect(topic, record.key.as_ref())
            .map_err(|source| ConversionError::Key {
                topic: topic.clone(),
                classes: self.classes.clone(),
                source,
            })?;
        let value = self
            .value
            .from_connect(topic, record.value.as_ref())
            .map_err(|source| ConversionError::Value {
                topic: topic.clone(),
                classes: self.classes.clone(),
                source,
            })?;
        let headers = record
            .headers
            .iter()
            .map(|header| {
                self.header
                    .from_connect_header(topic, &header.key, &header.value)
                    .map(|value| LogHeader {
                        key: header.key.clone(),
                        value,
                    })
                    .map_err(|source| ConversionError::Header {
                        topic: topic.clone(),
                        classes: self.classes.clone(),
                        header: header.key.clone(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        self.check_size(ProduceRecord {
            topic: topic.clone(),
            partition: record.partition,
            key,
            value,
            headers,
            timestamp: record.timestamp,
        })
    }

    /// [`Self::to_log`] taking the record by value, so bytes and text move into the log record
    /// instead of being copied.
    pub fn into_log(&self, record: SourceRecord) -> Result<ProduceRecord, ConversionError> {
        let SourceRecord {
            topic,
            partition,
            key,
            value,
            timestamp,
            headers,
            ..
        } = record;
        let key = match self.key.from_connect_owned(&topic, key) {
            Ok(key) => key,
            Err(source) => {
                return Err(ConversionError::Key {
                    topic,
                    classes: self.classes.clone(),
                    source,
                });
            }
        };
        let value = match self.value.from_connect_owned(&topic, value) {
            Ok(value) => value,
            Err(source) => {
                return Err(ConversionError::Value {
                    topic,
                    classes: self.classes.clone(),
                    source,
                });
            }
        };
        let mut log_headers = Vec::with_capacity(headers.len());
        for header in headers {
            match self
                .header
                .from_connect_header(&topic, &header.key, &header.value)
            {
                Ok(value) => log_headers.push(LogHeader {
                    key: header.key,
                    value,
                }),
                Err(source) => {
                    return Err(ConversionError::Header {
                        topic,
                        classes: self.classes.clone(),
                        header: header.key,
                        source,
                    });
                }
            }
        }
        self.check_size(ProduceRecord {
            topic,
            partition,
            key,
            value,
            headers: log_headers,
            timestamp,
        })
    }

    /// A log record as a sink record.
    pub fn to_sink(&self, record: &ConsumedRecord) -> Result<SinkRecord, ConversionError> {
        let topic = &record.topic;
        let key = self
            .key
            .to_connect(topic, record.key.as_deref())
            .map_err(|source| ConversionError::Key {
                topic: topic.clone(),
                classes: self.classes.clone(),
                source,
            })?;
        let value = self
            .value
            .to_connect(topic, record.value.as_deref())
            .map_err(|source| ConversionError::Value {
                topic: topic.clone(),
                classes: self.classes.clone(),
                source,
            })?;
        let headers = record
            .headers
            .iter()
            .map(|header| {
                self.header
                    .to_connect_header(topic, &header.key, header.value.as_deref())
                    .map(|value| Header {
                        key: header.key.clone(),
                        value,
                    })
                    .map_err(|source| ConversionError::Header {
                        topic: topic.clone(),
                        classes: self.classes.clone(),
                        header: header.key.clone(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(SinkRecord {
            topic: topic.clone(),
            partition: record.partition,
            offset: record.offset,
            key,
            value,
            timestamp: record.timestamp,
            timestamp_type: record.timestamp_type,
            headers,
            original_topic: topic.clone(),
            original_partition: record.partition,
            original_offset: record.offset,
        })
    }
}
