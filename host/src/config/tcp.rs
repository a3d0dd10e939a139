//! The egress policy of a connector's outgoing TCP (`sandbox.tcp.*`): the allow-list of
//! `host:port` destinations, the worker's switch and maxima, and the dial-time address check
//! it shares with HTTP egress. Plain data and pure checks; `runtime::tcp` enforces it when a
//! guest resolves a name or connects a `wasi:sockets` socket.

use std::{net::IpAddr, sync::Arc, time::Duration};

use super::{
    ConfigError, Settings, SettingsExt,
    egress::{AllowRule, HttpScheme, special_range},
};

/// Default `sandbox.tcp.connections`: connections one task may have open at once.
pub const DEFAULT_TCP_CONNECTIONS: usize = 4;
/// Default `sandbox.max.tcp.connections`.
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 16;
/// Default `sandbox.tcp.connect.timeout.ms`.
pub const DEFAULT_TCP_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// Default `sandbox.tcp.idle.timeout.ms`: 10 minutes.
pub const DEFAULT_TCP_IDLE_TIMEOUT_MS: u64 = 600_000;

/// One entry of `sandbox.tcp.allow`: `host:port`. The host is a DNS name, an IPv4 address or a
/// bracketed IPv6 address, with the same `*` wildcards as `sandbox.http.allow`; the port is
/// required (a number or `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRule(AllowRule);

impl TcpRule {
    /// Parses one rule; the error says what is wrong.
    pub fn parse(rule: &str) -> Result<Self, String> {
        let rule = rule.trim();
        if rule.contains("://") {
            return Err(format!(
                "`{rule}` has a scheme; TCP destinations are host:port (e.g. db.example.com:5432)"
            ));
        }
        let has_port = match rule.strip_prefix('[') {
            Some(v6) => v6
                .split_once(']')
                .is_some_and(|(_, after)| !after.is_empty()),
            None => rule.contains(':'),
        };
        if !has_port {
            return Err(format!(
                "`{rule}` has no port (expected host:port, e.g. db.example.com:5432)"
            ));
        }
        // The host and port grammar is HTTP's; the scheme is only a carrier.
        AllowRule::parse(&format!("http://{rule}"))
            .map(Self)
            .map_err(|reason| reason.replacen("http://", "", 1))
    }

    /// Whether a connection to `host:port` matches this rule (`host` as in a URL: IPv6 in
    /// brackets).
    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.0.matches(HttpScheme::Http, host, port)
    }

    /// Whether everything this rule allows `ceiling` allows too (a tenant's TCP ceiling).
    pub fn within(&self, ceiling: &TcpRule) -> bool {
        self.0.within(&ceiling.0)
    }
}

impl std::fmt::Display for TcpRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = self.0.to_string();
        f.write_str(rule.strip_prefix("http://").unwrap_or(&rule))
    }
}

/// Parses a list of `host:port` rules.
pub fn parse_tcp_allow_list(rules: &[String]) -> Result<Vec<TcpRule>, String> {
    rules.iter().map(|rule| TcpRule::parse(rule)).collect()
}

/// What one connector's instances may reach over TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPolicy {
    /// `sandbox.tcp.allow`.
    pub allow: Vec<TcpRule>,
    /// The worker's `sandbox.tcp.allow.private.networks`.
    pub allow_private_networks: bool,
    /// Connections one instance may have open at once (`sandbox.tcp.connections`).
    pub connections: usize,
    /// The worker's `sandbox.tcp.connect.timeout.ms`: for the host's name lookups, and a
    /// connect not finished by then fails.
    pub connect_timeout: Duration,
    /// The worker's `sandbox.tcp.idle.timeout.ms`: a connection with no byte sent or
    /// received for this long is closed.
    pub idle_timeout: Duration,
}

impl TcpPolicy {
    /// Whether `host:port` is on the allow-list.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.allow.iter().any(|rule| rule.matches(host, port))
    }

    /// Why `ip` may not be dialled, or None if it may.
    pub fn denies_ip(&self, ip: IpAddr) -> Option<&'static str> {
        let range = special_range(ip);
        if self.allow_private_networks {
            return range
                .filter(|reason| matches!(*reason, "unspecified" | "multicast" | "broadcast"));
        }
        range
    }
}

/// The operator's TCP policy for every connector of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpWorkerPolicy {
    /// `sandbox.tcp.enabled` (default true): false rejects every connector that sets
    /// `sandbox.tcp.allow`.
    pub enabled: bool,
    /// `sandbox.tcp.allow.private.networks` (default false): whether connectors may dial
    /// loopback, private, link-local, CGNAT and other special-purpose addresses (a database
    /// on the same network usually needs it).
    pub allow_private_networks: bool,
    /// `sandbox.max.tcp.connections` (default 16): the most a connector's
    /// `sandbox.tcp.connections` (per task) may be.
    pub max_connections: usize,
    /// `sandbox.tcp.connect.timeout.ms` (default 10000).
    pub connect_timeout: Duration,
    /// `sandbox.tcp.idle.timeout.ms` (default 600000).
    pub idle_timeout: Duration,
}

impl Default for TcpWorkerPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private_networks: false,
            max_connections: DEFAULT_MAX_TCP_CONNECTIONS,
            connect_timeout: Duration::from_millis(DEFAULT_TCP_CONNECT_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(DEFAULT_TCP_IDLE_TIMEOUT_MS),
        }
    }
}

