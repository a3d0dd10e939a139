//! `offset-storage-reader`: committed source offsets through the worker's [`OffsetReader`]
//! (none when the instance has no reader).
//!
//! [`OffsetReader`]: crate::runtime::OffsetReader

use crate::runtime::{
    bindings::{source::wasm_connect::connector::offset_storage_reader::Host, wit::OffsetMap},
    convert,
    state::HostState,
};

/// Most partitions one `offsets` call may ask for.
const MAX_PARTITIONS_PER_CALL: usize = 100_000;

impl HostState {
    fn read_offset(&self, partition: OffsetMap) -> Option<OffsetMap> {
        let reader = self.ctx.offsets.as_ref()?;
        let partition = convert::offset_map_from_wit(partition);
        reader.offset(&partition).map(convert::offset_map_to_wit)
    }
}

impl Host for HostState {
    fn offset(&mut self, partition: OffsetMap) -> wasmtime::Result<Option<OffsetMap>> {
        Ok(self.read_offset(partition))
    }

    fn offsets(&mut self, partitions: Vec<OffsetMap>) -> wasmtime::Result<Vec<Option<OffsetMap>>> {
        if partitions.len() > MAX_PARTITIONS_PER_CALL {
            wasmtime::bail!(
                "offset-storage-reader.offsets asked for {} partitions; at most {MAX_PARTITIONS_PER_CALL} are allowed",
                partitions.len()
            );
        }
        Ok(partitions
            .into_iter()
            .map(|partition| self.read_offset(partition))
            .collect())
    }
}
