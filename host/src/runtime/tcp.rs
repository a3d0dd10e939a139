//! Outgoing TCP for guests: `wasi:sockets/tcp` under the connector's `sandbox.tcp.*` policy,
//! and the `network.resolve-tcp` import that resolves names for it. Deny by default: a
//! connector without `sandbox.tcp.allow` cannot even create a socket. With one, the guest
//! asks the host to resolve an allow-listed `host:port`; the host resolves it, drops the
//! addresses in ranges the worker forbids (loopback, private, link-local, metadata, ...) and
//! remembers the rest. A connect is allowed only to a remembered address or to an IP address
//! the allow-list names itself that passes the same range check, so the guest connects to
//! exactly the address the host checked. No listening, no UDP, no name lookups of the
//! guest's own. Each instance has at most `sandbox.tcp.connections` connections; bytes sent
//! and received are counted on the task's metrics; a connection idle for
//! `sandbox.tcp.idle.timeout.ms` is closed and a connect not finished within
//! `sandbox.tcp.connect.timeout.ms` fails.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use wasmtime::component::Resource;
use wasmtime_wasi::{
    p2::{
        SocketError, SocketResult, TcpSocket,
        bindings::sockets::{
            network::{self, ErrorCode, IpAddressFamily, IpSocketAddress, Network},
            tcp::{self, HostTcpSocket, ShutdownType},
        },
    },
    sockets::{SocketAddrUse, WasiSocketsCtxView},
};
use wasmtime_wasi_io::{
    poll::{DynPollable, Pollable},
    streams::{DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError},
};

use super::LogBudget;
use crate::config::tcp::TcpPolicy;

/// The most addresses one instance remembers from `resolve-tcp`; past it the oldest
/// resolutions are forgotten (the guest resolves again before it connects).
const MAX_RESOLVED_ADDRESSES: usize = 1024;

/// One instance's TCP grant: its policy, what it resolved, its open connections.
pub(crate) struct TcpGuard {
    policy: Arc<TcpPolicy>,
    connector: String,
    task: Option<u32>,
    log: Arc<LogBudget>,
    metrics: Option<Arc<crate::metrics::TaskMetrics>>,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    /// Addresses `resolve-tcp` returned, with their ports.
    resolved: HashSet<SocketAddr>,
    /// Sockets with a connect in progress, by resource id, and when it started.
    connecting: HashMap<u32, Instant>,
    /// Sockets holding an open connection, by resource id.
    open: HashSet<u32>,
}

/// Why a connect or a resolution was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TcpDenial {
    #[error("`{0}` is not on the connector's allow-list (sandbox.tcp.allow)")]
    NotAllowed(String),
    #[error(
        "{0} is in a range the worker does not allow ({1}; see sandbox.tcp.allow.private.networks)"
    )]
    Address(SocketAddr, &'static str),
    #[error("{0} was not resolved by the host first: resolve the name with network.resolve-tcp")]
    Unresolved(SocketAddr),
    #[error("TCP listening and binding are not allowed for connectors ({0})")]
    Listen(SocketAddr),
}

impl TcpDenial {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Address(..) => "denied_address",
            _ => "denied_allow_list",
        }
    }
}

