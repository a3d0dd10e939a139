//! The cluster driver of a distributed worker: heartbeats, the leader's assignments, and
//! applying this worker's part. Everything goes through the cluster topic
//! (`cluster.storage.topic`, one partition, compacted):
//!
//! - `worker-<id>`: a heartbeat, `{"url","epoch","joining","running":{"<c>":[-1,0,..]},
//!   "plugins":[..]}`, every `heartbeat.interval.ms` and after every change: the worker's REST
//!   URL, the assignment epoch it applied, what it runs (task `-1` is the connector instance,
//!   as in Kafka Connect's protocol) and the digests of the plugins it can run (the leader
//!   places a connector only where its plugin is).
//! - `assignment`: the leader's, `{"epoch","leader","leader_url","config_offset",
//!   "assignments":{"<worker>":{"<c>":[-1,0,..]}}}`.
//!
//! Invariants:
//! - **One leader's word.** The leader is the group member owning the cluster topic's
//!   partition ([`super::membership`]); while a dead leader is not yet replaced by the group,
//!   the live worker with the lowest id stands in. Each term a leader publishes with an epoch
//!   above every epoch in the topic; workers act only on the first assignment of an epoch
//!   above the one they applied, and since all read the topic in the same order, they all act
//!   on the same one even if two leaders published at once.
//! - **Configs first.** An assignment names the config-topic offset the leader had read;
//!   a worker reads the config topic that far before acting on it.
//! - **Never twice.** The leader gives a unit to a worker only when no other live worker may
//!   run it ([`super::assignor`]); a unit that moves is revoked first and placed once its old
//!   worker's heartbeat says it stopped.
//! - **Fencing.** A worker whose last acknowledged heartbeat was sent more than
//!   `session.timeout.ms` minus one heartbeat interval ago stops everything it runs by
//!   itself, before the leader (which waits a whole session timeout from when it *read*
//!   that heartbeat) can give its work away. It then rejoins: it acts only on an assignment
//!   written after its rejoining heartbeat, and leads again only after a new group term. The
//!   statuses it writes carry the epoch it acts on, so stale ones lose to newer ones.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{
    assignor::{self, Assignment, Unit},
    plugins::{PluginChunks, PluginEvent, SharedPlugins},
};
use crate::{
    coordinator::{ClusterInfo, ClusterMember, Herder, Units},
    storage::{
        kafka_config::{ConfigEvent, KafkaConfigStore},
        topic::{InternalTopic, TopicRecord},
    },
};

/// A worker's latest heartbeat.
#[derive(Debug, Clone)]
struct Heartbeat {
    url: String,
    epoch: i64,
    running: BTreeSet<Unit>,
    joining: bool,
    /// The digests of the plugins it can run (None: it did not say).
    plugins: Option<BTreeSet<String>>,
    offset: i64,
    /// When this worker read it (for one read while catching up: when it was written).
    seen: Instant,
}

/// A published assignment.
#[derive(Debug, Clone)]
struct Published {
    epoch: i64,
    leader: String,
    leader_url: String,
    config_offset: i64,
    workers: Assignment,
    offset: i64,
}

#[derive(Debug, Default)]
struct View {
    /// Shared uploads complete or removed, for the driver to apply.
    plugin_events: Vec<PluginEvent>,
    heartbeats: BTreeMap<String, Heartbeat>,
    /// Assignments in topic order; older ones are pruned once every live worker moved past
    /// them.
    assignments: Vec<Published>,
}

/// What the driver needs to know.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub worker_id: String,
    pub url: String,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub scheduled_rebalance_max_delay: Duration,
    /// The cluster topic.
    pub topic: String,
    /// How long reads and writes of it may take (`worker.sync.timeout.ms`).
    pub timeout: Duration,
}

/// Units as Kafka Connect's protocol lists them: connector → task ids, -1 for the instance.
fn units_json(units: &BTreeSet<Unit>) -> Value {
    let mut by_connector: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for unit in units {
        let id = match unit {
            Unit::Connector(_) => -1,
            Unit::Task(_, task) => i64::from(*task),
        };
        by_connector.entry(unit.connector()).or_default().push(id);
    }
    json!(by_connector)
}

