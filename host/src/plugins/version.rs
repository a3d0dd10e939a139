//! Plugin version requirements (`connector.plugin.version`, `?version=`), as Kafka Connect
//! 4.1 reads them (KIP-891): a plain version is that exact version; Maven's range syntax
//! picks the newest installed version inside the range (`[1.0,2.0)`, `(,1.0]`, `[1.5,)`,
//! `[1.0]`, and unions such as `(,1.0],[1.2,)`).

use std::cmp::Ordering;

use super::compare_versions;

/// A parsed version requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A plain version: exactly this one.
    Exact(String),
    /// A union of ranges: any version inside one of them, the newest preferred.
    Ranges(Vec<Range>),
}

/// One bound of a range: the version and whether it is included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub version: String,
    pub inclusive: bool,
}

/// `[lower, upper]`, either side open (`None`: unbounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl Range {
    fn contains(&self, version: &str) -> bool {
        let above = self.lower.as_ref().is_none_or(|bound| {
            match compare_versions(version, &bound.version) {
                Ordering::Greater => true,
                Ordering::Equal => bound.inclusive,
                Ordering::Less => false,
            }
        });
        let below = self.upper.as_ref().is_none_or(|bound| {
            match compare_versions(version, &bound.version) {
                Ordering::Less => true,
                Ordering::Equal => bound.inclusive,
                Ordering::Greater => false,
            }
        });
        above && below
    }
}

impl Requirement {
    /// Parses a requirement; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("it is empty".into());
        }
        if !text.starts_with(['[', '(']) {
            if text.contains(['[', ']', '(', ')', ',']) {
                return Err("a range must start with `[` or `(`".into());
            }
            return Ok(Self::Exact(text.to_owned()));
        }
        let mut ranges = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let open = rest.chars().next().expect("not empty");
            if open != '[' && open != '(' {
                return Err(format!("expected `[` or `(` at `{rest}`"));
            }
            let close = rest
                .find([']', ')'])
                .ok_or_else(|| format!("`{rest}` is not closed with `]` or `)`"))?;
            let inner = &rest[1..close];
            let closing = rest[close..].chars().next().expect("found");
            if inner.contains(['[', '(']) {
                return Err(format!("`{}` nests brackets", &rest[..=close]));
            }
            let range = match inner.split_once(',') {
                None => {
                    // `[1.0]`: exactly 1.0.
                    if open != '[' || closing != ']' || inner.trim().is_empty() {
                        return Err(format!(
                            "`{}` must be `[<version>]` to name one version",
                            &rest[..=close]
                        ));
                    }
                    let bound = Bound {
                        version: inner.trim().to_owned(),
                        inclusive: true,
                    };
                    Range {
                        lower: Some(bound.clone()),
                        upper: Some(bound),
                    }
                }
                Some((lower, upper)) => {
                    if upper.contains(',') {
                        return Err(format!("`{}` has more than two bounds", &rest[..=close]));
                    }
                    let bound = |version: &str, inclusive| {
                        let version = version.trim();
                        (!version.is_empty()).then(|| Bound {
                            version: version.to_owned(),
                            inclusive,
                        })
                    };
                    let range = Range {
                        lower: bound(lower, open == '['),
                        upper: bound(upper, closing == ']'),
                    };
                    if let (Some(lower), Some(upper)) = (&range.lower, &range.upper)
                        && compare_versions(&lower.version, &upper.version).is_gt()
                    {
                        return Err(format!(
                            "in `{}` the lower bound is above the upper bound",
                            &rest[..=close]
                        ));
                    }
                    range
                }
            };
            ranges.push(range);
            rest = rest[close + 1..].trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
                if rest.is_empty() {
                    return Err("it ends with `,`".into());
                }
            } else if !rest.is_empty() {
                return Err(format!("expected `,` before `{rest}`"));
            }
        }
        Ok(Self::Ranges(ranges))
    }

    /// Whether `version` satisfies this requirement.
    pub fn matches(&self, version: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == version,
            Self::Ranges(ranges) => ranges.iter().any(|range| range.contains(version)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching<'a>(requirement: &str, versions: &[&'a str]) -> Vec<&'a str> {
        let requirement = Requirement::parse(requirement).unwrap();
        versions
            .iter()
            .copied()
            .filter(|version| requirement.matches(version))
            .collect()
    }

    const VERSIONS: [&str; 5] = ["0.9", "1.0", "1.5.2", "2.0", "2.10"];

    #[test]
    fn plain_versions_are_exact() {
        assert_eq!(matching("1.0", &VERSIONS), ["1.0"]);
        assert_eq!(matching(" 2.10 ", &VERSIONS), ["2.10"]);
        assert!(matching("1", &VERSIONS).is_empty());
    }

    #[test]
    fn ranges_follow_maven() {
        assert_eq!(matching("[1.0,2.0)", &VERSIONS), ["1.0", "1.5.2"]);
        assert_eq!(matching("(1.0,2.0]", &VERSIONS), ["1.5.2", "2.0"]);
        assert_eq!(matching("(,1.0]", &VERSIONS), ["0.9", "1.0"]);
        assert_eq!(matching("[2.0,)", &VERSIONS), ["2.0", "2.10"]);
        assert_eq!(matching("[1.5.2]", &VERSIONS), ["1.5.2"]);
        assert_eq!(matching("(,1.0),[2.0, 2.0]", &VERSIONS), ["0.9", "2.0"]);
    }

    #[test]
    fn malformed_ranges_say_what_is_wrong() {
        let error = |text| Requirement::parse(text).unwrap_err();
        assert_eq!(error(""), "it is empty");
        assert!(
            error("[1.0,2.0").contains("not closed"),
            "{}",
            error("[1.0,2.0")
        );
        assert!(error("[2.0,1.0]").contains("lower bound is above"));
        assert!(error("(1.0)").contains("[<version>]"));
        assert!(error("[1.0,2.0]x").contains("expected `,`"));
        assert!(error("[1.0,2.0],").contains("ends with"));
        assert!(error("1.0,2.0").contains("must start with"));
        assert!(error("[1,2,3]").contains("more than two"));
    }
}
