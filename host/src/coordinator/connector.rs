//! One connector's actor: it owns the connector's component instance, generates task configs
//! (`task-configs(tasks.max)`), starts, stops and reconfigures the tasks, applies the target
//! state, and turns task events into statuses.

use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use super::status::{State, StatusStore};
use crate::{
    config::ConnectorConfig,
    runtime::{ConfigMap, ConnectorInstance, ContextEvent, InstanceContext, Plugin, PluginKind},
    worker::{self, Services, TargetState, TaskControl, TaskEvent, TaskMetrics, TaskSpec},
};

/// What the herder asks of a connector actor.
pub enum Command {
    SetTarget(TargetState),
    /// Stop everything and exit; answers when done.
    Shutdown(oneshot::Sender<()>),
}

struct RunningTask {
    shutdown: CancellationToken,
    join: JoinHandle<()>,
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
    pub builtin: bool,
    pub services: Arc<Services>,
    pub statuses: Arc<StatusStore>,
    pub shared: Arc<Shared>,
    pub target: TargetState,
}

impl Actor {
    #[tracing::instrument(name = "connector", skip_all, fields(connector = %self.config.name))]
    /// Runs the connector; `validated` is an instance that already validated this
    /// configuration, reused to start.
    pub async fn run(
        mut self,
        validated: Option<ConnectorInstance>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let name = self.config.name.clone();
        let kind = self.plugin.info.kind;
        self.statuses
            .set_connector(&name, kind, State::Unassigned, None);
        let (context_tx, mut context_rx) = mpsc::unbounded_channel();
        let (target_tx, _) = watch::channel(self.target);
        let mut tasks: Vec<RunningTask> = Vec::new();
        let (mut task_events_rx, mut task_events_tx) = new_task_channel();
        let mut failed = false;

        let mut instance = match self.start_connector(validated, context_tx.clone()).await {
            Ok(instance) => Some(instance),
            Err(trace) => {
                self.statuses
                    .set_connector(&name, kind, State::Failed, Some(trace));
                failed = true;
                None
            }
        };
        if !failed {
            self.set_connector_state(kind);
            if self.target != TargetState::Stopped
                && let Some(instance) = instance.as_mut()
                && let Err(trace) = self
                    .reconfigure(
                        instance,
                        &mut tasks,
                        &target_tx,
                        &mut task_events_tx,
                        &mut task_events_rx,
                        true,
                    )
                    .await
            {
                self.statuses
                    .set_connector(&name, kind, State::Failed, Some(trace));
                failed = true;
            }
        }

        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::SetTarget(target)) => {
                        let previous = self.target;
                        self.target = target;
                        target_tx.send_replace(target);
                        if failed {
                            continue;
                        }
                        self.set_connector_state(kind);
                        match target {
                            TargetState::Stopped => {
                                self.stop_tasks(&mut tasks).await;
                                self.shared.task_configs.lock().expect("lock").clear();
                                self.statuses.retain_tasks(&name, 0);
                            }
                            TargetState::Started | TargetState::Paused if previous == TargetState::Stopped => {
                                if let Some(instance) = instance.as_mut()
                                    && let Err(trace) = self
                                        .reconfigure(instance, &mut tasks, &target_tx, &mut task_events_tx, &mut task_events_rx, true)
                                        .await
                                {
                                    self.statuses.set_connector(&name, kind, State::Failed, Some(trace));
                                    failed = true;
                                }
                            }
                            _ => {}
                        }
                    }
                    Some(Command::Shutdown(done)) => {
                        self.stop_tasks(&mut tasks).await;
                        if let Some(mut instance) = instance.take()
                            && let Err(error) = instance.stop().await
                        {
                            tracing::warn!(error = %error, "Connector stop failed.");
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop_tasks(&mut tasks).await;
                        return;
                    }
                },
                Some(event) = context_rx.recv() => match event {
                    ContextEvent::RequestTaskReconfiguration => {
                        if !failed && self.target != TargetState::Stopped
                            && let Some(instance) = instance.as_mut()
                            && let Err(trace) = self
                                .reconfigure(instance, &mut tasks, &target_tx, &mut task_events_tx, &mut task_events_rx, false)
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
                Some((task, event)) = task_events_rx.recv() => match event {
                    TaskEvent::Running => self.statuses.set_task(&name, task, State::Running, None),
                    TaskEvent::Paused => self.statuses.set_task(&name, task, State::Paused, None),
                    TaskEvent::Failed(trace) => self.statuses.set_task(&name, task, State::Failed, Some(trace)),
                    TaskEvent::Stopped => self.statuses.set_task(&name, task, State::Unassigned, None),
                    TaskEvent::RequestReconfiguration => {
                        // Handled like the connector's own request.
                        let _ = context_tx.send(ContextEvent::RequestTaskReconfiguration);
                    }
                },
            }
        }
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

