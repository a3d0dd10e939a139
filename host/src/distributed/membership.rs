//! Leader election through Kafka's consumer-group machinery: every worker is a member of the
//! group `group.id`, subscribed to the single-partition cluster topic; the member the group
//! gives that partition to is the leader. Membership is dynamic (no `group.instance.id`): a
//! leader that stops cleanly leaves the group, so another takes over at once. What static
//! membership is for, a restarted worker getting its work back with nothing else moving, the
//! assignment does by worker id ([`super::cluster`]). librdkafka does the membership (join, heartbeats, session timeout, rebalances) on
//! a thread of its own; this module reports each term of leadership. The group rebalances
//! cooperatively (`cooperative-sticky`), so workers joining or leaving do not interrupt the
//! leader, which is what lets it move a dead worker's work at once.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    ClientContext,
    consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance},
};
use tokio::sync::watch;

use crate::log::kafka::KafkaSettings;

/// Reports the partition's owner changing.
struct LeaderContext {
    /// Some(term) while this worker owns the partition; a new term at every assignment.
    leader: watch::Sender<Option<u64>>,
    terms: AtomicU64,
}

impl ClientContext for LeaderContext {}

impl ConsumerContext for LeaderContext {
    /// Under the cooperative protocol a rebalance only adds or removes what moves, so the
    /// leader stays leader through rebalances caused by other workers joining or leaving.
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) if partitions.count() > 0 => {
                let term = self.terms.fetch_add(1, Ordering::SeqCst) + 1;
                tracing::info!(term, "This worker is the cluster's leader.");
                self.leader.send_replace(Some(term));
            }
            Rebalance::Revoke(partitions) if partitions.count() > 0 => {
                if self.leader.send_replace(None).is_some() {
                    tracing::info!("This worker is no longer the cluster's leader.");
                }
            }
            Rebalance::Assign(_) | Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => {
                tracing::warn!(%error, "The worker group's rebalance failed.");
                self.leader.send_replace(None);
            }
        }
    }
}

/// This worker's membership in the worker group.
pub struct Membership {
    leader: watch::Receiver<Option<u64>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the group member is configured with.
pub struct MemberSettings<'a> {
    pub kafka: &'a KafkaSettings,
    pub group_id: &'a str,
    pub worker_id: &'a str,
    pub topic: &'a str,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
}

impl Membership {
    /// Joins the group.
    pub fn join(settings: MemberSettings<'_>) -> Result<Self, rdkafka::error::KafkaError> {
        let (leader_tx, leader) = watch::channel(None);
        let mut config = settings
            .kafka
            .group_consumer_config(settings.group_id, &format!("{}-member", settings.worker_id));
        config
            .set(
                "session.timeout.ms",
                settings.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                settings.heartbeat_interval.as_millis().to_string(),
            )
            .set(
                "max.poll.interval.ms",
                settings
                    .rebalance_timeout
                    .max(settings.session_timeout)
                    .as_millis()
                    .to_string(),
            )
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("auto.offset.reset", "latest");
        let consumer: BaseConsumer<LeaderContext> = config.create_with_context(LeaderContext {
            leader: leader_tx,
            terms: AtomicU64::new(0),
        })?;
        consumer.subscribe(&[settings.topic])?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("worker-group".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // Rebalance callbacks run inside poll; records are not needed.
                        if let Some(Err(error)) = consumer.poll(Duration::from_millis(100)) {
                            tracing::debug!(%error, "Worker group poll error.");
                        }
                    }
                })
                .map_err(|error| {
                    rdkafka::error::KafkaError::ClientCreation(format!(
                        "failed to start the worker group's thread: {error}"
                    ))
                })?
        };
        Ok(Self {
            leader,
            stop,
            thread: Some(thread),
        })
    }

    /// Some(term) while this worker leads.
    pub fn leader(&self) -> watch::Receiver<Option<u64>> {
        self.leader.clone()
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
