//! One connector's actor: it owns the connector's component instance, generates task configs
//! (`task-configs(tasks.max)`), starts, stops and reconfigures the tasks, applies the target
//! state, turns task events into statuses, and restarts failed tasks when the connector's
//! `restart.policy` is `on-failure` (Kafka Connect never does; `none` is the default).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc, oneshot, watch},
    task::{JoinHandle, JoinSet},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::desired::DesiredState;
use crate::storage::{State, StatusBackingStore};
use crate::{
    config::{ConnectorConfig, connector::RestartPolicy},
    runtime::{
        CodeTier, ConfigMap, ConnectorInstance, ContextEvent, InstanceContext, Plugin, PluginKind,
    },
    transforms::TransformChain,
    worker::{self, Services, TargetState, TaskControl, TaskEvent, TaskMetrics, TaskSpec},
};

/// What the herder asks of a connector actor.
pub enum Command {
    SetTarget(TargetState),
    /// Restart the connector instance (`connector`) and these tasks; answers when done.
    Restart {
        connector: bool,
        tasks: Vec<u32>,
        done: oneshot::Sender<()>,
    },
    /// Stop everything and exit; answers when done.
    Shutdown(oneshot::Sender<()>),
    /// Distributed mode: run exactly these units of the connector from now on.
    Assign(Units),
    /// Distributed mode: the stored task configs changed.
    TaskConfigs,
}

/// What of a connector a distributed worker runs: its instance and some of its tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Units {
    pub connector: bool,
    pub tasks: std::collections::BTreeSet<u32>,
}

struct RunningTask {
    shutdown: CancellationToken,
    join: JoinHandle<()>,
}

/// One generation of tasks, started together from one set of task configs. Their events come
/// on the generation's own channel and their restarts are scheduled in it, so replacing the
/// generation (reconfiguration, stop) drops late events of its tasks and cancels its pending
/// restarts.
struct Generation {
    /// By task id.
    tasks: BTreeMap<u32, RunningTask>,
    events_rx: TaskEvents,
    events_tx: TaskEventSender,
    /// Pending restarts: each sleeps its backoff, then yields the task id.
    restarts: JoinSet<u32>,
    /// Consecutive failures per task, for the backoff.
    failures: BTreeMap<u32, Failures>,
    /// Tasks that ran since they were last started; a task failing outside it failed to
    /// start (`task-startup-failure-total`).
    ran: std::collections::BTreeSet<u32>,
}

impl Generation {
    fn new() -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            tasks: BTreeMap::new(),
            events_rx,
            events_tx,
            restarts: JoinSet::new(),
            failures: BTreeMap::new(),
            ran: std::collections::BTreeSet::new(),
        }
    }
}

/// A task's consecutive failures under `restart.policy=on-failure`.
#[derive(Debug, Default)]
struct Failures {
    count: u32,
    /// When the task last reported RUNNING after its start or restart.
    running_since: Option<Instant>,
}

impl Failures {
    fn running(&mut self, now: Instant) {
        self.running_since.get_or_insert(now);
    }

