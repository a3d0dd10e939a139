//! Consumer groups of the embedded log, inside one process: membership, subscriptions and
//! which member owns which partition.
//!
//! The target assignment is round-robin over the sorted partitions of all subscribed topics,
//! by member join order (Kafka's `RoundRobinAssignor`). Ownership moves in two steps, like
//! Kafka's rebalance barrier: a member first reports a partition as revoked and only releases
//! it at its next poll (by then it has committed what it processed), and only then can the new
//! owner take it. So two members never read a partition at the same time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::log::TopicPartition;

#[derive(Debug, Default)]
pub struct Groups {
    groups: HashMap<String, Group>,
    next_member_id: u64,
}

#[derive(Debug, Default)]
struct Group {
    /// In join order.
    members: Vec<Member>,
    /// Bumped when membership, a subscription or ownership changes.
    generation: u64,
}

/// What a member subscribed to: topic names, and patterns (Kafka's `topics.regex`, given as
/// subscriptions starting with `^`, as librdkafka takes them) that must match a whole name.
#[derive(Debug, Default, Clone)]
pub struct Subscription {
    pub names: BTreeSet<String>,
    pub patterns: Vec<regex::Regex>,
}

impl Subscription {
    pub fn matches(&self, topic: &str) -> bool {
        self.names.contains(topic)
            || self.patterns.iter().any(|pattern| {
                pattern
                    .find(topic)
                    .is_some_and(|m| m.start() == 0 && m.end() == topic.len())
            })
    }
}

#[derive(Debug)]
struct Member {
    id: u64,
    topics: Subscription,
    owned: BTreeSet<TopicPartition>,
    /// Reported as revoked by the last sync; released at the next one.
    releasing: BTreeSet<TopicPartition>,
}

/// What a member's sync changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sync {
    pub revoked: Vec<TopicPartition>,
    pub assigned: Vec<TopicPartition>,
    /// Whether other members may now take partitions this one released.
    pub released: bool,
}

impl Groups {
    /// Adds a member without subscriptions and returns its id.
    pub fn join(&mut self, group: &str) -> u64 {
        self.next_member_id += 1;
        let id = self.next_member_id;
        let group = self.groups.entry(group.to_owned()).or_default();
        group.members.push(Member {
            id,
            topics: Subscription::default(),
            owned: BTreeSet::new(),
            releasing: BTreeSet::new(),
        });
        group.generation += 1;
        id
    }

    /// Removes a member; its partitions become free at once.
    pub fn leave(&mut self, group: &str, member: u64) {
        if let Some(state) = self.groups.get_mut(group) {
            state.members.retain(|m| m.id != member);
            state.generation += 1;
            if state.members.is_empty() {
                self.groups.remove(group);
            }
        }
    }

    pub fn subscribe(&mut self, group: &str, member: u64, topics: Subscription) {
        if let Some(state) = self.groups.get_mut(group) {
            if let Some(m) = state.members.iter_mut().find(|m| m.id == member) {
                m.topics = topics;
            }
            state.generation += 1;
        }
    }

    /// Whether a group has members (consumers that joined and did not leave).
    pub fn has_members(&self, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|state| !state.members.is_empty())
    }

    /// The group's generation, to skip syncs when nothing changed.
    pub fn generation(&self, group: &str) -> u64 {
        self.groups.get(group).map_or(0, |state| state.generation)
    }

    /// Brings a member's ownership closer to the target assignment: releases what it reported
    /// revoked last time, reports partitions it must give up, and takes partitions of its
    /// target that nobody else holds.
    pub fn sync(
        &mut self,
        group: &str,
        member: u64,
        partition_counts: &BTreeMap<String, Vec<i64>>,
    ) -> Sync {
        let Some(state) = self.groups.get_mut(group) else {
            return Sync::default();
        };
        let mut result = Sync::default();
        let target = target_assignment(&state.members, partition_counts);
        let held_by_others: BTreeSet<TopicPartition> = state
            .members
            .iter()
            .filter(|m| m.id != member)
            .flat_map(|m| m.owned.iter().chain(&m.releasing).cloned())
            .collect();
        let Some(me) = state.members.iter_mut().find(|m| m.id == member) else {
            return result;
        };
        if !me.releasing.is_empty() {
            me.releasing.clear();
            result.released = true;
        }
        let mine = target.get(&member).cloned().unwrap_or_default();
        result.revoked = me.owned.difference(&mine).cloned().collect();
        for partition in &result.revoked {
            me.owned.remove(partition);
            me.releasing.insert(partition.clone());
        }
        result.assigned = mine
            .difference(&me.owned)
            .filter(|partition| !held_by_others.contains(*partition))
            .cloned()
            .collect();
        me.owned.extend(result.assigned.iter().cloned());
        if result.released || !result.revoked.is_empty() || !result.assigned.is_empty() {
            state.generation += 1;
        }
        result
    }
}

