//! The transformation chain of one connector: reading `transforms`, `transforms.<alias>.*`,
//! `predicates` and `predicates.<alias>.*` as Kafka Connect does, resolving class names (full or
//! short) to the built-in SMTs, transform components (through [`TransformPlugins`]) and
//! predicates, and applying the chain to one record.

use std::{borrow::Cow, collections::BTreeSet, sync::Arc};

use super::predicates::Predicate;
use super::util::{Props, Target};
use super::{
    Applied, ConnectRecord, TransformConfigError, TransformError, Transformation, cast,
    drop_headers, extract_field, filter, flatten, header_from, hoist_field, insert_field,
    insert_header, mask_field, regex_router, replace_field, set_schema_metadata,
    timestamp_converter, timestamp_router, value_to_key,
};
use crate::config::Settings;
use crate::runtime::{ConfigMap, Plugin};

/// Finds transform components (the `transform` world) by class name or alias; the plugin
/// registry implements it. A built-in SMT name always wins.
pub trait TransformPlugins {
    /// The transform component `class` names, if any.
    fn transform(&self, class: &str) -> Option<Arc<Plugin>>;
}

/// No transform components: only the built-in SMTs.
pub struct NoTransformPlugins;

impl TransformPlugins for NoTransformPlugins {
    fn transform(&self, _class: &str) -> Option<Arc<Plugin>> {
        None
    }
}

const TRANSFORMS_PACKAGE: &str = "org.apache.kafka.connect.transforms.";
const PREDICATES_PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

type Build = fn(Props<'_>, Target) -> Result<Box<dyn Transformation>, TransformConfigError>;

/// One built-in SMT: its simple class name, whether it comes as `$Key`/`$Value`, and how to
/// build it.
struct Builtin {
    name: &'static str,
    key_value: bool,
    build: Build,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "Cast",
        key_value: true,
        build: cast::build,
    },
    Builtin {
        name: "DropHeaders",
        key_value: false,
        build: drop_headers::build,
    },
    Builtin {
        name: "ExtractField",
        key_value: true,
        build: extract_field::build,
    },
    Builtin {
        name: "Filter",
        key_value: false,
        build: filter::build,
    },
    Builtin {
        name: "Flatten",
        key_value: true,
        build: flatten::build,
    },
    Builtin {
        name: "HeaderFrom",
        key_value: true,
        build: header_from::build,
    },
    Builtin {
        name: "HoistField",
        key_value: true,
        build: hoist_field::build,
    },
    Builtin {
        name: "InsertField",
        key_value: true,
        build: insert_field::build,
    },
    Builtin {
        name: "InsertHeader",
        key_value: false,
        build: insert_header::build,
    },
    Builtin {
        name: "MaskField",
        key_value: true,
        build: mask_field::build,
    },
    Builtin {
        name: "RegexRouter",
        key_value: false,
        build: regex_router::build,
    },
    Builtin {
        name: "ReplaceField",
        key_value: true,
        build: replace_field::build,
    },
    Builtin {
        name: "SetSchemaMetadata",
        key_value: true,
        build: set_schema_metadata::build,
    },
    Builtin {
        name: "TimestampConverter",
        key_value: true,
        build: timestamp_converter::build,
    },
    Builtin {
        name: "TimestampRouter",
        key_value: false,
        build: timestamp_router::build,
    },
    Builtin {
        name: "ValueToKey",
        key_value: false,
        build: value_to_key::build,
    },
];

const PREDICATES: &[&str] = &["HasHeaderKey", "RecordIsTombstone", "TopicNameMatches"];

/// Every built-in transformation class, short form (`InsertField$Value`), in name order.
pub fn supported_transforms() -> Vec<String> {
    let mut names = Vec::new();
    for builtin in BUILTINS {
        if builtin.key_value {
            names.push(format!("{}$Key", builtin.name));
            names.push(format!("{}$Value", builtin.name));
        } else {
            names.push(builtin.name.to_owned());
        }
    }
    names
}

/// Every built-in predicate class, short form.
pub fn supported_predicates() -> Vec<String> {
    PREDICATES.iter().map(|name| (*name).to_owned()).collect()
}

