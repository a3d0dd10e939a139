//! The task: Kafka's `FileStreamSinkTask`. Appends each record value's string form and a
//! newline to the file; `flush` makes the lines durable before their offsets are committed.
//!
//! The string form is [`wasm_connect_sdk::Value`]'s `Display`, which follows Java's
//! `toString` as Kafka's `println(record.value())` would: strings as they are, bytes as UTF-8
//! (lossy, where Java would print `[B@…`), numbers and booleans in their usual form (floats
//! with a fractional part: `1.0`), arrays `[a, b]`, maps `{k=v, k2=v2}`, structs
//! `Struct{name=value,…}`, and a null value `null`.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use wasm_connect_sdk::data::lossy_utf8;
use wasm_connect_sdk::{Config, Error, SinkRecord, SinkTask, TopicPartitionOffset, Value};

use crate::connector::FILE_CONFIG;

/// Kafka's `FileStreamSinkTask`.
#[derive(Debug)]
pub struct FileStreamSinkTask {
    file: String,
    writer: BufWriter<File>,
}

impl SinkTask for FileStreamSinkTask {
    fn start(config: Config) -> Result<Self, Error> {
        let file = config.get_str(FILE_CONFIG)?.to_owned();
        let handle = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .map_err(|e| Error::fatal(format!("couldn't open {file} for writing: {e}")))?;
        Ok(Self {
            file,
            writer: BufWriter::with_capacity(64 * 1024, handle),
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), Error> {
        for record in &records {
            let written = match record.value.as_ref().map(|data| &data.value) {
                // Text as it is, without the formatting machinery: most records are this.
                Some(Value::String(text)) => self.writer.write_all(text.as_bytes()),
                Some(Value::Bytes(bytes)) => {
                    lossy_utf8(bytes).try_for_each(|piece| self.writer.write_all(piece.as_bytes()))
                }
                Some(value) => write!(self.writer, "{value}"),
                None => self.writer.write_all(b"null"),
            }
            .and_then(|()| self.writer.write_all(b"\n"));
            written.map_err(|e| Error::fatal(format!("error writing to {}: {e}", self.file)))?;
        }
        Ok(())
    }

    fn flush(&mut self, _offsets: &[TopicPartitionOffset]) -> Result<(), Error> {
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().sync_data())
            .map_err(|e| Error::retriable(format!("error flushing {}: {e}", self.file)))
    }

    fn stop(&mut self) {
        // Like Kafka's `close()`: push out what is buffered; nothing is committed after this.
        let _ = self.writer.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::{Data, SchemaBuilder, Struct, Value};

    fn record(offset: i64, value: Option<Data>) -> SinkRecord {
        SinkRecord::new("t", 0, offset, value)
    }

    #[test]
    fn appends_values_and_flushes_before_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "existing\n").unwrap();
        let mut task =
            FileStreamSinkTask::start(Config::from_pairs([("file", path.to_str().unwrap())]))
                .unwrap();
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .field("b", SchemaBuilder::string().optional().build())
            .build();
        let row = Struct::new(schema).unwrap().with("a", 1).unwrap();
        task.put(vec![
            record(0, Some(Data::string("line"))),
            record(1, Some(Data::bytes(b"raw".to_vec()))),
            record(2, None),
            record(3, Some(Data::schemaless(Value::Float64(1.0)))),
            record(4, Some(Data::from_struct(row))),
            record(
                5,
                Some(Data::schemaless(Value::Map(vec![(
                    Value::from("k"),
                    Value::Array(vec![Value::Int32(1), Value::Int32(2)]),
                )]))),
            ),
            // Bytes that are not UTF-8: each invalid sequence becomes one U+FFFD, as in
            // `String::from_utf8_lossy`.
            record(6, Some(Data::bytes(vec![b'a', 0xff, b'b']))),
            record(
                7,
                Some(Data::bytes(vec![
                    0xe2, 0x82, b'c', 0xf0, 0x9f, 0x98, 0x80, 0x80,
                ])),
            ),
        ])
        .unwrap();
        let offsets = vec![TopicPartitionOffset::new("t", 0, 8)];
        assert_eq!(task.pre_commit(offsets.clone()).unwrap(), offsets);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "existing\nline\nraw\nnull\n1.0\nStruct{a=1}\n{k=[1, 2]}\na\u{fffd}b\n\u{fffd}c\u{1f600}\u{fffd}\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&[0xe2, 0x82, b'c', 0xf0, 0x9f, 0x98, 0x80, 0x80]),
            "\u{fffd}c\u{1f600}\u{fffd}"
        );
    }
}
