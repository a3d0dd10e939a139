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
}

impl super::errors::StageError for ConversionError {
    fn stage(&self) -> Stage {
        match self {
            Self::Key { .. } => Stage::KeyConverter,
            Self::Value { .. } => Stage::ValueConverter,
            Self::Header { .. } => Stage::HeaderConverter,
        }
    }

    fn class(&self) -> String {
        let (Self::Key { classes, .. }
        | Self::Value { classes, .. }
        | Self::Header { classes, .. }) = self;
        classes[match self {
            Self::Key { .. } => 0,
            Self::Value { .. } => 1,
            Self::Header { .. } => 2,
        }]
        .clone()
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
        })
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
        Ok(ProduceRecord {
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
        Ok(ProduceRecord {
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
                topic: topic.as_str().into(),
                classes: self.classes.clone(),
                source,
            })?;
        let value = self
            .value
            .to_connect(topic, record.value.as_deref())
            .map_err(|source| ConversionError::Value {
                topic: topic.as_str().into(),
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
                        topic: topic.as_str().into(),
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
