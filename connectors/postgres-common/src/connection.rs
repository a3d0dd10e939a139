//! The connection settings and the blocking client. Components are synchronous, so each
//! [`Pg`] owns a single-threaded tokio runtime that drives tokio-postgres's connection while
//! a call waits for its result.

use std::time::Duration;

use tokio_guest as tokio;
use tokio_postgres::config::Host;
use wasm_connect_sdk::config::{ConfigKey, ConfigType, ConfigValue, Importance, Validator, Width};
use wasm_connect_sdk::{Config, ConfigDef, Error, host};

pub const URL: &str = "connection.url";
pub const USER: &str = "connection.user";
pub const PASSWORD: &str = "connection.password";
pub const CONNECT_TIMEOUT_MS: &str = "connection.timeout.ms";
const GROUP: &str = "Database";

/// Defines the connection settings in `def`.
pub fn define(def: ConfigDef) -> ConfigDef {
    def.define(
        ConfigKey::new(URL, ConfigType::String)
            .importance(Importance::High)
            .validator(Validator::NonEmptyString)
            .group(GROUP, 1)
            .width(Width::Long)
            .display_name("JDBC URL")
            .documentation(
                "The database: `jdbc:postgresql://host:port/database` as for Confluent's JDBC \
                 connectors, or `postgresql://host:port/database`. Query parameters such as \
                 `user`, `password` and `application_name` are honoured. The worker must allow \
                 host:port in the connector's sandbox.tcp.allow.",
            ),
    )
    .define(
        ConfigKey::new(USER, ConfigType::String)
            .default_value("")
            .importance(Importance::High)
            .group(GROUP, 2)
            .display_name("JDBC User")
            .documentation("The database user (overrides a `user` in the URL)."),
    )
    .define(
        ConfigKey::new(PASSWORD, ConfigType::Password)
            .default_value("")
            .importance(Importance::High)
            .group(GROUP, 3)
            .display_name("JDBC Password")
            .documentation(
                "The user's password (overrides a `password` in the URL). Use a secret \
                 reference, e.g. `${secret:db-password}`, rather than the password itself.",
            ),
    )
    .define(
        ConfigKey::new(CONNECT_TIMEOUT_MS, ConfigType::Long)
            .default_value(10_000)
            .validator(Validator::at_least(1.0))
            .importance(Importance::Low)
            .group(GROUP, 4)
            .documentation("How long connecting, including authentication, may take."),
    )
}

/// Where and as whom to connect.
#[derive(Clone)]
pub struct ConnectionSettings {
    config: tokio_postgres::Config,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("ConnectionSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl ConnectionSettings {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let url = config.get_str(URL)?.trim();
        let url = url.strip_prefix("jdbc:").unwrap_or(url);
        if !url.starts_with("postgresql://") && !url.starts_with("postgres://") {
            return Err(Error::invalid_config(format!(
                "{URL} must be jdbc:postgresql://host:port/database (got a URL of another kind)"
            )));
        }
        let mut pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| Error::invalid_config(format!("{URL} is not a PostgreSQL URL: {e}")))?;
        let user = config.get_str_or(USER, "");
        if !user.is_empty() {
            pg.user(user);
        }
        let password = config.get_str_or(PASSWORD, "");
        if !password.is_empty() {
            pg.password(password);
        }
        if pg.get_user().is_none() {
            return Err(Error::invalid_config(format!(
                "no database user: set {USER} (or `user` in {URL})"
            )));
        }
        let host = match pg.get_hosts() {
            [Host::Tcp(host)] => host.clone(),
            [] => {
                return Err(Error::invalid_config(format!("{URL} names no host")));
            }
            [Host::Tcp(_), ..] => {
                return Err(Error::invalid_config(format!(
                    "{URL} names several hosts; give exactly one"
                )));
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::invalid_config(format!(
                    "{URL}: connectors reach the database over TCP only (no Unix sockets)"
                )));
            }
        };
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        if pg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(Error::invalid_config(format!(
                "{URL}: sslmode=require is not supported yet (TLS would run inside the \
                 component); use sslmode=disable or prefer on a trusted network"
            )));
        }
        let timeout = Duration::from_millis(
            u64::try_from(config.get_long_or(CONNECT_TIMEOUT_MS, 10_000)?.max(1)).unwrap_or(1),
        );
        let database = pg
            .get_dbname()
            .map(str::to_owned)
            .or_else(|| pg.get_user().map(str::to_owned))
            .unwrap_or_default();
        pg.application_name("wasm-connect");
        Ok(Self {
            config: pg,
            host,
            port,
            database,
            timeout,
        })
    }
}

/// Why connecting failed, by the setting to blame.
#[derive(Debug)]
pub enum ConnectError {
    /// The host, port or database (`connection.url`), or the sandbox refused the destination.
    Url(String),
    /// The user or password.
    Credentials(String),
}

impl ConnectError {
    pub fn message(&self) -> &str {
        match self {
            Self::Url(message) | Self::Credentials(message) => message,
        }
    }