impl TcpGuard {
    pub(crate) fn new(
        policy: Arc<TcpPolicy>,
        connector: String,
        task: Option<u32>,
        log: Arc<LogBudget>,
        metrics: Option<Arc<crate::metrics::TaskMetrics>>,
    ) -> Self {
        Self {
            policy,
            connector,
            task,
            log,
            metrics,
            state: Mutex::new(GuardState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GuardState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, outcome: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.guest.tcp_connect(outcome);
        }
    }

    fn warn(&self, destination: &str, denial: &TcpDenial) {
        self.count(denial.outcome());
        let message = denial.to_string();
        if self.log.admit(message.len() + destination.len()) {
            tracing::warn!(
                connector = %self.connector,
                task = self.task,
                destination = %crate::text::bounded(destination, 512),
                reason = %message,
                "TCP connection denied by the egress policy."
            );
        }
    }

    /// The `socket_addr_check` of the instance's `wasi:sockets`: only the implicit bind of a
    /// connect, and connects to addresses the host checked.
    pub(crate) fn check(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        let denial = match use_ {
            // The wildcard bind a connect performs first.
            SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => {
                return true;
            }
            SocketAddrUse::TcpConnect => match self.connect_denial(addr) {
                None => {
                    self.count("allowed");
                    return true;
                }
                Some(denial) => denial,
            },
            _ => TcpDenial::Listen(addr),
        };
        self.warn(&addr.to_string(), &denial);
        false
    }

    fn connect_denial(&self, addr: SocketAddr) -> Option<TcpDenial> {
        if let Some(reason) = self.policy.denies_ip(addr.ip()) {
            return Some(TcpDenial::Address(addr, reason));
        }
        if self.state().resolved.contains(&addr) {
            return None;
        }
        let literal = match addr.ip() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        if self.policy.allows(&literal, addr.port()) {
            return None;
        }
        Some(TcpDenial::Unresolved(addr))
    }

    /// `network.resolve-tcp`: the addresses of an allow-listed `host:port` that the worker
    /// lets the guest dial, remembered for its connects.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        let destination = format!("{host}:{port}");
        let host = host.trim_end_matches('.');
        let rule_host = match host.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => host.to_owned(),
        };
        if !self.policy.allows(&rule_host, port) {
            let denial = TcpDenial::NotAllowed(crate::text::bounded(&destination, 512));
            self.warn(&destination, &denial);
            return Err(denial.to_string());
        }
        let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let lookup = tokio::net::lookup_host((host, port));
                match tokio::time::timeout(self.policy.connect_timeout, lookup).await {
                    Ok(Ok(found)) => found.map(|addr| addr.ip()).collect(),
                    Ok(Err(error)) => return Err(format!("cannot resolve `{host}`: {error}")),
                    Err(_) => {
                        return Err(format!(
                            "resolving `{host}` took longer than {} ms \
                             (sandbox.tcp.connect.timeout.ms)",
                            self.policy.connect_timeout.as_millis()
                        ));
                    }
                }
            }
        };
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for ip in addresses {
            match self.policy.denies_ip(ip) {
                None if !allowed.contains(&ip) => allowed.push(ip),
                None => {}
                Some(reason) => refused.push(format!("{ip}: {reason}")),
            }
        }
        if allowed.is_empty() {
            let message = format!(
                "`{host}` resolves only to addresses the worker does not allow ({}; see \
                 sandbox.tcp.allow.private.networks)",
                if refused.is_empty() {
                    "none at all".to_owned()
                } else {
                    refused.join(", ")
                }
            );
            self.count("denied_address");
            if self.log.admit(message.len()) {
                tracing::warn!(connector = %self.connector, task = self.task, destination = %destination, reason = %message, "TCP connection denied by the egress policy.");
            }
            return Err(message);
        }
        let mut state = self.state();
        if state.resolved.len() + allowed.len() > MAX_RESOLVED_ADDRESSES {
            state.resolved.clear();
        }
        state
            .resolved
            .extend(allowed.iter().map(|ip| SocketAddr::new(*ip, port)));
        Ok(allowed)
    }
}

/// What the linker hands the `wasi:sockets/tcp` imports: wasmtime-wasi's implementation, and
/// this instance's guard around it.
pub(crate) struct GuardedTcp<'a> {
    pub(crate) sockets: WasiSocketsCtxView<'a>,
    pub(crate) guard: Option<Arc<TcpGuard>>,
}

/// The `HasData` marker for [`GuardedTcp`].
pub(crate) struct GuardedTcpData;

impl wasmtime::component::HasData for GuardedTcpData {
    type Data<'a> = GuardedTcp<'a>;
}

impl tcp::Host for GuardedTcp<'_> {}

impl network::HostNetwork for GuardedTcp<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.sockets, this)
    }
}

impl network::Host for GuardedTcp<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.sockets, error)
    }

    fn network_error_code(
        &mut self,
        error: Resource<wasmtime_wasi_io::streams::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.sockets, error)
    }
}

