//! `InsertHeader`: adds a header `header` whose value is `value.literal` parsed as Kafka's
//! `Values.parseString` does (`42` → int8, `true` → boolean, otherwise a string).

use super::util::{Props, Target};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::convert::{HeaderConverter, SimpleHeaderConverter};
use crate::data::{Data, Header};

#[derive(Debug)]
pub(crate) struct InsertHeader {
    header: String,
    value: Data,
}

pub(crate) fn build(
    props: Props<'_>,
    _target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let header = props.required("header", "set it to the key of the header to add")?;
    let literal = props.required("value.literal", "set it to the header value to add")?;
    // The simple header converter reads bytes exactly as `Values.parseString`.
    let value = SimpleHeaderConverter
        .to_connect_header("", header, Some(literal.as_bytes()))
        .map_err(|error| props.invalid("value.literal", literal, error.to_string()))?;
    Ok(Box::new(InsertHeader {
        header: header.to_owned(),
        value,
    }))
}

impl Transformation for InsertHeader {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        record.headers_mut().push(Header {
            key: self.header.clone(),
            value: self.value.clone(),
        });
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{apply, build as build_with, sink_record};
    use super::*;
    use crate::data::{SchemaType, Value};

    #[test]
    fn adds_a_header_with_an_inferred_type() {
        // Documentation example: header=MessageSource, value.literal=test-value.
        let t = build_with(
            build,
            Target::Value,
            &[("header", "MessageSource"), ("value.literal", "test-value")],
        )
        .unwrap();
        let record = apply(t.as_ref(), sink_record(None, None)).unwrap();
        assert_eq!(record.headers.len(), 1);
        assert_eq!(record.headers[0].key, "MessageSource");
        assert_eq!(
            record.headers[0].value.value,
            Value::String("test-value".into())
        );
        assert_eq!(
            record.headers[0].value.schema.as_ref().unwrap().ty,
            SchemaType::String
        );

        let t = build_with(
            build,
            Target::Value,
            &[("header", "n"), ("value.literal", "42")],
        )
        .unwrap();
        let record = apply(t.as_ref(), sink_record(None, None)).unwrap();
        assert_eq!(record.headers[0].value.value, Value::Int8(42));
    }

    #[test]
    fn header_and_literal_are_required() {
        let error = build_with(build, Target::Value, &[("header", "h")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.value.literal");
        let error = build_with(build, Target::Value, &[("value.literal", "x")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.header");
    }
}
