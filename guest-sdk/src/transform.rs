//! Single message transforms as components (the `transform` world): the [`Transform`] trait,
//! the [`TransformRecord`] it sees, the [`Disposition`] it returns, and the export glue behind
//! [`export_transform!`](crate::export_transform).
//!
//! The host calls `apply` once per batch. The glue decodes the batch, calls
//! [`Transform::apply`] on each record, and sends back only the records the transform
//! replaced: a kept record costs nothing on the way back.
//!
//! ```
//! use wasm_connect_sdk::{
//!     Config, Data, Disposition, Error, PluginInfo, Transform, TransformRecord, Value,
//! };
//!
//! pub struct Upper;
//!
//! impl Transform for Upper {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("Upper", "Uppercases string values.")
//!     }
//!     fn version() -> String {
//!         env!("CARGO_PKG_VERSION").to_owned()
//!     }
//!     fn configure(_config: Config) -> Result<Self, Error> {
//!         Ok(Self)
//!     }
//!     fn apply(&mut self, record: &TransformRecord) -> Result<Disposition, Error> {
//!         match record.value.as_ref().map(|data| &data.value) {
//!             Some(Value::String(s)) if s.chars().any(char::is_lowercase) => {
//!                 let mut upper = record.clone();
//!                 upper.value = Some(Data::string(s.to_uppercase()));
//!                 Ok(Disposition::Replace(upper))
//!             }
//!             _ => Ok(Disposition::Keep),
//!         }
//!     }
//! }
//!
//! wasm_connect_sdk::export_transform!(Upper);
//!
//! let mut upper = Upper::configure(Config::from_pairs([("k", "v")])).unwrap();
//! let record = TransformRecord::new("t", Some(Data::string("abc")));
//! let Disposition::Replace(done) = upper.apply(&record).unwrap() else { panic!() };
//! assert_eq!(done.value.unwrap().value, Value::String("ABC".into()));
//! ```

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use wasm_connect_sdk_source_bindings::wasm_connect::connector::config_def as config_wit;
use wasm_connect_sdk_source_bindings::wasm_connect::connector::types as wit;
use wasm_connect_sdk_transform_bindings::exports::wasm_connect::connector::transformation as transform_wit;

use crate::Error;
use crate::config::{Config, ConfigDef, ConfigValue};
use crate::connector::PluginInfo;
use crate::data::codec::{SchemaResolver, SchemaTable};
use crate::data::{Data, DataError};
use crate::host::{self, World};
use crate::records::Header;

/// A record as a transform sees it: Kafka Connect's `ConnectRecord`, the same on the source
/// side (after `poll`) and the sink side (before `put`).
#[derive(Debug, Clone, PartialEq)]
pub struct TransformRecord {
    /// The topic; change it to route the record.
    pub topic: String,
    /// The Kafka partition; none on the source side when the partitioner will choose.
    pub partition: Option<i32>,
    /// The Kafka offset; only sink records have one (a transform cannot change it).
    pub offset: Option<i64>,
    /// The key; none is a null key without schema.
    pub key: Option<Data>,
    /// The value; none is a null value without schema (a tombstone).
    pub value: Option<Data>,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// The headers.
    pub headers: Vec<Header>,
}

impl TransformRecord {
    /// A record with a value and nothing else; handy in tests.
    pub fn new(topic: impl Into<String>, value: Option<Data>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            offset: None,
            key: None,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    fn from_wit(
        record: transform_wit::TransformRecord,
        schemas: &mut SchemaResolver<'_>,
    ) -> Result<Self, DataError> {
        Ok(Self {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            key: record.key.map(|d| schemas.decode_data(d)).transpose()?,
            value: record.value.map(|d| schemas.decode_data(d)).transpose()?,
            timestamp: record.timestamp,
            headers: record
                .headers
                .into_iter()
                .map(|h| {
                    Ok(Header {
                        key: h.key,
                        value: schemas.decode_data(h.value)?,
                    })
                })
                .collect::<Result<_, DataError>>()?,
        })
    }

    fn into_wit(self, table: &mut SchemaTable) -> transform_wit::TransformRecord {
        transform_wit::TransformRecord {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.map(|d| table.encode_data(d)),
            value: self.value.map(|d| table.encode_data(d)),
            timestamp: self.timestamp,
            headers: self
                .headers
                .into_iter()
                .map(|h| wit::Header {
                    key: h.key,
                    value: table.encode_data(h.value),
                })
                .collect(),
        }
    }
}

/// What a transform did with one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Deliver it unchanged (nothing is sent back to the host).
    Keep,
    /// Drop it, as Kafka Connect's `Filter` (a source offset still counts as done).
    Drop,
    /// Deliver this record instead (its `offset` is ignored).
    Replace(TransformRecord),
}

/// A single message transform: Kafka Connect's `Transformation`. One instance serves one
/// task's transform step; `configure` constructs it.
pub trait Transform: Sized + 'static {
    /// Names and describes the transform. Called when the component is loaded.
    fn describe() -> PluginInfo;

    /// The transform's version, e.g. `env!("CARGO_PKG_VERSION").to_owned()`.
    fn version() -> String;

    /// The transform's settings, without the `transforms.<alias>.` prefix.
    fn config_def() -> ConfigDef {
        ConfigDef::new()
    }

    /// Checks settings, one entry per setting. The default checks [`Transform::config_def`].
    fn validate(config: &Config) -> Vec<ConfigValue> {
        Self::config_def().validate(config)
    }

    /// Kafka Connect's `configure`: the settings under `transforms.<alias>.`, prefix removed.
    /// An error fails the task.
    fn configure(config: Config) -> Result<Self, Error>;

    /// Transforms one record. An error fails this record only (Kafka Connect's
    /// `DataException`); `errors.tolerance` decides whether that fails the task.
    fn apply(&mut self, record: &TransformRecord) -> Result<Disposition, Error>;
}

