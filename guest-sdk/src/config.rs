//! Settings: [`ConfigDef`] describes them (Kafka Connect's `ConfigDef`, rendered by the host in
//! `/connector-plugins/{plugin}/config` and used by the default `validate`), and [`Config`]
//! reads them with typed getters and clear errors.

use wasm_connect_sdk_source_bindings::wasm_connect::connector::config_def as wit;

use crate::Error;

/// The type of a setting, as Kafka Connect's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigType {
    /// `true` or `false` (case-insensitive).
    Boolean,
    /// Any string.
    String,
    /// A 32-bit integer.
    Int,
    /// A 16-bit integer.
    Short,
    /// A 64-bit integer.
    Long,
    /// A 64-bit float.
    Double,
    /// A comma-separated list.
    List,
    /// A class name.
    Class,
    /// A string shown as `[hidden]` wherever the host prints configuration.
    Password,
}

impl ConfigType {
    /// The upper-case name Kafka Connect uses, e.g. `INT`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Int => "INT",
            Self::Short => "SHORT",
            Self::Long => "LONG",
            Self::Double => "DOUBLE",
            Self::List => "LIST",
            Self::Class => "CLASS",
            Self::Password => "PASSWORD",
        }
    }

    /// Checks that `value` parses as this type; the error reads like Kafka Connect's.
    fn check(self, value: &str) -> Result<(), String> {
        let trimmed = value.trim();
        let ok = match self {
            Self::Boolean => {
                trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false")
            }
            Self::Int => trimmed.parse::<i32>().is_ok(),
            Self::Short => trimmed.parse::<i16>().is_ok(),
            Self::Long => trimmed.parse::<i64>().is_ok(),
            Self::Double => trimmed.parse::<f64>().is_ok(),
            Self::String | Self::List | Self::Class | Self::Password => true,
        };
        if ok {
            Ok(())
        } else if self == Self::Boolean {
            Err("Expected value to be either true or false".to_owned())
        } else {
            Err(format!("Not a number of type {}", self.name()))
        }
    }

    fn into_wit(self) -> wit::ConfigType {
        match self {
            Self::Boolean => wit::ConfigType::Boolean,
            Self::String => wit::ConfigType::String,
            Self::Int => wit::ConfigType::Int,
            Self::Short => wit::ConfigType::Short,
            Self::Long => wit::ConfigType::Long,
            Self::Double => wit::ConfigType::Double,
            Self::List => wit::ConfigType::List,
            Self::Class => wit::ConfigType::Class,
            Self::Password => wit::ConfigType::Password,
        }
    }
}

/// How important a setting is, as Kafka Connect's `ConfigDef.Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Importance {
    /// High.
    High,
    /// Medium (the default here).
    #[default]
    Medium,
    /// Low.
    Low,
}

/// How wide a UI should render a setting, as Kafka Connect's `ConfigDef.Width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Width {
    /// No preference (the default).
    #[default]
    None,
    /// Short.
    Short,
    /// Medium.
    Medium,
    /// Long.
    Long,
}

/// A check the host (and the default `validate`) applies to a setting.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// A number within the range, inclusive; either bound may be open.
    Range {
        /// The lower bound.
        min: Option<f64>,
        /// The upper bound.
        max: Option<f64>,
    },
    /// One of these strings (case-insensitive), also offered as recommended values.
    ValidString(Vec<String>),
    /// A non-empty string.
    NonEmptyString,
}

impl Validator {
    /// A range with a lower bound only, e.g. `Validator::at_least(1.0)`.
    pub fn at_least(min: f64) -> Self {
        Self::Range {
            min: Some(min),
            max: None,
        }
    }

    /// A closed range.
    pub fn between(min: f64, max: f64) -> Self {
        Self::Range {
            min: Some(min),
            max: Some(max),
        }
    }