/// Resolves a transformation class (full or short name) to its builder, target and short name.
fn resolve_transform(class: &str) -> Option<(Build, Target, &'static str)> {
    let simple = class.strip_prefix(TRANSFORMS_PACKAGE).unwrap_or(class);
    let (base, target) = match simple.split_once('$') {
        Some((base, "Key")) => (base, Some(Target::Key)),
        Some((base, "Value")) => (base, Some(Target::Value)),
        Some(_) => return None,
        None => (simple, None),
    };
    let builtin = BUILTINS.iter().find(|builtin| builtin.name == base)?;
    match (builtin.key_value, target) {
        (true, Some(target)) => {
            let short = SHORT_NAMES
                .iter()
                .find(|(name, t, _)| *name == base && *t == target)
                .map(|(_, _, short)| *short)?;
            Some((builtin.build, target, short))
        }
        (false, None) => Some((builtin.build, Target::Value, builtin.name)),
        _ => None,
    }
}

/// Static short names of the `$Key`/`$Value` classes, for error messages.
const SHORT_NAMES: &[(&str, Target, &str)] = &[
    ("Cast", Target::Key, "Cast$Key"),
    ("Cast", Target::Value, "Cast$Value"),
    ("ExtractField", Target::Key, "ExtractField$Key"),
    ("ExtractField", Target::Value, "ExtractField$Value"),
    ("Flatten", Target::Key, "Flatten$Key"),
    ("Flatten", Target::Value, "Flatten$Value"),
    ("HeaderFrom", Target::Key, "HeaderFrom$Key"),
    ("HeaderFrom", Target::Value, "HeaderFrom$Value"),
    ("HoistField", Target::Key, "HoistField$Key"),
    ("HoistField", Target::Value, "HoistField$Value"),
    ("InsertField", Target::Key, "InsertField$Key"),
    ("InsertField", Target::Value, "InsertField$Value"),
    ("MaskField", Target::Key, "MaskField$Key"),
    ("MaskField", Target::Value, "MaskField$Value"),
    ("ReplaceField", Target::Key, "ReplaceField$Key"),
    ("ReplaceField", Target::Value, "ReplaceField$Value"),
    ("SetSchemaMetadata", Target::Key, "SetSchemaMetadata$Key"),
    (
        "SetSchemaMetadata",
        Target::Value,
        "SetSchemaMetadata$Value",
    ),
    ("TimestampConverter", Target::Key, "TimestampConverter$Key"),
    (
        "TimestampConverter",
        Target::Value,
        "TimestampConverter$Value",
    ),
];

/// Why a class name did not resolve, with what to write instead.
fn unknown_transform_reason(class: &str) -> String {
    let simple = class.strip_prefix(TRANSFORMS_PACKAGE).unwrap_or(class);
    if let Some(builtin) = BUILTINS
        .iter()
        .find(|builtin| builtin.key_value && builtin.name == simple)
    {
        return format!(
            "{name} has a key and a value variant; use {TRANSFORMS_PACKAGE}{name}$Key or \
             {TRANSFORMS_PACKAGE}{name}$Value (or the short forms {name}$Key, {name}$Value)",
            name = builtin.name
        );
    }
    if matches!(simple, "Key" | "Value") {
        return format!(
            "the alias `{simple}` is ambiguous; use a full class name such as \
             {TRANSFORMS_PACKAGE}InsertField${simple}"
        );
    }
    format!(
        "unknown transformation class; use one of {} (optionally prefixed with \
         `{TRANSFORMS_PACKAGE}`), or the class name of an installed transform component",
        supported_transforms().join(", ")
    )
}

/// One configured transformation and its optional predicate.
#[derive(Debug)]
pub(crate) struct Stage {
    pub(crate) alias: String,
    /// The short class name (`InsertField$Value`), or a component's class name.
    pub(crate) class: Cow<'static, str>,
    pub(crate) step: Step,
    predicate: Option<(Predicate, bool)>,
}

/// What a stage runs.
#[derive(Debug)]
pub(crate) enum Step {
    Builtin(Box<dyn Transformation>),
    /// A transform component, run per task in its own sandbox (see `worker::transforms::TaskTransforms`).
    Plugin(PluginStep),
}

/// A transform component and the settings its `configure` gets.
#[derive(Debug)]
pub(crate) struct PluginStep {
    pub(crate) plugin: Arc<Plugin>,
    /// `transforms.<alias>.*` without the prefix.
    pub(crate) config: ConfigMap,
}

impl Stage {
    /// Whether the stage applies to `record` (no predicate, or the predicate says so).
    pub(crate) fn applies(&self, record: &dyn ConnectRecord) -> bool {
        match &self.predicate {
            Some((predicate, negate)) => predicate.test(record) != *negate,
            None => true,
        }
    }