fn parse_units(json: Option<&Value>) -> BTreeSet<Unit> {
    let mut units = BTreeSet::new();
    for (connector, ids) in json.and_then(Value::as_object).into_iter().flatten() {
        for id in ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
        {
            units.insert(match u32::try_from(id) {
                Ok(task) => Unit::Task(connector.clone(), task),
                Err(_) => Unit::Connector(connector.clone()),
            });
        }
    }
    units
}

/// Units grouped by connector, as the herder runs them.
fn by_connector(units: &BTreeSet<Unit>) -> BTreeMap<String, Units> {
    let mut grouped: BTreeMap<String, Units> = BTreeMap::new();
    for unit in units {
        let entry = grouped.entry(unit.connector().to_owned()).or_default();
        match unit {
            Unit::Connector(_) => entry.connector = true,
            Unit::Task(_, task) => {
                entry.tasks.insert(*task);
            }
        }
    }
    grouped
}

fn flatten(running: &BTreeMap<String, Units>) -> BTreeSet<Unit> {
    running
        .iter()
        .flat_map(|(name, units)| {
            units
                .connector
                .then(|| Unit::Connector(name.clone()))
                .into_iter()
                .chain(
                    units
                        .tasks
                        .iter()
                        .map(|task| Unit::Task(name.clone(), *task)),
                )
        })
        .collect()
}

fn apply(view: &mut View, record: &TopicRecord) {
    let Some(key) = record.key.as_deref().map(String::from_utf8_lossy) else {
        return;
    };
    let value: Option<Value> = record
        .value
        .as_deref()
        .and_then(|bytes| serde_json::from_slice(bytes).ok());
    if let Some(worker) = key.strip_prefix("worker-") {
        let Some(value) = value else {
            view.heartbeats.remove(worker);
            return;
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let age = record
            .timestamp_ms
            .map_or(0, |written| (now_ms - written).max(0) as u64);
        let now = Instant::now();
        view.heartbeats.insert(
            worker.to_owned(),
            Heartbeat {
                url: value
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                epoch: value.get("epoch").and_then(Value::as_i64).unwrap_or(-1),
                running: parse_units(value.get("running")),
                joining: value
                    .get("joining")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                plugins: value
                    .get("plugins")
                    .and_then(Value::as_array)
                    .map(|digests| {
                        digests
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    }),
                offset: record.offset,
                seen: now.checked_sub(Duration::from_millis(age)).unwrap_or(now),
            },
        );
    } else if key == "assignment" {
        let Some(value) = value else {
            return;
        };
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let workers = value
            .get("assignments")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(worker, units)| (worker.clone(), parse_units(Some(units))))
            .collect();
        view.assignments.push(Published {
            epoch: value.get("epoch").and_then(Value::as_i64).unwrap_or(0),
            leader: text("leader"),
            leader_url: text("leader_url"),
            config_offset: value
                .get("config_offset")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            workers,
            offset: record.offset,
        });
    }
}

/// What the heartbeat task sends, and what it learned.
#[derive(Debug)]
struct Beat {
    epoch: i64,
    running: BTreeSet<Unit>,
    joining: bool,
    /// Until when this worker may run its work (the last acknowledged heartbeat's send time
    /// plus the session timeout minus one heartbeat interval).
    lease: Option<Instant>,
    /// Where the first heartbeat acknowledged since this worker (re)joined is.
    join_offset: Option<i64>,
    /// Set when a heartbeat was acknowledged after the lease had run out (e.g. the process
    /// was stopped for longer): the worker must fence itself even though the lease is valid
    /// again.
    lapsed: bool,
}

