//! A distributed worker's own settings, with Kafka Connect's keys and defaults where it has
//! them: the group, the internal topics (name, partitions, replication factor and topic-level
//! settings, KIP-605), the liveness timeouts. Plain data, validated at start: a missing key
//! or a contradiction is an error naming the key.

use std::time::Duration;

use crate::config::{ConfigError, Settings, SettingsExt as _};

/// One internal topic's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSettings {
    pub name: String,
    /// The key that names it, e.g. `config.storage.topic`.
    pub key: &'static str,
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i16,
    /// `<prefix>.<topic setting>=<value>` settings to create it with.
    pub configs: Vec<(String, String)>,
}

/// Settings of a distributed worker (beside everything a standalone one reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedConfig {
    /// `group.id`: the cluster's name; workers with the same one form a cluster.
    pub group_id: String,
    /// `config.storage.topic` (one partition).
    pub config_topic: TopicSettings,
    /// `offset.storage.topic` (default 25 partitions).
    pub offset_topic: TopicSettings,
    /// `status.storage.topic` (default 5 partitions).
    pub status_topic: TopicSettings,
    /// `cluster.storage.topic` (default `<group.id>-cluster`, one partition): workers'
    /// heartbeats and the leader's assignments. Not in Kafka Connect, whose group protocol
    /// carries them.
    pub cluster_topic: TopicSettings,
    /// `session.timeout.ms` (default 10000): a worker not heard from for this long is dead
    /// and its work moves; a worker that could not renew its membership for
    /// this long minus one heartbeat interval stops its work by itself.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3000).
    pub heartbeat_interval: Duration,
    /// `rebalance.timeout.ms` (default 60000): the longest the group may take to rebalance.
    pub rebalance_timeout: Duration,
    /// `scheduled.rebalance.max.delay.ms` (default 0 here, 300000 in Kafka Connect): how long
    /// a dead worker's work waits for it to come back before it moves.
    pub scheduled_rebalance_max_delay: Duration,
    /// `worker.sync.timeout.ms` (default 3000): how long reading an internal topic to its end
    /// may take before the worker gives up (and retries).
    pub worker_sync_timeout: Duration,
}

/// Kafka Connect's defaults.
const DEFAULT_OFFSET_PARTITIONS: i32 = 25;
const DEFAULT_STATUS_PARTITIONS: i32 = 5;
const DEFAULT_REPLICATION_FACTOR: i16 = 3;