    pub(crate) fn error(&self, message: String) -> TransformError {
        TransformError {
            alias: self.alias.clone(),
            class: self.class.clone(),
            plugin: matches!(self.step, Step::Plugin(_)),
            message,
        }
    }
}

/// What the chain did with a record passed to [`TransformChain::apply_in_place`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The record went through every transformation and is to be delivered.
    Keep,
    /// A transformation (e.g. `Filter`) dropped it; its source offset still counts as done.
    Drop,
}

/// A connector's transformations in `transforms` order (Kafka Connect's
/// `TransformationChain`). Build it once per task with [`TransformChain::from_settings`]; it is
/// `Send + Sync` and can be shared.
#[derive(Debug, Default)]
pub struct TransformChain {
    pub(crate) stages: Vec<Stage>,
}

impl TransformChain {
    /// [`Self::from_settings_with`] with the built-in SMTs only.
    pub fn from_settings(settings: &Settings) -> Result<Self, TransformConfigError> {
        Self::from_settings_with(settings, &NoTransformPlugins)
    }

    /// Reads `transforms`, `transforms.<alias>.type`, `transforms.<alias>.<key>`,
    /// `transforms.<alias>.predicate`, `transforms.<alias>.negate`, `predicates`,
    /// `predicates.<alias>.type` and `predicates.<alias>.<key>` from a connector's settings.
    /// A `type` that is no built-in SMT is looked up in `plugins`.
    pub fn from_settings_with(
        settings: &Settings,
        plugins: &dyn TransformPlugins,
    ) -> Result<Self, TransformConfigError> {
        let predicate_aliases = aliases(settings, "predicates")?;
        let transform_aliases = aliases(settings, "transforms")?;
        let mut stages = Vec::with_capacity(transform_aliases.len());
        for alias in transform_aliases {
            let prefix = format!("transforms.{alias}.");
            let props = Props::new(settings, &prefix);
            let class = props.required(
                "type",
                &format!(
                    "set it to a transformation class, one of {}",
                    supported_transforms().join(", ")
                ),
            )?;
            let (step, class) = match resolve_transform(class) {
                Some((build, target, short)) => {
                    (Step::Builtin(build(props, target)?), Cow::Borrowed(short))
                }
                None => match plugins.transform(class) {
                    Some(plugin) => {
                        let config: ConfigMap = settings
                            .iter()
                            .filter_map(|(key, value)| {
                                key.strip_prefix(&prefix)
                                    .map(|key| (key.to_owned(), value.clone()))
                            })
                            .collect();
                        let name = Cow::Owned(plugin.info.class_name.clone());
                        (Step::Plugin(PluginStep { plugin, config }), name)
                    }
                    None => {
                        return Err(props.invalid("type", class, unknown_transform_reason(class)));
                    }
                },
            };
            let negate = props.bool_or("negate", false)?;
            let predicate = match props.string("predicate").filter(|alias| !alias.is_empty()) {
                Some(predicate_alias) => {
                    if !predicate_aliases.iter().any(|a| a == predicate_alias) {
                        return Err(props.invalid(
                            "predicate",
                            predicate_alias,
                            format!(
                                "no predicate has this alias; add `{predicate_alias}` to \
                                 `predicates` and set `predicates.{predicate_alias}.type`"
                            ),
                        ));
                    }
                    let predicate_prefix = format!("predicates.{predicate_alias}.");
                    let predicate = build_predicate(Props::new(settings, &predicate_prefix))?;
                    Some((predicate, negate))
                }
                None => {
                    if props.string("negate").is_some() && negate {
                        return Err(props.invalid(
                            "negate",
                            "true",
                            format!(
                                "negate can only be used together with a predicate; set \
                                 `{prefix}predicate` or remove `{prefix}negate`"
                            ),
                        ));
                    }
                    None
                }
            };
            stages.push(Stage {
                alias,
                class,
                step,
                predicate,
            });
        }
        // Predicates no transform uses must still be valid, as Kafka validates every alias.
        for alias in &predicate_aliases {
            let prefix = format!("predicates.{alias}.");
            build_predicate(Props::new(settings, &prefix))?;
        }
        Ok(Self { stages })
    }

    /// Whether no transformation is configured (the worker can skip the chain).
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Whether a stage is a transform component: the task must then run the chain through
    /// `worker::transforms::TaskTransforms`, which holds the component instances.
    pub fn has_plugins(&self) -> bool {
        self.stages
            .iter()
            .any(|stage| matches!(stage.step, Step::Plugin(_)))
    }

