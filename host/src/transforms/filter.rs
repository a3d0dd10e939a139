//! `Filter`: drops every record it is applied to; used with a predicate (and `negate`) to drop
//! only some. Has no settings of its own.

use super::util::{Props, Target};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};

#[derive(Debug)]
pub(crate) struct Filter;

pub(crate) fn build(
    _props: Props<'_>,
    _target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    Ok(Box::new(Filter))
}

impl Transformation for Filter {
    fn apply(&self, _record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        Ok(Applied::Drop)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{apply, build as build_with, sink_record, source_record};
    use super::*;

    #[test]
    fn drops_every_record() {
        let filter = build_with(build, Target::Value, &[]).unwrap();
        assert!(apply(filter.as_ref(), source_record(None, None)).is_none());
        assert!(apply(filter.as_ref(), sink_record(None, None)).is_none());
    }
}
