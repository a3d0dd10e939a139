//! [`Error`]: what a connector or task returns when something goes wrong, mapping one-to-one to
//! the WIT `connector-error` and its retry semantics.

use std::fmt;

use wasm_connect_sdk_source_bindings::wasm_connect::connector::types as wit;

use crate::data::DataError;

/// What went wrong, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The configuration cannot work. The host fails the connector or task and does not retry.
    InvalidConfig(String),
    /// A transient condition. The host retries the same call (for `put`, with the same batch):
    /// Kafka Connect's `RetriableException`.
    Retriable(String),
    /// Anything else. The host fails the connector or task with this message as its trace:
    /// Kafka Connect's `ConnectException`.
    Fatal(String),
}

impl Error {
    /// An [`Error::InvalidConfig`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::InvalidConfig(message.into())
    }

    /// An [`Error::Retriable`].
    pub fn retriable(message: impl Into<String>) -> Self {
        Self::Retriable(message.into())
    }

    /// An [`Error::Fatal`].
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidConfig(m) | Self::Retriable(m) | Self::Fatal(m) => m,
        }
    }

    /// Whether the host retries after this error.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Retriable(_))
    }

    /// Prefixes the message with context, keeping the kind: `context: message`.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        match self {
            Self::InvalidConfig(m) => Self::InvalidConfig(format!("{context}: {m}")),
            Self::Retriable(m) => Self::Retriable(format!("{context}: {m}")),
            Self::Fatal(m) => Self::Fatal(format!("{context}: {m}")),
        }
    }

    pub(crate) fn into_wit(self) -> wit::ConnectorError {
        match self {
            Self::InvalidConfig(m) => wit::ConnectorError::InvalidConfig(m),
            Self::Retriable(m) => wit::ConnectorError::Retriable(m),
            Self::Fatal(m) => wit::ConnectorError::Fatal(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// Data that does not fit its schema is a fatal error (Kafka Connect's `DataException`).
impl From<DataError> for Error {
    fn from(e: DataError) -> Self {
        Self::Fatal(e.to_string())
    }
}

/// I/O errors are fatal, as Kafka Connect's connectors wrap `IOException` in
/// `ConnectException`; use [`Error::retriable`] yourself where a retry can help.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Fatal(e.to_string())
    }
}