    /// One of `values`, case-insensitive.
    pub fn one_of<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        Self::ValidString(values.into_iter().map(Into::into).collect())
    }

    /// Checks `value`; the error reads like Kafka Connect's.
    fn check(&self, value: &str) -> Result<(), String> {
        match self {
            Self::Range { min, max } => {
                let Ok(n) = value.trim().parse::<f64>() else {
                    return Err("Value must be a number".to_owned());
                };
                if let Some(min) = min
                    && n < *min
                {
                    return Err(format!("Value must be at least {}", number(*min)));
                }
                if let Some(max) = max
                    && n > *max
                {
                    return Err(format!("Value must be no more than {}", number(*max)));
                }
                Ok(())
            }
            Self::ValidString(values) => {
                if values.iter().any(|v| v.eq_ignore_ascii_case(value.trim())) {
                    Ok(())
                } else {
                    Err(format!("String must be one of: {}", values.join(", ")))
                }
            }
            Self::NonEmptyString => {
                if value.trim().is_empty() {
                    Err("String may not be empty".to_owned())
                } else {
                    Ok(())
                }
            }
        }
    }

    fn into_wit(self) -> wit::Validator {
        match self {
            Self::Range { min, max } => wit::Validator::Range(wit::Range { min, max }),
            Self::ValidString(values) => wit::Validator::ValidString(values),
            Self::NonEmptyString => wit::Validator::NonEmptyString,
        }
    }
}

/// Formats a bound without a useless `.0`, as Java prints an integer bound.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// One setting, built fluently and added with [`ConfigDef::define`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ConfigKey {
    /// The setting name.
    pub name: String,
    /// The type.
    pub config_type: ConfigType,
    /// The default as a string; none means the setting is required.
    pub default_value: Option<String>,
    /// The importance.
    pub importance: Importance,
    /// What the setting does.
    pub documentation: String,
    /// The group in a UI.
    pub group: Option<String>,
    /// Position within the group, from 1; 0 leaves it to declaration order.
    pub order_in_group: i32,
    /// The width in a UI.
    pub width: Width,
    /// The name a UI shows; defaults to `name`.
    pub display_name: String,
    /// Settings whose validity depends on this one.
    pub dependents: Vec<String>,
    /// The check applied to the value.
    pub validator: Option<Validator>,
    /// Values a UI may offer.
    pub recommended_values: Vec<String>,
}

impl ConfigKey {
    /// A required setting of `config_type`; call [`ConfigKey::default_value`] to make it
    /// optional.
    pub fn new(name: impl Into<String>, config_type: ConfigType) -> Self {
        let name = name.into();
        Self {
            display_name: name.clone(),
            name,
            config_type,
            default_value: None,
            importance: Importance::default(),
            documentation: String::new(),
            group: None,
            order_in_group: 0,
            width: Width::default(),
            dependents: Vec::new(),
            validator: None,
            recommended_values: Vec::new(),
        }
    }

    /// Sets the default (making the setting optional).
    pub fn default_value(mut self, value: impl ToString) -> Self {
        self.default_value = Some(value.to_string());
        self
    }

    /// Sets the importance.
    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    /// Sets the documentation.
    pub fn documentation(mut self, documentation: impl Into<String>) -> Self {
        self.documentation = documentation.into();
        self
    }

    /// Sets the group and the position within it.
    pub fn group(mut self, group: impl Into<String>, order_in_group: i32) -> Self {
        self.group = Some(group.into());
        self.order_in_group = order_in_group;
        self
    }

    /// Sets the width.
    pub fn width(mut self, width: Width) -> Self {
        self.width = width;
        self
    }

    /// Sets the display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    /// Adds a dependent setting.
    pub fn dependent(mut self, name: impl Into<String>) -> Self {
        self.dependents.push(name.into());
        self
    }

    /// Sets the validator. A [`Validator::ValidString`] also fills in the recommended values
    /// if none were given.
    pub fn validator(mut self, validator: Validator) -> Self {
        if let Validator::ValidString(values) = &validator
            && self.recommended_values.is_empty()
        {
            self.recommended_values = values.clone();
        }
        self.validator = Some(validator);
        self
    }

