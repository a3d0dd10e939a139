//! Kafka Connect's `ConfigDef` vocabulary on the host: setting definitions, their types and
//! validators, and per-setting validation results. Connectors describe their settings with
//! these (through the WIT `config-def` interface) and the framework describes its own.

/// The type of a setting, as `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    /// The upper-case name Kafka Connect's REST API uses.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    /// Inclusive numeric range; either bound may be open.
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// One of these strings, compared case-insensitively.
    ValidString(Vec<String>),
    NonEmptyString,
}

/// One setting.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigKey {
    pub name: String,
    pub ty: ConfigType,
    /// None means the setting is required.
    pub default: Option<String>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order_in_group: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub validator: Option<Validator>,
    pub recommended_values: Vec<String>,
}

/// The validation result of one setting, as `ConfigValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}
