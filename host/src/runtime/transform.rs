//! Transform instances: one `Store` per task and transform step, the calls of the exported
//! `transformation` interface, and the conversion of a batch to the guest and of its
//! dispositions back, validating everything the guest sends.
//!
//! A batch crosses the boundary once per call. Records the guest keeps are not sent back:
//! the guest answers `keep` and the caller keeps its own record, so only replaced records are
//! converted into host data.

use super::{
    CallError, ConfigMap,
    bindings::{transform::Transform, wit, wit_transform},
    convert::{self, SchemaTable},
    instance::{Sandbox, guest_call},
};
use crate::{
    config::def::{ConfigKey, ConfigValue},
    data::{Data, Header, SchemaRef},
};

/// One record as the transform sees it, borrowed from the caller's record.
#[derive(Debug, Clone, Copy)]
pub struct TransformInput<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub key: Option<&'a Data>,
    pub value: Option<&'a Data>,
    pub timestamp: Option<i64>,
    pub headers: &'a [Header],
}

/// A replacement record the transform returned.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformedRecord {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Data>,
    pub value: Option<Data>,
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

/// What the transform did with one input record.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformOutcome {
    /// Unchanged: the caller keeps its record.
    Keep,
    Drop,
    Replace(TransformedRecord),
    /// The transform could not handle this record; the message says why.
    Fail(String),
}

/// What `transformation.describe` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformDescription {
    pub class_name: String,
    pub aliases: Vec<String>,
    pub description: String,
}

/// The instance of a transform component serving one task's transform step.
pub struct TransformInstance {
    sandbox: Sandbox,
    guest: Box<Transform>,
    poisoned: bool,
}

impl TransformInstance {
    /// Bytes of linear memory and tables the instance holds.
    pub fn memory_used(&self) -> usize {
        self.sandbox.memory_used()
    }

    pub(crate) fn new(sandbox: Sandbox, guest: Transform) -> Self {
        Self {
            sandbox,
            guest: Box::new(guest),
            poisoned: false,
        }
    }

    /// Whether a call trapped (every later call fails at once): drop the instance.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn note<T>(&mut self, result: Result<T, CallError>) -> Result<T, CallError> {
        if let Err(CallError::Trap { .. }) = &result {
            self.poisoned = true;
        }
        result
    }

    pub async fn describe(&mut self) -> Result<TransformDescription, CallError> {
        let iface = self.guest.wasm_connect_connector_transformation();
        let info = guest_call!(&mut self.sandbox, "describe", |store| iface
            .call_describe(store))?;
        Ok(TransformDescription {
            class_name: info.class_name,
            aliases: info.aliases,
            description: info.description,
        })
    }

    pub async fn version(&mut self) -> Result<String, CallError> {
        let iface = self.guest.wasm_connect_connector_transformation();
        guest_call!(&mut self.sandbox, "version", |store| iface
            .call_version(store))
    }

    pub async fn config_def(&mut self) -> Result<Vec<ConfigKey>, CallError> {
        let iface = self.guest.wasm_connect_connector_transformation();
        let keys = guest_call!(&mut self.sandbox, "config-def", |store| iface
            .call_config_def(store))?;
        Ok(keys.into_iter().map(convert::config_key_from_wit).collect())
    }

    pub async fn validate(&mut self, config: &ConfigMap) -> Result<Vec<ConfigValue>, CallError> {
        let config = convert::config_to_wit(config);
        let iface = self.guest.wasm_connect_connector_transformation();
        let values = guest_call!(&mut self.sandbox, "validate", |store| iface
            .call_validate(store, &config))?;
        self.sandbox.validate_results(values)
    }

    /// Kafka Connect's `configure`, with the step's settings (prefix removed).
    pub async fn configure(&mut self, config: &ConfigMap) -> Result<(), CallError> {
        let config = convert::config_to_wit(config);
        let iface = self.guest.wasm_connect_connector_transformation();
        let result = guest_call!(&mut self.sandbox, "configure", |store| iface
            .call_configure(store, &config));
        let result = self.note(result)?;
        self.sandbox.connector_result("configure", result)
    }

    /// Transforms a batch in one guest call: one outcome per input, in order. A trap, an
    /// exhausted limit or malformed output poisons the instance (the caller replaces it).
    pub async fn apply(
        &mut self,
        records: &[TransformInput<'_>],
    ) -> Result<Vec<TransformOutcome>, CallError> {
        let batch = batch_to_wit(records);
        let iface = self.guest.wasm_connect_connector_transformation();
        let result = guest_call!(&mut self.sandbox, "apply", |store| iface
            .call_apply(store, &batch));
        let result = self.note(result)?;
        let output = self.sandbox.connector_result("apply", result)?;
        let limits = self.sandbox.host_limits();
        let outcomes = outcomes_from_wit(output, records.len(), &limits)
            .map_err(|message| self.sandbox.invalid("apply", message));
        self.note(outcomes)
    }
}