    /// Sets the recommended values.
    pub fn recommended_values<S: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.recommended_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the setting has no default.
    pub fn is_required(&self) -> bool {
        self.default_value.is_none()
    }

    /// Validates this key's value in `config`, Kafka Connect style.
    pub fn validate(&self, config: &Config) -> ConfigValue {
        let given = config.get(&self.name);
        let mut errors = Vec::new();
        match given.or(self.default_value.as_deref()) {
            None => errors.push(format!(
                "Missing required configuration \"{}\" which has no default value.",
                self.name
            )),
            Some(value) => {
                if let Err(e) = self.config_type.check(value) {
                    errors.push(format!(
                        "Invalid value {value} for configuration {}: {e}",
                        self.name
                    ));
                } else if let Some(validator) = &self.validator
                    && let Err(e) = validator.check(value)
                {
                    errors.push(format!(
                        "Invalid value {value} for configuration {}: {e}",
                        self.name
                    ));
                }
            }
        }
        ConfigValue {
            name: self.name.clone(),
            value: given.map(str::to_owned),
            recommended_values: self.recommended_values.clone(),
            errors,
            visible: true,
        }
    }

    pub(crate) fn into_wit(self) -> wit::ConfigKey {
        wit::ConfigKey {
            name: self.name,
            type_: self.config_type.into_wit(),
            default_value: self.default_value,
            importance: match self.importance {
                Importance::High => wit::Importance::High,
                Importance::Medium => wit::Importance::Medium,
                Importance::Low => wit::Importance::Low,
            },
            documentation: self.documentation,
            group: self.group,
            order_in_group: self.order_in_group,
            width: match self.width {
                Width::None => wit::Width::None,
                Width::Short => wit::Width::Short,
                Width::Medium => wit::Width::Medium,
                Width::Long => wit::Width::Long,
            },
            display_name: self.display_name,
            dependents: self.dependents,
            validator: self.validator.map(Validator::into_wit),
            recommended_values: self.recommended_values,
        }
    }
}

/// A connector's settings, as Kafka Connect's `ConfigDef`:
///
/// ```
/// use wasm_connect_sdk::config::{Config, ConfigDef, ConfigKey, ConfigType, Importance, Validator};
///
/// let def = ConfigDef::new()
///     .define(ConfigKey::new("file", ConfigType::String).importance(Importance::High)
///         .documentation("The file to read."))
///     .define(ConfigKey::new("batch.size", ConfigType::Int).default_value(2000)
///         .validator(Validator::at_least(1.0)));
/// let config = Config::from_pairs([("batch.size", "abc")]);
/// let errors: Vec<String> = def.validate(&config).into_iter().flat_map(|v| v.errors).collect();
/// assert_eq!(errors.len(), 2); // `file` is missing, `batch.size` is not an INT
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    /// No settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a setting (replacing one with the same name).
    pub fn define(mut self, key: ConfigKey) -> Self {
        match self.keys.iter_mut().find(|k| k.name == key.name) {
            Some(existing) => *existing = key,
            None => self.keys.push(key),
        }
        self
    }

    /// The settings, in declaration order.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    /// The setting named `name`.
    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Validates `config` against every setting: required settings present, values of the
    /// right type, validators satisfied. One entry per setting, in declaration order.
    pub fn validate(&self, config: &Config) -> Vec<ConfigValue> {
        self.keys.iter().map(|k| k.validate(config)).collect()
    }

    /// [`ConfigDef::validate`], as a single error listing every problem (for `start`).
    pub fn check(&self, config: &Config) -> Result<(), Error> {
        let problems: Vec<String> = self
            .validate(config)
            .into_iter()
            .flat_map(|v| v.errors)
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_config(problems.join("; ")))
        }
    }

    pub(crate) fn into_wit(self) -> Vec<wit::ConfigKey> {
        self.keys.into_iter().map(ConfigKey::into_wit).collect()
    }
}

