//! Active topics (KIP-558): the topics each connector's source tasks produced to and its sink
//! tasks were assigned partitions of, since the connector was created or its set was last
//! reset. In memory only; `GET /connectors/{name}/topics` reads it.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::RwLock,
};

/// Every connector's active topics.
#[derive(Debug, Default)]
pub struct ActiveTopics {
    topics: RwLock<BTreeMap<String, BTreeSet<String>>>,
}

impl ActiveTopics {
    /// Notes the topics of a batch, at most `max` per connector: a topic past that is not
    /// noted and comes back as the error. Cheap when they are already known: consecutive
    /// repeats are skipped and the write lock is only taken for a new topic.
    pub fn note<'a>(
        &self,
        connector: &str,
        topics: impl IntoIterator<Item = &'a str>,
        max: usize,
    ) -> Result<(), String> {
        let mut previous: Option<&str> = None;
        for topic in topics {
            if previous == Some(topic) {
                continue;
            }
            previous = Some(topic);
            let known = self
                .topics
                .read()
                .expect("active topics lock poisoned")
                .get(connector)
                .is_some_and(|set| set.contains(topic));
            if !known {
                let mut topics = self.topics.write().expect("active topics lock poisoned");
                let set = topics.entry(connector.to_owned()).or_default();
                if set.len() >= max && !set.contains(topic) {
                    return Err(topic.to_owned());
                }
                set.insert(topic.to_owned());
            }
        }
        Ok(())
    }

    /// A connector's active topics, sorted.
    pub fn get(&self, connector: &str) -> Vec<String> {
        self.topics
            .read()
            .expect("active topics lock poisoned")
            .get(connector)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets a connector's active topics (reset, or the connector was deleted).
    pub fn reset(&self, connector: &str) {
        self.topics
            .write()
            .expect("active topics lock poisoned")
            .remove(connector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_noted_once_and_reset() {
        let topics = ActiveTopics::default();
        topics.note("c", ["b", "b", "a", "b"], 10).unwrap();
        topics.note("d", ["x"], 10).unwrap();
        // At most `max` per connector.
        assert_eq!(topics.note("d", ["x", "y", "z"], 2), Err("z".to_owned()));
        assert_eq!(topics.get("d"), ["x", "y"]);
        assert_eq!(topics.get("c"), ["a", "b"]);
        topics.reset("c");
        assert!(topics.get("c").is_empty());
        assert_eq!(topics.get("d"), ["x", "y"]);
    }
}
