//! Log levels that can change while the worker runs (`/admin/loggers`, KIP-495): the root
//! level and per-target levels, applied as `tracing_subscriber::EnvFilter` directives
//! (`<root>,<target>=<level>,...`) through a reload handle the binary installs. A logger name is
//! a `tracing` target (`wasm_connect::worker`, `connector` for guest logs); Kafka Connect's
//! level names map to `tracing`'s (`FATAL` is `error`).

use std::{
    collections::BTreeMap,
    sync::{Mutex, OnceLock},
    time::{SystemTime, UNIX_EPOCH},
};

use tracing_subscriber::EnvFilter;

/// Applies a directive string; installed by the binary.
type Apply = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// The levels set so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerLevel {
    /// Kafka Connect's upper-case name (`INFO`).
    pub level: String,
    /// Epoch milliseconds of the last change over REST, if any.
    pub last_modified: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log level '{0}'.")]
    InvalidLevel(String),
    #[error("Invalid logger name '{0}'.")]
    InvalidName(String),
    #[error("failed to apply the log levels: {0}")]
    Apply(String),
}

struct Inner {
    root: LoggerLevel,
    /// Target directives given at start (`RUST_LOG`) other than the root level.
    base: Vec<String>,
    loggers: BTreeMap<String, LoggerLevel>,
    apply: Option<Apply>,
}

/// The worker's log levels.
pub struct LogLevels {
    inner: Mutex<Inner>,
}

/// The process-wide levels; until [`install`] is called changes are recorded but applied to no
/// subscriber.
pub fn levels() -> &'static LogLevels {
    static LEVELS: OnceLock<LogLevels> = OnceLock::new();
    LEVELS.get_or_init(|| LogLevels {
        inner: Mutex::new(Inner {
            root: LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            },
            base: Vec::new(),
            loggers: BTreeMap::new(),
            apply: None,
        }),
    })
}

/// Installs the subscriber's reload function and the directives it started with (e.g.
/// `RUST_LOG`): a bare level is the root level, the rest are kept as they are.
pub fn install(
    directives: &str,
    apply: impl Fn(EnvFilter) -> Result<(), String> + Send + Sync + 'static,
) {
    let mut inner = levels().inner.lock().expect("log levels lock poisoned");
    inner.base.clear();
    for directive in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        match kafka_level(directive) {
            Some(level) if !directive.contains('=') => inner.root.level = level.to_owned(),
            _ => inner.base.push(directive.to_owned()),
        }
    }
    inner.apply = Some(Box::new(apply));
}

/// Kafka Connect's name for a level, case-insensitively.
fn kafka_level(level: &str) -> Option<&'static str> {
    const LEVELS: [&str; 8] = [
        "OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL",
    ];
    LEVELS
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(level.trim()))
}

/// The `tracing` directive level of a Kafka Connect level.
fn tracing_level(level: &str) -> &'static str {
    match level {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        _ => "trace",
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Whether `logger` is `namespace` or below it (`a::b` and `a.b` are below `a`).
fn is_within(logger: &str, namespace: &str) -> bool {
    logger == namespace
        || logger
            .strip_prefix(namespace)
            .is_some_and(|rest| rest.starts_with("::") || rest.starts_with('.'))
}

impl Inner {
    fn directives(&self) -> String {
        let mut directives = vec![tracing_level(&self.root.level).to_owned()];
        directives.extend(self.base.iter().cloned());
        directives.extend(
            self.loggers
                .iter()
                .map(|(name, level)| format!("{name}={}", tracing_level(&level.level))),
        );
        directives.join(",")
    }
}

impl LogLevels {
    /// `root` and every logger with a level set over REST.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        let inner = self.inner.lock().expect("log levels lock poisoned");
        let mut all = inner.loggers.clone();
        all.insert("root".into(), inner.root.clone());
        all
    }

    /// A logger's level: its own, else that of its nearest ancestor set over REST, else the
    /// root's (with no modification time).
    pub fn get(&self, logger: &str) -> LoggerLevel {
        let inner = self.inner.lock().expect("log levels lock poisoned");
        if logger == "root" {
            return inner.root.clone();
        }
        if let Some(level) = inner.loggers.get(logger) {
            return level.clone();
        }
        let inherited = inner
            .loggers
            .iter()
            .filter(|(name, _)| is_within(logger, name))
            .max_by_key(|(name, _)| name.len())
            .map_or(&inner.root, |(_, level)| level);
        LoggerLevel {
            level: inherited.level.clone(),
            last_modified: None,
        }
    }

    /// Sets `namespace` (and every logger below it) to `level` and applies it; returns the
    /// loggers affected, sorted.
    pub fn set(&self, namespace: &str, level: &str) -> Result<Vec<String>, LoggingError> {
        let level = kafka_level(level).ok_or_else(|| LoggingError::InvalidLevel(level.into()))?;
        if namespace.is_empty()
            || namespace
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || ",=[]{}\"".contains(c))
        {
            return Err(LoggingError::InvalidName(namespace.into()));
        }
        let mut inner = self.inner.lock().expect("log levels lock poisoned");
        let mut updated = Inner {
            root: inner.root.clone(),
            base: inner.base.clone(),
            loggers: inner.loggers.clone(),
            apply: None,
        };
        let set = LoggerLevel {
            level: level.to_owned(),
            last_modified: Some(now_millis()),
        };
        let mut affected = Vec::new();
        if namespace == "root" {
            updated.root = set.clone();
            affected.push("root".to_owned());
            for (name, logger) in &mut updated.loggers {
                *logger = set.clone();
                affected.push(name.clone());
            }
        } else {
            for (name, logger) in &mut updated.loggers {
                if is_within(name, namespace) {
                    *logger = set.clone();
                    affected.push(name.clone());
                }
            }
            if !updated.loggers.contains_key(namespace) {
                updated.loggers.insert(namespace.to_owned(), set);
                affected.push(namespace.to_owned());
            }
        }
        let filter = EnvFilter::try_new(updated.directives())
            .map_err(|error| LoggingError::InvalidName(format!("{namespace}: {error}")))?;
        if let Some(apply) = &inner.apply {
            apply(filter).map_err(LoggingError::Apply)?;
        }
        inner.root = updated.root;
        inner.loggers = updated.loggers;
        affected.sort();
        Ok(affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_levels() {
        assert!(is_within("a::b", "a"));
        assert!(is_within("a.b", "a"));
        assert!(!is_within("ab", "a"));
        assert_eq!(kafka_level("debug"), Some("DEBUG"));
        assert_eq!(kafka_level("verbose"), None);
        let inner = Inner {
            root: LoggerLevel {
                level: "WARN".into(),
                last_modified: None,
            },
            base: vec!["hyper=off".into()],
            loggers: BTreeMap::from([(
                "connector".to_owned(),
                LoggerLevel {
                    level: "FATAL".into(),
                    last_modified: None,
                },
            )]),
            apply: None,
        };
        assert_eq!(inner.directives(), "warn,hyper=off,connector=error");
    }
}