/// The result of validating one setting, as Kafka Connect's `ConfigValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue {
    /// The setting name.
    pub name: String,
    /// The value given, if any.
    pub value: Option<String>,
    /// Values a UI may offer.
    pub recommended_values: Vec<String>,
    /// Human-readable problems; empty when the setting is valid.
    pub errors: Vec<String>,
    /// Whether a UI should show the setting.
    pub visible: bool,
}

impl ConfigValue {
    /// A valid entry for `name` with `value`.
    pub fn new(name: impl Into<String>, value: Option<String>) -> Self {
        Self {
            name: name.into(),
            value,
            recommended_values: Vec::new(),
            errors: Vec::new(),
            visible: true,
        }
    }

    /// Adds a problem.
    #[must_use]
    pub fn error(mut self, message: impl Into<String>) -> Self {
        self.errors.push(message.into());
        self
    }

    pub(crate) fn into_wit(self) -> wit::ConfigValue {
        wit::ConfigValue {
            name: self.name,
            value: self.value,
            recommended_values: self.recommended_values,
            errors: self.errors,
            visible: self.visible,
        }
    }
}

/// A configuration as Kafka Connect passes it (string keys to string values, in order), with
/// typed getters. Getters without `_or` treat the setting as required.
///
/// ```
/// use wasm_connect_sdk::config::Config;
///
/// let config = Config::from_pairs([("file", "/tmp/a.txt"), ("batch.size", "abc")]);
/// assert_eq!(config.get_str("file").unwrap(), "/tmp/a.txt");
/// assert_eq!(
///     config.get_int_or("batch.size", 2000).unwrap_err().to_string(),
///     "setting `batch.size` must be an integer, got `abc`"
/// );
/// assert_eq!(config.get_str("topic").unwrap_err().to_string(), "missing required setting `topic`");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl From<Vec<(String, String)>> for Config {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }
}

impl From<Config> for Vec<(String, String)> {
    fn from(config: Config) -> Self {
        config.pairs
    }
}

