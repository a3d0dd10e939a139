//! Connector and task instances: one `Store` each, and typed calls that enforce the sandbox
//! limits on every call.
//!
//! Every call sets the fuel budget, starts the wall clock the epoch callback checks (the
//! guest yields to tokio at every tick and is interrupted once the time is up), and is also
//! wrapped in a tokio timeout for time spent blocked in host calls. Any trap or contract
//! breach poisons the instance: later calls fail at once with [`TrapCause::Poisoned`].

use std::time::Duration;

use wasmtime::{Store, Trap};

use super::{
    CallError, ConfigMap, InstanceContext, RuntimeError, SandboxLimits, TaskOptions, TrapCause,
    bindings::{sink::SinkConnector, source::SourceConnector, wit, wit_source},
    convert,
    engine::Shared,
    records_json::RecordsJson,
    state::{HostState, new_store},
};
use crate::{
    config::def::{ConfigKey, ConfigValue},
    data::{RecordMetadata, SinkRecord, SourceRecord, TopicPartition, TopicPartitionOffset},
};

/// Longest trap message kept (wasmtime's message, the wasm backtrace and the guest's stderr).
const MAX_TRAP_MESSAGE_BYTES: usize = 16 << 10;

/// One store and the limits applied to each call on it.
pub(crate) struct Sandbox {
    store: Store<HostState>,
    /// This instance's share of the worker's capacity; dropped after the store.
    _slot: super::capacity::InstanceSlot,
    limits: SandboxLimits,
    /// Extra time the tokio timeout allows over `limits.timeout`, so a guest running wasm is
    /// stopped by the epoch callback (which reports where it was) rather than dropped.
    grace: Duration,
    poisoned: bool,
    fuel_used: Option<u64>,
    /// `RuntimeConfig::metering`.
    metering: bool,
    /// When the call in progress began, for its duration in the task's metrics.
    call_started: Option<std::time::Instant>,
    /// The store's fiber stack, whose pages [`Self::idle`] gives back.
    stack: super::stacks::StackClaim,
    /// Whether a call ran since the stack's pages were last given back.
    stack_used: bool,
    /// Give the stack's pages back after every call: a connector instance, called seldom.
    idle_between_calls: bool,
}

impl Sandbox {
    /// A sandbox for an instance of code compiled by `engine` (either tier's).
    pub(crate) fn new(
        shared: &Shared,
        engine: &wasmtime::Engine,
        ctx: InstanceContext,
        origin: &str,
        memories: usize,
    ) -> Result<Self, RuntimeError> {
        let slot = shared
            .capacity
            .acquire(shared.capacity_units(engine, memories))
            .map_err(|source| RuntimeError::AtCapacity {
                origin: origin.to_owned(),
                source,
            })?;
        let limits = ctx.limits;
        let idle_between_calls = ctx.task.is_none();
        let store = new_store(
            engine,
            ctx,
            shared.config.metering,
            shared.config.throttle(),
            shared.config.limits,
        )
        .map_err(|e| RuntimeError::Instantiate {
            origin: origin.to_owned(),
            source: super::capacity::explain_os_failure(e.into()),
        })?;
        Ok(Self {
            store,
            _slot: slot,
            limits,
            grace: shared.config.epoch_tick * 4 + Duration::from_millis(20),
            poisoned: false,
            fuel_used: None,
            metering: shared.config.metering,
            call_started: None,
            stack: super::stacks::StackClaim::default(),
            stack_used: false,
            idle_between_calls,
        })
    }

    /// Runs `call`, a call or instantiation of this sandbox's store, so the fiber stack made
    /// for it is known (see [`super::stacks`]).
    pub(crate) fn claimed<'a, F: std::future::Future + 'a>(
        &'a mut self,
        call: impl FnOnce(&'a mut Store<HostState>) -> F,
    ) -> impl std::future::Future<Output = F::Output> + 'a {
        let claim = self.stack.clone();
        let call = call(&mut self.store);
        async move { super::stacks::claimed(&claim, call).await }
    }

    /// The instance has nothing to do for now: gives back the pages its fiber stack touched
    /// (the next call faults in what it uses). Cheap when no call ran since the last time.
    pub(crate) fn idle(&mut self) {
        if std::mem::take(&mut self.stack_used) && !self.poisoned {
            self.stack.release();
        }
    }