thread_local! {
    /// The configured transform of this instance.
    static TRANSFORM: RefCell<Option<Box<dyn Any>>> = RefCell::new(None);
}

/// Runs a batch through `transform`: one disposition per record; replacements are encoded
/// against their own schema table.
pub(crate) fn apply_batch<T: Transform>(
    transform: &mut T,
    batch: transform_wit::TransformBatch,
) -> Result<transform_wit::TransformOutput, Error> {
    let mut schemas = SchemaResolver::new(&batch.schemas);
    let mut table = SchemaTable::default();
    let mut dispositions = Vec::with_capacity(batch.records.len());
    let mut records = Vec::new();
    for record in batch.records {
        let record = TransformRecord::from_wit(record, &mut schemas)
            .map_err(|e| Error::fatal(format!("malformed transform batch: {e}")))?;
        dispositions.push(match transform.apply(&record) {
            Ok(Disposition::Keep) => transform_wit::Disposition::Keep,
            Ok(Disposition::Drop) => transform_wit::Disposition::Drop,
            Ok(Disposition::Replace(new)) => {
                let index = u32::try_from(records.len())
                    .map_err(|_| Error::fatal("too many replacement records"))?;
                records.push(new.into_wit(&mut table));
                transform_wit::Disposition::Replace(index)
            }
            Err(error) => transform_wit::Disposition::Fail(error.message().to_owned()),
        });
    }
    Ok(transform_wit::TransformOutput {
        dispositions,
        schemas: table.into_schemas(),
        records,
    })
}

/// The glue for a transform component.
pub struct TransformGlue<T>(PhantomData<fn() -> T>);

impl<T: Transform> transform_wit::Guest for TransformGlue<T> {
    fn describe() -> transform_wit::TransformInfo {
        host::enter(World::Transform);
        let PluginInfo {
            class_name,
            aliases,
            description,
        } = T::describe();
        transform_wit::TransformInfo {
            class_name,
            aliases,
            description,
        }
    }

    fn version() -> String {
        host::enter(World::Transform);
        T::version()
    }

    fn config_def() -> Vec<config_wit::ConfigKey> {
        host::enter(World::Transform);
        T::config_def().into_wit()
    }

    fn validate(config: wit::Config) -> Vec<config_wit::ConfigValue> {
        host::enter(World::Transform);
        T::validate(&Config::from(config))
            .into_iter()
            .map(ConfigValue::into_wit)
            .collect()
    }

    fn configure(config: wit::Config) -> Result<(), wit::ConnectorError> {
        host::enter(World::Transform);
        let transform = T::configure(Config::from(config)).map_err(Error::into_wit)?;
        TRANSFORM.with_borrow_mut(|slot| *slot = Some(Box::new(transform)));
        Ok(())
    }

    fn apply(
        batch: transform_wit::TransformBatch,
    ) -> Result<transform_wit::TransformOutput, wit::ConnectorError> {
        host::enter(World::Transform);
        TRANSFORM
            .with_borrow_mut(
                |slot| match slot.as_mut().and_then(|s| s.downcast_mut::<T>()) {
                    Some(transform) => apply_batch(transform, batch),
                    None => Err(Error::fatal("`apply` called before `configure`")),
                },
            )
            .map_err(Error::into_wit)
    }
}

/// Type-checks a transform on targets where nothing is exported.
pub fn assert_transform<T: Transform>() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;

    struct Upper;

    impl Transform for Upper {
        fn describe() -> PluginInfo {
            PluginInfo::new(
                "Upper",
                "Uppercases string values; drops `drop`; fails on `bad`.",
            )
        }
        fn version() -> String {
            "1".into()
        }
        fn configure(_config: Config) -> Result<Self, Error> {
            Ok(Self)
        }
        fn apply(&mut self, record: &TransformRecord) -> Result<Disposition, Error> {
            match record.value.as_ref().map(|d| &d.value) {
                Some(Value::String(s)) if s == "drop" => Ok(Disposition::Drop),
                Some(Value::String(s)) if s == "bad" => Err(Error::fatal("bad value")),
                Some(Value::String(s)) if s.chars().any(char::is_lowercase) => {
                    let mut new = record.clone();
                    new.value = Some(Data::string(s.to_uppercase()));
                    Ok(Disposition::Replace(new))
                }
                _ => Ok(Disposition::Keep),
            }
        }
    }

    fn batch(values: &[&str]) -> transform_wit::TransformBatch {
        let mut table = SchemaTable::default();
        let records = values
            .iter()
            .map(|v| TransformRecord::new("t", Some(Data::string(*v))).into_wit(&mut table))
            .collect();
        transform_wit::TransformBatch {
            schemas: table.into_schemas(),
            records,
        }
    }

    #[test]
    fn only_replaced_records_are_sent_back() {
        let output = apply_batch(&mut Upper, batch(&["KEEP", "abc", "drop", "bad", "x"])).unwrap();
        use transform_wit::Disposition as D;
        assert_eq!(
            output.dispositions,
            vec![
                D::Keep,
                D::Replace(0),
                D::Drop,
                D::Fail("bad value".into()),
                D::Replace(1)
            ]
        );
        assert_eq!(output.records.len(), 2);
        assert_eq!(output.schemas.len(), 1, "one shared string schema");
        let mut schemas = SchemaResolver::new(&output.schemas);
        let first = TransformRecord::from_wit(output.records[0].clone(), &mut schemas).unwrap();
        assert_eq!(first.value.unwrap().value, Value::String("ABC".into()));
    }
}
