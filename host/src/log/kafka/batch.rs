//! Producing a run of records to one topic in one librdkafka call (`rd_kafka_produce_batch`),
//! the host's only foreign calls of its own.
//!
//! rdkafka's `send` goes through `rd_kafka_producev` once per record: each call makes a C
//! string of the topic name, looks the topic up by name under the client's lock, and reads the
//! clocks twice. `rd_kafka_produce_batch` takes a topic handle and an array of records, and
//! does that once per call; the partitioner still runs per record (the records carry
//! `RD_KAFKA_PARTITION_UA` unless they name a partition). It cannot set headers or timestamps,
//! so records with either go through `send` as before (see `KafkaProducer::send`).
//!
//! Delivery reports are unchanged: each record carries the same opaque `send` would give it,
//! its sequence number, which the producer's delivery callback gets back.

#![allow(
    unsafe_code,
    reason = "rdkafka has no safe wrapper for topic handles or rd_kafka_produce_batch"
)]

use std::{
    ffi::{CString, c_int, c_void},
    ptr::{self, NonNull},
    sync::Arc,
};

use rdkafka::{
    IntoOpaque,
    bindings::{
        RD_KAFKA_MSG_F_COPY, RD_KAFKA_MSG_F_PARTITION, rd_kafka_message_t, rd_kafka_produce_batch,
        rd_kafka_topic_destroy, rd_kafka_topic_new, rd_kafka_topic_t,
    },
    error::KafkaError,
    producer::{Producer, ThreadedProducer},
    types::{RDKafkaErrorCode, RDKafkaRespErr},
};

use super::DeliveryContext;
use crate::log::{LogError, ProduceRecord};

/// `RD_KAFKA_PARTITION_UA`: let the partitioner choose.
const UNASSIGNED: i32 = -1;

/// A librdkafka topic handle of one producer. It holds the producer, so the client outlives
/// the handle.
pub(super) struct TopicHandle {
    topic: NonNull<rd_kafka_topic_t>,
    /// Never read: holding it keeps the client alive while the handle is.
    _client: Arc<ThreadedProducer<DeliveryContext>>,
}

// SAFETY: librdkafka's topic handles may be used from any thread (its API is thread-safe;
// `rd_kafka_produce_batch` takes the topic's lock itself).
unsafe impl Send for TopicHandle {}
// SAFETY: as above; the handle is only ever passed to librdkafka.
unsafe impl Sync for TopicHandle {}

impl TopicHandle {
    /// A handle to `name` with the producer's topic configuration, as `rd_kafka_producev` would
    /// use; none if librdkafka refuses the name (then `send` reports why, record by record).
    pub(super) fn new(
        producer: &Arc<ThreadedProducer<DeliveryContext>>,
        name: &str,
    ) -> Option<Self> {
        let name = CString::new(name).ok()?;
        // SAFETY: the client pointer is valid while `producer` lives, `name` is a valid C
        // string for the call, and a null configuration means the client's default topic
        // configuration. The handle is destroyed in `Drop`, before the producer can be.
        let topic = unsafe {
            rd_kafka_topic_new(
                producer.client().native_ptr(),
                name.as_ptr(),
                ptr::null_mut(),
            )
        };
        Some(Self {
            topic: NonNull::new(topic)?,
            _client: Arc::clone(producer),
        })
    }

    /// Enqueues `records` (all of this topic, none with headers or a timestamp) for delivery,
    /// in order; record `i` carries sequence number `first + i` as its delivery opaque. A
    /// record librdkafka refuses for any reason but a full queue is handed to `refused` with
    /// its number and the error. Returns how many records were taken (refused ones included):
    /// fewer than all when the queue filled up, and the rest must be offered again once it
    /// drained.
    pub(super) fn produce(
        &self,
        records: &[ProduceRecord],
        first: usize,
        mut refused: impl FnMut(usize, LogError),
    ) -> usize {
        let mut messages: Vec<rd_kafka_message_t> = records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                let (payload, len) = bytes(record.value.as_deref());
                let (key, key_len) = bytes(record.key.as_deref());
                rd_kafka_message_t {
                    err: RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR,
                    rkt: ptr::null_mut(),
                    partition: record.partition.unwrap_or(UNASSIGNED),
                    payload,
                    len,
                    key,
                    key_len,
                    offset: 0,
                    _private: first.wrapping_add(i).into_ptr(),
                }
            })
            .collect();
        let count = c_int::try_from(messages.len()).unwrap_or(c_int::MAX);
        // SAFETY: the topic handle is live (see `new`); `messages` holds at least `count`
        // initialized entries whose key and payload point into `records`, which outlive the
        // call, and RD_KAFKA_MSG_F_COPY makes librdkafka copy them. The opaques are plain
        // numbers. librdkafka writes each entry's `err` and keeps no pointer into `messages`.
        unsafe {
            rd_kafka_produce_batch(
                self.topic.as_ptr(),
                UNASSIGNED,
                RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_PARTITION,
                messages.as_mut_ptr(),
                count,
            );
        }
        // Entries past `count` (a run longer than `c_int::MAX`) were not offered.
        let mut taken = messages.len().min(count as usize);
        for (i, message) in messages.iter().enumerate().take(taken) {
            if message.err == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                continue;
            }
            let code = RDKafkaErrorCode::from(message.err);
            if code == RDKafkaErrorCode::QueueFull {
                // librdkafka refuses this record and every later one once the queue is full.
                taken = i;
                break;
            }
            refused(
                first.wrapping_add(i),
                LogError::Kafka(KafkaError::MessageProduction(code)),
            );
        }
        taken
    }
}

impl Drop for TopicHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from `rd_kafka_topic_new` and is destroyed once; the client
        // is still alive (`self._client`).
        unsafe { rd_kafka_topic_destroy(self.topic.as_ptr()) };
    }
}

/// A key or payload as librdkafka takes it: null for none.
fn bytes(value: Option<&[u8]>) -> (*mut c_void, usize) {
    match value {
        Some(value) => (value.as_ptr().cast_mut().cast(), value.len()),
        None => (ptr::null_mut(), 0),
    }
}
