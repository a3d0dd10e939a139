//! The integration tests, as one binary. Each module is one area; the harness lives in
//! `tests/src/lib.rs`. Components come from `cargo build-connectors`.

// file-source → log → file-sink on the embedded log and on Kafka (MockCluster); resuming.
mod pipeline;
// Distributed mode: worker processes sharing connectors through a (mock) Kafka cluster.
mod distributed;
// kill -9 of the `wasm-connect` binary in the middle of a copy, then restart.
mod crash;
// Reconfiguration requests, raise-error, the restart policy and the dead letter queue.
mod lifecycle;
// Hostile guests (trap, endless loops, memory bomb, stack overflow, record and log floods,
// reads outside a grant, HTTP off the allow-list or to loopback) fail only their own task.
mod sandbox;
// Guests inside their per-call limits that go after the host: impostors of other plugins,
// and what they make the host hold, store, log or echo.
mod hardening;
// Every Connect schema type crosses the boundary both ways without loss.
mod data_model;
// A thousand tasks on a few threads.
mod scale;
// The worker's wasm instance capacity: refusals past it by name, what an instance costs.
mod capacity;
// Transforms in pipelines; errors.tolerance, the dead letter queue, redelivery with backoff.
mod errors;
// The REST API over HTTP: Kafka Connect's paths, status codes and bodies.
mod rest;
// Transform components (the `transform` world) in chains on both sides, hostile transforms
// under both tolerances, and a transform uploaded over REST.
mod transform;
// The HTTP connectors against a server on 127.0.0.1, and the egress policy.
mod http;
// The PostgreSQL connectors against a real server, and outgoing TCP under the sandbox.
mod postgres;
// JavaScript connectors (guest-sdk/js): end to end, resuming, files, JS exceptions as traces.
mod javascript;
// Python connectors built with componentize-py: end to end, resuming, Python errors as traces.
mod python;
// `wasm-connect topics` on the embedded log, through a running worker and without one.
mod topics;
// `GET /metrics`: Kafka Connect's metrics under Strimzi's names, checked by promtool and
// scraped by a real Prometheus.
mod metrics;
// The worker's own log as JSON lines (`log.format=json`).
mod logs;
// Config providers: secrets reach connectors and show nowhere else.
mod secrets;
// Tenants: credentials, isolation of connectors and topics, quotas.
mod tenants;
// The connector conformance kit over the example connectors of each language.
mod conformance;