    /// The aliases, in order.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|stage| stage.alias.as_str())
    }

    /// Applies the chain to one record: `Ok(None)` when a transformation dropped it.
    pub fn apply<R: ConnectRecord>(&self, mut record: R) -> Result<Option<R>, TransformError> {
        Ok(match self.apply_in_place(&mut record)? {
            Disposition::Keep => Some(record),
            Disposition::Drop => None,
        })
    }

    /// Applies the chain to a record the caller keeps (e.g. to commit the source offset of a
    /// dropped record). After an error the record may be partly transformed. A chain with a
    /// transform component fails here: run it through `worker::transforms::TaskTransforms`.
    pub fn apply_in_place<R: ConnectRecord>(
        &self,
        record: &mut R,
    ) -> Result<Disposition, TransformError> {
        for stage in &self.stages {
            if !stage.applies(record) {
                continue;
            }
            let transform = match &stage.step {
                Step::Builtin(transform) => transform,
                Step::Plugin(_) => {
                    return Err(stage
                        .error("a transform component runs only in a task's own sandbox".into()));
                }
            };
            let applied = transform
                .apply(record)
                .map_err(|error| stage.error(error.0))?;
            if applied == Applied::Drop {
                return Ok(Disposition::Drop);
            }
        }
        Ok(Disposition::Keep)
    }
}

/// A LIST of unique aliases (`transforms` or `predicates`).
fn aliases(settings: &Settings, key: &str) -> Result<Vec<String>, TransformConfigError> {
    let Some(raw) = settings.get(key) else {
        return Ok(Vec::new());
    };
    let list = super::util::split_list(raw);
    let mut seen = BTreeSet::new();
    for alias in &list {
        if alias.is_empty() {
            return Err(TransformConfigError::Invalid {
                key: key.to_owned(),
                value: raw.clone(),
                reason: "an alias is empty; write a comma-separated list of names".into(),
            });
        }
        if !seen.insert(alias.as_str()) {
            return Err(TransformConfigError::Invalid {
                key: key.to_owned(),
                value: raw.clone(),
                reason: format!("Duplicate alias provided: `{alias}`; give each alias once"),
            });
        }
    }
    Ok(list)
}

