//! Encoding a [`WorkerSnapshot`] with prometheus-client: one family per Kafka Connect
//! attribute, named as Strimzi's JMX-exporter rules name it, plus `wasm_connect_*` families
//! of this worker's own.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use super::{
    ConnectorSnapshot, EGRESS_OUTCOMES, RunState, TCP_OUTCOMES, TRAP_CAUSES, TaskMetrics,
    TaskSnapshot, WorkerSnapshot,
};

/// The exposition format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0 (`Accept: application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The snapshot as text in `format`.
pub fn render(snapshot: WorkerSnapshot, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector {
        snapshot,
        now: Instant::now(),
    }));
    let mut out = String::new();
    let encoded = match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    // Writing into a String cannot fail.
    encoded.expect("metrics encode into a string");
    out
}

#[derive(Debug)]
struct SnapshotCollector {
    snapshot: WorkerSnapshot,
    now: Instant,
}

type Labels = Vec<(&'static str, String)>;

/// A value read from a task's metrics.
type TaskValue = fn(&TaskMetrics) -> f64;

/// One family and its series.
fn family<V: Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    series: impl IntoIterator<Item = (Labels, V)>,
    metric: impl Fn(V) -> Box<dyn EncodeMetric>,
) -> Result<(), std::fmt::Error> {
    let mut series = series.into_iter().peekable();
    if series.peek().is_none() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in series {
        metric(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, f64)>,
) -> Result<(), std::fmt::Error> {
    family(encoder, name, help, MetricType::Gauge, series, |v| {
        Box::new(ConstGauge::new(v))
    })
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    family(encoder, name, help, MetricType::Counter, series, |v| {
        Box::new(ConstCounter::new(v))
    })
}

fn connector_labels(connector: &ConnectorSnapshot) -> Labels {
    let mut labels = vec![("connector", connector.name.clone())];
    if let Some(tenant) = &connector.tenant {
        labels.push(("tenant", tenant.clone()));
    }
    labels
}

fn task_labels(connector: &ConnectorSnapshot, task: &TaskSnapshot) -> Labels {
    let mut labels = connector_labels(connector);
    labels.push(("task", task.id.to_string()));
    labels
}

fn percentage(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl SnapshotCollector {
    /// Every running task of connectors of `kind` (None: all) with its metrics.
    fn tasks<'a>(
        &'a self,
        kind: Option<&'static str>,
    ) -> impl Iterator<Item = (&'a ConnectorSnapshot, &'a TaskSnapshot, &'a TaskMetrics)> + 'a {
        self.snapshot
            .connectors
            .iter()
            .filter(move |c| kind.is_none_or(|kind| c.kind == kind))
            .flat_map(|c| {
                c.tasks
                    .iter()
                    .filter_map(move |t| Some((c, t, t.metrics.as_deref()?)))
            })
    }

    /// A gauge per task of `kind` from its metrics.
    fn task_gauge(
        &self,
        encoder: &mut DescriptorEncoder,
        kind: Option<&'static str>,
        name: &str,
        help: &str,
        value: impl Fn(&TaskMetrics) -> f64,
    ) -> Result<(), std::fmt::Error> {
        let series: Vec<_> = self
            .tasks(kind)
            .map(|(c, t, m)| (task_labels(c, t), value(m)))
            .collect();
        gauge(encoder, name, help, series)
    }

    /// A counter per task of `kind` from its metrics.
    fn task_counter(
        &self,
        encoder: &mut DescriptorEncoder,
        kind: Option<&'static str>,
        name: &str,
        help: &str,
        value: impl Fn(&TaskMetrics) -> u64,
    ) -> Result<(), std::fmt::Error> {
        let series: Vec<_> = self
            .tasks(kind)
            .map(|(c, t, m)| (task_labels(c, t), value(m)))
            .collect();
        counter(encoder, name, help, series)
    }

    fn connectors(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let connectors = &self.snapshot.connectors;
        let info = |attribute: &'static str, value: fn(&ConnectorSnapshot) -> String| {
            connectors
                .iter()
                .map(move |c| {
                    let mut labels = connector_labels(c);
                    labels.push((attribute, value(c)));
                    (labels, 1.0)
                })
                .collect::<Vec<_>>()
        };
        gauge(
            encoder,
            "kafka_connect_connector_status",
            "The connector's state (1 for the label `status`).",
            info("status", |c| c.state.clone()),
        )?;
        gauge(
            encoder,
            "kafka_connect_connector_connector_class",
            "The connector's class (1 for the label `connector_class`).",
            info("connector_class", |c| c.class.clone()),
        )?;
        gauge(
            encoder,
            "kafka_connect_connector_connector_type",
            "The connector's type, source or sink (1 for the label `connector_type`).",
            info("connector_type", |c| c.kind.to_owned()),
        )?;
        gauge(
            encoder,
            "kafka_connect_connector_connector_version",
            "The connector's plugin version (1 for the label `connector_version`).",
            info("connector_version", |c| c.version.clone()),
        )?;
        let tasks = connectors.iter().flat_map(|c| {
            c.tasks.iter().map(move |t| {
                let mut labels = task_labels(c, t);
                labels.push(("status", t.state.clone()));
                (labels, 1.0)
            })
        });
        gauge(
            encoder,
            "kafka_connect_connector_task_status",
            "The task's state (1 for the label `status`).",
            tasks,
        )
    }

    fn worker(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let connectors = &self.snapshot.connectors;
        for state in [
            "running",
            "paused",
            "failed",
            "unassigned",
            "destroyed",
            "restarting",
        ] {
            let series = connectors.iter().map(|c| {
                let count = c.tasks.iter().filter(|t| t.state == state).count();
                (connector_labels(c), count as f64)
            });
            gauge(
                encoder,
                &format!("kafka_connect_worker_connector_{state}_task_count"),
                &format!("The connector's tasks in state {state} on this worker."),
                series,
            )?;
        }
        gauge(
            encoder,
            "kafka_connect_worker_connector_total_task_count",
            "The connector's tasks on this worker.",
            connectors
                .iter()
                .map(|c| (connector_labels(c), c.tasks.len() as f64)),
        )?;
        let one = |value: f64| [(Labels::new(), value)];
        gauge(
            encoder,
            "kafka_connect_worker_connector_count",
            "Connectors on this worker.",
            one(connectors.len() as f64),
        )?;
        gauge(
            encoder,
            "kafka_connect_worker_task_count",
            "Tasks on this worker.",
            one(connectors.iter().map(|c| c.tasks.len()).sum::<usize>() as f64),
        )?;
        let startups = self.snapshot.startups;
        for (what, attempts, failures) in [
            (
                "connector",
                startups.connector_attempts,
                startups.connector_failures,
            ),
            ("task", startups.task_attempts, startups.task_failures),
        ] {
            let successes = attempts.saturating_sub(failures);
            let count = |value: u64| [(Labels::new(), value)];
            counter(
                encoder,
                &format!("kafka_connect_worker_{what}_startup_attempts"),
                &format!("{what} starts attempted."),
                count(attempts),
            )?;
            counter(
                encoder,
                &format!("kafka_connect_worker_{what}_startup_success"),
                &format!("{what} starts that succeeded."),
                count(successes),
            )?;
            counter(
                encoder,
                &format!("kafka_connect_worker_{what}_startup_failure"),
                &format!("{what} starts that failed."),
                count(failures),
            )?;
            gauge(
                encoder,
                &format!("kafka_connect_worker_{what}_startup_success_percentage"),
                &format!("The share of {what} starts that succeeded."),
                one(percentage(successes, attempts)),
            )?;
            gauge(
                encoder,
                &format!("kafka_connect_worker_{what}_startup_failure_percentage"),
                &format!("The share of {what} starts that failed."),
                one(percentage(failures, attempts)),
            )?;
        }
        gauge(
            encoder,
            "wasm_connect_worker_instances",
            "Wasm instances this worker runs (connectors, tasks, transform steps, validations).",
            one(self.snapshot.instances as f64),
        )?;
        gauge(
            encoder,
            "wasm_connect_worker_instances_max",
            "The most wasm instances this worker admits (sandbox.instances.max or derived).",
            one(self.snapshot.instances_max as f64),
        )?;
        let compiles = self.snapshot.compiles;
        counter(
            encoder,
            "wasm_connect_worker_compile_cache_hits",
            "Components loaded compiled from the compile cache (cache.dir).",
            [(Labels::new(), compiles.hits)],
        )?;
        counter(
            encoder,
            "wasm_connect_worker_compile_cache_misses",
            "Components compiled (not found in the compile cache).",
            [(Labels::new(), compiles.misses)],
        )?;
        counter(
            encoder,
            "wasm_connect_worker_compile_baseline",
            "Components compiled by the baseline compiler first, to be ready at once \
             (plugin.compile.baseline.min.bytes); each is then compiled optimized.",
            [(Labels::new(), compiles.baseline)],
        )?;
        counter(
            encoder,
            "wasm_connect_worker_compile_functions_reused",
            "Functions compiles took from the compiled-function cache (cache.functions.max.bytes).",
            [(Labels::new(), compiles.functions_reused)],
        )?;
        counter(
            encoder,
            "wasm_connect_worker_compile_functions_compiled",
            "Functions compiled while the compiled-function cache was on.",
            [(Labels::new(), compiles.functions_compiled)],
        )?;
        family(
            encoder,
            "wasm_connect_worker_compile_seconds",
            "Seconds spent compiling components.",
            MetricType::Counter,
            [(Labels::new(), compiles.seconds)],
            |v| Box::new(ConstCounter::new(v)),
        )?;
        gauge(
            encoder,
            "wasm_connect_worker_plugins",
            "Plugins this worker can run, by where they come from (builtin, plugin.path, uploaded).",
            self.snapshot
                .plugins
                .iter()
                .map(|(source, count)| (vec![("source", (*source).to_owned())], *count as f64)),
        )
    }

    fn task_metrics(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = self.now;
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        // connector-task-metrics
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_running_ratio",
            "The share of the sample window the task spent running.",
            |m| m.ratio(RunState::Running, now),
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_pause_ratio",
            "The share of the sample window the task spent paused.",
            |m| m.ratio(RunState::Paused, now),
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_batch_size_max",
            "The most records in one batch polled or put, over the sample window.",
            |m| m.batch_size.max_at(now),
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_batch_size_avg",
            "Records per batch polled or put, on average over the sample window.",
            |m| m.batch_size.avg_at(now),
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_offset_commit_max_time_ms",
            "The longest offset commit, over the sample window.",
            |m| m.commit_time.max_at(now),
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_offset_commit_avg_time_ms",
            "Milliseconds per offset commit, on average over the sample window.",
            |m| m.commit_time.avg_at(now),
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_offset_commit_success_percentage",
            "The share of offset commits that succeeded.",
            |m| {
                let ok = load(&m.commits);
                percentage(ok, ok + load(&m.commit_failures))
            },
        )?;
        self.task_gauge(
            encoder,
            None,
            "kafka_connect_connector_task_offset_commit_failure_percentage",
            "The share of offset commits that failed.",
            |m| {
                let failed = load(&m.commit_failures);
                percentage(failed, failed + load(&m.commits))
            },
        )?;
        // source-task-metrics
        let source = Some("source");
        self.task_counter(
            encoder,
            source,
            "kafka_connect_source_task_source_record_poll",
            "Records the task's poll returned, before transformations.",
            |m| load(&m.polled),
        )?;
        self.task_gauge(
            encoder,
            source,
            "kafka_connect_source_task_source_record_poll_rate",
            "Records polled per second over the sample window.",
            |m| m.poll_rate.rate_at(now),
        )?;
        self.task_counter(
            encoder,
            source,
            "kafka_connect_source_task_source_record_write",
            "Records written to the log and acknowledged, after transformations.",
            |m| load(&m.records),
        )?;
        self.task_gauge(
            encoder,
            source,
            "kafka_connect_source_task_source_record_write_rate",
            "Records written per second over the sample window.",
            |m| m.write_rate.rate_at(now),
        )?;
        for (kind, group, what) in [
            ("source", "source_task_source", "polled and not yet written"),
            ("sink", "sink_task_sink", "read and not yet committed"),
        ] {
            let kind = Some(kind);
            self.task_gauge(
                encoder,
                kind,
                &format!("kafka_connect_{group}_record_active_count"),
                &format!("Records {what}."),
                |m| load(&m.active_now) as f64,
            )?;
            self.task_gauge(
                encoder,
                kind,
                &format!("kafka_connect_{group}_record_active_count_max"),
                &format!("The most records {what}, over the sample window."),
                |m| m.active.max_at(now),
            )?;
            self.task_gauge(
                encoder,
                kind,
                &format!("kafka_connect_{group}_record_active_count_avg"),
                &format!("Records {what}, on average over the sample window."),
                |m| m.active.avg_at(now),
            )?;
        }
        self.task_gauge(
            encoder,
            source,
            "kafka_connect_source_task_poll_batch_max_time_ms",
            "The longest poll, over the sample window.",
            |m| m.batch_time.max_at(now),
        )?;
        self.task_gauge(
            encoder,
            source,
            "kafka_connect_source_task_poll_batch_avg_time_ms",
            "Milliseconds per poll, on average over the sample window.",
            |m| m.batch_time.avg_at(now),
        )?;
        // sink-task-metrics
        let sink = Some("sink");
        self.task_counter(
            encoder,
            sink,
            "kafka_connect_sink_task_sink_record_read",
            "Records read from the log, before transformations.",
            |m| load(&m.read),
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_sink_record_read_rate",
            "Records read per second over the sample window.",
            |m| m.read_rate.rate_at(now),
        )?;
        self.task_counter(
            encoder,
            sink,
            "kafka_connect_sink_task_sink_record_send",
            "Records put into the task, after transformations.",
            |m| load(&m.records),
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_sink_record_send_rate",
            "Records put per second over the sample window.",
            |m| m.send_rate.rate_at(now),
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_sink_record_lag_max",
            "The most records the task's consumer was behind in a partition after a poll, over the sample window (on Kafka, as of librdkafka's last statistics, every 5 s).",
            |m| m.lag.max_at(now),
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_partition_count",
            "Topic partitions assigned to the task.",
            |m| load(&m.partitions) as f64,
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_offset_commit_seq_no",
            "The sequence number of the last offset commit.",
            |m| load(&m.commits) as f64,
        )?;
        self.task_counter(
            encoder,
            sink,
            "kafka_connect_sink_task_offset_commit_completion",
            "Offset commits that completed.",
            |m| load(&m.commits),
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_put_batch_max_time_ms",
            "The longest put, over the sample window.",
            |m| m.batch_time.max_at(now),
        )?;
        self.task_gauge(
            encoder,
            sink,
            "kafka_connect_sink_task_put_batch_avg_time_ms",
            "Milliseconds per put, on average over the sample window.",
            |m| m.batch_time.avg_at(now),
        )?;
        // task-error-metrics (gauges, as Strimzi's rules make them)
        let errors: [(&str, &str, TaskValue); 8] = [
            (
                "total_record_failures",
                "Failed attempts of a record stage (converter, transformation, produce).",
                |m| m.record_failures.load(Ordering::Relaxed) as f64,
            ),
            (
                "total_record_errors",
                "Records whose stage failed after retries.",
                |m| m.record_errors.load(Ordering::Relaxed) as f64,
            ),
            (
                "total_records_skipped",
                "Records skipped under errors.tolerance=all.",
                |m| m.records_skipped.load(Ordering::Relaxed) as f64,
            ),
            ("total_retries", "Retries of a record stage.", |m| {
                m.retries.load(Ordering::Relaxed) as f64
            }),
            (
                "total_errors_logged",
                "Failures logged under errors.log.enable.",
                |m| m.errors_logged.load(Ordering::Relaxed) as f64,
            ),
            (
                "deadletterqueue_produce_requests",
                "Records sent to the dead letter queue.",
                |m| m.dlq_requests.load(Ordering::Relaxed) as f64,
            ),
            (
                "deadletterqueue_produce_failures",
                "Dead letter queue writes the log refused.",
                |m| m.dlq_failures.load(Ordering::Relaxed) as f64,
            ),
            (
                "last_error_timestamp",
                "Epoch milliseconds of the last record failure (0: none).",
                |m| m.last_error_ms.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (attribute, help, value) in errors {
            self.task_gauge(
                encoder,
                None,
                &format!("kafka_connect_task_error_{attribute}"),
                help,
                value,
            )?;
        }
        self.task_counter(
            encoder,
            None,
            "wasm_connect_task_restarts",
            "Times restart.policy restarted the task.",
            |m| load(&m.restarts),
        )?;
        self.task_counter(
            encoder,
            None,
            "wasm_connect_task_guest_calls",
            "Calls into the task's guest (poll, put, flush, ...).",
            |m| load(&m.guest.calls),
        )?;
        self.task_counter(
            encoder,
            None,
            "wasm_connect_task_fuel_consumed",
            "Fuel the task's guest burned in its calls (sandbox.fuel.per.call bounds one call).",
            |m| load(&m.guest.fuel),
        )?;
        let traps: Vec<_> = self
            .tasks(None)
            .flat_map(|(c, t, m)| {
                TRAP_CAUSES
                    .iter()
                    .zip(&m.guest.traps)
                    .map(move |(cause, count)| {
                        let mut labels = task_labels(c, t);
                        labels.push(("cause", (*cause).to_owned()));
                        (labels, count.load(Ordering::Relaxed))
                    })
            })
            .collect();
        self.task_gauge(
            encoder,
            None,
            "wasm_connect_task_memory_bytes",
            "Linear memory, tables and host resources the task's instance held after its last call.",
            |m| load(&m.guest.memory_bytes) as f64,
        )?;
        self.task_gauge(
            encoder,
            None,
            "wasm_connect_task_memory_max_bytes",
            "The task instance's memory cap (sandbox.memory.max.bytes, or sized to the component).",
            |m| load(&m.guest.memory_max_bytes) as f64,
        )?;
        family(
            encoder,
            "wasm_connect_task_budget_wait_seconds",
            "Time the task waited for its tenant's budgets (quotas.fuel_per_second, quotas.records_per_second).",
            MetricType::Counter,
            self.tasks(None)
                .map(|(c, t, m)| (task_labels(c, t), load(&m.guest.budget_wait) as f64 / 1e9)),
            |v| Box::new(ConstCounter::new(v)),
        )?;
        family(
            encoder,
            "wasm_connect_task_throttled_seconds",
            "Time the task's long calls were paused (sandbox.throttle.after.ms: a call running longer runs one tick in eight).",
            MetricType::Counter,
            self.tasks(None)
                .map(|(c, t, m)| (task_labels(c, t), load(&m.guest.throttled) as f64 / 1e9)),
            |v| Box::new(ConstCounter::new(v)),
        )?;
        self.call_durations(encoder)?;
        counter(
            encoder,
            "wasm_connect_task_http_requests",
            "The task's outgoing HTTP requests by outcome: allowed, denied_allow_list, denied_address, refused_concurrency, timed_out, failed.",
            self.by_outcome(&EGRESS_OUTCOMES, |m| &m.guest.egress),
        )?;
        counter(
            encoder,
            "wasm_connect_task_tcp_connects",
            "The task's outgoing TCP connects by outcome: allowed, denied_allow_list, denied_address, refused_connections.",
            self.by_outcome(&TCP_OUTCOMES, |m| &m.guest.tcp_connects),
        )?;
        for (name, help, pick) in [
            (
                "wasm_connect_task_tcp_sent_bytes",
                "Bytes the task's TCP connections sent (sandbox.tcp.allow).",
                (|m: &TaskMetrics| &m.guest.tcp_sent_bytes) as fn(&TaskMetrics) -> &AtomicU64,
            ),
            (
                "wasm_connect_task_tcp_received_bytes",
                "Bytes the task's TCP connections received (sandbox.tcp.allow).",
                |m: &TaskMetrics| &m.guest.tcp_received_bytes,
            ),
        ] {
            let values: Vec<_> = self
                .tasks(None)
                .filter(|(_, _, m)| pick(m).load(Ordering::Relaxed) > 0)
                .map(|(c, t, m)| (task_labels(c, t), pick(m).load(Ordering::Relaxed)))
                .collect();
            counter(encoder, name, help, values)?;
        }
        counter(
            encoder,
            "wasm_connect_task_traps",
            "Guest calls the sandbox stopped, by cause: fuel, deadline, memory, resources, stack_overflow, trap, invalid_data.",
            traps,
        )?;
        self.tenants(encoder)
    }

    /// Per tenant (with tenancy on): the fuel its running tasks burned and the memory they
    /// hold, summed.
    fn tenants(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let mut fuel: BTreeMap<&str, u64> = BTreeMap::new();
        let mut memory: BTreeMap<&str, u64> = BTreeMap::new();
        for (connector, _, metrics) in self.tasks(None) {
            if let Some(tenant) = &connector.tenant {
                *fuel.entry(tenant).or_default() += load(&metrics.guest.fuel);
                *memory.entry(tenant).or_default() += load(&metrics.guest.memory_bytes);
            }
        }
        if fuel.is_empty() {
            return Ok(());
        }
        counter(
            encoder,
            "wasm_connect_tenant_fuel_consumed",
            "Fuel the tenant's running tasks burned, summed.",
            fuel.iter()
                .map(|(tenant, fuel)| (vec![("tenant", (*tenant).to_owned())], *fuel)),
        )?;
        gauge(
            encoder,
            "wasm_connect_tenant_memory_bytes",
            "Linear memory, tables and host resources the tenant's running tasks hold, summed.",
            memory
                .iter()
                .map(|(tenant, bytes)| (vec![("tenant", (*tenant).to_owned())], *bytes as f64)),
        )
    }
}

impl SnapshotCollector {
    /// `wasm_connect_task_guest_call_duration_seconds{connector,task,function}`.
    /// One series per task and outcome with a count above zero, of the counters `pick`
    /// returns in the order of `outcomes`.
    fn by_outcome(
        &self,
        outcomes: &'static [&'static str],
        pick: fn(&TaskMetrics) -> &[AtomicU64],
    ) -> Vec<(Labels, u64)> {
        self.tasks(None)
            .flat_map(|(c, t, m)| {
                outcomes
                    .iter()
                    .zip(pick(m))
                    .map(|(outcome, count)| (outcome, count.load(Ordering::Relaxed)))
                    .filter(|(_, count)| *count > 0)
                    .map(move |(outcome, count)| {
                        let mut labels = task_labels(c, t);
                        labels.push(("outcome", (*outcome).to_owned()));
                        (labels, count)
                    })
            })
            .collect()
    }

    fn call_durations(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let tasks: Vec<_> = self.tasks(None).collect();
        let any = tasks.iter().any(|(_, _, m)| {
            !m.guest
                .durations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_empty()
        });
        if !any {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "wasm_connect_task_guest_call_duration_seconds",
            "Seconds per call into the task's guest, by exported function (instantiate, start, poll, put, pre-commit, ...).",
            None,
            MetricType::Histogram,
        )?;
        for (connector, task, metrics) in tasks {
            let durations = metrics
                .guest
                .durations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (function, histogram) in durations.iter() {
                let mut labels = task_labels(connector, task);
                labels.push(("function", (*function).to_owned()));
                histogram.encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

impl SnapshotCollector {
    /// The embedded log's writer, when the worker uses it.
    fn log(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(log) = &self.snapshot.log else {
            return Ok(());
        };
        counter(
            encoder,
            "wasm_connect_embedded_log_appended_records",
            "Records the embedded log appended durably.",
            [(Labels::new(), log.appended.load(Ordering::Relaxed))],
        )?;
        for (name, help, histogram) in [
            (
                "wasm_connect_embedded_log_write_seconds",
                "Seconds per write transaction of the embedded log (a group of appends and commits), to its durable commit.",
                &log.write_seconds,
            ),
            (
                "wasm_connect_embedded_log_commit_seconds",
                "Seconds per commit of the embedded log's write transactions (the fsync).",
                &log.commit_seconds,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            histogram.encode(family.encode_family(&Labels::new())?)?;
        }
        Ok(())
    }
}

impl SnapshotCollector {
    /// Kafka clients' totals as Strimzi's rules name the Java clients' (`kafka_producer_*`,
    /// `kafka_consumer_*`, label `clientid`).
    fn clients(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = |kind: &'static str, index: usize| {
            self.snapshot
                .clients
                .iter()
                .filter(move |client| client.kind == kind)
                .map(move |client| {
                    (
                        vec![("clientid", client.client_id.clone())],
                        client.load()[index],
                    )
                })
                .collect::<Vec<_>>()
        };
        // (kind, name, help, index into ClientStats::load, counter?)
        let families: [(&str, &str, &str, usize, bool); 6] = [
            (
                "producer",
                "kafka_producer_outgoing_byte",
                "Bytes the producer sent to brokers.",
                0,
                true,
            ),
            (
                "producer",
                "kafka_producer_record_send",
                "Records the producer sent.",
                2,
                true,
            ),
            (
                "producer",
                "kafka_producer_connection_count",
                "Broker connections the producer has up.",
                4,
                false,
            ),
            (
                "consumer",
                "kafka_consumer_incoming_byte",
                "Bytes the consumer received from brokers.",
                1,
                true,
            ),
            (
                "consumer",
                "kafka_consumer_records_consumed",
                "Records the consumer received.",
                3,
                true,
            ),
            (
                "consumer",
                "kafka_consumer_connection_count",
                "Broker connections the consumer has up.",
                4,
                false,
            ),
        ];
        for (kind, name, help, index, is_counter) in families {
            let series = series(kind, index);
            if is_counter {
                counter(encoder, name, help, series)?;
            } else {
                gauge(
                    encoder,
                    name,
                    help,
                    series
                        .into_iter()
                        .map(|(labels, value)| (labels, value as f64)),
                )?;
            }
        }
        Ok(())
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.connectors(&mut encoder)?;
        self.worker(&mut encoder)?;
        self.log(&mut encoder)?;
        self.clients(&mut encoder)?;
        self.task_metrics(&mut encoder)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;
    use crate::metrics::{StartupCounts, TaskSnapshot};

    fn snapshot() -> WorkerSnapshot {
        let source = Arc::new(TaskMetrics::default());
        source.polled(3, Duration::from_millis(2));
        source.written(3);
        let failed = Arc::new(TaskMetrics::default());
        WorkerSnapshot {
            connectors: vec![ConnectorSnapshot {
                name: "orders".into(),
                tenant: None,
                kind: "source",
                class: "FileStreamSource".into(),
                version: "1.0.0".into(),
                state: "running".into(),
                tasks: vec![
                    TaskSnapshot {
                        id: 0,
                        state: "running".into(),
                        metrics: Some(source),
                    },
                    TaskSnapshot {
                        id: 1,
                        state: "failed".into(),
                        metrics: Some(failed),
                    },
                ],
            }],
            startups: StartupCounts {
                connector_attempts: 1,
                task_attempts: 2,
                task_failures: 1,
                ..StartupCounts::default()
            },
            instances: 3,
            instances_max: 100,
            ..WorkerSnapshot::default()
        }
    }

    #[test]
    fn series_carry_strimzi_names_and_labels() {
        let text = render(snapshot(), Format::Prometheus);
        for line in [
            "kafka_connect_source_task_source_record_poll_total{connector=\"orders\",task=\"0\"} 3",
            "kafka_connect_source_task_source_record_write_total{connector=\"orders\",task=\"0\"} 3",
            "kafka_connect_connector_status{connector=\"orders\",status=\"running\"} 1.0",
            "kafka_connect_connector_task_status{connector=\"orders\",task=\"1\",status=\"failed\"} 1.0",
            "kafka_connect_worker_connector_failed_task_count{connector=\"orders\"} 1.0",
            "kafka_connect_worker_connector_running_task_count{connector=\"orders\"} 1.0",
            "kafka_connect_worker_task_count 2.0",
            "kafka_connect_worker_task_startup_failure_total 1",
            "kafka_connect_worker_task_startup_success_percentage 0.5",
            "kafka_connect_connector_connector_class{connector=\"orders\",connector_class=\"FileStreamSource\"} 1.0",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        assert!(!text.contains("sink_task"), "a source has no sink series");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_is_served_when_asked_for() {
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        let text = render(snapshot(), Format::OpenMetrics);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE kafka_connect_source_task_source_record_poll counter"));
    }
}
