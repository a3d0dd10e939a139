//! Worker state that outlives tasks: source offsets (file-backed in standalone mode).

pub mod offsets;

pub use offsets::{FileOffsetStore, StorageError};
