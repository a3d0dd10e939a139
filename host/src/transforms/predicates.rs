//! The built-in predicates (`org.apache.kafka.connect.transforms.predicates.*`):
//! `TopicNameMatches` (`pattern`), `HasHeaderKey` (`name`) and `RecordIsTombstone`.

use regex::Regex;

use super::ConnectRecord;
use super::util::Props;
use crate::transforms::TransformConfigError;

/// A configured predicate.
#[derive(Debug)]
pub(crate) enum Predicate {
    /// True when the whole topic name matches (Java's `Matcher.matches()`).
    TopicNameMatches(Regex),
    /// True when at least one header has this key.
    HasHeaderKey(String),
    /// True when the value is null.
    RecordIsTombstone,
}

impl Predicate {
    /// Builds the predicate with this simple class name; None for an unknown class.
    pub(crate) fn build(
        simple: &str,
        props: Props<'_>,
    ) -> Option<Result<Self, TransformConfigError>> {
        Some(match simple {
            "TopicNameMatches" => topic_name_matches(props),
            "HasHeaderKey" => props
                .required_non_empty("name", "set it to the header key to look for")
                .map(|name| Self::HasHeaderKey(name.to_owned())),
            "RecordIsTombstone" => Ok(Self::RecordIsTombstone),
            _ => return None,
        })
    }

    pub(crate) fn test(&self, record: &dyn ConnectRecord) -> bool {
        match self {
            Self::TopicNameMatches(regex) => regex.is_match(record.topic()),
            Self::HasHeaderKey(name) => record.headers().iter().any(|header| header.key == *name),
            Self::RecordIsTombstone => record.value().is_none_or(|data| data.value.is_null()),
        }
    }
}

fn topic_name_matches(props: Props<'_>) -> Result<Predicate, TransformConfigError> {
    let pattern = props.required_non_empty(
        "pattern",
        "set it to a Java regular expression the whole topic name must match",
    )?;
    let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|error| {
        props.invalid(
            "pattern",
            pattern,
            format!("Invalid regex: {error}; write a valid regular expression"),
        )
    })?;
    Ok(Predicate::TopicNameMatches(regex))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{settings, sink_record, source_record};
    use super::*;
    use crate::data::{Data, Header, Value};

    fn predicate(simple: &str, pairs: &[(&str, &str)]) -> Result<Predicate, TransformConfigError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(key, value)| (format!("predicates.p.{key}"), (*value).to_owned()))
            .collect();
        let settings: crate::config::Settings = owned.into_iter().collect();
        Predicate::build(simple, Props::new(&settings, "predicates.p.")).unwrap()
    }

    #[test]
    fn topic_name_matches_needs_a_full_match() {
        let p = predicate("TopicNameMatches", &[("pattern", "my-prefix-.*")]).unwrap();
        let mut record = source_record(None, None);
        record.topic = "my-prefix-orders".into();
        assert!(p.test(&record));
        record.topic = "not-my-prefix-orders".into();
        assert!(!p.test(&record));
        let p = predicate("TopicNameMatches", &[("pattern", "orders")]).unwrap();
        record.topic = "orders-v2".into();
        assert!(!p.test(&record));
    }

    #[test]
    fn topic_name_matches_rejects_missing_or_bad_patterns() {
        let error = predicate("TopicNameMatches", &[]).unwrap_err();
        assert_eq!(error.key(), "predicates.p.pattern");
        let error = predicate("TopicNameMatches", &[("pattern", "a(")]).unwrap_err();
        assert!(error.to_string().contains("Invalid regex"), "{error}");
        assert!(error.to_string().contains("`a(`"), "{error}");
    }

    #[test]
    fn has_header_key_looks_at_every_header() {
        let p = predicate("HasHeaderKey", &[("name", "trace")]).unwrap();
        let mut record = sink_record(None, None);
        assert!(!p.test(&record));
        record.headers.push(Header {
            key: "other".into(),
            value: Data::schemaless(Value::Null),
        });
        record.headers.push(Header {
            key: "trace".into(),
            value: Data::schemaless(Value::Null),
        });
        assert!(p.test(&record));
        assert!(predicate("HasHeaderKey", &[]).is_err());
    }

    #[test]
    fn record_is_tombstone_when_the_value_is_null() {
        let p = predicate("RecordIsTombstone", &[]).unwrap();
        assert!(p.test(&source_record(None, None)));
        assert!(p.test(&sink_record(None, Some(Data::schemaless(Value::Null)))));
        assert!(!p.test(&sink_record(None, Some(Data::schemaless(Value::Int8(1))))));
        let _ = settings(&[]);
    }
}