/// The driver of one distributed worker.
pub struct Cluster {
    settings: ClusterSettings,
    herder: Herder,
    configs: Arc<KafkaConfigStore>,
    topic: Arc<InternalTopic>,
    view: Arc<Mutex<View>>,
    changed: Arc<Notify>,
    leader: watch::Receiver<Option<u64>>,
    /// The epoch this worker acts on (statuses carry it).
    generation: Arc<AtomicI64>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Cluster {
    /// Starts reading the cluster topic.
    pub fn open(
        settings: ClusterSettings,
        kafka: &crate::log::kafka::KafkaSettings,
        herder: Herder,
        configs: Arc<KafkaConfigStore>,
        leader: watch::Receiver<Option<u64>>,
        generation: Arc<AtomicI64>,
    ) -> Result<Self, crate::storage::topic::TopicError> {
        let view = Arc::new(Mutex::new(View::default()));
        let changed = Arc::new(Notify::new());
        let chunks = Arc::new(Mutex::new(PluginChunks::default()));
        let topic = {
            let view = view.clone();
            let changed = changed.clone();
            let chunks = chunks.clone();
            InternalTopic::open(
                kafka,
                &settings.topic,
                1,
                &format!("{}-cluster", settings.worker_id),
                settings.timeout,
                move |record| {
                    let key = record.key.as_deref().map(String::from_utf8_lossy);
                    match key {
                        Some(key) if key.starts_with("plugin-") => {
                            let event = lock(&chunks).apply(&key, record.value.as_deref());
                            if let Some(event) = event {
                                lock(&view).plugin_events.push(event);
                            }
                        }
                        _ => apply(&mut lock(&view), &record),
                    }
                    changed.notify_one();
                },
            )?
        };
        let topic = Arc::new(topic);
        herder.set_plugin_share(Arc::new(SharedPlugins {
            topic: topic.clone(),
            chunks,
        }));
        Ok(Self {
            settings,
            herder,
            configs,
            topic,
            view,
            changed,
            leader,
            generation,
        })
    }

    /// Runs until `stop`: heartbeats, leads when elected, applies this worker's assignment.
    pub async fn run(
        self,
        mut config_events: mpsc::UnboundedReceiver<ConfigEvent>,
        restarts_from: i64,
        stop: CancellationToken,
    ) {
        let me = self.settings.worker_id.clone();
        let beat = Arc::new(Mutex::new(Beat {
            epoch: -1,
            running: BTreeSet::new(),
            joining: true,
            lease: None,
            join_offset: None,
            lapsed: false,
        }));
        let urgent = Arc::new(Notify::new());
        let lease = self.herder.services().lease.clone();
        let heartbeats = tokio::spawn(heartbeat_loop(
            self.topic.clone(),
            self.herder.clone(),
            self.settings.clone(),
            beat.clone(),
            urgent.clone(),
            self.changed.clone(),
            stop.clone(),
        ));
        let mut leader = self.leader.clone();
        let mut applied: i64 = -1;
        let mut fenced_term: u64 = 0;
        let mut leading: Option<u64> = None;
        // The epoch this leader published last, until it reads it back.
        let mut publishing: Option<(i64, Instant)> = None;
        let tick = (self.settings.heartbeat_interval / 4)
            .clamp(Duration::from_millis(50), Duration::from_millis(500));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.changed.notified() => {}
                event = config_events.recv() => match event {
                    Some(ConfigEvent::Changed(_)) => self.herder.sync_desired().await,
                    Some(ConfigEvent::Tenants) => {
                        if let Err(error) = self.herder.tenants().reload().await {
                            tracing::warn!(error = %crate::error_chain(&error), "Could not read the changed tenants.");
                        }
                    }
                    Some(ConfigEvent::Logger { namespace, level }) => {
                        match crate::logging::levels().set(&namespace, &level) {
                            Ok(_) => tracing::info!(logger = %namespace, %level, "Log level set for the whole cluster."),
                            Err(error) => tracing::warn!(logger = %namespace, %error, "A cluster-wide log level could not be applied."),
                        }
                    }
                    Some(ConfigEvent::Restart(request)) => {
                        if request.offset >= restarts_from {
                            self.herder.restart_assigned(&request);
                        }
                    }
                    None => break,
                },
                _ = leader.changed() => {}
                () = tokio::time::sleep(tick) => {}
            }
            // Uploads shared by other workers (or removed there).
            let events = std::mem::take(&mut lock(&self.view).plugin_events);
            for event in events {
                match event {
                    PluginEvent::Install {
                        digest,
                        owner,
                        bytes,
                    } => {
                        self.herder
                            .install_shared_plugin(owner.as_deref(), &digest, &bytes)
                            .await;
                    }
                    PluginEvent::Remove { digest } => self.herder.remove_shared_plugin(&digest),
                }
            }
            let now = Instant::now();
            // Fencing: no acknowledged heartbeat for too long.
            let (lease_valid, lapsed) = {
                let mut beat = lock(&beat);
                let lapsed = std::mem::take(&mut beat.lapsed);
                (
                    beat.lease.is_some_and(|lease| now < lease) && !lapsed,
                    lapsed,
                )
            };
            let has_work = !lock(&beat).joining || !self.herder.running_units().is_empty();
            if (!lease_valid || lapsed) && has_work {
                tracing::warn!(
                    "This worker could not renew its membership in time; stopping everything it runs until it rejoins."
                );
                self.herder.apply_assignment(BTreeMap::new()).await;
                fenced_term = leader.borrow().unwrap_or(fenced_term).max(fenced_term);
                leading = None;
                let mut beat = lock(&beat);
                beat.running.clear();
                beat.joining = true;
                beat.join_offset = None;
                // Tasks started from now on may run while the membership holds.
                if let Some(until) = beat.lease {
                    lease.renew(until);
                }
                drop(beat);
                urgent.notify_one();
                continue;
            }
            if lapsed && let Some(until) = lock(&beat).lease {
                lease.renew(until);
            }
            if !lease_valid {
                continue;
            }
            // Leading: as the group's leader, or standing in for a dead one until the group
            // elects another (term 0).
            let group_term = (*leader.borrow()).filter(|term| *term > fenced_term);
            let joining = lock(&beat).joining;
            let term = group_term.or_else(|| {
                (!joining && self.stands_in(&me, now, leading == Some(0))).then_some(0)
            });
            match term {
                Some(term) => {
                    if leading != Some(term) {
                        // A new term: know everything written before deciding.
                        if let Err(error) = self.topic.read_to_end().await {
                            tracing::warn!(%error, "The new leader could not read the cluster topic to its end; retrying.");
                            continue;
                        }
                        let _ = self.configs.read_to_end().await;
                        self.herder.sync_desired().await;
                        leading = Some(term);
                        publishing = None;
                    }
                    let caught_up = publishing.is_none_or(|(epoch, since)| {
                        lock(&self.view)
                            .assignments
                            .last()
                            .is_some_and(|latest| latest.epoch >= epoch)
                            || since.elapsed() > self.settings.session_timeout
                    });
                    if caught_up && let Some((epoch, value)) = self.next_assignment(&me, now) {
                        match self
                            .topic
                            .send(b"assignment", Some(value.to_string().as_bytes()))
                            .await
                        {
                            Ok(_) => publishing = Some((epoch, Instant::now())),
                            Err(error) => {
                                tracing::warn!(%error, "Publishing the assignment failed; retrying.")
                            }
                        }
                    }
                }
                _ => leading = None,
            }
            {
                let mut info = self.herder.cluster_info();
                let is_leader = leading.is_some() && info.leader_id.as_deref() == Some(me.as_str());
                if info.is_leader != is_leader {
                    info.is_leader = is_leader;
                    self.herder.set_cluster_info(info);
                }
            }
            // Applying.
            let (joining, join_offset) = {
                let beat = lock(&beat);
                (beat.joining, beat.join_offset)
            };
            let newest = lock(&self.view).assignments.last().cloned();
            let Some(newest) = newest else {
                continue;
            };
            let acceptable = newest.epoch > applied
                && (!joining || join_offset.is_some_and(|joined| newest.offset > joined));
            if !acceptable {
                continue;
            }
            if let Err(error) = self.configs.read_to(newest.config_offset).await {
                tracing::warn!(error = %crate::error_chain(&error), "This worker is behind the config topic; acting on the assignment once it caught up.");
                continue;
            }
            self.herder.sync_desired().await;
            let mine = newest.workers.get(&me).cloned().unwrap_or_default();
            self.generation.store(newest.epoch, Ordering::SeqCst);
            self.herder.apply_assignment(by_connector(&mine)).await;
            applied = newest.epoch;
            let running = flatten(&self.herder.running_units());
            {
                let mut beat = lock(&beat);
                beat.epoch = applied;
                beat.running = running;
                beat.joining = false;
            }
            urgent.notify_one();
            let workers = {
                let view = lock(&self.view);
                newest
                    .workers
                    .iter()
                    .map(|(id, units)| ClusterMember {
                        id: id.clone(),
                        url: view
                            .heartbeats
                            .get(id)
                            .map(|hb| hb.url.clone())
                            .unwrap_or_default(),
                        assignment: serde_json::from_value(units_json(units)).unwrap_or_default(),
                    })
                    .collect()
            };
            self.herder.set_cluster_info(ClusterInfo {
                leader_id: Some(newest.leader.clone()),
                leader_url: Some(newest.leader_url.clone()),
                is_leader: newest.leader == me && leading.is_some(),
                epoch: applied,
                workers,
            });
            // `GET /health` answers 200 once the worker runs its first assignment.
            self.herder.set_ready(true);
            tracing::info!(
                epoch = applied,
                leader = %newest.leader,
                connectors = mine.iter().filter(|u| matches!(u, Unit::Connector(_))).count(),
                tasks = mine.iter().filter(|u| matches!(u, Unit::Task(..))).count(),
                "Applied the cluster's assignment."
            );
        }
        heartbeats.abort();
        self.herder.apply_assignment(BTreeMap::new()).await;
    }

    /// Whether this worker stands in for a leader that died, until the worker group elects
    /// another (which takes a rebalance after the session timeout): the latest assignment's
    /// leader has not been heard from for the session timeout, and this is the live worker
    /// with the lowest id. It keeps standing in until another worker publishes. Two leaders
    /// at once are harmless: every worker reads the cluster topic in the same order and acts
    /// on the first assignment of each epoch, so all act on the same one.
    fn stands_in(&self, me: &str, now: Instant, standing_in: bool) -> bool {
        let view = lock(&self.view);
        let Some(latest) = view.assignments.last() else {
            return false;
        };
        if latest.leader == me {
            return standing_in;
        }
        let session = self.settings.session_timeout;
        let alive = |hb: &Heartbeat| now.saturating_duration_since(hb.seen) <= session;
        if view.heartbeats.get(&latest.leader).is_some_and(alive) {
            return false;
        }
        view.heartbeats
            .iter()
            .filter(|(_, hb)| alive(hb))
            .map(|(id, _)| id.as_str())
            .min()
            == Some(me)
    }

    /// The assignment to publish now, if it differs from the latest one (or a worker joined,
    /// or this leader has not published yet): its epoch and record value.
    fn next_assignment(&self, me: &str, now: Instant) -> Option<(i64, Value)> {
        let mut view = lock(&self.view);
        let session = self.settings.session_timeout;
        let delay = self.settings.scheduled_rebalance_max_delay;
        let age = |hb: &Heartbeat| now.saturating_duration_since(hb.seen);
        let alive: Vec<String> = view
            .heartbeats
            .iter()
            .filter(|(_, hb)| age(hb) <= session)
            .map(|(id, _)| id.clone())
            .collect();
        let departed: Vec<String> = view
            .heartbeats
            .iter()
            .filter(|(_, hb)| age(hb) > session && age(hb) <= session + delay)
            .map(|(id, _)| id.clone())
            .collect();
        // Forget what every live worker moved past.
        let oldest_applied = alive
            .iter()
            .chain(&departed)
            .filter_map(|id| view.heartbeats.get(id).map(|hb| hb.epoch))
            .min()
            .unwrap_or(i64::MAX);
        let keep_from = view
            .assignments
            .iter()
            .rposition(|published| published.epoch <= oldest_applied)
            .unwrap_or(0);
        let last = view.assignments.len().saturating_sub(1);
        view.assignments.drain(..keep_from.min(last));
        let latest = view.assignments.last();
        let previous = latest.map(|p| p.workers.clone()).unwrap_or_default();
        let mut configured = BTreeSet::new();
        let mut pins: BTreeMap<String, String> = BTreeMap::new();
        for (name, stored) in self.configs.snapshot() {
            if let Some(plugin) = &stored.plugin {
                pins.insert(name.clone(), plugin.digest.clone());
            }
            configured.insert(Unit::Connector(name.clone()));
            for task in 0..stored.tasks.len() as u32 {
                configured.insert(Unit::Task(name.clone(), task));
            }
        }
        // A departed worker's work waits for it (scheduled.rebalance.max.delay.ms).
        let mut retained: Assignment = Assignment::new();
        for id in &departed {
            let kept: BTreeSet<Unit> = previous
                .get(id)
                .into_iter()
                .flatten()
                .filter(|unit| configured.contains(*unit))
                .cloned()
                .collect();
            for unit in &kept {
                configured.remove(unit);
            }
            retained.insert(id.clone(), kept);
        }
        let members: BTreeSet<&String> = alive.iter().chain(&departed).collect();
        let held = |unit: &Unit| -> BTreeSet<String> {
            members
                .iter()
                .filter(|id| {
                    let Some(hb) = view.heartbeats.get(**id) else {
                        return false;
                    };
                    hb.running.contains(unit)
                        || view.assignments.iter().any(|published| {
                            published.epoch > hb.epoch
                                && published
                                    .workers
                                    .get(**id)
                                    .is_some_and(|units| units.contains(unit))
                        })
                })
                .map(|id| (*id).clone())
                .collect()
        };
        // A connector goes only where its plugin is loaded.
        let eligible = |worker: &str, unit: &Unit| {
            let Some(digest) = pins.get(unit.connector()) else {
                return true;
            };
            view.heartbeats
                .get(worker)
                .and_then(|hb| hb.plugins.as_ref())
                .is_none_or(|plugins| plugins.contains(digest))
        };
        let mut next = assignor::assign(&alive, &configured, &previous, &held, &eligible);
        next.extend(retained);

        let joined = latest.is_some_and(|latest| {
            alive.iter().any(|id| {
                view.heartbeats
                    .get(id)
                    .is_some_and(|hb| hb.joining && hb.offset > latest.offset)
            })
        });
        let must = latest.is_none_or(|latest| latest.leader != me) || next != previous || joined;
        if !must || alive.is_empty() {
            return None;
        }
        let epoch = view.assignments.iter().map(|p| p.epoch).max().unwrap_or(0) + 1;
        let assignments: serde_json::Map<String, Value> = next
            .iter()
            .map(|(worker, units)| (worker.clone(), units_json(units)))
            .collect();
        tracing::info!(
            epoch,
            workers = alive.len(),
            departed = departed.len(),
            "Publishing a new assignment."
        );
        Some((
            epoch,
            json!({
                "epoch": epoch,
                "leader": me,
                "leader_url": self.settings.url,
                "config_offset": self.configs.offset(),
                "assignments": assignments,
            }),
        ))
    }
}