    /// Counts a failure and returns the restart attempt it leads to (1 for the first). A task
    /// that had been running for longer than `healed_after` starts counting again.
    fn failed(&mut self, now: Instant, healed_after: Duration) -> u32 {
        if self
            .running_since
            .take()
            .is_some_and(|since| now.saturating_duration_since(since) > healed_after)
        {
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        self.count
    }
}

/// State the herder reads while the actor runs.
#[derive(Default)]
pub struct Shared {
    pub task_configs: std::sync::Mutex<Vec<ConfigMap>>,
    pub metrics: std::sync::Mutex<Vec<Arc<TaskMetrics>>>,
}

pub struct Actor {
    pub config: Arc<ConnectorConfig>,
    pub plugin: Arc<Plugin>,
    /// The connector's transform chain, for its tasks.
    pub transforms: Arc<TransformChain>,
    pub builtin: bool,
    /// Its tenant's compute budget and open-connection slots, for its tasks.
    pub budget: Option<Arc<dyn crate::runtime::ComputeBudget>>,
    pub http_connections: Option<Arc<tokio::sync::Semaphore>>,
    pub throughput: Option<Arc<dyn crate::runtime::ComputeBudget>>,
    pub services: Arc<Services>,
    pub statuses: Arc<dyn StatusBackingStore>,
    /// Where its task configs are stored.
    pub desired: Arc<DesiredState>,
    pub shared: Arc<Shared>,
    pub target: TargetState,
    /// Distributed mode: what of the connector this worker runs (None: all of it, as a
    /// standalone worker does). Task configs then come from the config store, where the
    /// worker running the instance stores them.
    pub units: Option<Units>,
    /// Completed once the connector started and generated its first tasks (or failed, or is
    /// stopped), so a create or update answers after it, as Kafka Connect's standalone herder.
    pub started: Option<oneshot::Sender<()>>,
}

impl Actor {
    #[tracing::instrument(name = "connector", skip_all, fields(connector = %self.config.name, tenant = self.config.tenant.as_deref()))]
    /// Runs the connector; `validated` is an instance that already validated this
    /// configuration, reused to start.
    pub async fn run(
        mut self,
        validated: Option<ConnectorInstance>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let name = self.config.name.clone();
        let kind = self.plugin.info.kind;
        let (context_tx, mut context_rx) = mpsc::unbounded_channel();
        let (target_tx, _) = watch::channel(self.target);
        let mut generation = Generation::new();
        let mut failed = false;
        let mut instance = None;
        if self.owns_connector() {
            self.statuses
                .set_connector(&name, kind, State::Unassigned, None);
            self.statuses.set_version(&name, &self.plugin.info.version);
            (instance, failed) = self
                .start_and_configure(validated, &context_tx, &mut generation, &target_tx)
                .await;
        }
        self.sync_tasks(&mut generation, &target_tx).await;
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
        // Tasks started on the plugin's baseline code move to its optimized code once ready.
        let mut on_baseline = self.plugin.tier() == CodeTier::Baseline;
        let plugin = self.plugin.clone();
        let mut optimized = std::pin::pin!(async move { plugin.settled().await });

        loop {
            tokio::select! {
                tier = &mut optimized, if on_baseline => {
                    on_baseline = false;
                    let running: Vec<u32> = generation
                        .tasks
                        .keys()
                        .copied()
                        .filter(|task| generation.ran.contains(task))
                        .collect();
                    if tier == CodeTier::Optimized && !running.is_empty() {
                        tracing::info!(
                            tasks = running.len(),
                            "Restarting the tasks that run baseline code onto the plugin's optimized code."
                        );
                        self.restart(
                            &mut instance,
                            &mut failed,
                            &mut generation,
                            (&target_tx, &context_tx),
                            false,
                            &running,
                        )
                        .await;
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::SetTarget(target)) => {
                        let previous = self.target;
                        self.target = target;
                        target_tx.send_replace(target);
                        if failed {
                            continue;
                        }
                        if self.owns_connector() {
                            self.set_connector_state(kind);
                        }
                        match target {
                            TargetState::Stopped => {
                                self.stop_tasks(&mut generation.tasks).await;
                                generation = Generation::new();
                                if self.owns_connector() {
                                    self.shared.task_configs.lock().expect("lock").clear();
                                    // A stopped connector has no task configs (KIP-875).
                                    // Stored before the status shows no tasks, so whoever
                                    // sees that may alter the offsets.
                                    if let Err(error) =
                                        self.desired.put_task_configs(&name, Vec::new()).await
                                    {
                                        tracing::error!(error = %crate::error_chain(&error), "Failed to store the task configs.");
                                    }
                                    self.statuses.retain_tasks(&name, 0);
                                }
                            }
                            TargetState::Started | TargetState::Paused if previous == TargetState::Stopped => {
                                if let Some(instance) = instance.as_mut()
                                    && let Err(trace) = self
                                        .reconfigure(instance, &mut generation, &target_tx, true)
                                        .await
                                {
                                    self.statuses.set_connector(&name, kind, State::Failed, Some(trace));
                                    failed = true;
                                }
                            }
                            _ => {}
                        }
                    }
                    Some(Command::Restart { connector, tasks, done }) => {
                        self.restart(
                            &mut instance,
                            &mut failed,
                            &mut generation,
                            (&target_tx, &context_tx),
                            connector,
                            &tasks,
                        )
                        .await;
                        let _ = done.send(());
                    }
                    Some(Command::Assign(units)) => {
                        let had_connector = self.owns_connector();
                        self.units = Some(units);
                        if self.owns_connector() && !had_connector {
                            self.statuses.set_connector(&name, kind, State::Unassigned, None);
                            self.statuses.set_version(&name, &self.plugin.info.version);
                            (instance, failed) = self
                                .start_and_configure(None, &context_tx, &mut generation, &target_tx)
                                .await;
                        } else if !self.owns_connector() && let Some(mut old) = instance.take() {
                            if let Err(error) = old.stop().await {
                                tracing::warn!(error = %error, "Connector stop failed.");
                            }
                            failed = false;
                        }
                        self.sync_tasks(&mut generation, &target_tx).await;
                    }
                    Some(Command::TaskConfigs) => {
                        self.sync_tasks(&mut generation, &target_tx).await;
                    }
                    Some(Command::Shutdown(done)) => {
                        self.stop_tasks(&mut generation.tasks).await;
                        if let Some(mut instance) = instance.take()
                            && let Err(error) = instance.stop().await
                        {
                            tracing::warn!(error = %error, "Connector stop failed.");
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop_tasks(&mut generation.tasks).await;
                        return;
                    }
                },
                Some(event) = context_rx.recv() => match event {
                    ContextEvent::RequestTaskReconfiguration => {
                        if !failed && self.target != TargetState::Stopped
                            && let Some(instance) = instance.as_mut()
                            && let Err(trace) = self
                                .reconfigure(instance, &mut generation, &target_tx, false)
                                .await
                        {
                            self.statuses.set_connector(&name, kind, State::Failed, Some(trace));
                            failed = true;
                        }
                    }
                    ContextEvent::RaiseError(message) => {
                        self.statuses.set_connector(&name, kind, State::Failed, Some(format!("raise-error: {message}")));
                        failed = true;
                    }
                },
                Some((task, event)) = generation.events_rx.recv() => match event {
                    TaskEvent::Running => {
                        generation.ran.insert(task);
                        generation.failures.entry(task).or_default().running(Instant::now());
                        self.statuses.set_task(&name, task, State::Running, None);
                    }
                    TaskEvent::Paused => self.statuses.set_task(&name, task, State::Paused, None),
                    TaskEvent::Failed(trace) => {
                        if !generation.ran.remove(&task) {
                            self.services.startups.task_failure();
                        }
                        // The FAILED status and its trace stay visible until a restart.
                        self.statuses.set_task(&name, task, State::Failed, Some(trace));
                        self.schedule_restart(&mut generation, task);
                    }
                    TaskEvent::Stopped => self.statuses.set_task(&name, task, State::Unassigned, None),
                    TaskEvent::RequestReconfiguration => {
                        // Handled like the connector's own request.
                        let _ = context_tx.send(ContextEvent::RequestTaskReconfiguration);
                    }
                },
                Some(Ok(task)) = generation.restarts.join_next() => {
                    self.restart_task(&mut generation, task, &target_tx).await;
                }
            }
        }
    }

    /// Restarts the connector instance (when `connector`; then it regenerates task configs,
    /// which restarts every task when all of them are asked for) and the tasks in `tasks`,
    /// showing each as RESTARTING meanwhile.
    async fn restart(
        &self,
        instance: &mut Option<ConnectorInstance>,
        failed: &mut bool,
        generation: &mut Generation,
        (target, context): (
            &watch::Sender<TargetState>,
            &mpsc::UnboundedSender<ContextEvent>,
        ),
        connector: bool,
        tasks: &[u32],
    ) {
        let name = self.config.name.clone();
        let kind = self.plugin.info.kind;
        for &task in tasks {
            if generation.tasks.contains_key(&task) {
                self.statuses.set_task(&name, task, State::Restarting, None);
            }
        }
        let mut remaining = tasks.to_vec();
        if connector && self.owns_connector() {
            self.statuses
                .set_connector(&name, kind, State::Restarting, None);
            if let Some(mut old) = instance.take()
                && let Err(error) = old.stop().await
            {
                tracing::warn!(error = %error, "Connector stop failed.");
            }
            // Boxed, as in `start`.
            match Box::pin(self.start_connector(None, context.clone())).await {
                Ok(started) => {
                    *instance = Some(started);
                    *failed = false;
                    self.set_connector_state(kind);
                }
                Err(trace) => {
                    self.statuses
                        .set_connector(&name, kind, State::Failed, Some(trace));
                    *failed = true;
                    return;
                }
            }
            if self.target == TargetState::Stopped {
                return;
            }
            // Standalone: when every task is to restart, the new generation restarts them.
            let all = self.units.is_none()
                && !generation.tasks.is_empty()
                && generation.tasks.keys().all(|task| tasks.contains(task));
            if let Some(started) = instance.as_mut()
                && let Err(trace) =
                    Box::pin(self.reconfigure(started, generation, target, all)).await
            {
                self.statuses
                    .set_connector(&name, kind, State::Failed, Some(trace));
                *failed = true;
                return;
            }
            if all {
                remaining.clear();
            }
        }
        for task in remaining {
            self.restart_task_now(generation, task, target).await;
        }
    }

    /// Stops task `id` (if it still runs) and starts it again with its task config.
    async fn restart_task_now(
        &self,
        generation: &mut Generation,
        id: u32,
        target: &watch::Sender<TargetState>,
    ) {
        let Some(slot) = generation.tasks.get_mut(&id) else {
            return;
        };
        slot.shutdown.cancel();
        let timeout = self
            .services
            .worker
            .task_shutdown_timeout
            .max(Duration::from_millis(1));
        if tokio::time::timeout(timeout, &mut slot.join).await.is_err() {
            tracing::warn!(task = id, "A task did not stop in time and was abandoned.");
            slot.join.abort();
        }
        let Some((config, metrics)) = self.task_state(id) else {
            return;
        };
        tracing::info!(task = id, "Restarting task on request.");
        generation.ran.remove(&id);
        *slot = self.spawn_task(id, config, metrics, target, &generation.events_tx);
    }

    fn set_connector_state(&self, kind: PluginKind) {
        let state = match self.target {
            TargetState::Started => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        };
        self.statuses
            .set_connector(&self.config.name, kind, state, None);
    }

    async fn start_connector(
        &self,
        validated: Option<ConnectorInstance>,
        events: mpsc::UnboundedSender<ContextEvent>,
    ) -> Result<ConnectorInstance, String> {
        let started = async {
            let mut instance = match validated {
                Some(instance) => instance,
                None => self
                    .plugin
                    .connector(connector_context(&self.config, &self.services, events))
                    .await
                    .map_err(|error| crate::error_chain(&error))?,
            };
            instance
                .start(&self.config.settings)
                .await
                .map_err(|error| error.to_string())?;
            Ok(instance)
        }
        .await;
        self.services.startups.connector(started.is_ok());
        started
    }

    /// Asks the connector for task configs and restarts the tasks if they changed (or
    /// `force`, at start), as a new generation.
    async fn reconfigure(
        &self,
        instance: &mut ConnectorInstance,
        generation: &mut Generation,
        target: &watch::Sender<TargetState>,
        force: bool,
    ) -> Result<(), String> {
        let max = self.config.tasks_max;
        let mut configs = instance
            .task_configs(max)
            .await
            .map_err(|error| error.to_string())?;
        if configs.len() > max as usize {
            return Err(format!(
                "The connector {} has generated {} tasks, which is greater than {}, the maximum number of tasks it is configured to create. This behaviour should be considered a bug and is disallowed. If necessary, it can be permitted by reconfiguring the connector with 'tasks.max.enforce' set to false; however, this option will be removed in a future release of Kafka Connect.",
                self.config.name,
                configs.len(),
                max
            ));
        }
        for config in &mut configs {
            config.insert("task.class".into(), self.plugin.info.class_name.clone());
            if self.plugin.info.kind == PluginKind::Sink {
                for key in ["topics", "topics.regex"] {
                    if let Some(value) = self.config.settings.get(key) {
                        config.insert(key.into(), value.clone());
                    }
                }
            }
        }
        if self.units.is_some() {
            // Distributed: store them if they changed; every worker assigned some of them
            // starts its tasks from the store.
            let stored: Vec<ConfigMap> = configs
                .iter()
                .map(|config| self.config.secrets.conceal_config(config))
                .collect();
            let current = self
                .desired
                .get(&self.config.name)
                .map(|desired| desired.tasks)
                .unwrap_or_default();
            if stored == current {
                tracing::info!("Task configs unchanged; tasks keep running.");
                return Ok(());
            }
            if !self.services.lease.valid() {
                // Another worker may run the connector now; it writes them.
                tracing::warn!("This worker's membership lapsed; not storing task configs.");
                return Ok(());
            }
            tracing::info!(tasks = stored.len(), "Storing new task configs.");
            let count = stored.len() as u32;
            self.desired
                .put_task_configs(&self.config.name, stored)
                .await
                .map_err(|error| crate::error_chain(&error))?;
            self.statuses.retain_tasks(&self.config.name, count);
            return Ok(());
        }
        let unchanged = *self.shared.task_configs.lock().expect("lock") == configs;
        if unchanged && !force {
            tracing::info!("Task configs unchanged; tasks keep running.");
            return Ok(());
        }
        tracing::info!(tasks = configs.len(), "Starting tasks with new configs.");
        self.stop_tasks(&mut generation.tasks).await;
        // A new generation, so late events of stopped tasks and their pending restarts are
        // dropped.
        *generation = Generation::new();
        self.statuses.retain_tasks(&self.config.name, 0);
        // Stored before any task starts, as Kafka Connect commits task configs first; with
        // resolved secrets turned back into their references, as Kafka Connect stores them.
        let stored = configs
            .iter()
            .map(|config| self.config.secrets.conceal_config(config))
            .collect();
        self.desired
            .put_task_configs(&self.config.name, stored)
            .await
            .map_err(|error| crate::error_chain(&error))?;
        let mut metrics = Vec::new();
        for (id, config) in configs.iter().enumerate() {
            let id = id as u32;
            self.statuses
                .set_task(&self.config.name, id, State::Unassigned, None);
            let worker = &self.services.worker;
            let task_metrics = Arc::new(if worker.metrics_recording {
                TaskMetrics::new(worker.metrics_window)
            } else {
                TaskMetrics::counters_only(worker.metrics_window)
            });
            metrics.push(task_metrics.clone());
            let task = self.spawn_task(
                id,
                config.clone(),
                task_metrics,
                target,
                &generation.events_tx,
            );
            generation.tasks.insert(id, task);
        }
        *self.shared.task_configs.lock().expect("lock") = configs;
        *self.shared.metrics.lock().expect("lock") = metrics;
        Ok(())
    }

    /// Starts task `id` in a fresh component instance.
    fn spawn_task(
        &self,
        id: u32,
        config: ConfigMap,
        metrics: Arc<TaskMetrics>,
        target: &watch::Sender<TargetState>,
        events: &TaskEventSender,
    ) -> RunningTask {
        self.services.startups.task_attempt();
        let shutdown = CancellationToken::new();
        let control = TaskControl {
            shutdown: shutdown.clone(),
            target: target.subscribe(),
            events: events.clone(),
            metrics,
        };
        let spec = TaskSpec {
            connector: self.config.clone(),
            transforms: self.transforms.clone(),
            task: id,
            plugin: self.plugin.clone(),
            config,
            builtin: self.builtin,
            budget: self.budget.clone(),
            http_connections: self.http_connections.clone(),
            throughput: self.throughput.clone(),
        };
        let services = self.services.clone();
        let join = match self.plugin.info.kind {
            PluginKind::Source => tokio::spawn(worker::run_source_task(spec, services, control)),
            // `Herder::prepare` refuses a transformation as `connector.class`; were one to get
            // here, `sink_task` fails the task with the reason.
            PluginKind::Sink | PluginKind::Transform => {
                tokio::spawn(worker::run_sink_task(spec, services, control))
            }
        };
        RunningTask { shutdown, join }
    }

    /// Under `restart.policy=on-failure`, schedules a restart of the failed task `id` after
    /// its backoff.
    fn schedule_restart(&self, generation: &mut Generation, id: u32) {
        let RestartPolicy::OnFailure(backoff) = self.config.restart_policy else {
            return;
        };
        let attempt = generation
            .failures
            .entry(id)
            .or_default()
            .failed(Instant::now(), backoff.max);
        let delay = backoff.delay(attempt);
        tracing::warn!(
            task = id,
            attempt,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "Task failed; restarting it after a backoff (restart.policy=on-failure)."
        );
        generation.restarts.spawn(async move {
            tokio::time::sleep(delay).await;
            id
        });
    }

    /// Task `id`'s config and counters, to restart it with.
    fn task_state(&self, id: u32) -> Option<(ConfigMap, Arc<TaskMetrics>)> {
        let config = self
            .shared
            .task_configs
            .lock()
            .expect("lock")
            .get(id as usize)
            .cloned()?;
        let metrics = self
            .shared
            .metrics
            .lock()
            .expect("lock")
            .get(id as usize)
            .cloned()?;
        Some((config, metrics))
    }

    /// Restarts the failed task `id` of the current generation with its task config, keeping
    /// its counters.
    async fn restart_task(
        &self,
        generation: &mut Generation,
        id: u32,
        target: &watch::Sender<TargetState>,
    ) {
        let (Some((config, metrics)), Some(slot)) =
            (self.task_state(id), generation.tasks.get_mut(&id))
        else {
            return;
        };
        // A task restarted on request meanwhile is no longer FAILED: leave it be.
        let still_failed = self
            .statuses
            .get(&self.config.name)
            .and_then(|status| status.tasks.get(&id).map(|task| task.state))
            == Some(State::Failed);
        if !still_failed {
            return;
        }
        // A failed task reports FAILED as the last thing it does, so this wait is short; it
        // makes sure the old instance is gone before the new one starts.
        if let Err(error) = (&mut slot.join).await
            && error.is_panic()
        {
            tracing::warn!(task = id, "The failed task panicked while exiting.");
        }
        let restarts = metrics
            .restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        tracing::info!(task = id, restarts, "Restarting failed task.");
        generation.ran.remove(&id);
        *slot = self.spawn_task(id, config, metrics, target, &generation.events_tx);
    }

    /// Whether this worker runs the connector instance.
    fn owns_connector(&self) -> bool {
        self.units.as_ref().is_none_or(|units| units.connector)
    }

    /// Starts the connector instance and, unless it is stopped, has it generate task
    /// configs; the instance, and whether it failed.
    async fn start_and_configure(
        &self,
        validated: Option<ConnectorInstance>,
        context: &mpsc::UnboundedSender<ContextEvent>,
        generation: &mut Generation,
        target: &watch::Sender<TargetState>,
    ) -> (Option<ConnectorInstance>, bool) {
        let (name, kind) = (&self.config.name, self.plugin.info.kind);
        // Boxed: instantiating is among the largest futures the actor awaits, and the actor's
        // own future would otherwise keep room for it for the connector's life.
        let mut instance = match Box::pin(self.start_connector(validated, context.clone())).await {
            Ok(instance) => instance,
            Err(trace) => {
                self.statuses
                    .set_connector(name, kind, State::Failed, Some(trace));
                return (None, true);
            }
        };
        self.set_connector_state(kind);
        if self.target != TargetState::Stopped
            && let Err(trace) = self
                .reconfigure(&mut instance, generation, target, true)
                .await
        {
            self.statuses
                .set_connector(name, kind, State::Failed, Some(trace));
            return (Some(instance), true);
        }
        (Some(instance), false)
    }

    /// Distributed mode: runs exactly the assigned tasks with their stored configs (what the
    /// worker running the instance generated), restarting those whose config changed and
    /// stopping those no longer assigned. A stopped task's state is left to the worker that
    /// runs it next.
    async fn sync_tasks(&self, generation: &mut Generation, target: &watch::Sender<TargetState>) {
        let Some(units) = &self.units else {
            return;
        };
        let stored = self
            .desired
            .get(&self.config.name)
            .map(|desired| desired.tasks)
            .unwrap_or_default();
        let configs: Vec<ConfigMap> = if self.target == TargetState::Stopped {
            Vec::new()
        } else {
            stored
                .iter()
                .map(|config| self.config.secrets.reveal_config(config))
                .collect()
        };
        let previous = std::mem::replace(
            &mut *self.shared.task_configs.lock().expect("lock"),
            configs.clone(),
        );
        let mut stopping = BTreeMap::new();
        let ids: Vec<u32> = generation.tasks.keys().copied().collect();
        for id in ids {
            let index = id as usize;
            let keep = units.tasks.contains(&id)
                && configs.get(index).is_some()
                && previous.get(index) == configs.get(index);
            if !keep && let Some(task) = generation.tasks.remove(&id) {
                stopping.insert(id, task);
            }
        }
        if !stopping.is_empty() {
            tracing::info!(tasks = ?stopping.keys().collect::<Vec<_>>(), "Stopping tasks no longer assigned here or reconfigured.");
            self.stop_tasks(&mut stopping).await;
        }
        let worker = &self.services.worker;
        {
            let mut metrics = self.shared.metrics.lock().expect("lock");
            metrics.truncate(configs.len());
            while metrics.len() < configs.len() {
                metrics.push(Arc::new(if worker.metrics_recording {
                    TaskMetrics::new(worker.metrics_window)
                } else {
                    TaskMetrics::counters_only(worker.metrics_window)
                }));
            }
        }
        let starting: Vec<u32> = units
            .tasks
            .iter()
            .copied()
            .filter(|id| (*id as usize) < configs.len() && !generation.tasks.contains_key(id))
            .collect();
        if starting.is_empty() {
            return;
        }
        // A task that moved here continues from what its previous worker committed.
        if let Err(error) = self.services.offsets.sync().await {
            tracing::warn!(error = %crate::error_chain(&error), "Could not read the offsets topic to its end; starting tasks from the offsets read so far.");
        }
        for id in starting {
            let Some((config, metrics)) = self.task_state(id) else {
                continue;
            };
            self.statuses
                .set_task(&self.config.name, id, State::Unassigned, None);
            let task = self.spawn_task(id, config, metrics, target, &generation.events_tx);
            generation.tasks.insert(id, task);
        }
    }

    /// Stops every task gracefully, abandoning those that take longer than
    /// `task.shutdown.graceful.timeout.ms` (in total, as Kafka Connect).
    async fn stop_tasks(&self, tasks: &mut BTreeMap<u32, RunningTask>) {
        for task in tasks.values() {
            task.shutdown.cancel();
        }
        let deadline = tokio::time::Instant::now()
            + self
                .services
                .worker
                .task_shutdown_timeout
                .max(Duration::from_millis(1));
        for mut task in std::mem::take(tasks).into_values() {
            if tokio::time::timeout_at(deadline, &mut task.join)
                .await
                .is_err()
            {
                tracing::warn!("A task did not stop in time and was abandoned.");
                task.join.abort();
            }
        }
    }
}

/// Events of one generation of tasks, tagged with the task id.
type TaskEvents = mpsc::UnboundedReceiver<(u32, TaskEvent)>;
type TaskEventSender = mpsc::UnboundedSender<(u32, TaskEvent)>;

/// The sandbox context of a connector instance that only validates a config (no offsets,
/// nobody listening to its events).
pub fn validation_context(name: &str, services: &Arc<Services>) -> InstanceContext {
    InstanceContext::detached(name, None, services.worker.sandbox)
}

/// The sandbox context of a connector instance.
pub fn connector_context(
    config: &ConnectorConfig,
    services: &Arc<Services>,
    events: mpsc::UnboundedSender<ContextEvent>,
) -> InstanceContext {
    InstanceContext {
        connector: config.name.clone(),
        task: None,
        limits: config.sandbox,
        preopens: Vec::new(),
        egress: config.egress.clone(),
        tcp: config.tcp.clone(),
        events,
        offsets: Some(Arc::new(worker::StoreReader {
            store: services.offsets.clone(),
            connector: config.name.clone(),
        })),
        sink_context: None,
        reporter: None,
        log: None,
        metrics: None,
        secrets: config.secrets.clone(),
        budget: None,
        http_connections: None,
        tenant: config.tenant.clone(),
        counts_memory: true,
    }
}