impl TcpWorkerPolicy {
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        let positive = |key: &'static str, default: u64, expected: &'static str| {
            let value: u64 = raw.parse_or(key, default, expected)?;
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: "0".into(),
                    expected,
                });
            }
            Ok(value)
        };
        let max_connections = positive(
            "sandbox.max.tcp.connections",
            DEFAULT_MAX_TCP_CONNECTIONS as u64,
            "a positive number of connections",
        )?;
        Ok(Self {
            enabled: raw.bool_or("sandbox.tcp.enabled", true)?,
            allow_private_networks: raw.bool_or("sandbox.tcp.allow.private.networks", false)?,
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            connect_timeout: Duration::from_millis(positive(
                "sandbox.tcp.connect.timeout.ms",
                DEFAULT_TCP_CONNECT_TIMEOUT_MS,
                "a positive number of milliseconds",
            )?),
            idle_timeout: Duration::from_millis(positive(
                "sandbox.tcp.idle.timeout.ms",
                DEFAULT_TCP_IDLE_TIMEOUT_MS,
                "a positive number of milliseconds",
            )?),
        })
    }
}

/// Reads a connector's `sandbox.tcp.allow` (comma-separated `host:port`) and
/// `sandbox.tcp.connections` within the worker's policy. No allow-list = no TCP at all.
pub fn tcp_policy(
    settings: &Settings,
    worker: &TcpWorkerPolicy,
) -> Result<Option<Arc<TcpPolicy>>, ConfigError> {
    let connections: usize = settings.parse_or(
        "sandbox.tcp.connections",
        worker.max_connections.min(DEFAULT_TCP_CONNECTIONS),
        "a positive number of connections",
    )?;
    if connections == 0 {
        return Err(ConfigError::Invalid {
            key: "sandbox.tcp.connections".into(),
            value: "0".into(),
            expected: "a positive number of connections",
        });
    }
    if connections > worker.max_connections {
        return Err(ConfigError::AboveMaximum {
            key: "sandbox.tcp.connections",
            value: connections.to_string(),
            maximum: worker.max_connections as u64,
            max_key: "sandbox.max.tcp.connections",
        });
    }
    let rules = settings.list("sandbox.tcp.allow");
    if rules.is_empty() {
        return Ok(None);
    }
    if !worker.enabled {
        return Err(ConfigError::Other(
            "sandbox.tcp.allow is set, but this worker forbids TCP for connectors \
             (sandbox.tcp.enabled=false)"
                .into(),
        ));
    }
    let allow = parse_tcp_allow_list(&rules).map_err(|reason| {
        ConfigError::Other(format!(
            "invalid sandbox.tcp.allow: {reason}; expected comma-separated host:port \
             destinations (`*` for any port or host label)"
        ))
    })?;
    Ok(Some(Arc::new(TcpPolicy {
        allow,
        allow_private_networks: worker.allow_private_networks,
        connections,
        connect_timeout: worker.connect_timeout,
        idle_timeout: worker.idle_timeout,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rules_need_a_port_and_no_scheme_and_match_like_http_rules() {
        let rule = TcpRule::parse("db.example.com:5432").unwrap();
        assert!(rule.matches("db.example.com", 5432));
        assert!(rule.matches("DB.example.com.", 5432));
        assert!(!rule.matches("db.example.com", 5433));
        assert!(!rule.matches("other.example.com", 5432));
        assert_eq!(rule.to_string(), "db.example.com:5432");
        assert!(
            TcpRule::parse("*.example.com:*")
                .unwrap()
                .matches("a.b.example.com", 1)
        );
        assert!(TcpRule::parse("[::1]:5432").unwrap().matches("[::1]", 5432));
        let error = TcpRule::parse("db.example.com").unwrap_err();
        assert!(error.contains("no port"), "{error}");
        let error = TcpRule::parse("postgres://db:5432").unwrap_err();
        assert!(error.contains("scheme"), "{error}");
        let error = TcpRule::parse("db:99999").unwrap_err();
        assert!(error.contains("99999"), "{error}");
    }

    #[test]
    fn tcp_is_denied_by_default_and_bounded_by_the_worker() {
        let worker = TcpWorkerPolicy::default();
        assert!(tcp_policy(&settings(&[]), &worker).unwrap().is_none());
        let policy = tcp_policy(&settings(&[("sandbox.tcp.allow", "db:5432")]), &worker)
            .unwrap()
            .unwrap();
        assert_eq!(policy.connections, DEFAULT_TCP_CONNECTIONS);
        assert_eq!(
            policy.denies_ip("127.0.0.1".parse().unwrap()),
            Some("loopback")
        );
        assert_eq!(
            policy.denies_ip("169.254.169.254".parse().unwrap()),
            Some("link-local")
        );
        assert_eq!(policy.denies_ip("8.8.8.8".parse().unwrap()), None);
        let error = tcp_policy(
            &settings(&[
                ("sandbox.tcp.allow", "db:5432"),
                ("sandbox.tcp.connections", "17"),
            ]),
            &worker,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("sandbox.max.tcp.connections"), "{error}");
        let off = TcpWorkerPolicy {
            enabled: false,
            ..TcpWorkerPolicy::default()
        };
        let error = tcp_policy(&settings(&[("sandbox.tcp.allow", "db:5432")]), &off)
            .unwrap_err()
            .to_string();
        assert!(error.contains("sandbox.tcp.enabled=false"), "{error}");
        let private = TcpWorkerPolicy {
            allow_private_networks: true,
            ..TcpWorkerPolicy::default()
        };
        let policy = tcp_policy(&settings(&[("sandbox.tcp.allow", "db:5432")]), &private)
            .unwrap()
            .unwrap();
        assert_eq!(policy.denies_ip("127.0.0.1".parse().unwrap()), None);
        assert_eq!(
            policy.denies_ip("0.0.0.0".parse().unwrap()),
            Some("unspecified")
        );
    }
}
