//! The egress policy of a connector's outgoing HTTP (`sandbox.http.*`): the allow-list of
//! `scheme://host:port` rules with `*` wildcards, the special-purpose address ranges the
//! worker keeps connectors away from unless it allows private networks, the per-phase timeout
//! and response cap, and whom HTTPS servers must be certified by. Plain data and pure
//! checks; `runtime::http` enforces it when it sends a guest's request.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
    time::Duration,
};

/// Default per-phase timeout (connect, first byte, between bytes) of a connector's requests.
pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 30_000;
/// Default cap on one response body.
pub const DEFAULT_HTTP_RESPONSE_MAX_BYTES: u64 = 64 << 20;
/// Default `sandbox.http.concurrent.requests`: connections one task may have open at once.
pub const DEFAULT_HTTP_CONCURRENT_REQUESTS: usize = 16;
/// Default `sandbox.max.http.concurrent.requests`.
pub const DEFAULT_MAX_HTTP_CONCURRENT_REQUESTS: usize = 64;

/// The TLS client configuration HTTPS requests use: which certificate authorities servers
/// must be certified by. Cheap to clone; equal when it is the same configuration.
#[derive(Clone)]
pub struct TlsTrust(Arc<tokio_rustls::rustls::ClientConfig>);

impl TlsTrust {
    /// Mozilla's roots plus every certificate in the PEM file at `path`.
    pub fn with_ca_file(path: &std::path::Path) -> Result<Self, String> {
        use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
        let mut roots = webpki_roots_store();
        let mut added = 0;
        for cert in
            CertificateDer::pem_file_iter(path).map_err(|e| format!("cannot read it: {e}"))?
        {
            let cert = cert.map_err(|e| format!("not a PEM certificate file: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a certificate in it is unusable as a trust anchor: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(
                "it holds no certificate (expected `-----BEGIN CERTIFICATE-----` blocks)".into(),
            );
        }
        Ok(Self(client_config(roots)))
    }

    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.0.clone())
    }
}

impl Default for TlsTrust {
    /// Mozilla's roots (webpki-roots), one configuration for the process.
    fn default() -> Self {
        static DEFAULT: std::sync::OnceLock<TlsTrust> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| Self(client_config(webpki_roots_store())))
            .clone()
    }
}

impl PartialEq for TlsTrust {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsTrust {}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTrust").finish_non_exhaustive()
    }
}

fn webpki_roots_store() -> tokio_rustls::rustls::RootCertStore {
    tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    }
}

fn client_config(
    roots: tokio_rustls::rustls::RootCertStore,
) -> Arc<tokio_rustls::rustls::ClientConfig> {
    Arc::new(
        tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|builder| {
            builder
                .with_root_certificates(roots.clone())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| {
            tokio_rustls::rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        }),
    )
}

/// A URL scheme the allow-list may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpScheme {
    Http,
    Https,
}

impl HttpScheme {
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// One entry of `sandbox.http.allow`: `scheme://host:port`.
///
/// `host` is a DNS name, an IPv4 address or a bracketed IPv6 address. `*` as the whole host
/// matches any host; a leading `*.` matches one or more labels (`*.example.com` matches
/// `api.example.com` and `a.b.example.com`, not `example.com`); `*` as any other label matches
/// exactly one label. The port is a number or `*`; without one the scheme's default port
/// (80, 443) is meant. Names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    pub scheme: HttpScheme,
    /// Lowercase labels; IPv6 addresses are one label in brackets.
    host: Vec<String>,
    /// None = any port.
    pub port: Option<u16>,
}

