//! A task's key, value and header converters, and turning records into log records and back.

use std::sync::Arc;

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
}

/// Which converter failed, as Kafka Connect's error stages name them.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error("KEY_CONVERTER failed for topic `{topic}`")]
    Key {
        topic: String,
        #[source]
        source: ConvertError,
    },
    #[error("VALUE_CONVERTER failed for topic `{topic}`")]
    Value {
        topic: String,
        #[source]
        source: ConvertError,
    },
    #[error("HEADER_CONVERTER failed for header `{header}` on topic `{topic}`")]
    Header {
        topic: String,
        header: String,
        #[source]
        source: ConvertError,
    },
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
                source,
            })?;
        let value = self
            .value
            .from_connect(topic, record.value.as_ref())
            .map_err(|source| ConversionError::Value {
                topic: topic.clone(),
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

    /// A log record as a sink record.
    pub fn to_sink(&self, record: &ConsumedRecord) -> Result<SinkRecord, ConversionError> {
        let topic = &record.topic;
        let key = self
            .key
            .to_connect(topic, record.key.as_deref())
            .map_err(|source| ConversionError::Key {
                topic: topic.clone(),
                source,
            })?;
        let value = self
            .value
            .to_connect(topic, record.value.as_deref())
            .map_err(|source| ConversionError::Value {
                topic: topic.clone(),
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