impl HostTcpSocket for GuardedTcp<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.sockets.start_bind(this, network, local_address).await
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        self.sockets.finish_bind(this)
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let id = this.rep();
        if let Some(guard) = &self.guard {
            let state = guard.state();
            if state.open.len() + state.connecting.len() >= guard.policy.connections {
                drop(state);
                guard.count("refused_connections");
                if guard.log.admit(64) {
                    tracing::warn!(
                        connector = %guard.connector,
                        task = guard.task,
                        limit = guard.policy.connections,
                        "TCP connection refused: the task already has sandbox.tcp.connections \
                         connections open."
                    );
                }
                return Err(ErrorCode::NewSocketLimit.into());
            }
        }
        self.sockets.start_connect(this, network, remote_address)?;
        if let Some(guard) = &self.guard {
            guard.state().connecting.insert(id, Instant::now());
        }
        Ok(())
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let id = this.rep();
        let Some(guard) = self.guard.clone() else {
            return self.sockets.finish_connect(this);
        };
        let this_again: Resource<TcpSocket> = Resource::new_borrow(id);
        match self.sockets.finish_connect(this) {
            Ok((input, output)) => {
                {
                    let mut state = guard.state();
                    state.connecting.remove(&id);
                    state.open.insert(id);
                }
                let activity = Arc::new(Activity::new());
                let input_stream = self.sockets.table.delete(input)?;
                let output_stream = self.sockets.table.delete(output)?;
                let input: DynInputStream = Box::new(CountedInput {
                    inner: input_stream,
                    guard: guard.clone(),
                    activity: activity.clone(),
                });
                let output: DynOutputStream = Box::new(CountedOutput {
                    inner: output_stream,
                    guard,
                    activity,
                });
                let input = self.sockets.table.push_child(input, &this_again)?;
                let output = self.sockets.table.push_child(output, &this_again)?;
                Ok((input, output))
            }
            Err(error) => {
                let mut state = guard.state();
                let would_block = matches!(error.downcast_ref(), Some(ErrorCode::WouldBlock));
                match state.connecting.get(&id) {
                    Some(started)
                        if would_block && started.elapsed() > guard.policy.connect_timeout =>
                    {
                        state.connecting.remove(&id);
                        Err(ErrorCode::Timeout.into())
                    }
                    _ => {
                        if !would_block {
                            state.connecting.remove(&id);
                        }
                        Err(error)
                    }
                }
            }
        }
    }

    async fn start_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        self.sockets.start_listen(this).await
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        self.sockets.finish_listen(this)
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        self.sockets.accept(this)
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        self.sockets.local_address(this)
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        self.sockets.remote_address(this)
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        self.sockets.is_listening(this)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        self.sockets.address_family(this)
    }

    fn set_listen_backlog_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        self.sockets.set_listen_backlog_size(this, value)
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool> {
        self.sockets.keep_alive_enabled(this)
    }

    fn set_keep_alive_enabled(
        &mut self,
        this: Resource<TcpSocket>,
        value: bool,
    ) -> SocketResult<()> {
        self.sockets.set_keep_alive_enabled(this, value)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        self.sockets.keep_alive_idle_time(this)
    }

    fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        self.sockets.set_keep_alive_idle_time(this, value)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        self.sockets.keep_alive_interval(this)
    }

    fn set_keep_alive_interval(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        self.sockets.set_keep_alive_interval(this, value)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32> {
        self.sockets.keep_alive_count(this)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        self.sockets.set_keep_alive_count(this, value)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8> {
        self.sockets.hop_limit(this)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        self.sockets.set_hop_limit(this, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        self.sockets.receive_buffer_size(this)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        self.sockets.set_receive_buffer_size(this, value)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        self.sockets.send_buffer_size(this)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        self.sockets.set_send_buffer_size(this, value)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        self.sockets.subscribe(this)
    }

    fn shutdown(
        &mut self,
        this: Resource<TcpSocket>,
        shutdown_type: ShutdownType,
    ) -> SocketResult<()> {
        self.sockets.shutdown(this, shutdown_type)
    }

    fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()> {
        let id = this.rep();
        HostTcpSocket::drop(&mut self.sockets, this)?;
        if let Some(guard) = &self.guard {
            let mut state = guard.state();
            state.open.remove(&id);
            state.connecting.remove(&id);
        }
        Ok(())
    }
}

/// When a connection last moved a byte, shared by its two streams.
struct Activity {
    start: Instant,
    /// Nanoseconds after `start`.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// How long until the connection has been idle for `idle`; zero once it has.
    fn remaining(&self, idle: Duration) -> Duration {
        let last = self.start + Duration::from_nanos(self.last.load(Ordering::Relaxed));
        (last + idle).saturating_duration_since(Instant::now())
    }
}

fn idle_error(guard: &TcpGuard) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::format_err!(
        "the connection was idle for longer than {} ms and was closed \
         (sandbox.tcp.idle.timeout.ms)",
        guard.policy.idle_timeout.as_millis()
    ))
}

/// A connection's receiving stream that counts bytes and closes when idle.
struct CountedInput {
    inner: DynInputStream,
    guard: Arc<TcpGuard>,
    activity: Arc<Activity>,
}