    /// Asks the connector for task configs and restarts the tasks if they changed (or
    /// `force`, at start).
    async fn reconfigure(
        &self,
        instance: &mut ConnectorInstance,
        tasks: &mut Vec<RunningTask>,
        target: &watch::Sender<TargetState>,
        events_tx: &mut TaskEventSender,
        events_rx: &mut TaskEvents,
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
        let unchanged = *self.shared.task_configs.lock().expect("lock") == configs;
        if unchanged && !force {
            tracing::info!("Task configs unchanged; tasks keep running.");
            return Ok(());
        }
        tracing::info!(tasks = configs.len(), "Starting tasks with new configs.");
        self.stop_tasks(tasks).await;
        // A new channel per generation, so late events of stopped tasks are ignored.
        let (rx, tx) = new_task_channel();
        *events_rx = rx;
        *events_tx = tx;
        self.statuses.retain_tasks(&self.config.name, 0);
        let mut metrics = Vec::new();
        for (id, config) in configs.iter().enumerate() {
            let id = id as u32;
            self.statuses
                .set_task(&self.config.name, id, State::Unassigned, None);
            let shutdown = CancellationToken::new();
            let task_metrics = Arc::new(TaskMetrics::default());
            metrics.push(task_metrics.clone());
            let control = TaskControl {
                shutdown: shutdown.clone(),
                target: target.subscribe(),
                events: events_tx.clone(),
                metrics: task_metrics,
            };
            let spec = TaskSpec {
                connector: self.config.clone(),
                task: id,
                plugin: self.plugin.clone(),
                config: config.clone(),
                builtin: self.builtin,
            };
            let services = self.services.clone();
            let join = match self.plugin.info.kind {
                PluginKind::Source => {
                    tokio::spawn(worker::run_source_task(spec, services, control))
                }
                PluginKind::Sink => tokio::spawn(worker::run_sink_task(spec, services, control)),
            };
            tasks.push(RunningTask { shutdown, join });
        }
        *self.shared.task_configs.lock().expect("lock") = configs;
        *self.shared.metrics.lock().expect("lock") = metrics;
        Ok(())
    }

    /// Stops every task gracefully, abandoning those that take longer than
    /// `task.shutdown.graceful.timeout.ms` (in total, as Kafka Connect).
    async fn stop_tasks(&self, tasks: &mut Vec<RunningTask>) {
        for task in tasks.iter() {
            task.shutdown.cancel();
        }
        let deadline = tokio::time::Instant::now()
            + self
                .services
                .worker
                .task_shutdown_timeout
                .max(Duration::from_millis(1));
        for mut task in tasks.drain(..) {
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

fn new_task_channel() -> (TaskEvents, TaskEventSender) {
    let (tx, rx) = mpsc::unbounded_channel();
    (rx, tx)
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
        events,
        offsets: Some(Arc::new(worker::StoreReader {
            store: services.offsets.clone(),
            connector: config.name.clone(),
        })),
        sink_context: None,
        reporter: None,
    }
}
