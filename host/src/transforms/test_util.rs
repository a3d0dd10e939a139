//! Builders shared by the transform unit tests: settings, records, schemas and values.

use std::sync::Arc;

use super::util::Target;
use super::{ConnectRecord, Transformation};
use crate::config::Settings;
use crate::data::{
    Data, Field, Schema, SchemaRef, SchemaType, SinkRecord, SourceRecord, Struct, TimestampType,
    Value,
};

pub(crate) fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// Builds one transform from settings written without the `transforms.<alias>.` prefix.
pub(crate) fn build(
    build: fn(
        super::util::Props<'_>,
        Target,
    ) -> Result<Box<dyn Transformation>, super::TransformConfigError>,
    target: Target,
    pairs: &[(&str, &str)],
) -> Result<Box<dyn Transformation>, super::TransformConfigError> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| (format!("transforms.t.{key}"), (*value).to_owned()))
        .collect();
    let settings: Settings = owned.into_iter().collect();
    build(super::util::Props::new(&settings, "transforms.t."), target)
}

pub(crate) fn source_record(key: Option<Data>, value: Option<Data>) -> SourceRecord {
    SourceRecord {
        source_partition: Default::default(),
        source_offset: Vec::new(),
        topic: "test".into(),
        partition: Some(0),
        key,
        value,
        timestamp: Some(1_700_000_000_000),
        headers: Vec::new(),
    }
}

pub(crate) fn sink_record(key: Option<Data>, value: Option<Data>) -> SinkRecord {
    SinkRecord {
        topic: "test".into(),
        partition: 0,
        offset: 42,
        key,
        value,
        timestamp: Some(1_700_000_000_000),
        timestamp_type: TimestampType::CreateTime,
        headers: Vec::new(),
        original_topic: "test".into(),
        original_partition: 0,
        original_offset: 42,
    }
}

pub(crate) fn schema(ty: SchemaType) -> SchemaRef {
    Arc::new(Schema::primitive(ty))
}

pub(crate) fn optional(ty: SchemaType) -> SchemaRef {
    Arc::new(Schema::primitive(ty).optional())
}

pub(crate) fn struct_schema(fields: &[(&str, SchemaRef)]) -> SchemaRef {
    Arc::new(Schema::structure(
        fields
            .iter()
            .map(|(name, schema)| Field {
                name: (*name).to_owned(),
                schema: schema.clone(),
            })
            .collect(),
    ))
}

pub(crate) fn struct_value(schema: &SchemaRef, values: Vec<Value>) -> Value {
    Value::Struct(Struct {
        schema: schema.clone(),
        values,
    })
}

pub(crate) fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

pub(crate) fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(key, value)| (string(key), value.clone()))
            .collect(),
    )
}

/// Applies a transform to a record, panicking on error; returns the record if kept.
pub(crate) fn apply<R: ConnectRecord>(transform: &dyn Transformation, mut record: R) -> Option<R> {
    match transform.apply(&mut record) {
        Ok(super::Applied::Keep) => Some(record),
        Ok(super::Applied::Drop) => None,
        Err(error) => panic!("transform failed: {error}"),
    }
}

/// Applies a transform that must fail; returns the message.
pub(crate) fn apply_err<R: ConnectRecord>(transform: &dyn Transformation, mut record: R) -> String {
    match transform.apply(&mut record) {
        Ok(_) => panic!("transform unexpectedly succeeded"),
        Err(error) => error.0,
    }
}
