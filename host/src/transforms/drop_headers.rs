//! `DropHeaders`: removes every header whose key is in `headers` (LIST, required, non-empty).

use super::util::{Props, Target};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};

#[derive(Debug)]
pub(crate) struct DropHeaders {
    headers: Vec<String>,
}

pub(crate) fn build(
    props: Props<'_>,
    _target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let headers = props.required_list("headers", "list the header keys to remove")?;
    Ok(Box::new(DropHeaders { headers }))
}

impl Transformation for DropHeaders {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        record
            .headers_mut()
            .retain(|header| !self.headers.contains(&header.key));
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{apply, build as build_with, source_record};
    use super::*;
    use crate::data::{Data, Header, Value};

    fn header(key: &str) -> Header {
        Header {
            key: key.into(),
            value: Data::schemaless(Value::String("v".into())),
        }
    }

    #[test]
    fn removes_all_headers_with_the_listed_keys() {
        // Documentation example: headers=source,target drops both.
        let t = build_with(build, Target::Value, &[("headers", "source, target")]).unwrap();
        let mut record = source_record(None, None);
        record.headers = vec![
            header("source"),
            header("keep"),
            header("target"),
            header("source"),
        ];
        let record = apply(t.as_ref(), record).unwrap();
        assert_eq!(record.headers, vec![header("keep")]);
    }

    #[test]
    fn headers_is_required_and_not_empty() {
        let error = build_with(build, Target::Value, &[]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.headers");
        let error = build_with(build, Target::Value, &[("headers", "")]).unwrap_err();
        assert!(error.to_string().contains("at least one"), "{error}");
    }
}