impl AllowRule {
    /// Parses one rule; the error says what is wrong.
    pub fn parse(rule: &str) -> Result<Self, String> {
        let rule = rule.trim();
        let (scheme, rest) = rule
            .split_once("://")
            .ok_or_else(|| format!("`{rule}` has no scheme (expected scheme://host:port)"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => HttpScheme::Http,
            "https" => HttpScheme::Https,
            other => return Err(format!("`{rule}`: scheme `{other}` is not http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "`{rule}` must be only scheme://host:port (no path, query or user)"
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (address, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("`{rule}`: unclosed `[` in the host"))?;
            let address: Ipv6Addr = address
                .parse()
                .map_err(|_| format!("`{rule}`: `{address}` is not an IPv6 address"))?;
            let port =
                match after {
                    "" => None,
                    after => Some(after.strip_prefix(':').ok_or_else(|| {
                        format!("`{rule}`: expected `:port` after the IPv6 address")
                    })?),
                };
            (format!("[{address}]"), port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (rest.to_owned(), None),
            }
        };
        let port = match port {
            None => Some(scheme.default_port()),
            Some("*") => None,
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|&port| port > 0)
                    .ok_or_else(|| format!("`{rule}`: port `{port}` is not 1-65535 or `*`"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("`{rule}` has no host"));
        }
        let labels: Vec<String> = if host.starts_with('[') {
            vec![host]
        } else {
            host.split('.').map(str::to_owned).collect()
        };
        for label in &labels {
            let valid = label == "*"
                || label.starts_with('[')
                || (!label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
            if !valid {
                return Err(format!("`{rule}`: `{label}` is not a valid host label"));
            }
        }
        Ok(Self {
            scheme,
            host: labels,
            port,
        })
    }

    /// Whether a request to `scheme://host:port` matches this rule. `host` as in a URL
    /// (IPv6 in brackets).
    pub fn matches(&self, scheme: HttpScheme, host: &str, port: u16) -> bool {
        if scheme != self.scheme || self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = canonical_host(host);
        if self.host.len() == 1 && self.host[0] == "*" {
            return true;
        }
        if host.starts_with('[') {
            return self.host.len() == 1 && self.host[0] == host;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let pattern = &self.host;
        if pattern[0] == "*" && pattern.len() > 1 {
            // Leading `*.`: one or more labels, then the rest exactly.
            let suffix = &pattern[1..];
            if labels.len() <= suffix.len() {
                return false;
            }
            let tail = &labels[labels.len() - suffix.len()..];
            return labels_match(suffix, tail);
        }
        pattern.len() == labels.len() && labels_match(pattern, &labels)
    }
}

impl std::fmt::Display for AllowRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.scheme {
            HttpScheme::Http => "http",
            HttpScheme::Https => "https",
        };
        write!(f, "{scheme}://{}:", self.host.join("."))?;
        match self.port {
            Some(port) => write!(f, "{port}"),
            None => f.write_str("*"),
        }
    }
}

impl AllowRule {
    /// Whether every request this rule lets through `ceiling` lets through too (for a
    /// tenant's egress ceiling): the same scheme, a port the ceiling allows, and a host
    /// pattern the ceiling's covers.
    pub fn within(&self, ceiling: &AllowRule) -> bool {
        if self.scheme != ceiling.scheme {
            return false;
        }
        match (self.port, ceiling.port) {
            (_, None) => {}
            (Some(port), Some(allowed)) if port == allowed => {}
            _ => return false,
        }
        let (rule, outer) = (&self.host, &ceiling.host);
        if outer.len() == 1 && outer[0] == "*" {
            return true;
        }
        if rule == outer {
            return true;
        }
        // A label of the rule is covered by the ceiling's label if they are equal or the
        // ceiling's is `*` (a rule's `*` only by a `*`).
        let covered = |outer: &[String], rule: &[String]| {
            outer.iter().zip(rule).all(|(o, r)| o == "*" || o == r)
        };
        if outer[0] == "*" && outer.len() > 1 {
            let suffix = &outer[1..];
            return rule.len() > suffix.len()
                && covered(suffix, &rule[rule.len() - suffix.len()..]);
        }
        // A fixed-length ceiling cannot cover a rule's leading `*.` (any number of labels).
        if rule[0] == "*" && rule.len() > 1 {
            return false;
        }
        outer.len() == rule.len() && covered(outer, rule)
    }
}

fn labels_match(pattern: &[String], labels: &[&str]) -> bool {
    pattern.iter().zip(labels).all(|(p, l)| p == "*" || p == l)
}

/// A host as compared with rules: lowercase, without a trailing dot, IPv6 in canonical
/// bracketed form.
fn canonical_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
        && let Ok(address) = inner.parse::<Ipv6Addr>()
    {
        return format!("[{address}]");
    }
    host
}

/// Parses a comma-separated allow-list.
pub fn parse_allow_list(rules: &[String]) -> Result<Vec<AllowRule>, String> {
    rules.iter().map(|rule| AllowRule::parse(rule)).collect()
}

/// What one connector's instances may reach over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    /// `sandbox.http.allow`.
    pub allow: Vec<AllowRule>,
    /// The worker's `sandbox.http.allow.private.networks`.
    pub allow_private_networks: bool,
    /// Cap on each of connect, first byte and between bytes (the guest may ask for less).
    pub timeout: Duration,
    /// Cap on one response body, in bytes.
    pub max_response_bytes: u64,
    /// Connections one instance may have open at once (`sandbox.http.concurrent.requests`).
    pub concurrent_requests: usize,
    /// Whom HTTPS servers must be certified by.
    pub tls: TlsTrust,
}

impl EgressPolicy {
    /// Whether the URL is on the allow-list.
    pub fn allows_url(&self, scheme: HttpScheme, host: &str, port: u16) -> bool {
        self.allow
            .iter()
            .any(|rule| rule.matches(scheme, host, port))
    }