/// Sends this worker's heartbeat every heartbeat interval, and at once when `urgent`; each
/// acknowledged one extends the lease.
async fn heartbeat_loop(
    topic: Arc<InternalTopic>,
    herder: Herder,
    settings: ClusterSettings,
    beat: Arc<Mutex<Beat>>,
    urgent: Arc<Notify>,
    changed: Arc<Notify>,
    stop: CancellationToken,
) {
    // The tasks' lease.
    let lease = herder.services().lease.clone();
    let key = format!("worker-{}", settings.worker_id);
    let lease_length = settings
        .session_timeout
        .saturating_sub(settings.heartbeat_interval);
    loop {
        let (value, joining) = {
            let beat = lock(&beat);
            (
                json!({
                    "url": settings.url,
                    "epoch": beat.epoch,
                    "joining": beat.joining,
                    "running": units_json(&beat.running),
                    "plugins": herder.plugin_digests(),
                }),
                beat.joining,
            )
        };
        let sent = Instant::now();
        match topic
            .send(key.as_bytes(), Some(value.to_string().as_bytes()))
            .await
        {
            Ok((_, offset)) => {
                let mut beat = lock(&beat);
                if beat.lease.is_some() && !lease.valid() {
                    // The tasks' lease lapsed (and they may have stopped): it stays lapsed
                    // until the driver stopped everything.
                    beat.lapsed = true;
                } else {
                    lease.renew(sent + lease_length);
                }
                beat.lease = Some(sent + lease_length);
                if joining && beat.joining && beat.join_offset.is_none() {
                    beat.join_offset = Some(offset);
                }
                drop(beat);
                changed.notify_one();
            }
            Err(error) => tracing::warn!(%error, "A heartbeat could not be written."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = urgent.notified() => {}
            () = tokio::time::sleep(settings.heartbeat_interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_listed_as_kafka_connects_protocol_lists_them() {
        let units: BTreeSet<Unit> = [
            Unit::Connector("a".into()),
            Unit::Task("a".into(), 0),
            Unit::Task("b".into(), 2),
        ]
        .into();
        let json = units_json(&units);
        assert_eq!(json, json!({"a": [-1, 0], "b": [2]}));
        assert_eq!(parse_units(Some(&json)), units);
        let grouped = by_connector(&units);
        assert!(grouped["a"].connector && !grouped["b"].connector);
        assert_eq!(flatten(&grouped), units);
    }
}
