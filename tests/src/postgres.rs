//! A PostgreSQL server for the database connectors' tests: Debian's `postgresql` binaries,
//! one server per test process on its own data directory and a port of 127.0.0.1, started on
//! first use, with password (SCRAM) authentication over TCP. Each test gets a database of its
//! own ([`TestDatabase`]) and a native tokio-postgres client on it to set up and check rows.
//! A watchdog shell stops the server and removes its directory when the test process exits,
//! however it exits.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

/// The password of the `postgres` user.
pub const PASSWORD: &str = "connect-secret";

/// The server of this test process.
pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    /// Outlives this process by design: it stops the server once the process is gone.
    _watchdog: std::process::Child,
}

/// Where Debian puts the newest installed PostgreSQL's programs.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run \
             `apt-get install -y postgresql`, as .ci/run does"
        )
    })
}

fn is_root() -> bool {
    // `id -u`: libc::geteuid would need unsafe code.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// Runs a PostgreSQL program, as the `postgres` user when this process is root (initdb and
/// the server refuse to run as root).
fn run(bin: &Path, program: &str, args: &[&str]) -> std::process::Output {
    let path = bin.join(program);
    let output = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&path)
            .args(args)
            .output()
    } else {
        Command::new(&path).args(args).output()
    }
    .unwrap_or_else(|error| panic!("cannot run {}: {error}", path.display()));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl PgServer {
    /// The server of this test process, started on first use.
    pub fn get() -> &'static PgServer {
        static SERVER: OnceLock<PgServer> = OnceLock::new();
        SERVER.get_or_init(PgServer::start)
    }

    fn start() -> Self {
        let bin = bin_dir();
        // In the system's temporary directory, which the `postgres` user can reach (a
        // checkout under /root may not be).
        let root =
            std::env::temp_dir().join(format!("wasm-connect-test-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("postgres test dir");
        let data = root.join("data");
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, PASSWORD).expect("pwfile");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()
                .expect("chown");
            assert!(status.success(), "chown {} to postgres", root.display());
        }
        run(
            &bin,
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let port = crate::child::fixed_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 \
             -c synchronous_commit=off -c timezone=UTC",
            root.display()
        );
        run(
            &bin,
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-o",
                &options,
                "-l",
                &root.join("server.log").display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        // Stop the server and remove its files once this process is gone, however it ends.
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runuser}{pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            runuser = if is_root() {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl = bin.join("pg_ctl").display(),
            data = data.display(),
            root = root.display(),
        );
        let watchdog = Command::new("sh")
            .args(["-c", &stop])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("watchdog");
        Self {
            port,
            bin,
            _watchdog: watchdog,
        }
    }

    /// The programs' directory (for `psql`-free checks of the server itself).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A new, empty database of this server.
    pub async fn database(&'static self, prefix: &str) -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let admin = connect(self.port, "postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        TestDatabase {
            server: self,
            client: connect(self.port, &name).await,
            name,
        }
    }
}

/// A native client of database `name` as `postgres`.
pub async fn connect(port: u16, name: &str) -> tokio_postgres::Client {
    let start = Instant::now();
    loop {
        match tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres password={PASSWORD} dbname={name}"),
            tokio_postgres::NoTls,
        )
        .await
        {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                return client;
            }
            Err(error) => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "cannot connect to database {name}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One test's database.
pub struct TestDatabase {
    pub server: &'static PgServer,
    pub name: String,
    pub client: tokio_postgres::Client,
}

impl TestDatabase {
    /// `connection.url` of this database.
    pub fn url(&self) -> String {
        format!(
            "jdbc:postgresql://127.0.0.1:{}/{}",
            self.server.port, self.name
        )
    }

    /// The `sandbox.tcp.allow` entry for the server.
    pub fn allow(&self) -> String {
        format!("127.0.0.1:{}", self.server.port)
    }

    /// Runs SQL statements.
    pub async fn execute(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {}", describe(&error)));
    }

    /// The one `bigint` the query returns.
    pub async fn count(&self, sql: &str) -> i64 {
        self.client
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{sql}: {}", describe(&error)))
            .get(0)
    }

    /// Waits (up to `timeout`) until `sql`'s count is `expected`; panics with the last count
    /// or error.
    pub async fn wait_count(&self, sql: &str, expected: i64, timeout: Duration) {
        let start = Instant::now();
        loop {
            // An error (say the table does not exist yet) counts as not there yet.
            let count = match self.client.query_one(sql, &[]).await {
                Ok(row) => Ok(row.get::<_, i64>(0)),
                Err(error) => Err(describe(&error)),
            };
            if count == Ok(expected) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?}: `{sql}` is {count:?}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An error with the server's message, when it sent one.
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {} ({:?})", db.code().code(), db.message(), db.detail()),
        None => error.to_string(),
    }
}