    /// What `validate` returned, bounded (see [`super::metadata::bound_config_values`]); a
    /// breach of the bounds is a contract violation.
    pub(crate) fn validate_results(
        &mut self,
        values: Vec<super::bindings::wit_config::ConfigValue>,
    ) -> Result<Vec<ConfigValue>, CallError> {
        let limits = self.host_limits();
        super::metadata::bound_config_values(
            values
                .into_iter()
                .map(convert::config_value_from_wit)
                .collect(),
            &limits,
        )
        .map_err(|message| self.invalid("validate", message))
    }

    /// The runtime's bounds on what the guest may make the host keep.
    pub(crate) fn host_limits(&self) -> super::HostLimits {
        self.store.data().limits
    }

    /// Bytes of linear memory and tables the instance holds.
    pub(crate) fn memory_used(&self) -> usize {
        self.store.data().limiter.used()
    }

    /// Prepares a call: refuses if poisoned, refuels, restarts the clock. Returns the
    /// timeout for the whole call future.
    pub(crate) fn begin(&mut self, call: &'static str) -> Result<Duration, CallError> {
        if self.poisoned {
            return Err(CallError::Trap {
                call,
                cause: TrapCause::Poisoned,
            });
        }
        let fuel = self.limits.fuel_per_call.unwrap_or(u64::MAX);
        if !self.metering {
            // Benchmark-only: no fuel, no deadline (see `RuntimeConfig::metering`).
        } else if let Err(error) = self.store.set_fuel(fuel) {
            self.poisoned = true;
            return Err(CallError::Trap {
                call,
                cause: TrapCause::Trap(format!("cannot set fuel: {error:?}")),
            });
        }
        self.store.set_epoch_deadline(1);
        self.store.data_mut().begin_call(self.limits.timeout);
        self.stack_used = true;
        self.call_started = Some(std::time::Instant::now());
        Ok(self.limits.timeout.saturating_add(self.grace))
    }

    /// Ends a call: maps a trap or timeout to its cause and poisons the instance.
    pub(crate) fn finish<R>(
        &mut self,
        call: &'static str,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, CallError> {
        let result = self.end_call(call, outcome);
        if self.idle_between_calls {
            self.idle();
        }
        result
    }

    fn end_call<R>(
        &mut self,
        call: &'static str,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, CallError> {
        self.store.data_mut().flush_output();
        if let Some(budget) = self.limits.fuel_per_call.filter(|_| self.metering) {
            self.fuel_used = self
                .store
                .get_fuel()
                .ok()
                .map(|left| budget.saturating_sub(left));
            if let (Some(compute), Some(fuel)) = (&self.store.data().ctx.budget, self.fuel_used) {
                compute.charge(fuel);
            }
        }
        let cause = match outcome {
            Ok(Ok(value)) => {
                // Resources the guest still holds after the call count too: a guest that
                // fills them up in its last operation and returns must not keep them.
                if self.metering {
                    let state = self.store.data_mut();
                    state.account();
                    match state.resource_refusal.take() {
                        None => {
                            self.count_call(call, None);
                            return Ok(value);
                        }
                        Some(refusal) => TrapCause::MemoryLimit {
                            limit: refusal.limit,
                            requested: refusal.requested,
                            host: refusal.host,
                        },
                    }
                } else {
                    self.count_call(call, None);
                    return Ok(value);
                }
            }
            Ok(Err(error)) => self.classify(&error),
            Err(_elapsed) => TrapCause::Timeout {
                limit: self.limits.timeout,
            },
        };
        self.poisoned = true;
        self.count_call(call, cause.label());
        let connector = &self.store.data().ctx.connector;
        tracing::debug!(connector = %connector, task = self.store.data().ctx.task, call, %cause, "Guest call trapped.");
        Err(CallError::Trap { call, cause })
    }