    /// Why `ip` may not be dialled, or None if it may.
    pub fn denies_ip(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private_networks {
            // Even then, never dial the unspecified address, multicast or broadcast.
            return match special_range(ip) {
                Some(reason @ ("unspecified" | "multicast" | "broadcast")) => Some(reason),
                _ => None,
            };
        }
        special_range(ip)
    }
}

/// The special-purpose range `ip` is in (not globally routable unicast), or None.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 32, "unspecified"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([0, 0, 0, 0], 8, "this network"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([10, 0, 0, 0], 8, "private"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 168, 0, 0], 16, "private"),
        ([100, 64, 0, 0], 10, "shared address space (CGNAT)"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, reason)| *reason)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
        ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64 (local use)"),
        // Deprecated IPv4-compatible addresses and the rest of ::/8.
        ([0, 0, 0, 0, 0, 0, 0, 0], 8, "reserved"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48, "benchmarking"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "IETF protocol assignments",
        ),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local (private)"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, reason)| *reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_within_a_ceiling_only_if_everything_it_allows_the_ceiling_does() {
        let rule = |r: &str| AllowRule::parse(r).unwrap();
        let within = |r: &str, c: &str| rule(r).within(&rule(c));
        assert!(within("https://api.acme.com", "https://*.acme.com"));
        assert!(within("https://*.api.acme.com", "https://*.acme.com"));
        assert!(within("https://*.acme.com", "https://*.acme.com"));
        assert!(within("https://api.acme.com:8443", "https://*.acme.com:*"));
        assert!(within("https://anything.example", "https://*:*"));
        assert!(within("https://api.eu.acme.com", "https://api.*.acme.com"));
        assert!(!within("https://acme.com", "https://*.acme.com"));
        assert!(!within("http://api.acme.com", "https://*.acme.com"));
        assert!(!within("https://api.acme.com:*", "https://*.acme.com"));
        assert!(!within("https://api.acme.com:8443", "https://*.acme.com"));
        assert!(!within("https://*.com", "https://*.acme.com"));
        assert!(!within("https://*", "https://*.acme.com"));
        assert!(!within("https://*.eu.acme.com", "https://api.*.acme.com"));
        assert!(!within("https://api.globex.com", "https://*.acme.com"));
    }
}