/// The batch for `apply`: each distinct schema once, as in a `put` batch.
pub(crate) fn batch_to_wit(records: &[TransformInput<'_>]) -> wit_transform::TransformBatch {
    let mut table = SchemaTable::new();
    let records = records
        .iter()
        .map(|record| wit_transform::TransformRecord {
            topic: record.topic.to_owned(),
            partition: record.partition,
            offset: record.offset,
            key: record
                .key
                .map(|d| convert::data_to_wit(d.clone(), &mut table)),
            value: record
                .value
                .map(|d| convert::data_to_wit(d.clone(), &mut table)),
            timestamp: record.timestamp,
            headers: record
                .headers
                .iter()
                .map(|h| convert::header_to_wit(h.clone(), &mut table))
                .collect(),
        })
        .collect();
    wit_transform::TransformBatch {
        schemas: table.into_schemas(),
        records,
    }
}

/// Checks and converts what `apply` returned for a batch of `inputs` records: exactly one
/// disposition per input, every `replace` index in range and used once.
pub(crate) fn outcomes_from_wit(
    output: wit_transform::TransformOutput,
    inputs: usize,
    limits: &super::HostLimits,
) -> Result<Vec<TransformOutcome>, convert::Invalid> {
    if output.dispositions.len() != inputs {
        return Err(format!(
            "apply returned {} dispositions for {inputs} records; return exactly one per record",
            output.dispositions.len()
        ));
    }
    convert::check_batch_records(output.records.len())?;
    if output.records.len() > inputs {
        return Err(format!(
            "apply returned {} replacement records for {inputs} input records; each input can \
             be replaced at most once",
            output.records.len()
        ));
    }
    let schemas = convert::schemas_from_wit(output.schemas, limits)?;
    let mut replacements: Vec<Option<wit_transform::TransformRecord>> =
        output.records.into_iter().map(Some).collect();
    output
        .dispositions
        .into_iter()
        .enumerate()
        .map(|(i, disposition)| {
            Ok(match disposition {
                wit_transform::Disposition::Keep => TransformOutcome::Keep,
                wit_transform::Disposition::Drop => TransformOutcome::Drop,
                wit_transform::Disposition::Fail(message) => {
                    TransformOutcome::Fail(crate::text::truncated(message, limits.string_max_bytes))
                }
                wit_transform::Disposition::Replace(index) => {
                    let count = replacements.len();
                    let record = replacements
                        .get_mut(index as usize)
                        .ok_or_else(|| {
                            format!(
                                "disposition {i} replaces record {index}, which does not exist \
                                 (the output has {count} records)"
                            )
                        })?
                        .take()
                        .ok_or_else(|| {
                            format!(
                                "disposition {i} replaces record {index}, which an earlier \
                                 disposition already used"
                            )
                        })?;
                    TransformOutcome::Replace(
                        record_from_wit(record, &schemas)
                            .map_err(|e| format!("replacement record {index}: {e}"))?,
                    )
                }
            })
        })
        .collect()
}

fn record_from_wit(
    record: wit_transform::TransformRecord,
    schemas: &[SchemaRef],
) -> Result<TransformedRecord, convert::Invalid> {
    let data = |data: Option<wit::Data>, what: &str| {
        data.map(|d| convert::data_from_wit(d, schemas))
            .transpose()
            .map_err(|e| format!("{what}: {e}"))
    };
    let headers = record
        .headers
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let value = convert::data_from_wit(h.value, schemas)
                .map_err(|e| format!("header {i} (`{}`): {e}", h.key))?;
            Ok(Header { key: h.key, value })
        })
        .collect::<Result<_, convert::Invalid>>()?;
    Ok(TransformedRecord {
        topic: record.topic,
        partition: record.partition,
        key: data(record.key, "key")?,
        value: data(record.value, "value")?,
        timestamp: record.timestamp,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::data::{Schema, SchemaType, Value};

    fn output(
        dispositions: Vec<wit_transform::Disposition>,
        records: Vec<wit_transform::TransformRecord>,
    ) -> wit_transform::TransformOutput {
        wit_transform::TransformOutput {
            dispositions,
            schemas: Vec::new(),
            records,
        }
    }

    fn record(topic: &str) -> wit_transform::TransformRecord {
        wit_transform::TransformRecord {
            topic: topic.into(),
            partition: None,
            offset: None,
            key: None,
            value: Some(wit::Data {
                schema: None,
                value: wit::DataValue::String("v".into()),
            }),
            timestamp: Some(7),
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_batch_defines_a_shared_schema_once() {
        let schema = Arc::new(Schema::primitive(SchemaType::String));
        let data = Data::new(Some(schema), Value::String("x".into()));
        let inputs: Vec<TransformInput<'_>> = (0..3)
            .map(|i| TransformInput {
                topic: "t",
                partition: Some(i),
                offset: None,
                key: None,
                value: Some(&data),
                timestamp: None,
                headers: &[],
            })
            .collect();
        let batch = batch_to_wit(&inputs);
        assert_eq!(batch.schemas.len(), 1);
        assert_eq!(batch.records.len(), 3);
        assert_eq!(batch.records[2].partition, Some(2));
    }

    fn limits() -> crate::runtime::HostLimits {
        crate::runtime::HostLimits::default()
    }

    #[test]
    fn dispositions_map_to_outcomes_and_replacements_are_decoded() {
        use wit_transform::Disposition as D;
        let outcomes = outcomes_from_wit(
            output(
                vec![D::Keep, D::Drop, D::Replace(0), D::Fail("bad".into())],
                vec![record("routed")],
            ),
            4,
            &limits(),
        )
        .unwrap();
        assert_eq!(outcomes[0], TransformOutcome::Keep);
        assert_eq!(outcomes[1], TransformOutcome::Drop);
        let TransformOutcome::Replace(replaced) = &outcomes[2] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(replaced.topic, "routed");
        assert_eq!(replaced.timestamp, Some(7));
        assert_eq!(
            replaced.value.as_ref().unwrap().value,
            Value::String("v".into())
        );
        assert_eq!(outcomes[3], TransformOutcome::Fail("bad".into()));
    }

    #[test]
    fn malformed_output_is_rejected_with_what_is_wrong() {
        use wit_transform::Disposition as D;
        let error = outcomes_from_wit(output(vec![D::Keep], Vec::new()), 2, &limits()).unwrap_err();
        assert!(error.contains("1 dispositions for 2 records"), "{error}");
        let error = outcomes_from_wit(output(vec![D::Replace(3)], vec![record("a")]), 1, &limits())
            .unwrap_err();
        assert!(error.contains("record 3, which does not exist"), "{error}");
        let error = outcomes_from_wit(
            output(vec![D::Replace(0), D::Replace(0)], vec![record("a")]),
            2,
            &limits(),
        )
        .unwrap_err();
        assert!(error.contains("already used"), "{error}");
        let mut bad = record("a");
        bad.value = Some(wit::Data {
            schema: Some(9),
            value: wit::DataValue::Null,
        });
        let error =
            outcomes_from_wit(output(vec![D::Replace(0)], vec![bad]), 1, &limits()).unwrap_err();
        assert!(error.contains("replacement record 0: value"), "{error}");
    }
}