    /// Counts a finished call (its duration, fuel and trap) and the memory the instance holds
    /// in the task's metrics.
    fn count_call(&mut self, call: &'static str, trap: Option<&str>) {
        let took = self.call_started.take().map(|started| started.elapsed());
        let state = self.store.data();
        if let Some(metrics) = &state.ctx.metrics {
            let took = took.filter(|_| metrics.recording());
            metrics.guest.call(call, took, self.fuel_used, trap);
            if state.ctx.counts_memory {
                metrics
                    .guest
                    .memory(state.limiter.used(), self.limits.memory_max_bytes);
            }
        }
    }

    /// Ends instantiation: limits and traps become [`RuntimeError::Call`], link errors
    /// [`RuntimeError::Instantiate`].
    pub(crate) fn finish_instantiate<R>(
        &mut self,
        origin: &str,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, RuntimeError> {
        if let Ok(Err(error)) = &outcome
            && error.downcast_ref::<Trap>().is_none()
            && !self.store.data().clock.timed_out
            && error
                .downcast_ref::<super::limits::MemoryRefusal>()
                .is_none()
        {
            self.poisoned = true;
            return Err(RuntimeError::Instantiate {
                origin: origin.to_owned(),
                source: super::capacity::explain_os_failure(anyhow::anyhow!("{error:?}")),
            });
        }
        Ok(self.finish("instantiate", outcome)?)
    }

    /// The guest broke the data contract: poison the instance and say what was wrong.
    pub(crate) fn invalid(&mut self, call: &'static str, message: String) -> CallError {
        self.poisoned = true;
        CallError::Trap {
            call,
            cause: TrapCause::InvalidData(message),
        }
    }

    fn classify(&mut self, error: &wasmtime::Error) -> TrapCause {
        let limits = self.limits;
        let state = self.store.data_mut();
        if let Some(refusal) = state
            .resource_refusal
            .take()
            .or_else(|| state.limiter.take_refusal())
        {
            return TrapCause::MemoryLimit {
                limit: refusal.limit,
                requested: refusal.requested,
                host: refusal.host,
            };
        }
        if error.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
                Some(wasmtime::component::ResourceTableError::Full)
            )
        }) {
            return TrapCause::ResourceLimit {
                limit: state.limits.resources_max,
            };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => {
                return TrapCause::FuelExhausted {
                    budget: limits.fuel_per_call.unwrap_or(u64::MAX),
                };
            }
            Some(Trap::StackOverflow) => return TrapCause::StackOverflow,
            _ => {}
        }
        if state.clock.timed_out {
            return TrapCause::Timeout {
                limit: limits.timeout,
            };
        }
        // The root cause first (e.g. "wasm trap: wasm `unreachable` instruction executed"),
        // then what the guest printed (a Rust panic message), then the wasm backtrace and any
        // other context. Not `{error:?}`: that adds the host's Rust backtrace.
        let mut chain: Vec<String> = error.chain().map(|e| e.to_string()).collect();
        let mut message = chain.pop().unwrap_or_default();
        let stderr = state.stderr_tail();
        if !stderr.is_empty() {
            message.push_str("\nguest stderr:\n");
            message.push_str(&stderr);
        }
        for context in chain.iter().rev() {
            message.push('\n');
            message.push_str(context.trim_end());
        }
        state.ctx.secrets.conceal_in_place(&mut message);
        crate::text::truncate(&mut message, MAX_TRAP_MESSAGE_BYTES);
        TrapCause::Trap(message)
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl Sandbox {
    /// How long the next call must wait while the instance's compute budget is overdrawn (a
    /// tenant over its `quotas.fuel_per_second`), counted as the task's wait.
    pub(crate) fn budget_wait(&self) -> Option<Duration> {
        let ctx = &self.store.data().ctx;
        let wait = ctx.budget.as_ref().and_then(|budget| budget.delay())?;
        if let Some(metrics) = &ctx.metrics {
            metrics.guest.budget_wait.fetch_add(
                u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        Some(wait)
    }
}

/// Runs one guest call on a [`Sandbox`]: `|store| future` is the bindgen call. A call waits
/// first while the instance's compute budget is overdrawn.
macro_rules! guest_call {
    ($sandbox:expr, $call:literal, |$store:ident| $body:expr) => {{
        let sandbox: &mut Sandbox = $sandbox;
        if let Some(wait) = sandbox.budget_wait() {
            tokio::time::sleep(wait).await;
        }
        match sandbox.begin($call) {
            Err(error) => Err(error),
            Ok(deadline) => {
                let call = sandbox.claimed(|$store| $body);
                let outcome = tokio::time::timeout(deadline, call).await;
                sandbox.finish($call, outcome)
            }
        }
    }};
}

pub(crate) use guest_call;

impl Sandbox {
    /// Maps a guest `connector-error` result, its message bounded by
    /// `sandbox.string.max.bytes` (the host keeps it in statuses and logs it).
    pub(crate) fn connector_result<T>(
        &self,
        call: &'static str,
        result: Result<T, wit::ConnectorError>,
    ) -> Result<T, CallError> {
        let state = self.store.data();
        let max = state.limits.string_max_bytes;
        result.map_err(|error| CallError::Connector {
            call,
            error: convert::connector_error_from_wit(error, max).concealed(&state.ctx.secrets),
        })
    }
}

/// Accessors common to every instance.
macro_rules! instance_common {
    ($ty:ident) => {
        impl $ty {
            /// Whether an earlier call trapped (every later call fails at once).
            pub fn is_poisoned(&self) -> bool {
                self.sandbox.is_poisoned()
            }

            /// Fuel the last call used, if calls are metered.
            pub fn fuel_used(&self) -> Option<u64> {
                self.sandbox.fuel_used
            }

            /// Bytes of linear memory and tables the instance holds.
            pub fn memory_used(&self) -> usize {
                self.sandbox.store.data().limiter.used()
            }

            /// The instance has nothing to do for now: gives back the memory pages its last
            /// calls' stack touched, which the next call faults in again.
            pub fn idle(&mut self) {
                self.sandbox.idle();
            }

            /// Resident pages of the instance's fiber stack, once a call made one.
            #[cfg(test)]
            #[allow(dead_code, reason = "the tests ask only some kinds of instance")]
            pub(crate) fn stack_resident_pages(&self) -> Option<usize> {
                self.sandbox.stack.resident_pages()
            }
        }
    };
}

/// What `connector.describe` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorDescription {
    pub class_name: String,
    pub aliases: Vec<String>,
    pub description: String,
}

pub(crate) enum ConnectorGuest {
    Source(Box<SourceConnector>),
    Sink(Box<SinkConnector>),
}

/// The connector instance of a source or sink plugin.
pub struct ConnectorInstance {
    sandbox: Sandbox,
    guest: ConnectorGuest,
}

instance_common!(ConnectorInstance);

/// Calls a function of the exported `connector` interface, whichever world the guest is.
macro_rules! connector_call {
    ($self:ident, $call:literal, |$iface:ident, $store:ident| $body:expr) => {
        match &$self.guest {
            ConnectorGuest::Source(bindings) => {
                let $iface = bindings.wasm_connect_connector_connector();
                guest_call!(&mut $self.sandbox, $call, |$store| $body)
            }
            ConnectorGuest::Sink(bindings) => {
                let $iface = bindings.wasm_connect_connector_connector();
                guest_call!(&mut $self.sandbox, $call, |$store| $body)
            }
        }
    };
}

impl ConnectorInstance {
    pub(crate) fn new(sandbox: Sandbox, guest: ConnectorGuest) -> Self {
        Self { sandbox, guest }
    }

    pub async fn describe(&mut self) -> Result<ConnectorDescription, CallError> {
        match &self.guest {
            ConnectorGuest::Source(bindings) => {
                let iface = bindings.wasm_connect_connector_connector();
                let info = guest_call!(&mut self.sandbox, "describe", |store| iface
                    .call_describe(store))?;
                Ok(ConnectorDescription {
                    class_name: info.class_name,
                    aliases: info.aliases,
                    description: info.description,
                })
            }
            ConnectorGuest::Sink(bindings) => {
                let iface = bindings.wasm_connect_connector_connector();
                let info = guest_call!(&mut self.sandbox, "describe", |store| iface
                    .call_describe(store))?;
                Ok(ConnectorDescription {
                    class_name: info.class_name,
                    aliases: info.aliases,
                    description: info.description,
                })
            }
        }
    }

    pub async fn version(&mut self) -> Result<String, CallError> {
        connector_call!(self, "version", |iface, store| iface.call_version(store))
    }

    pub async fn config_def(&mut self) -> Result<Vec<ConfigKey>, CallError> {
        let keys = connector_call!(self, "config-def", |iface, store| iface
            .call_config_def(store))?;
        Ok(keys.into_iter().map(convert::config_key_from_wit).collect())
    }

    pub async fn validate(&mut self, config: &ConfigMap) -> Result<Vec<ConfigValue>, CallError> {
        let config = convert::config_to_wit(config);
        let values = connector_call!(self, "validate", |iface, store| iface
            .call_validate(store, &config))?;
        self.sandbox.validate_results(values)
    }

    pub async fn start(&mut self, config: &ConfigMap) -> Result<(), CallError> {
        let config = convert::config_to_wit(config);
        let result = connector_call!(self, "start", |iface, store| iface
            .call_start(store, &config))?;
        self.sandbox.connector_result("start", result)
    }

    pub async fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<ConfigMap>, CallError> {
        let result = connector_call!(self, "task-configs", |iface, store| iface
            .call_task_configs(store, max_tasks))?;
        let configs: Vec<ConfigMap> = self
            .sandbox
            .connector_result("task-configs", result)?
            .into_iter()
            .map(convert::config_from_wit)
            .collect();
        super::metadata::check_task_configs(&configs)
            .map_err(|message| self.sandbox.invalid("task-configs", message))?;
        Ok(configs)
    }

    pub async fn stop(&mut self) -> Result<(), CallError> {
        connector_call!(self, "stop", |iface, store| iface.call_stop(store))
    }
}

/// A source task instance.
pub struct SourceTaskInstance {
    sandbox: Sandbox,
    guest: Box<SourceConnector>,
}

instance_common!(SourceTaskInstance);

/// What one `poll` returned, not yet checked or converted (its `records-json` parsed, so
/// its size is known).
pub struct PolledBatch(
    wit_source::SourceBatch,
    super::HostLimits,
    Option<Duration>,
    super::records_json::RecordsJson,
);

impl PolledBatch {
    /// How long the task said it will have no records (`source-task-context.poll-again-after`
    /// during this `poll`), if it returned none and said so.
    pub fn idle_for(&self) -> Option<Duration> {
        self.2.filter(|_| self.is_empty())
    }

    /// How many records the guest returned.
    pub fn len(&self) -> usize {
        self.0.records.len() + self.3.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.records.is_empty() && self.3.is_empty()
    }

    /// Checks the batch against the data contract and converts it; an error is the trap
    /// `poll` would have reported.
    pub fn into_records(self) -> Result<Vec<SourceRecord>, CallError> {
        convert::source_batch_with_json(self.0, self.3, &self.1).map_err(|message| {
            CallError::Trap {
                call: "poll",
                cause: TrapCause::InvalidData(message),
            }
        })
    }
}

impl SourceTaskInstance {
    pub(crate) fn new(sandbox: Sandbox, guest: SourceConnector) -> Self {
        Self {
            sandbox,
            guest: Box::new(guest),
        }
    }

    pub async fn start(&mut self, config: &ConfigMap) -> Result<TaskOptions, CallError> {
        let config = convert::config_to_wit(config);
        let task = self.guest.wasm_connect_connector_source_task();
        let result = guest_call!(&mut self.sandbox, "start", |store| task
            .call_start(store, &config))?;
        let options = self.sandbox.connector_result("start", result)?;
        Ok(TaskOptions {
            wants_commit_records: options.wants_commit_records,
        })
    }

    pub async fn poll(&mut self) -> Result<Vec<SourceRecord>, CallError> {
        let batch = self.poll_batch().await?;
        batch
            .into_records()
            .inspect_err(|_| self.sandbox.poisoned = true)
    }

    /// [`Self::poll`] without the conversion to host records, so the caller can convert on
    /// another thread while the guest is polled again. The batch is checked only by
    /// [`PolledBatch::into_records`]: a caller that gets an error from it must not call the
    /// instance again (it broke the data contract).
    pub async fn poll_batch(&mut self) -> Result<PolledBatch, CallError> {
        let task = self.guest.wasm_connect_connector_source_task();
        let result = guest_call!(&mut self.sandbox, "poll", |store| task.call_poll(store))?;
        let limits = self.sandbox.host_limits();
        let idle_for = self.sandbox.store.data_mut().poll_again_after.take();
        let mut batch = self.sandbox.connector_result("poll", result)?;
        let json =
            RecordsJson::parse(batch.records_json.take()).map_err(|message| CallError::Trap {
                call: "poll",
                cause: TrapCause::InvalidData(message),
            })?;
        Ok(PolledBatch(batch, limits, idle_for, json))
    }

    pub async fn commit(&mut self) -> Result<(), CallError> {
        let task = self.guest.wasm_connect_connector_source_task();
        let result = guest_call!(&mut self.sandbox, "commit", |store| task.call_commit(store))?;
        self.sandbox.connector_result("commit", result)
    }

    /// Hands back acknowledged (or dropped) records, with the schema table their keys, values
    /// and header values refer to.
    pub async fn commit_records(
        &mut self,
        records: Vec<(SourceRecord, Option<RecordMetadata>)>,
    ) -> Result<(), CallError> {
        let batch = convert::committed_batch_to_wit(records);
        let task = self.guest.wasm_connect_connector_source_task();
        let result = guest_call!(&mut self.sandbox, "commit-records", |store| task
            .call_commit_records(store, &batch))?;
        self.sandbox.connector_result("commit-records", result)
    }

    pub async fn stop(&mut self) -> Result<(), CallError> {
        let task = self.guest.wasm_connect_connector_source_task();
        guest_call!(&mut self.sandbox, "stop", |store| task.call_stop(store))
    }
}

/// A sink task instance.
pub struct SinkTaskInstance {
    sandbox: Sandbox,
    guest: Box<SinkConnector>,
}

instance_common!(SinkTaskInstance);

impl SinkTaskInstance {
    pub(crate) fn new(sandbox: Sandbox, guest: SinkConnector) -> Self {
        Self {
            sandbox,
            guest: Box::new(guest),
        }
    }

    pub async fn start(&mut self, config: &ConfigMap) -> Result<(), CallError> {
        let config = convert::config_to_wit(config);
        let task = self.guest.wasm_connect_connector_sink_task();
        let result = guest_call!(&mut self.sandbox, "start", |store| task
            .call_start(store, &config))?;
        self.sandbox.connector_result("start", result)
    }

    pub async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), CallError> {
        let partitions: Vec<_> = partitions
            .iter()
            .map(convert::topic_partition_to_wit)
            .collect();
        let task = self.guest.wasm_connect_connector_sink_task();
        let result = guest_call!(&mut self.sandbox, "open", |store| task
            .call_open(store, &partitions))?;
        self.sandbox.connector_result("open", result)
    }

    pub async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), CallError> {
        let batch = convert::sink_batch_to_wit(records);
        let task = self.guest.wasm_connect_connector_sink_task();
        let result = guest_call!(&mut self.sandbox, "put", |store| task
            .call_put(store, &batch))?;
        self.sandbox.connector_result("put", result)
    }

    pub async fn pre_commit(
        &mut self,
        offsets: Vec<TopicPartitionOffset>,
    ) -> Result<Vec<TopicPartitionOffset>, CallError> {
        let offsets: Vec<_> = offsets
            .into_iter()
            .map(convert::topic_partition_offset_to_wit)
            .collect();
        let task = self.guest.wasm_connect_connector_sink_task();
        let result = guest_call!(&mut self.sandbox, "pre-commit", |store| task
            .call_pre_commit(store, &offsets))?;
        let offsets = self.sandbox.connector_result("pre-commit", result)?;
        Ok(offsets
            .into_iter()
            .map(convert::topic_partition_offset_from_wit)
            .collect())
    }

    pub async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), CallError> {
        let partitions: Vec<_> = partitions
            .iter()
            .map(convert::topic_partition_to_wit)
            .collect();
        let task = self.guest.wasm_connect_connector_sink_task();
        let result = guest_call!(&mut self.sandbox, "close", |store| task
            .call_close(store, &partitions))?;
        self.sandbox.connector_result("close", result)
    }

    pub async fn stop(&mut self) -> Result<(), CallError> {
        let task = self.guest.wasm_connect_connector_sink_task();
        guest_call!(&mut self.sandbox, "stop", |store| task.call_stop(store))
    }
}
