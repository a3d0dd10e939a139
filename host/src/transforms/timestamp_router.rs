//! `TimestampRouter`: renames the topic to `topic.format` (default `${topic}-${timestamp}`) with
//! the record timestamp formatted by `timestamp.format` (default `yyyyMMdd`, UTC).

use super::date_format::DateFormat;
use super::util::{Props, Target};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};

#[derive(Debug)]
pub(crate) struct TimestampRouter {
    topic_format: String,
    timestamp_format: DateFormat,
}

pub(crate) fn build(
    props: Props<'_>,
    _target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let topic_format = props
        .string("topic.format")
        .unwrap_or("${topic}-${timestamp}");
    let pattern = props.string("timestamp.format").unwrap_or("yyyyMMdd");
    let timestamp_format = DateFormat::new(pattern).map_err(|reason| {
        props.invalid(
            "timestamp.format",
            pattern,
            format!("{reason}; write a java.text.SimpleDateFormat pattern such as yyyyMMdd"),
        )
    })?;
    Ok(Box::new(TimestampRouter {
        topic_format: topic_format.to_owned(),
        timestamp_format,
    }))
}

impl Transformation for TimestampRouter {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let Some(timestamp) = record.timestamp() else {
            return Err(DataException::new(format!(
                "Timestamp missing on record: topic={}, partition={:?}",
                record.topic(),
                record.kafka_partition()
            )));
        };
        let formatted = self.timestamp_format.format(timestamp);
        let topic = self
            .topic_format
            .replace("${topic}", record.topic())
            .replace("${timestamp}", &formatted);
        record.set_topic(topic);
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{apply, apply_err, build as build_with, source_record};
    use super::*;

    #[test]
    fn appends_the_formatted_timestamp() {
        let t = build_with(build, Target::Value, &[]).unwrap();
        let mut record = source_record(None, None);
        record.topic = "test".into();
        record.timestamp = Some(1_499_085_296_789); // 2017-07-03T12:34:56.789Z
        assert_eq!(&*apply(t.as_ref(), record).unwrap().topic, "test-20170703");

        let t = build_with(
            build,
            Target::Value,
            &[
                ("topic.format", "${timestamp}_${topic}"),
                ("timestamp.format", "yyyy-MM"),
            ],
        )
        .unwrap();
        let mut record = source_record(None, None);
        record.timestamp = Some(1_499_085_296_789);
        assert_eq!(&*apply(t.as_ref(), record).unwrap().topic, "2017-07_test");
    }

    #[test]
    fn a_missing_timestamp_or_bad_format_is_an_error() {
        let t = build_with(build, Target::Value, &[]).unwrap();
        let mut record = source_record(None, None);
        record.timestamp = None;
        assert!(apply_err(t.as_ref(), record).starts_with("Timestamp missing on record"));
        let error =
            build_with(build, Target::Value, &[("timestamp.format", "yyyyqq")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.timestamp.format");
    }
}
