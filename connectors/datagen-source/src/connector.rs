//! The connector and task of `datagen-source`. The connector splits `count` evenly between
//! `max_tasks` tasks; each task resumes from the committed `seq` of its partition `{"task": n}`.

use std::time::Instant;

use wasm_connect_sdk::{
    Config, ConfigDef, Error, OffsetMapExt, PluginInfo, SourceConnector, SourceRecord, SourceTask,
    host,
};

use crate::generator::{Generator, SEQ_FIELD, source_partition};
use crate::settings::{COUNT, Settings, TASK_ID, config_def};

/// The datagen connector.
#[derive(Debug)]
pub struct DatagenSource {
    config: Config,
    count: Option<u64>,
}

impl SourceConnector for DatagenSource {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "DatagenSource",
            "Generates records of a configurable shape, size, count and rate.",
        )
        .alias("DatagenSourceConnector")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        Ok(Self {
            config,
            count: settings.count,
        })
    }

    /// `max_tasks` tasks (at least one), numbered from 0, each with its share of `count`: the
    /// total split evenly, the first tasks taking one more when it does not divide.
    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        let tasks = u64::from(max_tasks.max(1));
        Ok((0..tasks)
            .map(|i| {
                let mut config = self.config.clone();
                config.set(TASK_ID, i.to_string());
                if let Some(count) = self.count {
                    let share = count / tasks + u64::from(i < count % tasks);
                    config.set(COUNT, share.to_string());
                }
                config
            })
            .collect())
    }
}

/// The datagen task.
#[derive(Debug)]
pub struct DatagenTask {
    generator: Generator,
    started: Instant,
    logged_done: bool,
}

impl SourceTask for DatagenTask {
    fn start(config: Config) -> Result<Self, Error> {
        let settings = Settings::from_config(&config)?;
        let last_seq = host::offset(&source_partition(settings.task_id))?
            .and_then(|offset| offset.int(SEQ_FIELD))
            .and_then(|seq| u64::try_from(seq).ok());
        if let Some(seq) = last_seq {
            host::info(&format!("resuming after seq {seq}"));
        }
        let generator = Generator::new(settings, last_seq);
        Ok(Self {
            generator,
            started: Instant::now(),
            logged_done: false,
        })
    }

    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
        let elapsed = self.started.elapsed();
        let batch = self.generator.next_batch(elapsed);
        if batch.is_empty()
            && let Some(wait) = self.generator.idle_for(elapsed)
        {
            // Not polled again before the rate allows a record, nor at all once done.
            host::poll_again_after(wait)?;
        }
        if batch.is_empty() && self.generator.is_done() && !self.logged_done {
            self.logged_done = true;
            host::info(&format!(
                "generated every record: {} in all",
                self.generator.next_seq()
            ));
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::{Scalar, testing};

    #[test]
    fn count_is_split_evenly_between_tasks() {
        let mut connector =
            DatagenSource::start(Config::from_pairs([("topic", "t"), ("count", "10")])).unwrap();
        let configs = connector.task_configs(3).unwrap();
        let shares: Vec<&str> = configs.iter().map(|c| c.get("count").unwrap()).collect();
        assert_eq!(shares, ["4", "3", "3"]);
        let ids: Vec<&str> = configs.iter().map(|c| c.get("task.id").unwrap()).collect();
        assert_eq!(ids, ["0", "1", "2"]);
        let mut unbounded = DatagenSource::start(Config::from_pairs([("topic", "t")])).unwrap();
        assert!(
            unbounded
                .task_configs(2)
                .unwrap()
                .iter()
                .all(|c| c.get("count").is_none())
        );
    }

    #[test]
    fn task_resumes_after_the_committed_seq() {
        testing::reset();
        testing::set_offset(
            vec![("task".to_owned(), Scalar::Int(1))],
            vec![("seq".to_owned(), Scalar::Int(41))],
        );
        let mut task = DatagenTask::start(Config::from_pairs([
            ("topic", "t"),
            ("task.id", "1"),
            ("count", "50"),
        ]))
        .unwrap();
        let batch = task.poll().unwrap();
        assert_eq!(batch.len(), 8);
        assert_eq!(batch[0].source_offset.int("seq"), Some(42));
        assert!(task.poll().unwrap().is_empty());
        assert_eq!(testing::logs().len(), 2);
    }
}