impl Config {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration from key/value pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Takes the pairs.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }

    /// Iterates over the pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no settings.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The raw value of `key` (the last one, if given twice).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` (replacing an existing value).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        match self.pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.pairs.push((key, value)),
        }
        self
    }

    /// [`Config::set`] by value, for chaining.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// A copy with only the given keys (those that are set).
    #[must_use]
    pub fn subset(&self, keys: &[&str]) -> Self {
        Self {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    fn required(&self, key: &str) -> Result<&str, Error> {
        self.get(key)
            .ok_or_else(|| Error::invalid_config(format!("missing required setting `{key}`")))
    }

    /// The string value of a required setting.
    pub fn get_str(&self, key: &str) -> Result<&str, Error> {
        self.required(key)
    }

    /// The string value of a setting, or `default`.
    pub fn get_str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    fn parse<T: std::str::FromStr>(key: &str, value: &str, what: &str) -> Result<T, Error> {
        value.trim().parse().map_err(|_| {
            Error::invalid_config(format!("setting `{key}` must be {what}, got `{value}`"))
        })
    }

    /// A required 32-bit integer (`INT`).
    pub fn get_int(&self, key: &str) -> Result<i32, Error> {
        Self::parse(key, self.required(key)?, "an integer")
    }

    /// A 32-bit integer, or `default` if unset.
    pub fn get_int_or(&self, key: &str, default: i32) -> Result<i32, Error> {
        self.get(key)
            .map_or(Ok(default), |v| Self::parse(key, v, "an integer"))
    }

    /// A required 64-bit integer (`LONG`).
    pub fn get_long(&self, key: &str) -> Result<i64, Error> {
        Self::parse(key, self.required(key)?, "an integer")
    }

    /// A 64-bit integer, or `default` if unset.
    pub fn get_long_or(&self, key: &str, default: i64) -> Result<i64, Error> {
        self.get(key)
            .map_or(Ok(default), |v| Self::parse(key, v, "an integer"))
    }

    /// A required float (`DOUBLE`).
    pub fn get_double(&self, key: &str) -> Result<f64, Error> {
        Self::parse(key, self.required(key)?, "a number")
    }

    /// A float, or `default` if unset.
    pub fn get_double_or(&self, key: &str, default: f64) -> Result<f64, Error> {
        self.get(key)
            .map_or(Ok(default), |v| Self::parse(key, v, "a number"))
    }

    fn parse_bool(key: &str, value: &str) -> Result<bool, Error> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if v.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(Error::invalid_config(format!(
                "setting `{key}` must be `true` or `false`, got `{value}`"
            )))
        }
    }

    /// A required boolean (`true`/`false`, case-insensitive).
    pub fn get_bool(&self, key: &str) -> Result<bool, Error> {
        Self::parse_bool(key, self.required(key)?)
    }

    /// A boolean, or `default` if unset.
    pub fn get_bool_or(&self, key: &str, default: bool) -> Result<bool, Error> {
        self.get(key)
            .map_or(Ok(default), |v| Self::parse_bool(key, v))
    }

    fn split_list(value: &str) -> Vec<String> {
        if value.trim().is_empty() {
            return Vec::new();
        }
        value.split(',').map(|s| s.trim().to_owned()).collect()
    }

    /// A required comma-separated list (`LIST`), items trimmed; an empty string is an empty
    /// list.
    pub fn get_list(&self, key: &str) -> Result<Vec<String>, Error> {
        Ok(Self::split_list(self.required(key)?))
    }

    /// A list, or `default` if unset.
    pub fn get_list_or(&self, key: &str, default: &[&str]) -> Vec<String> {
        match self.get(key) {
            Some(v) => Self::split_list(v),
            None => default.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_report_missing_and_malformed_settings() {
        let config = Config::from_pairs([
            ("n", "12"),
            ("bad", "abc"),
            ("list", "a, b ,c"),
            ("flag", "TRUE"),
        ]);
        assert_eq!(config.get_int("n").unwrap(), 12);
        assert_eq!(config.get_long_or("missing", -1).unwrap(), -1);
        assert_eq!(
            config.get_int("bad").unwrap_err(),
            Error::invalid_config("setting `bad` must be an integer, got `abc`")
        );
        assert_eq!(
            config.get_int("missing").unwrap_err().to_string(),
            "missing required setting `missing`"
        );
        assert_eq!(config.get_list("list").unwrap(), ["a", "b", "c"]);
        assert!(config.get_bool("flag").unwrap());
        assert_eq!(config.get_list_or("none", &["x"]), ["x"]);
    }

    #[test]
    fn config_def_validates_like_kafka() {
        let def = ConfigDef::new()
            .define(ConfigKey::new("file", ConfigType::String))
            .define(
                ConfigKey::new("batch.size", ConfigType::Int)
                    .default_value(2000)
                    .validator(Validator::at_least(1.0)),
            )
            .define(
                ConfigKey::new("shape", ConfigType::String)
                    .default_value("bytes")
                    .validator(Validator::one_of(["bytes", "string"])),
            );
        let ok = Config::from_pairs([("file", "a")]);
        assert!(def.check(&ok).is_ok());
        let values = def.validate(&Config::from_pairs([("batch.size", "0"), ("shape", "x")]));
        assert_eq!(
            values[0].errors,
            ["Missing required configuration \"file\" which has no default value."]
        );
        assert_eq!(
            values[1].errors,
            ["Invalid value 0 for configuration batch.size: Value must be at least 1"]
        );
        assert_eq!(
            values[2].errors,
            ["Invalid value x for configuration shape: String must be one of: bytes, string"]
        );
        assert_eq!(values[2].recommended_values, ["bytes", "string"]);
        let values = def.validate(&Config::from_pairs([("file", "a"), ("batch.size", "x")]));
        assert_eq!(
            values[1].errors,
            ["Invalid value x for configuration batch.size: Not a number of type INT"]
        );
    }
}
