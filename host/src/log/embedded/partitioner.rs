//! Partition choice and topic-name rules shared with Kafka: the Java client's murmur2 hash of
//! the key, and Kafka's topic-name validation.

use crate::log::LogError;

/// The longest topic name Kafka accepts.
const MAX_TOPIC_NAME_LEN: usize = 249;

/// Kafka's `Utils.murmur2`: the 32-bit MurmurHash2 with seed `0x9747b28c`, as the Java client
/// computes it for keyed records, so the embedded log places a key in the same partition as
/// Kafka would.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java hashes `int length`; keys longer than 2 GiB do not exist in practice.
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's Java `DefaultPartitioner` picks for a keyed record:
/// `toPositive(murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

/// Checks a topic name the way Kafka does: 1-249 characters of `[a-zA-Z0-9._-]`, and neither
/// `.` nor `..`.
pub fn validate_topic(topic: &str) -> Result<(), LogError> {
    let valid = !topic.is_empty()
        && topic.len() <= MAX_TOPIC_NAME_LEN
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(LogError::InvalidTopic(topic.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_utils_test_vectors() {
        let cases: [(&str, i32); 7] = [
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            ("abc", 479470107),
            ("", 275646681),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()), expected, "murmur2({input:?})");
        }
    }

    #[test]
    fn keyed_partition_is_non_negative_and_in_range() {
        for key in [
            "21",
            "foobar",
            "abc",
            "",
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        ] {
            let partition = partition_for_key(key.as_bytes(), 7);
            assert!((0..7).contains(&partition));
        }
        // toPositive(-973932308) % 3 in Java.
        assert_eq!(
            partition_for_key(b"21", 3),
            (-973932308i32 & 0x7fff_ffff) % 3
        );
    }

    #[test]
    fn invalid_topic_names_are_rejected() {
        for topic in ["", ".", "..", "a b", "topic/x", "ümlaut", &"x".repeat(250)] {
            assert!(
                matches!(validate_topic(topic), Err(LogError::InvalidTopic(_))),
                "{topic:?} should be invalid"
            );
        }
        for topic in ["a", "...", "my-topic_1.v2", &"x".repeat(249)] {
            assert!(validate_topic(topic).is_ok(), "{topic:?} should be valid");
        }
    }
}
