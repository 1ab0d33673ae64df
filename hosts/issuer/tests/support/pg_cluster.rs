//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, `pg_ctl start` on a
//! free loopback port (TCP only on 127.0.0.1, the Unix socket inside the temp dir), and
//! `pg_ctl stop` when dropped.
//!
//! The server binaries come from Debian's `postgresql` package
//! (`/usr/lib/postgresql/<major>/bin`; `tests/run-all.sh` installs it). PostgreSQL refuses
//! to run as root, so under root the commands run as the `postgres` system user the
//! package creates (`runuser -u postgres`). `AAUTH_SKIP_POSTGRES=1` skips the PostgreSQL
//! tests with a `SKIPPED: …` line on stderr that `cargo test` shows even for a passing test;
//! otherwise a missing installation fails them (locally and in CI).

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Reports a skipped test on the process's stderr. Not `eprintln!`: libtest captures that
/// for a passing test and discards it, so a skip looked exactly like a pass. libtest names
/// the test's thread after the test, and `#[tokio::test]` runs the body on it.
pub(crate) fn report_skip(reason: &str) {
    use std::io::Write as _;
    let test = std::thread::current().name().unwrap_or("test").to_owned();
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED: {test}: {reason}");
}

/// A running cluster; stopped (fast shutdown) on drop.
pub(crate) struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl PgCluster {
    /// Starts a cluster, or returns `None` when `AAUTH_SKIP_POSTGRES=1`.
    ///
    /// # Panics
    /// When PostgreSQL is not installed or does not start (with its log).
    pub(crate) fn start() -> Option<Self> {
        if std::env::var("AAUTH_SKIP_POSTGRES").as_deref() == Ok("1") {
            report_skip("AAUTH_SKIP_POSTGRES=1 (unset it to run the PostgreSQL test)");
            return None;
        }
        let bin = find_bin().expect(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; \
             install Debian's `postgresql` package (tests/run-all.sh setup does) or set \
             AAUTH_SKIP_POSTGRES=1",
        );
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("aauth-pg-")
            .tempdir()
            .expect("temp dir");
        if as_postgres_user {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let mut cluster = Self {
            dir,
            bin,
            port: 0,
            as_postgres_user,
        };
        let data = cluster.data();
        cluster.pg(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        // A free port can be taken between probing and binding; try a few.
        for _ in 0..5 {
            cluster.port = free_port();
            let opts = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                cluster.port,
                path_str(cluster.dir.path()),
            );
            let log = cluster.dir.path().join("server.log");
            if cluster.try_pg(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data),
                    "-l",
                    path_str(&log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &opts,
                    "start",
                ],
            ) {
                return Some(cluster);
            }
        }
        let log =
            std::fs::read_to_string(cluster.dir.path().join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    /// The superuser's URL for database `db`.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL (one per check keeps them apart).
    pub(crate) async fn fresh_database(&self, name: &str) -> String {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect as postgres");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        admin.close().await.ok();
        self.url(name)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn try_pg(&self, tool: &str, args: &[&str]) -> bool {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        out.status.success()
    }

    fn pg(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", path_str(&data), "-m", "fast", "-w", "stop"])
            .output();
    }
}

/// The newest `/usr/lib/postgresql/<major>/bin` that has `initdb`.
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

fn run(cmd: &mut Command) {
    let st = cmd.status().expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}
