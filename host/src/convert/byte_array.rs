//! `ByteArrayConverter`: record bytes passed through unchanged, as Kafka Connect's
//! `org.apache.kafka.connect.converters.ByteArrayConverter`. Writing accepts only BYTES
//! schemas or schemaless bytes; reading gives an optional BYTES schema.

use super::{ConvertError, Converter, ConverterKind, DataError, HeaderConverter, value_kind};
use crate::data::{Data, SchemaType, Value};

const NAME: ConverterKind = ConverterKind::ByteArray;

/// Kafka Connect's `ByteArrayConverter`; also a header converter. Has no settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    fn serialize(data: Option<&Data>) -> Result<Option<Vec<u8>>, DataError> {
        let Some(data) = data else {
            return Ok(None);
        };
        if let Some(schema) = &data.schema
            && schema.ty != SchemaType::Bytes
        {
            return Err(DataError::new(format!(
                "invalid schema type for ByteArrayConverter: {}",
                schema.ty.name()
            )));
        }
        match &data.value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes.clone())),
            other => Err(DataError::new(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                value_kind(other)
            ))),
        }
    }

    /// [`Self::serialize`], moving the bytes out instead of copying them.
    fn serialize_owned(data: Option<Data>) -> Result<Option<Vec<u8>>, DataError> {
        match data {
            Some(Data {
                schema,
                value: Value::Bytes(bytes),
            }) if schema.as_ref().is_none_or(|s| s.ty == SchemaType::Bytes) => Ok(Some(bytes)),
            data => Self::serialize(data.as_ref()),
        }
    }

    fn deserialize(bytes: Option<&[u8]>) -> Data {
        let schema = Some(super::optional_primitive(SchemaType::Bytes));
        match bytes {
            None => Data::new(schema, Value::Null),
            Some(bytes) => Data::new(schema, Value::Bytes(bytes.to_vec())),
        }
    }
}

impl Converter for ByteArrayConverter {
    fn from_connect(
        &self,
        topic: &str,
        data: Option<&Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        Self::serialize(data).map_err(|source| ConvertError::FromConnect {
            converter: NAME,
            topic: topic.to_string(),
            source,
        })
    }

    /// `None` bytes give a null value with the optional BYTES schema, as Kafka.
    fn from_connect_owned(
        &self,
        topic: &str,
        data: Option<Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        Self::serialize_owned(data).map_err(|source| ConvertError::FromConnect {
            converter: NAME,
            topic: topic.to_string(),
            source,
        })
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<Option<Data>, ConvertError> {
        Ok(Some(Self::deserialize(bytes)))
    }
}

impl HeaderConverter for ByteArrayConverter {
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: &Data,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        Self::serialize(Some(data)).map_err(|source| ConvertError::FromConnectHeader {
            converter: NAME,
            topic: topic.to_string(),
            key: key.to_string(),
            source,
        })
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConvertError> {
        Ok(Self::deserialize(bytes))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::Schema;

    #[test]
    fn bytes_pass_through_both_ways() {
        let converter = ByteArrayConverter;
        let data = Data::schemaless(Value::Bytes(vec![0, 1, 0xff]));
        assert_eq!(
            converter.from_connect("t", Some(&data)).unwrap(),
            Some(vec![0, 1, 0xff])
        );
        let with_schema = Data::new(
            Some(Arc::new(Schema::primitive(SchemaType::Bytes))),
            Value::Bytes(vec![7]),
        );
        assert_eq!(
            converter.from_connect("t", Some(&with_schema)).unwrap(),
            Some(vec![7])
        );
        let decimal = Data::new(Some(Arc::new(Schema::decimal(2))), Value::Bytes(vec![1]));
        assert_eq!(
            converter.from_connect("t", Some(&decimal)).unwrap(),
            Some(vec![1])
        );
        let read = converter.to_connect("t", Some(&[9, 8])).unwrap().unwrap();
        assert_eq!(read.value, Value::Bytes(vec![9, 8]));
        assert_eq!(
            read.schema.as_deref(),
            Some(&Schema::primitive(SchemaType::Bytes).optional())
        );
    }

    #[test]
    fn nulls_are_null_bytes() {
        let converter = ByteArrayConverter;
        assert_eq!(converter.from_connect("t", None).unwrap(), None);
        let null = Data::new(
            Some(Arc::new(Schema::primitive(SchemaType::Bytes).optional())),
            Value::Null,
        );
        assert_eq!(converter.from_connect("t", Some(&null)).unwrap(), None);
        let read = converter.to_connect("t", None).unwrap().unwrap();
        assert_eq!(read.value, Value::Null);
    }

    #[test]
    fn rejects_other_types() {
        let converter = ByteArrayConverter;
        let err = converter
            .from_connect("t", Some(&Data::schemaless(Value::String("x".into()))))
            .unwrap_err();
        assert_eq!(
            err.data_error().unwrap().message(),
            "ByteArrayConverter is not compatible with objects of type string"
        );
        let wrong_schema = Data::new(
            Some(Arc::new(Schema::primitive(SchemaType::String))),
            Value::Bytes(vec![1]),
        );
        let err = converter
            .from_connect("orders", Some(&wrong_schema))
            .unwrap_err();
        assert!(err.to_string().contains("`orders`"), "{err}");
        assert_eq!(
            err.data_error().unwrap().message(),
            "invalid schema type for ByteArrayConverter: string"
        );
    }
}
