//! One task's run of a [`TransformChain`] that contains transform components: the task's own
//! sandboxed instance of each component step, and the batched application of the chain
//! (built-in SMTs record by record, each component step in one guest call per batch). Lives
//! with the task loops, not with the pure SMTs in `transforms`: it owns wasm instances.
//!
//! An instance is created and configured when the task starts. A trap, an exhausted limit or
//! malformed output fails every record the call was given at the `TRANSFORMATION` stage, and
//! the instance is dropped; the next batch gets a fresh one.

use std::sync::Arc;

use crate::{
    runtime::{InstanceContext, TransformInput, TransformInstance, TransformOutcome},
    transforms::{
        Applied, ConnectRecord, TransformChain, TransformError,
        chain::{PluginStep, Stage, Step},
    },
};

/// What the chain did with one record of a batch.
#[derive(Debug, PartialEq)]
pub enum Transformed<R> {
    /// Through every stage; deliver it.
    Kept(R),
    /// A stage dropped it.
    Dropped,
    /// A stage failed on it; `record` is as far as it got.
    Failed { record: R, error: TransformError },
}

/// A task's transform chain with its own component instances.
pub struct TaskTransforms {
    chain: Arc<TransformChain>,
    /// One entry per stage: the instance of a component step (None for built-ins, and after
    /// a trap until the next batch needs it).
    instances: Vec<Option<TransformInstance>>,
    /// The task's identity and limits, for every instance.
    context: InstanceContext,
}

impl TaskTransforms {
    /// Creates and configures an instance of every component step in `context`'s sandbox
    /// limits. Fails, naming the alias, if one cannot be created or refuses its settings.
    pub async fn start(
        chain: Arc<TransformChain>,
        context: InstanceContext,
    ) -> Result<Self, TransformError> {
        let mut instances = Vec::with_capacity(chain.stages.len());
        for stage in &chain.stages {
            instances.push(match &stage.step {
                Step::Plugin(step) => Some(instantiate(stage, step, &context).await?),
                Step::Builtin(_) => None,
            });
        }
        Ok(Self {
            chain,
            instances,
            context,
        })
    }

    pub fn chain(&self) -> &TransformChain {
        &self.chain
    }

    /// Applies the chain to a batch: one outcome per record, in order. Each component step
    /// gets the records that reached it (and that its predicate selects) in one call; records
    /// it keeps are not copied back.
    pub async fn apply_batch<R: ConnectRecord + Send>(
        &mut self,
        records: Vec<R>,
    ) -> Vec<Transformed<R>> {
        let mut slots: Vec<Transformed<R>> = records.into_iter().map(Transformed::Kept).collect();
        for (index, stage) in self.chain.stages.iter().enumerate() {
            match &stage.step {
                Step::Builtin(transform) => {
                    for slot in &mut slots {
                        let Transformed::Kept(record) = slot else {
                            continue;
                        };
                        if !stage.applies(record) {
                            continue;
                        }
                        match transform.apply(record) {
                            Ok(Applied::Keep) => {}
                            Ok(Applied::Drop) => *slot = Transformed::Dropped,
                            Err(error) => fail(slot, stage.error(error.0)),
                        }
                    }
                }
                Step::Plugin(step) => {
                    let selected: Vec<usize> = slots
                        .iter()
                        .enumerate()
                        .filter_map(|(i, slot)| match slot {
                            Transformed::Kept(record) if stage.applies(record) => Some(i),
                            _ => None,
                        })
                        .collect();
                    if selected.is_empty() {
                        continue;
                    }
                    let result = run_step(
                        stage,
                        step,
                        &mut self.instances[index],
                        &self.context,
                        &slots,
                        &selected,
                    )
                    .await;
                    match result {
                        Ok(outcomes) => {
                            for (i, outcome) in selected.into_iter().zip(outcomes) {
                                let slot = &mut slots[i];
                                match outcome {
                                    TransformOutcome::Keep => {}
                                    TransformOutcome::Drop => *slot = Transformed::Dropped,
                                    TransformOutcome::Fail(message) => {
                                        fail(slot, stage.error(message))
                                    }
                                    TransformOutcome::Replace(new) => {
                                        if let Transformed::Kept(record) = slot {
                                            record.set_topic(new.topic);
                                            record.set_kafka_partition(new.partition);
                                            *record.key_mut() = new.key;
                                            *record.value_mut() = new.value;
                                            record.set_timestamp(new.timestamp);
                                            *record.headers_mut() = new.headers;
                                        }
                                    }
                                }
                            }
                        }
                        Err(error) => {
                            for i in selected {
                                fail(&mut slots[i], error.clone());
                            }
                        }
                    }
                }
            }
        }
        slots
    }
}

