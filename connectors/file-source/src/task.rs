//! The task: Kafka's `FileStreamSourceTask`. Resumes from the committed `position` of the
//! source partition `{"filename": <file>}` and emits each complete line as a STRING value with
//! a null key.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use wasm_connect_sdk::{
    Config, Data, Error, OffsetMap, OffsetMapExt, Scalar, Schema, SchemaType, SourceRecord,
    SourceTask, Value, host,
};

use crate::connector::{
    DEFAULT_TASK_BATCH_SIZE, FILE_CONFIG, TASK_BATCH_SIZE_CONFIG, TOPIC_CONFIG,
};
use crate::reader::LineReader;

/// The key of the source partition.
pub const FILENAME_FIELD: &str = "filename";
/// The key of the source offset.
pub const POSITION_FIELD: &str = "position";

/// Kafka's `FileStreamSourceTask`.
#[derive(Debug)]
pub struct FileStreamSourceTask {
    file: String,
    /// The topic and the source partition `{"filename": <file>}`, shared by every record.
    topic: Arc<str>,
    partition: Arc<OffsetMap>,
    batch_size: usize,
    reader: LineReader,
    value_schema: Arc<Schema>,
    /// Whether the missing file was already logged, so the log is not flooded.
    logged_missing: bool,
}

fn now_millis() -> Option<i64> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

impl SourceTask for FileStreamSourceTask {
    fn start(config: Config) -> Result<Self, Error> {
        let file = config.get_str(FILE_CONFIG)?.to_owned();
        let topic = config.get_str(TOPIC_CONFIG)?.into();
        let batch_size = config.get_int_or(TASK_BATCH_SIZE_CONFIG, DEFAULT_TASK_BATCH_SIZE)?;
        let batch_size = usize::try_from(batch_size)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::invalid_config("setting `batch.size` must be at least 1"))?;
        let partition = vec![(FILENAME_FIELD.to_owned(), Scalar::String(file.clone()))];
        let position = match host::offset(&partition)? {
            None => 0,
            Some(offset) => match offset.scalar(POSITION_FIELD) {
                None => 0,
                Some(_) => offset
                    .int(POSITION_FIELD)
                    .and_then(|p| u64::try_from(p).ok())
                    .ok_or_else(|| Error::fatal("Offset position is the incorrect type"))?,
            },
        };
        if position > 0 {
            host::debug(&format!(
                "found previous offset, resuming {file} at byte {position}"
            ));
        }
        Ok(Self {
            reader: LineReader::new(&file, position),
            file,
            topic,
            partition: Arc::new(partition),
            batch_size,
            value_schema: Schema::primitive(SchemaType::String, false),
            logged_missing: false,
        })
    }

    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
        let lines = self
            .reader
            .read_lines(self.batch_size)
            .map_err(|e| Error::retriable(format!("error reading {}: {e}", self.file)))?;
        if self.reader.is_missing() && !self.logged_missing {
            self.logged_missing = true;
            host::warn(&format!(
                "couldn't find file {} for FileStreamSourceTask, waiting for it to be created",
                self.file
            ));
        }
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let timestamp = now_millis();
        let mut records = Vec::with_capacity(lines.len());
        for (line, position) in lines {
            records.push(SourceRecord {
                source_partition: self.partition.clone(),
                source_offset: vec![(POSITION_FIELD.to_owned(), Scalar::Int(position as i64))],
                topic: self.topic.clone(),
                partition: None,
                key: None,
                value: Some(Data::new(self.value_schema.clone(), Value::String(line))),
                timestamp,
                headers: Vec::new(),
            });
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::testing;

    fn start(path: &std::path::Path, batch: &str) -> FileStreamSourceTask {
        FileStreamSourceTask::start(Config::from_pairs([
            ("file", path.to_str().unwrap()),
            ("topic", "lines"),
            ("batch.size", batch),
        ]))
        .unwrap()
    }

    fn values(records: &[SourceRecord]) -> Vec<&str> {
        records
            .iter()
            .map(|r| r.value.as_ref().unwrap().value.as_str().unwrap())
            .collect()
    }

    #[test]
    fn emits_lines_with_kafka_partition_and_offset() {
        testing::reset();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "hello\nworld\n").unwrap();
        let mut task = start(&path, "10");
        let records = task.poll().unwrap();
        assert_eq!(values(&records), ["hello", "world"]);
        let first = &records[0];
        assert_eq!(&*first.topic, "lines");
        assert_eq!(first.key, None);
        assert_eq!(
            *first.source_partition,
            [(
                "filename".to_owned(),
                Scalar::String(path.to_str().unwrap().to_owned())
            )]
        );
        assert_eq!(
            first.source_offset,
            [("position".to_owned(), Scalar::Int(6))]
        );
        assert_eq!(records[1].source_offset[0].1, Scalar::Int(12));
        let schema = first.value.as_ref().unwrap().schema.as_ref().unwrap();
        assert_eq!(schema.schema_type, SchemaType::String);
        assert!(!schema.optional);
        assert!(task.poll().unwrap().is_empty());
        // Reaching the end of an existing file is not a missing file.
        assert!(testing::logs().is_empty(), "{:?}", testing::logs());
    }

    #[test]
    fn resumes_from_the_committed_position() {
        testing::reset();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "hello\nworld\n").unwrap();
        testing::set_offset(
            vec![(
                "filename".to_owned(),
                Scalar::String(path.to_str().unwrap().to_owned()),
            )],
            vec![("position".to_owned(), Scalar::Int(6))],
        );
        let mut task = start(&path, "10");
        assert_eq!(values(&task.poll().unwrap()), ["world"]);
    }

    #[test]
    fn batches_are_bounded_by_batch_size() {
        testing::reset();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        let mut task = start(&path, "2");
        assert_eq!(values(&task.poll().unwrap()), ["a", "b"]);
        assert_eq!(values(&task.poll().unwrap()), ["c"]);
    }

    #[test]
    fn a_missing_file_gives_empty_batches_and_one_warning() {
        testing::reset();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.txt");
        let mut task = start(&path, "10");
        assert!(task.poll().unwrap().is_empty());
        assert!(task.poll().unwrap().is_empty());
        assert_eq!(testing::logs().len(), 1);
        std::fs::write(&path, "late\n").unwrap();
        assert_eq!(values(&task.poll().unwrap()), ["late"]);
    }

    #[test]
    fn a_wrongly_typed_offset_is_an_error() {
        testing::reset();
        testing::set_offset(
            vec![("filename".to_owned(), Scalar::String("/x".to_owned()))],
            vec![("position".to_owned(), Scalar::String("oops".to_owned()))],
        );
        let err = FileStreamSourceTask::start(Config::from_pairs([("file", "/x"), ("topic", "t")]))
            .unwrap_err();
        assert_eq!(err, Error::fatal("Offset position is the incorrect type"));
    }
}