#[async_trait::async_trait]
impl InputStream for CountedInput {
    fn read(&mut self, size: usize) -> Result<Bytes, StreamError> {
        if self
            .activity
            .remaining(self.guard.policy.idle_timeout)
            .is_zero()
        {
            return Err(idle_error(&self.guard));
        }
        let bytes = self.inner.read(size)?;
        if !bytes.is_empty() {
            self.activity.touch();
            if let Some(metrics) = &self.guard.metrics {
                metrics.guest.tcp_received(bytes.len());
            }
        }
        Ok(bytes)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[async_trait::async_trait]
impl Pollable for CountedInput {
    async fn ready(&mut self) {
        let idle = self.activity.remaining(self.guard.policy.idle_timeout);
        // Past the idle timeout the next read fails at once.
        let _ = tokio::time::timeout(idle, self.inner.ready()).await;
    }
}

/// A connection's sending stream that counts bytes and closes when idle.
struct CountedOutput {
    inner: DynOutputStream,
    guard: Arc<TcpGuard>,
    activity: Arc<Activity>,
}

#[async_trait::async_trait]
impl OutputStream for CountedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if self
            .activity
            .remaining(self.guard.policy.idle_timeout)
            .is_zero()
        {
            return Err(idle_error(&self.guard));
        }
        let len = bytes.len();
        self.inner.write(bytes)?;
        if len > 0 {
            self.activity.touch();
            if let Some(metrics) = &self.guard.metrics {
                metrics.guest.tcp_sent(len);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        if self
            .activity
            .remaining(self.guard.policy.idle_timeout)
            .is_zero()
        {
            return Err(idle_error(&self.guard));
        }
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[async_trait::async_trait]
impl Pollable for CountedOutput {
    async fn ready(&mut self) {
        let idle = self.activity.remaining(self.guard.policy.idle_timeout);
        let _ = tokio::time::timeout(idle, self.inner.ready()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tcp::{TcpRule, TcpWorkerPolicy};

    fn guard(allow: &[&str], private: bool) -> TcpGuard {
        let worker = TcpWorkerPolicy::default();
        let policy = TcpPolicy {
            allow: allow.iter().map(|r| TcpRule::parse(r).unwrap()).collect(),
            allow_private_networks: private,
            connections: 2,
            connect_timeout: worker.connect_timeout,
            idle_timeout: worker.idle_timeout,
        };
        let log = Arc::new(LogBudget::new(String::from("c"), Some(0), 100, 1 << 20));
        TcpGuard::new(Arc::new(policy), "c".into(), Some(0), log, None)
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn connects_go_only_to_addresses_the_host_checked() {
        let guard = guard(&["localhost:5432", "192.0.2.10:5432"], true);
        // The implicit wildcard bind of a connect, and nothing else that binds or listens.
        assert!(guard.check(addr("0.0.0.0:0"), SocketAddrUse::TcpBind));
        assert!(!guard.check(addr("0.0.0.0:8080"), SocketAddrUse::TcpBind));
        assert!(!guard.check(addr("127.0.0.1:5432"), SocketAddrUse::TcpListen));
        assert!(!guard.check(addr("127.0.0.1:5432"), SocketAddrUse::UdpBind));
        // A name's addresses only once the host resolved it.
        assert!(!guard.check(addr("127.0.0.1:5432"), SocketAddrUse::TcpConnect));
        let found = guard.resolve("localhost", 5432).await.unwrap();
        assert!(found.iter().any(|ip| ip.is_loopback()), "{found:?}");
        assert!(guard.check(addr("127.0.0.1:5432"), SocketAddrUse::TcpConnect));
        // The resolution is for that port only.
        assert!(!guard.check(addr("127.0.0.1:5433"), SocketAddrUse::TcpConnect));
        // An address the allow-list names itself needs no resolution.
        assert!(guard.check(addr("192.0.2.10:5432"), SocketAddrUse::TcpConnect));
        // Names off the list are not resolved at all.
        let error = guard.resolve("example.com", 5432).await.unwrap_err();
        assert!(
            error.contains("not on the connector's allow-list"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn forbidden_ranges_are_refused_when_resolving_and_when_dialling() {
        let guard = guard(
            &["localhost:5432", "127.0.0.1:5432", "169.254.169.254:80"],
            false,
        );
        let error = guard.resolve("localhost", 5432).await.unwrap_err();
        assert!(error.contains("loopback"), "{error}");
        assert!(!guard.check(addr("127.0.0.1:5432"), SocketAddrUse::TcpConnect));
        assert!(!guard.check(addr("169.254.169.254:80"), SocketAddrUse::TcpConnect));
        assert_eq!(
            guard.connect_denial(addr("169.254.169.254:80")),
            Some(TcpDenial::Address(addr("169.254.169.254:80"), "link-local"))
        );
    }
}
