//! `sink-task-context`: reads and updates the [`SinkContextState`] the sink loop shares with
//! the task (nothing, for an instance without one). Requests are merged so the state stays
//! small however often the guest calls: the latest reset offset per partition wins, and
//! pausing a partition cancels a pending resume of it and vice versa. Only partitions
//! assigned to the task count (Kafka Connect refuses the others); the rest are ignored, so
//! the state never holds more than the assignment, whatever the guest passes.
//!
//! [`SinkContextState`]: crate::runtime::SinkContextState

use std::{collections::HashSet, sync::PoisonError, time::Duration};

use crate::{
    data::TopicPartition,
    runtime::{
        SinkContextState,
        bindings::{
            sink::wasm_connect::connector::sink_task_context::Host,
            wit::{TopicPartition as WitTopicPartition, TopicPartitionOffset as WitOffset},
        },
        convert,
        state::HostState,
    },
};

impl HostState {
    fn with_sink_context<R>(&self, f: impl FnOnce(&mut SinkContextState) -> R) -> Option<R> {
        let context = self.ctx.sink_context.as_ref()?;
        let mut state = context.lock().unwrap_or_else(PoisonError::into_inner);
        Some(f(&mut state))
    }
}

/// The assigned partitions among `requested`, each once.
fn assigned(
    assignment: &[TopicPartition],
    requested: impl IntoIterator<Item = TopicPartition>,
) -> Vec<TopicPartition> {
    let assigned: HashSet<&TopicPartition> = assignment.iter().collect();
    let mut seen = HashSet::new();
    requested
        .into_iter()
        .filter(|tp| assigned.contains(tp) && seen.insert(tp.clone()))
        .collect()
}

fn merge(
    into: &mut Vec<TopicPartition>,
    remove_from: &mut Vec<TopicPartition>,
    add: Vec<TopicPartition>,
) {
    for tp in add {
        remove_from.retain(|other| *other != tp);
        if !into.contains(&tp) {
            into.push(tp);
        }
    }
}

impl Host for HostState {
    fn assignment(&mut self) -> wasmtime::Result<Vec<WitTopicPartition>> {
        Ok(self
            .with_sink_context(|state| {
                state
                    .assignment
                    .iter()
                    .map(convert::topic_partition_to_wit)
                    .collect()
            })
            .unwrap_or_default())
    }

    fn reset_offsets(&mut self, offsets: Vec<WitOffset>) -> wasmtime::Result<()> {
        self.with_sink_context(|state| {
            let assigned: HashSet<&TopicPartition> = state.assignment.iter().collect();
            let offsets: Vec<_> = offsets
                .into_iter()
                .map(convert::topic_partition_offset_from_wit)
                .filter(|o| {
                    assigned.contains(&TopicPartition {
                        topic: o.topic.clone(),
                        partition: o.partition,
                    })
                })
                .collect();
            for offset in offsets {
                match state
                    .reset_offsets
                    .iter_mut()
                    .find(|o| o.topic == offset.topic && o.partition == offset.partition)
                {
                    Some(existing) => existing.offset = offset.offset,
                    None => state.reset_offsets.push(offset),
                }
            }
        });
        Ok(())
    }

    fn pause(&mut self, partitions: Vec<WitTopicPartition>) -> wasmtime::Result<()> {
        self.with_sink_context(|state| {
            let partitions = assigned(
                &state.assignment,
                partitions
                    .into_iter()
                    .map(convert::topic_partition_from_wit),
            );
            merge(&mut state.pause, &mut state.resume, partitions)
        });
        Ok(())
    }

    fn resume(&mut self, partitions: Vec<WitTopicPartition>) -> wasmtime::Result<()> {
        self.with_sink_context(|state| {
            let partitions = assigned(
                &state.assignment,
                partitions
                    .into_iter()
                    .map(convert::topic_partition_from_wit),
            );
            merge(&mut state.resume, &mut state.pause, partitions)
        });
        Ok(())
    }

    fn request_commit(&mut self) -> wasmtime::Result<()> {
        self.with_sink_context(|state| state.commit_requested = true);
        Ok(())
    }

    fn timeout(&mut self, milliseconds: u64) -> wasmtime::Result<()> {
        self.with_sink_context(|state| state.timeout = Some(Duration::from_millis(milliseconds)));
        Ok(())
    }
}