    /// The setting to show the error on.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Url(_) => URL,
            Self::Credentials(_) => PASSWORD,
        }
    }
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Self {
        match error {
            // The network or the server may come back; a refused destination will not, but
            // the host's denial is logged and the task fails after its retries.
            ConnectError::Url(message) if !message.contains("sandbox.tcp") => {
                Error::retriable(message)
            }
            other => Error::fatal(other.message().to_owned()),
        }
    }
}

/// A connection, blocking.
pub struct Pg {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    /// Connects: the host resolves the name (only if `sandbox.tcp.allow` lists it), then the
    /// first address that answers is used.
    pub fn connect(settings: &ConnectionSettings) -> Result<Self, ConnectError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConnectError::Url(format!("cannot start the I/O runtime: {e}")))?;
        let addresses = host::resolve_tcp(&settings.host, settings.port)
            .map_err(|e| ConnectError::Url(format!("{}:{}: {e}", settings.host, settings.port)))?;
        let client = runtime.block_on(async {
            let mut last = None;
            for address in &addresses {
                let stream = match tokio::time::timeout(
                    settings.timeout,
                    tokio::net::TcpStream::connect(address),
                )
                .await
                {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        last = Some(format!("cannot connect to {address}: {error}"));
                        continue;
                    }
                    Err(_) => {
                        last = Some(format!(
                            "connecting to {address} took longer than {} ms",
                            settings.timeout.as_millis()
                        ));
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let handshake = settings.config.connect_raw(stream, tokio_postgres::NoTls);
                return match tokio::time::timeout(settings.timeout, handshake).await {
                    Ok(Ok((client, connection))) => {
                        tokio::spawn(async move {
                            if let Err(error) = connection.await {
                                host::warn(&format!("database connection closed: {error}"));
                            }
                        });
                        Ok(client)
                    }
                    Ok(Err(error)) => Err(classify(&error, settings)),
                    Err(_) => Err(ConnectError::Url(format!(
                        "the server at {address} did not complete the handshake within {} ms",
                        settings.timeout.as_millis()
                    ))),
                };
            }
            Err(ConnectError::Url(format!(
                "{}:{}: {}",
                settings.host,
                settings.port,
                last.unwrap_or_else(|| "no address".into())
            )))
        })?;
        Ok(Self { runtime, client })
    }

    /// Runs `future` (which uses [`Pg::client`]) to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }

    pub fn client_mut(&mut self) -> (&tokio::runtime::Runtime, &mut tokio_postgres::Client) {
        (&self.runtime, &mut self.client)
    }

    /// Whether the connection is gone (the next call would fail).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// Adds `message` to the errors of setting `key` in a `validate` answer.
pub fn add_error(values: &mut [ConfigValue], key: &str, message: String) {
    if let Some(value) = values.iter_mut().find(|value| value.name == key) {
        value.errors.push(message);
    }
}

/// For `validate`: connects, and on failure adds the error to the setting to blame
/// (`connection.url` or `connection.password`). The connection, when it worked.
pub fn check_connection(values: &mut [ConfigValue], settings: &ConnectionSettings) -> Option<Pg> {
    match Pg::connect(settings) {
        Ok(pg) => Some(pg),
        Err(error) => {
            add_error(values, error.key(), error.message().to_owned());
            None
        }
    }
}

fn classify(error: &tokio_postgres::Error, settings: &ConnectionSettings) -> ConnectError {
    use tokio_postgres::error::SqlState;
    let message = describe(error);
    match error.code() {
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            ConnectError::Credentials(message)
        }
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => ConnectError::Url(format!(
            "database `{}` does not exist: {message}",
            settings.database
        )),
        _ => ConnectError::Url(message),
    }
}

/// An error with the server's message and detail, when it sent one.
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut message = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                message.push_str(&format!(" ({detail})"));
            }
            message.push_str(&format!(" [SQLSTATE {}]", db.code().code()));
            message
        }
        None => error.to_string(),
    }
}

/// A database error as a task error: lost connections and serialization failures are
/// retriable, the rest fatal.
pub fn task_error(context: &str, error: &tokio_postgres::Error) -> Error {
    use tokio_postgres::error::SqlState;
    let message = format!("{context}: {}", describe(error));
    let retriable = error.is_closed()
        || error.as_db_error().is_none()
        || error.code().is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || code.code().starts_with("08")
        });
    if retriable {
        Error::retriable(message)
    } else {
        Error::fatal(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_urls_and_overrides_are_read() {
        let settings = ConnectionSettings::from_config(&Config::from_pairs([
            (URL, "jdbc:postgresql://db.example.com:6543/shop?user=u"),
            (PASSWORD, "secret"),
        ]))
        .unwrap();
        assert_eq!(settings.host, "db.example.com");
        assert_eq!(settings.port, 6543);
        assert_eq!(settings.database, "shop");
        assert!(!format!("{settings:?}").contains("secret"));
        let error = ConnectionSettings::from_config(&Config::from_pairs([(
            URL,
            "jdbc:mysql://db:3306/shop",
        )]))
        .unwrap_err();
        assert!(error.to_string().contains("jdbc:postgresql"), "{error}");
        let error =
            ConnectionSettings::from_config(&Config::from_pairs([(URL, "postgresql://db/shop")]))
                .unwrap_err();
        assert!(error.to_string().contains(USER), "{error}");
    }
}