impl TransformChain {
    /// Has each transform component check its step's settings with its `validate`, in a
    /// throwaway instance per step (as a connector validates its config before it starts).
    /// Returns one `transforms.<alias>.<key>: <problem>` line per problem.
    pub async fn validate_plugins(&self, context: InstanceContext) -> Vec<String> {
        let mut problems = Vec::new();
        for stage in &self.stages {
            let Step::Plugin(step) = &stage.step else {
                continue;
            };
            let key = |name: &str| format!("transforms.{}.{name}", stage.alias);
            let values = match step.plugin.transform(context.clone()).await {
                Ok(mut instance) => instance
                    .validate(&step.config)
                    .await
                    .map_err(|e| e.to_string()),
                Err(error) => Err(crate::error_chain(&error)),
            };
            match values {
                Ok(values) => problems.extend(values.into_iter().flat_map(|value| {
                    let key = key(&value.name);
                    value
                        .errors
                        .into_iter()
                        .map(move |error| format!("{key}: {error}"))
                })),
                Err(error) => problems.push(format!("{}: {error}", key("type"))),
            }
        }
        problems
    }
}

/// Turns a kept record into a failed one.
fn fail<R>(slot: &mut Transformed<R>, error: TransformError) {
    if let Transformed::Kept(record) = std::mem::replace(slot, Transformed::Dropped) {
        *slot = Transformed::Failed { record, error };
    }
}

/// A configured instance of a component step.
async fn instantiate(
    stage: &Stage,
    step: &PluginStep,
    context: &InstanceContext,
) -> Result<TransformInstance, TransformError> {
    let mut instance = step
        .plugin
        .transform(context.clone())
        .await
        .map_err(|error| stage.error(crate::error_chain(&error)))?;
    instance
        .configure(&step.config)
        .await
        .map_err(|error| stage.error(error.to_string()))?;
    Ok(instance)
}

/// One guest call for the selected records, with a fresh instance if the last one trapped.
async fn run_step<R: ConnectRecord>(
    stage: &Stage,
    step: &PluginStep,
    slot: &mut Option<TransformInstance>,
    context: &InstanceContext,
    slots: &[Transformed<R>],
    selected: &[usize],
) -> Result<Vec<TransformOutcome>, TransformError> {
    let instance = match slot {
        Some(instance) => instance,
        None => slot.insert(instantiate(stage, step, context).await?),
    };
    let inputs: Vec<TransformInput<'_>> = selected
        .iter()
        .filter_map(|&i| match &slots[i] {
            Transformed::Kept(record) => Some(input(record)),
            _ => None,
        })
        .collect();
    let result = instance.apply(&inputs).await;
    if instance.is_poisoned() {
        // Never reuse an instance after a trap.
        *slot = None;
    }
    result.map_err(|error| stage.error(error.to_string()))
}

fn input<R: ConnectRecord>(record: &R) -> TransformInput<'_> {
    TransformInput {
        topic: record.topic(),
        partition: record.kafka_partition(),
        offset: record.kafka_offset(),
        key: record.key(),
        value: record.value(),
        timestamp: record.timestamp(),
        headers: record.headers(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Data, Value};
    use crate::transforms::test_util::{settings, source_record};

    fn context() -> InstanceContext {
        InstanceContext::detached("c", Some(0), Default::default())
    }

    #[tokio::test]
    async fn builtin_stages_run_over_a_batch_with_predicates() {
        let chain = TransformChain::from_settings(&settings(&[
            ("transforms", "drop, route"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "tomb"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "(.*)"),
            ("transforms.route.replacement", "x-$1"),
            ("predicates", "tomb"),
            ("predicates.tomb.type", "RecordIsTombstone"),
        ]))
        .unwrap();
        assert!(!chain.has_plugins());
        let mut task = TaskTransforms::start(Arc::new(chain), context())
            .await
            .unwrap();
        let kept = source_record(None, Some(Data::schemaless(Value::Int32(1))));
        let tombstone = source_record(None, None);
        let out = task.apply_batch(vec![kept.clone(), tombstone]).await;
        let Transformed::Kept(routed) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(*routed.topic, format!("x-{}", kept.topic));
        assert_eq!(out[1], Transformed::Dropped);
    }

    #[tokio::test]
    async fn a_failing_builtin_fails_only_its_record() {
        let chain = TransformChain::from_settings(&settings(&[
            ("transforms", "extract"),
            ("transforms.extract.type", "ExtractField$Value"),
            ("transforms.extract.field", "f"),
        ]))
        .unwrap();
        let mut task = TaskTransforms::start(Arc::new(chain), context())
            .await
            .unwrap();
        let bad = source_record(None, Some(Data::schemaless(Value::Int32(1))));
        let good = source_record(
            None,
            Some(Data::schemaless(Value::Map(vec![(
                Value::String("f".into()),
                Value::Int32(2),
            )]))),
        );
        let out = task.apply_batch(vec![bad, good]).await;
        let Transformed::Failed { error, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(error.alias, "extract");
        assert!(!error.plugin);
        let Transformed::Kept(good) = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!(good.value.as_ref().unwrap().value, Value::Int32(2));
    }
}
