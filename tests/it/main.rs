//! The integration tests, as one binary. Each module is one area; the harness lives in
//! `tests/src/lib.rs`. Components come from `cargo build-connectors`.

// file-source → log → file-sink on the embedded log and on Kafka (MockCluster); resuming.
mod pipeline;
// kill -9 of the `wasm-connect` binary in the middle of a copy, then restart.
mod crash;
// Reconfiguration requests, raise-error, the restart policy and the dead letter queue.
mod lifecycle;
// Hostile guests (trap, endless loops, memory bomb, stack overflow, record and log floods,
// reads outside a grant) fail only their own task.
mod sandbox;
// Every Connect schema type crosses the boundary both ways without loss.
mod data_model;
// A thousand tasks on a few threads.
mod scale;
// The REST API over HTTP: Kafka Connect's paths, status codes and bodies.
mod rest;
