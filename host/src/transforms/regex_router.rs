//! `RegexRouter`: when the whole topic matches `regex`, renames it to the first match replaced
//! by `replacement` (Java syntax: `$1`, `${name}`, `\$` for a literal dollar); otherwise leaves
//! the topic alone.

use regex::Regex;

use super::util::{Props, Target};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};

#[derive(Debug)]
pub(crate) struct RegexRouter {
    /// Anchored at both ends: Java's `Matcher.matches()`.
    whole: Regex,
    regex: Regex,
    /// The replacement in the `regex` crate's syntax.
    replacement: String,
}

pub(crate) fn build(
    props: Props<'_>,
    _target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let pattern = props.required("regex", "set it to a regular expression over topic names")?;
    let replacement = props.required(
        "replacement",
        "set it to the new topic name; `$1` refers to the first capture group",
    )?;
    let bad_regex = |error: regex::Error| {
        props.invalid(
            "regex",
            pattern,
            format!("not a valid regular expression ({error})"),
        )
    };
    let regex = Regex::new(pattern).map_err(bad_regex)?;
    let whole = Regex::new(&format!("^(?:{pattern})$")).map_err(bad_regex)?;
    let replacement = java_replacement(replacement, &regex)
        .map_err(|reason| props.invalid("replacement", replacement, reason))?;
    Ok(Box::new(RegexRouter {
        whole,
        regex,
        replacement,
    }))
}

/// Translates a Java `Matcher.replaceFirst` replacement into the `regex` crate's syntax.
pub(crate) fn java_replacement(java: &str, regex: &Regex) -> Result<String, String> {
    let mut out = String::with_capacity(java.len());
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => return Err("character to be escaped is missing after `\\`".into()),
            },
            '$' => {
                if chars.peek() == Some(&'{') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    if regex.capture_names().flatten().all(|n| n != name) {
                        return Err(format!("no group with name {{{name}}}"));
                    }
                    out.push_str(&format!("${{{name}}}"));
                } else {
                    // Java reads the first digit, then more digits while the group exists.
                    let Some(first) = chars.next_if(char::is_ascii_digit) else {
                        return Err("Illegal group reference: `$` must be followed by a group \
                                    number or {name}; write `\\$` for a literal dollar"
                            .into());
                    };
                    let mut group = first.to_digit(10).unwrap_or(0) as usize;
                    if group >= regex.captures_len() {
                        return Err(format!("No group {group}"));
                    }
                    while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let candidate = group * 10 + next as usize;
                        if candidate >= regex.captures_len() {
                            break;
                        }
                        group = candidate;
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

impl Transformation for RegexRouter {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        if self.whole.is_match(record.topic()) {
            let topic = self
                .regex
                .replacen(record.topic(), 1, self.replacement.as_str())
                .into_owned();
            record.set_topic(topic);
        }
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{apply, build as build_with, sink_record, source_record};
    use super::*;

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let t = build_with(
            build,
            Target::Value,
            &[("regex", regex), ("replacement", replacement)],
        )
        .unwrap();
        let mut record = source_record(None, None);
        record.topic = topic.into();
        apply(t.as_ref(), record).unwrap().topic.to_string()
    }

    #[test]
    fn renames_topics_that_match_whole() {
        // Documentation example: strip a prefix.
        assert_eq!(route("(.*)-(.*)-(.*)", "$3", "prefix-orders-v1"), "v1");
        assert_eq!(route("foo", "bar", "foo"), "bar");
        assert_eq!(route("foo", "bar", "foofoo"), "foofoo");
        assert_eq!(route("(.*)", "$1-copy", "orders"), "orders-copy");
        assert_eq!(route("(?<t>.*)", "x-${t}", "orders"), "x-orders");
        assert_eq!(route("(.*)", "\\$$1", "a"), "$a");
        // `$12` means group 1 then `2` when there is no group 12.
        assert_eq!(route("(a)", "$12", "a"), "a2");
        let t = build_with(
            build,
            Target::Value,
            &[("regex", "a"), ("replacement", "b")],
        )
        .unwrap();
        let mut record = sink_record(None, None);
        record.topic = "a".into();
        let record = apply(t.as_ref(), record).unwrap();
        assert_eq!(&*record.topic, "b");
        assert_eq!(&*record.original_topic, "test");
    }

    #[test]
    fn bad_settings_are_errors() {
        let error = build_with(build, Target::Value, &[("regex", "(")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.replacement");
        let error = build_with(
            build,
            Target::Value,
            &[("regex", "("), ("replacement", "x")],
        )
        .unwrap_err();
        assert_eq!(error.key(), "transforms.t.regex");
        let error = build_with(
            build,
            Target::Value,
            &[("regex", "a"), ("replacement", "$2")],
        )
        .unwrap_err();
        assert!(error.to_string().contains("No group 2"), "{error}");
    }
}
