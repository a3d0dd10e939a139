//! Converting a sink task's next batch ahead of time: the records polled while the previous
//! batch is put are converted (and run through the built-in transforms) on a blocking
//! thread, in parallel with the guest's `put`. The sink loop does it when converting a batch
//! takes long enough to be worth the hand-off (JSON with schemas, Avro), not for records it
//! only copies.
//!
//! Only the conversions that succeeded are kept, and nothing else happens ahead of time: no
//! error is counted, logged or sent to the dead letter queue, no retry waits. When the batch is
//! delivered, each record still to be delivered takes its conversion from here, and a record
//! that failed (or has none) is converted again the usual way, where failures are tolerated,
//! retried and reported as `errors.*` says. Records dropped from the batch before delivery
//! (fenced, seeked or rewound partitions) simply leave their conversions unused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{
    data::SinkRecord, log::ConsumedRecord, transforms::TransformChain,
    worker::convert::RecordConverters,
};

/// The conversions of one batch, in the batch's order.
pub(super) struct Preconverted {
    /// The distinct topics of the batch, which entries refer to by index.
    topics: Vec<Arc<str>>,
    entries: std::vec::IntoIter<Entry>,
    /// How long converting took.
    took: Duration,
}

struct Entry {
    topic: usize,
    partition: i32,
    offset: i64,
    /// Some: the record after the transforms, or None if one of them dropped it. None: the
    /// conversion or a transform failed (the record is converted again on delivery).
    outcome: Option<Option<SinkRecord>>,
}

impl Preconverted {
    /// Converts and transforms every record of `records`.
    pub(super) fn of(
        converters: &RecordConverters,
        transforms: &TransformChain,
        records: &[ConsumedRecord],
    ) -> Self {
        let started = Instant::now();
        let mut topics: Vec<Arc<str>> = Vec::new();
        let entries = records
            .iter()
            .map(|record| {
                // A batch holds runs of one topic: the last one is nearly always it.
                let topic = match topics.iter().rposition(|topic| *topic == record.topic) {
                    Some(index) => index,
                    None => {
                        topics.push(record.topic.clone());
                        topics.len() - 1
                    }
                };
                let outcome = converters
                    .to_sink(record)
                    .ok()
                    .and_then(|converted| transforms.apply(converted).ok());
                Entry {
                    topic,
                    partition: record.partition,
                    offset: record.offset,
                    outcome,
                }
            })
            .collect::<Vec<_>>()
            .into_iter();
        Self {
            topics,
            entries,
            took: started.elapsed(),
        }
    }

    /// How long converting the batch took.
    pub(super) fn took(&self) -> Duration {
        self.took
    }

    /// [`Self::of`] on the blocking thread pool; `records` come back unchanged, and with no
    /// conversions should the conversion have panicked.
    pub(super) async fn spawn(
        converters: RecordConverters,
        transforms: Arc<TransformChain>,
        records: Vec<ConsumedRecord>,
    ) -> (Vec<ConsumedRecord>, Option<Self>) {
        let records = Arc::new(records);
        let shared = records.clone();
        let converted =
            tokio::task::spawn_blocking(move || Self::of(&converters, &transforms, &shared)).await;
        // The blocking closure has dropped its reference, whether it returned or panicked.
        let records = Arc::try_unwrap(records).unwrap_or_else(|records| (*records).clone());
        match converted {
            Ok(converted) => (records, Some(converted)),
            Err(error) => {
                tracing::warn!(error = %error, "Converting a batch ahead failed; it is converted on delivery.");
                (records, None)
            }
        }
    }

    /// The conversion of `record`, if it succeeded ahead of time: Some(None) if a transform
    /// dropped it. Records must be asked for in the batch's order (some may be skipped).
    pub(super) fn take(&mut self, record: &ConsumedRecord) -> Option<Option<SinkRecord>> {
        for entry in self.entries.by_ref() {
            if entry.partition == record.partition
                && entry.offset == record.offset
                && self.topics[entry.topic] == record.topic
            {
                return entry.outcome;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConnectorConfig, Settings, WorkerConfig};
    use crate::data::{TimestampType, Value};

    /// JSON values without schemas; `Filter` drops records whose topic ends in `-drop`.
    fn setup() -> (RecordConverters, Arc<TransformChain>) {
        let settings: Settings = [
            ("name", "c"),
            ("connector.class", "X"),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("value.converter.schemas.enable", "false"),
            ("transforms", "drop"),
            (
                "transforms.drop.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.drop.predicate", "dropped"),
            ("predicates", "dropped"),
            (
                "predicates.dropped.type",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
            ("predicates.dropped.pattern", ".*-drop"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let config = ConnectorConfig::parse(settings.clone(), &worker).unwrap();
        let converters = RecordConverters::for_connector(&config).unwrap();
        let transforms = TransformChain::from_settings(&settings).unwrap();
        (converters, Arc::new(transforms))
    }

    fn record(topic: &str, partition: i32, offset: i64, value: &str) -> ConsumedRecord {
        ConsumedRecord {
            topic: topic.into(),
            partition,
            offset,
            key: None,
            value: Some(value.as_bytes().to_vec()),
            headers: Vec::new(),
            timestamp: Some(1),
            timestamp_type: TimestampType::CreateTime,
        }
    }

    fn value(converted: Option<Option<SinkRecord>>) -> Option<Option<Value>> {
        converted.map(|r| r.map(|r| r.value.expect("a value").value))
    }

    #[test]
    fn records_take_their_own_conversions_in_order_even_after_some_left_the_batch() {
        let (converters, transforms) = setup();
        let batch = [
            record("a", 0, 10, "1"),
            record("b", 0, 10, "2"),
            record("a", 1, 10, "not json"),
            record("a-drop", 0, 3, "4"),
            record("a", 0, 11, "5"),
        ];
        let mut converted = Preconverted::of(&converters, &transforms, &batch);
        // The second record was fenced before delivery; the rest are asked for in order.
        assert_eq!(
            value(converted.take(&batch[0])),
            Some(Some(Value::Int64(1)))
        );
        // A failed conversion is not kept: the record is converted again on delivery.
        assert_eq!(value(converted.take(&batch[2])), None);
        // A record the transforms dropped.
        assert_eq!(value(converted.take(&batch[3])), Some(None));
        assert_eq!(
            value(converted.take(&batch[4])),
            Some(Some(Value::Int64(5)))
        );
        // Nothing is left for a record asked for again, or one the batch never had.
        assert_eq!(value(converted.take(&batch[4])), None);
        assert_eq!(value(converted.take(&record("c", 0, 0, "6"))), None);
    }

    #[test]
    fn a_record_of_the_same_place_in_another_topic_is_not_taken_for_it() {
        let (converters, transforms) = setup();
        let batch = [record("a", 0, 10, "1")];
        let mut converted = Preconverted::of(&converters, &transforms, &batch);
        assert_eq!(value(converted.take(&record("b", 0, 10, "1"))), None);
    }

    #[tokio::test]
    async fn the_blocking_thread_gives_the_records_back_unchanged() {
        let (converters, transforms) = setup();
        let batch = vec![record("a", 0, 1, "1"), record("a", 0, 2, "[")];
        let (records, converted) = Preconverted::spawn(converters, transforms, batch.clone()).await;
        assert_eq!(records, batch);
        let mut converted = converted.expect("converted");
        assert_eq!(
            value(converted.take(&batch[0])),
            Some(Some(Value::Int64(1)))
        );
        assert_eq!(value(converted.take(&batch[1])), None);
    }
}
