//! The WIT imports the host implements for guests, one file per interface, all on
//! [`HostState`](super::state::HostState). None of them blocks: they read or update state the
//! worker shares through [`InstanceContext`](super::InstanceContext), or send it an event.
//! The two async imports, `errant-record-reporter.flush` and `network.resolve-tcp`, wait with a
//! timeout.

mod connector_context;
mod errant_record_reporter;
mod logging;
mod network;
mod offset_storage_reader;
mod sink_task_context;
mod source_task_context;
