//! Configuration: what users write (worker and connector properties or JSON) and the validated
//! forms the rest of the host trusts, plus the `ConfigDef` vocabulary.

pub mod connector;
pub mod def;
pub mod egress;
pub mod filesystem;
pub mod framework;
pub mod properties;
pub mod providers;
pub mod sandbox;
pub mod tcp;
pub mod worker;

use std::path::PathBuf;

pub use connector::{ConnectorConfig, ConnectorSubmission, InitialState};
pub use properties::{Settings, SettingsExt};
pub use worker::WorkerConfig;

impl ConfigError {
    /// The error with every value config-provider references brought in put back as its
    /// reference.
    pub fn concealed(self, secrets: &providers::Secrets) -> Self {
        if secrets.is_empty() {
            return self;
        }
        match self {
            Self::Invalid {
                key,
                value,
                expected,
            } => Self::Invalid {
                key,
                value: secrets.conceal_value(&value),
                expected,
            },
            Self::AboveMaximum {
                key,
                value,
                maximum,
                max_key,
            } => Self::AboveMaximum {
                key,
                value: secrets.conceal_value(&value),
                maximum,
                max_key,
            },
            Self::Parse { path, message } => Self::Parse {
                path,
                message: secrets.conceal(&message).into_owned(),
            },
            Self::Other(message) => Self::Other(secrets.conceal(&message).into_owned()),
            other => other,
        }
    }
}

/// Why a configuration could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse `{path}`: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("missing required setting `{0}`")]
    Missing(String),
    #[error("invalid value `{value}` for setting `{key}`: expected {expected}")]
    Invalid {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// A connector (or the worker's default) asks for more than a worker maximum.
    #[error("{key}={value} exceeds the worker maximum {maximum} ({max_key})")]
    AboveMaximum {
        key: &'static str,
        value: String,
        maximum: u64,
        max_key: &'static str,
    },
    /// A `${provider:path:key}` reference that cannot be resolved.
    #[error("`{key}`: cannot resolve `{reference}`: {reason}")]
    Unresolved {
        key: String,
        reference: String,
        reason: String,
    },
    #[error("{0}")]
    Other(String),
}
