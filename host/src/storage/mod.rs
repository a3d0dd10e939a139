//! Worker state that outlives tasks, behind the three seams Kafka Connect has: connector
//! configs ([`ConfigBackingStore`]), source offsets ([`OffsetBackingStore`]) and statuses
//! ([`StatusBackingStore`]). A standalone worker keeps them in a config file, an offsets file
//! and memory; a distributed one in Kafka's internal topics. Knows connector configs as data,
//! nothing of running connectors.

pub mod config;
mod json_lines;
pub mod kafka_config;
pub mod kafka_offsets;
pub mod kafka_status;
pub mod offsets;
pub mod status;
pub mod topic;

pub use config::{ConfigBackingStore, FileConfigStore, Restored, StoreError, StoredConnector};
pub use offsets::{FileOffsetStore, OffsetBackingStore, StorageError};
pub use status::{ConnectorStatus, MemoryStatusStore, State, StateInfo, StatusBackingStore};
