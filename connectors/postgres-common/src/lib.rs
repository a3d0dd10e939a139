//! What the PostgreSQL source and sink components share: the connection settings
//! (`connection.url`, `connection.user`, `connection.password`), connecting through the
//! sandbox (the host resolves the name under `sandbox.tcp.allow`, then tokio-postgres speaks
//! the protocol over a `wasi:sockets` TCP stream), a blocking client for the components'
//! synchronous calls, identifiers, and the values that cross between Connect and PostgreSQL.

pub mod connection;
pub mod ident;
pub mod value;

pub use connection::{ConnectError, ConnectionSettings, Pg};
pub use ident::{QualifiedName, quote_ident};
pub use value::PgValue;