fn build_predicate(props: Props<'_>) -> Result<Predicate, TransformConfigError> {
    let hint = format!(
        "set it to a predicate class, one of {}",
        supported_predicates().join(", ")
    );
    let class = props.required("type", &hint)?;
    let simple = class.strip_prefix(PREDICATES_PACKAGE).unwrap_or(class);
    Predicate::build(simple, props).unwrap_or_else(|| {
        Err(props.invalid(
            "type",
            class,
            format!(
                "unknown predicate class; use one of {} (optionally prefixed with \
                 `{PREDICATES_PACKAGE}`)",
                supported_predicates().join(", ")
            ),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{settings, sink_record, source_record};
    use super::*;
    use crate::data::{Data, Header, Value};

    #[test]
    fn a_chain_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TransformChain>();
    }

    #[test]
    fn empty_settings_make_an_empty_chain() {
        let chain = TransformChain::from_settings(&Settings::new()).unwrap();
        assert!(chain.is_empty());
        let record = source_record(None, None);
        assert_eq!(chain.apply(record.clone()).unwrap(), Some(record));
    }

    #[test]
    fn full_and_short_class_names_resolve() {
        for class in [
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "InsertField$Value",
            "InsertField$Key",
        ] {
            let chain = TransformChain::from_settings(&settings(&[
                ("transforms", "a"),
                ("transforms.a.type", class),
                ("transforms.a.static.field", "f"),
                ("transforms.a.static.value", "v"),
            ]))
            .unwrap();
            assert_eq!(chain.aliases().collect::<Vec<_>>(), vec!["a"]);
        }
        for class in supported_transforms() {
            assert!(resolve_transform(&class).is_some(), "{class}");
            assert!(resolve_transform(&format!("{TRANSFORMS_PACKAGE}{class}")).is_some());
        }
    }

    #[test]
    fn unknown_class_lists_the_accepted_names() {
        let error = TransformChain::from_settings(&settings(&[
            ("transforms", "a"),
            ("transforms.a.type", "com.example.Nope"),
        ]))
        .unwrap_err();
        assert_eq!(error.key(), "transforms.a.type");
        let text = error.to_string();
        assert!(text.contains("`com.example.Nope`"), "{text}");
        assert!(text.contains("InsertField$Value"), "{text}");
        assert!(text.contains("TimestampRouter"), "{text}");
    }

    #[test]
    fn key_value_class_without_variant_says_which_to_use() {
        let error = TransformChain::from_settings(&settings(&[
            ("transforms", "a"),
            ("transforms.a.type", "InsertField"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(error.contains("InsertField$Key"), "{error}");
        assert!(error.contains("InsertField$Value"), "{error}");
    }

    #[test]
    fn missing_type_duplicate_alias_and_bad_predicate_are_errors() {
        let error = TransformChain::from_settings(&settings(&[("transforms", "a")])).unwrap_err();
        assert_eq!(error.key(), "transforms.a.type");
        assert!(error.to_string().contains("missing required setting"));

        let error = TransformChain::from_settings(&settings(&[
            ("transforms", "a, a"),
            ("transforms.a.type", "Filter"),
        ]))
        .unwrap_err();
        assert_eq!(error.key(), "transforms");
        assert!(error.to_string().contains("Duplicate alias"));

        let error = TransformChain::from_settings(&settings(&[
            ("transforms", "a"),
            ("transforms.a.type", "Filter"),
            ("transforms.a.predicate", "p"),
        ]))
        .unwrap_err();
        assert_eq!(error.key(), "transforms.a.predicate");
        assert!(error.to_string().contains("add `p` to `predicates`"));

        let error = TransformChain::from_settings(&settings(&[
            ("transforms", "a"),
            ("transforms.a.type", "Filter"),
            ("transforms.a.negate", "true"),
        ]))
        .unwrap_err();
        assert_eq!(error.key(), "transforms.a.negate");

        let error = TransformChain::from_settings(&settings(&[
            ("predicates", "p"),
            ("predicates.p.type", "Nope"),
        ]))
        .unwrap_err();
        assert_eq!(error.key(), "predicates.p.type");
        assert!(error.to_string().contains("TopicNameMatches"));
    }

    #[test]
    fn filter_with_negated_predicate_keeps_only_matching_topics() {
        // The documentation's example: drop every record whose topic does not start with `foo`.
        let chain = TransformChain::from_settings(&settings(&[
            ("transforms", "filterFoo, insert"),
            (
                "transforms.filterFoo.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.filterFoo.predicate", "isFoo"),
            ("transforms.filterFoo.negate", "true"),
            ("transforms.insert.type", "InsertField$Value"),
            ("transforms.insert.topic.field", "t"),
            ("predicates", "isFoo"),
            (
                "predicates.isFoo.type",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
            ("predicates.isFoo.pattern", "foo.*"),
        ]))
        .unwrap();
        let map = || Some(Data::schemaless(Value::Map(Vec::new())));
        let mut kept = source_record(None, map());
        kept.topic = "foobar".into();
        let kept = chain.apply(kept).unwrap().unwrap();
        assert_eq!(
            kept.value.unwrap().value,
            Value::Map(vec![(
                Value::String("t".into()),
                Value::String("foobar".into())
            )])
        );
        let mut dropped = sink_record(None, map());
        dropped.topic = "barfoo".into();
        assert_eq!(chain.apply(dropped).unwrap(), None);
    }

    #[test]
    fn predicate_without_negate_applies_only_when_true() {
        let chain = TransformChain::from_settings(&settings(&[
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "hasH"),
            ("predicates", "hasH"),
            ("predicates.hasH.type", "HasHeaderKey"),
            ("predicates.hasH.name", "h"),
        ]))
        .unwrap();
        let mut with_header = source_record(None, None);
        with_header.headers.push(Header {
            key: "h".into(),
            value: Data::schemaless(Value::Null),
        });
        assert_eq!(chain.apply(with_header).unwrap(), None);
        let mut keep = source_record(None, None);
        assert_eq!(chain.apply_in_place(&mut keep).unwrap(), Disposition::Keep);
    }

    #[test]
    fn errors_name_the_alias_and_class() {
        let chain = TransformChain::from_settings(&settings(&[
            ("transforms", "extract"),
            ("transforms.extract.type", "ExtractField$Value"),
            ("transforms.extract.field", "f"),
        ]))
        .unwrap();
        let record = source_record(None, Some(Data::schemaless(Value::Int32(1))));
        let error = chain.apply(record).unwrap_err();
        assert_eq!(error.alias, "extract");
        assert_eq!(
            error.to_string(),
            "transformation `extract` (ExtractField$Value) failed: Only Map objects supported \
             in absence of schema for [field extraction], found: java.lang.Integer"
        );
    }
}