/// Round-robin over the sorted partitions of every subscribed topic, cycling through the members
/// in join order and skipping members not subscribed to the partition's topic.
fn target_assignment(
    members: &[Member],
    partition_counts: &BTreeMap<String, Vec<i64>>,
) -> HashMap<u64, BTreeSet<TopicPartition>> {
    let mut assignment: HashMap<u64, BTreeSet<TopicPartition>> = HashMap::new();
    if members.is_empty() {
        return assignment;
    }
    let mut cursor = 0;
    for (topic, ends) in partition_counts {
        if !members.iter().any(|m| m.topics.matches(topic)) {
            continue;
        }
        for partition in 0..ends.len() as i32 {
            // At least one member subscribes to `topic`, so this finds one within a full cycle.
            for _ in 0..members.len() {
                let member = &members[cursor % members.len()];
                cursor += 1;
                if member.topics.matches(topic) {
                    assignment
                        .entry(member.id)
                        .or_default()
                        .insert(TopicPartition::new(topic.clone(), partition));
                    break;
                }
            }
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(topics: &[(&str, usize)]) -> BTreeMap<String, Vec<i64>> {
        topics
            .iter()
            .map(|(topic, n)| (topic.to_string(), vec![0; *n]))
            .collect()
    }

    fn names(topics: &[&str]) -> Subscription {
        Subscription {
            names: topics.iter().map(|t| t.to_string()).collect(),
            patterns: Vec::new(),
        }
    }

    #[test]
    fn patterns_match_whole_topic_names() {
        let mut groups = Groups::default();
        let topics = counts(&[
            ("orders", 1),
            ("orders-eu", 1),
            ("xorders", 1),
            ("users", 1),
        ]);
        let a = groups.join("g");
        let subscription = Subscription {
            names: ["users".to_string()].into(),
            patterns: vec![regex::Regex::new("^orders.*").unwrap()],
        };
        groups.subscribe("g", a, subscription);
        let assigned: Vec<String> = groups
            .sync("g", a, &topics)
            .assigned
            .into_iter()
            .map(|tp| tp.topic)
            .collect();
        assert_eq!(assigned, vec!["orders", "orders-eu", "users"]);
    }

    #[test]
    fn partitions_move_only_after_the_old_owner_releases_them() {
        let mut groups = Groups::default();
        let topics = counts(&[("t", 4)]);
        let a = groups.join("g");
        groups.subscribe("g", a, names(&["t"]));
        assert_eq!(groups.sync("g", a, &topics).assigned.len(), 4);

        let b = groups.join("g");
        groups.subscribe("g", b, names(&["t"]));
        // a still owns everything: b gets nothing yet.
        assert!(groups.sync("g", b, &topics).assigned.is_empty());
        let sync = groups.sync("g", a, &topics);
        assert_eq!(sync.revoked.len(), 2);
        // Released only at a's next sync.
        assert!(groups.sync("g", b, &topics).assigned.is_empty());
        assert!(groups.sync("g", a, &topics).released);
        assert_eq!(groups.sync("g", b, &topics).assigned, sync.revoked);
    }
}