impl DistributedConfig {
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        raw.required("bootstrap.servers")?;
        let group_id = raw.required("group.id")?.to_owned();
        let topic = |prefix: &'static str,
                     key: &'static str,
                     name: Option<String>,
                     partitions: i32|
         -> Result<TopicSettings, ConfigError> {
            let name = match name {
                Some(name) => name,
                None => raw.required(key)?.to_owned(),
            };
            let partitions_key = format!("{prefix}.partitions");
            let partitions: i32 = raw.parse_or(
                &partitions_key,
                partitions,
                "a positive number of partitions",
            )?;
            if partitions < 1 {
                return Err(ConfigError::Invalid {
                    key: partitions_key,
                    value: partitions.to_string(),
                    expected: "a positive number of partitions",
                });
            }
            let replication_key = format!("{prefix}.replication.factor");
            let replication_factor: i16 = raw.parse_or(
                &replication_key,
                DEFAULT_REPLICATION_FACTOR,
                "a positive replication factor, or -1 for the broker's default",
            )?;
            if replication_factor == 0 || replication_factor < -1 {
                return Err(ConfigError::Invalid {
                    key: replication_key,
                    value: replication_factor.to_string(),
                    expected: "a positive replication factor, or -1 for the broker's default",
                });
            }
            let own = ["topic", "partitions", "replication.factor", "file.filename"];
            let configs = raw
                .with_prefix(&format!("{prefix}."))
                .into_iter()
                .filter(|(setting, _)| !own.contains(&setting.as_str()))
                .collect();
            Ok(TopicSettings {
                name,
                key,
                partitions,
                replication_factor,
                configs,
            })
        };
        let config_topic = topic("config.storage", "config.storage.topic", None, 1)?;
        if config_topic.partitions != 1 {
            return Err(ConfigError::Invalid {
                key: "config.storage.partitions".into(),
                value: config_topic.partitions.to_string(),
                expected: "1: the config topic keeps connector changes in order on one partition",
            });
        }
        let offset_topic = topic(
            "offset.storage",
            "offset.storage.topic",
            None,
            DEFAULT_OFFSET_PARTITIONS,
        )?;
        let status_topic = topic(
            "status.storage",
            "status.storage.topic",
            None,
            DEFAULT_STATUS_PARTITIONS,
        )?;
        let cluster_topic = topic(
            "cluster.storage",
            "cluster.storage.topic",
            Some(
                raw.string("cluster.storage.topic")
                    .map_or_else(|| format!("{group_id}-cluster"), str::to_owned),
            ),
            1,
        )?;
        if cluster_topic.partitions != 1 {
            return Err(ConfigError::Invalid {
                key: "cluster.storage.partitions".into(),
                value: cluster_topic.partitions.to_string(),
                expected: "1: heartbeats and assignments are read in order from one partition",
            });
        }
        let names = [&config_topic, &offset_topic, &status_topic, &cluster_topic];
        for (index, a) in names.iter().enumerate() {
            for b in &names[index + 1..] {
                if a.name == b.name {
                    return Err(ConfigError::Invalid {
                        key: b.key.into(),
                        value: b.name.clone(),
                        expected: "a topic of its own: another internal topic has this name",
                    });
                }
            }
        }
        let session_timeout = raw.millis_or("session.timeout.ms", 10_000)?;
        let heartbeat_interval = raw.millis_or("heartbeat.interval.ms", 3_000)?;
        if heartbeat_interval.is_zero() || heartbeat_interval.saturating_mul(2) > session_timeout {
            return Err(ConfigError::Invalid {
                key: "heartbeat.interval.ms".into(),
                value: heartbeat_interval.as_millis().to_string(),
                expected: "a positive number of milliseconds of at most half of session.timeout.ms",
            });
        }
        Ok(Self {
            group_id,
            config_topic,
            offset_topic,
            status_topic,
            cluster_topic,
            session_timeout,
            heartbeat_interval,
            rebalance_timeout: raw.millis_or("rebalance.timeout.ms", 60_000)?,
            scheduled_rebalance_max_delay: raw.millis_or("scheduled.rebalance.max.delay.ms", 0)?,
            worker_sync_timeout: raw
                .millis_or("worker.sync.timeout.ms", 3_000)?
                .max(Duration::from_millis(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("bootstrap.servers", "localhost:9092"),
            ("group.id", "connect"),
            ("config.storage.topic", "connect-configs"),
            ("offset.storage.topic", "connect-offsets"),
            ("status.storage.topic", "connect-status"),
        ]
    }

    #[test]
    fn kafka_connects_keys_and_defaults() {
        let mut pairs = base();
        pairs.push(("offset.storage.segment.bytes", "1048576"));
        pairs.push(("status.storage.replication.factor", "1"));
        let config = DistributedConfig::from_settings(&settings(&pairs)).unwrap();
        assert_eq!(config.offset_topic.partitions, 25);
        assert_eq!(config.status_topic.partitions, 5);
        assert_eq!(config.status_topic.replication_factor, 1);
        assert_eq!(config.config_topic.replication_factor, 3);
        assert_eq!(
            config.offset_topic.configs,
            [("segment.bytes".to_owned(), "1048576".to_owned())]
        );
        assert_eq!(config.cluster_topic.name, "connect-cluster");
        assert_eq!(config.session_timeout, Duration::from_secs(10));
        assert_eq!(config.scheduled_rebalance_max_delay, Duration::ZERO);
    }

    #[test]
    fn missing_keys_and_contradictions_name_the_key() {
        for missing in [
            "group.id",
            "config.storage.topic",
            "offset.storage.topic",
            "status.storage.topic",
            "bootstrap.servers",
        ] {
            let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != missing).collect();
            let error = DistributedConfig::from_settings(&settings(&pairs)).unwrap_err();
            assert!(error.to_string().contains(missing), "{error}");
        }
        for (key, value) in [
            ("config.storage.partitions", "3"),
            ("heartbeat.interval.ms", "6000"),
            ("status.storage.topic", "connect-configs"),
            ("offset.storage.replication.factor", "0"),
        ] {
            let mut pairs = base();
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let error = DistributedConfig::from_settings(&settings(&pairs)).unwrap_err();
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }
}
