//! Starts the Python reference peers (`aauth` 0.1.0) for interop tests and benchmarks, and
//! stops them again.
//!
//! The reference harness lives beside the checkout, at `../shared/interop/python-ref`
//! (`setup.sh`, `peers.sh`, `peers/*.py`). This crate knows where it is, runs its `setup.sh`,
//! and starts its peers in two ways:
//!
//! - [`Harness::start_standard`]: `peers.sh start`, the standard topology on the fixed ports
//!   8001–8005 ([`StandardPeers::AGENT`] …), stopped on drop when this process started them;
//! - [`Harness::peer`]: one `peers/{script}.py` as a child process on a free loopback port,
//!   ready once `GET /` answers `2xx`, killed and reaped on drop.
//!
//! Every wait is bounded, and a peer that does not come up is killed before the error
//! returns, with the tail of its log in the message.
//!
//! # Environment
//!
//! | Variable | Meaning |
//! |---|---|
//! | `AAUTH_PYTHON_REF` | the harness directory (default: `../shared/interop/python-ref` beside the checkout) |
//! | `AAUTH_PEERS_HOME` | where `setup.sh` puts the venv (default `~/.cache/aauth-python-peers`) |
//! | `AAUTH_SKIP_PYTHON=1` | [`skip_requested`] says to skip |
//!
//! # Blocking
//!
//! The API is synchronous and std-only, so that every caller (tokio tests, the benchmark's
//! runtime, the separate `tests/spin-host` workspace) shares it without new dependencies.
//! Starting a peer blocks for at most [`READY_TIMEOUT`], and `setup.sh` for as long as a cold
//! `pip install` takes. In a `multi_thread` tokio test, wrap the call in
//! `tokio::task::block_in_place`; on a `current_thread` runtime whose tasks must keep
//! running meanwhile, use `tokio::task::spawn_blocking`.
//!
//! ```no_run
//! use aauth_pyref_peers::{Harness, skip_requested};
//!
//! # fn main() -> Result<(), aauth_pyref_peers::Error> {
//! if skip_requested("my_test") {
//!     return Ok(());
//! }
//! let harness = Harness::from_env();
//! harness.setup()?;
//! let agent = harness.peer("agent", "AGENT_PORT").start()?;
//! println!("the Python agent is up on {}", agent.url());
//! # Ok(())
//! # }
//! ```

mod peer;

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub use peer::{Peer, PeerLaunch, READY_TIMEOUT, free_port};

/// The longest `peers.sh start` may take (it waits up to 10 s per peer itself).
const PEERS_START_TIMEOUT_S: u32 = 120;

/// The longest `peers.sh stop` may take.
const PEERS_STOP_TIMEOUT_S: u32 = 60;

/// Says whether `AAUTH_SKIP_PYTHON=1` asks to skip `test`; if so, prints a `SKIPPED:` line.
///
/// The line goes straight to the process's standard error, because `cargo test` hides the
/// `eprintln!` output of a passing test, and a skip must not look like a pass. Without the
/// variable, a test runs and fails when the peers cannot be started.
pub fn skip_requested(test: &str) -> bool {
    let skip = is_skip(std::env::var_os("AAUTH_SKIP_PYTHON").as_deref());
    if skip {
        let _ = writeln!(
            io::stderr().lock(),
            "SKIPPED: {test}: AAUTH_SKIP_PYTHON=1 is set \
             (unset it to run against the Python reference peers)"
        );
    }
    skip
}

fn is_skip(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

/// The reference harness: its directory and the interpreter of its venv.
#[derive(Clone, Debug)]
pub struct Harness {
    dir: PathBuf,
    python: PathBuf,
}

impl Harness {
    /// The harness from the environment: `AAUTH_PYTHON_REF`, else
    /// `../shared/interop/python-ref` beside this checkout; the interpreter
    /// `$AAUTH_PEERS_HOME/venv/bin/python`, with `AAUTH_PEERS_HOME` defaulting to
    /// `$HOME/.cache/aauth-python-peers` as in `setup.sh`.
    pub fn from_env() -> Self {
        Self {
            dir: harness_dir(
                std::env::var_os("AAUTH_PYTHON_REF"),
                std::env::var_os("CARGO_MANIFEST_DIR"),
            ),
            python: venv_python(
                std::env::var_os("AAUTH_PEERS_HOME"),
                std::env::var_os("HOME"),
            ),
        }
    }

    /// A harness at `dir` whose peers run with `python` (the benchmark's `--pyref` and
    /// `--python`).
    pub fn new(dir: impl Into<PathBuf>, python: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            python: python.into(),
        }
    }

    /// The harness directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The interpreter the peers run with.
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// Runs `setup.sh`, which creates the venv only when it is missing or incomplete.
    ///
    /// Blocks; on a cold machine that is a `pip install`.
    ///
    /// # Errors
    /// [`Error::Missing`] without `setup.sh`, [`Error::Script`] when it fails.
    pub fn setup(&self) -> Result<(), Error> {
        let script = self.script("setup.sh")?;
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .map_err(|source| Error::io(format!("run {}", script.display()), source))?;
        if !status.success() {
            return Err(Error::Script { script, status });
        }
        Ok(())
    }

    /// [`Self::setup`], then `peers.sh start`: the standard peers on ports 8001–8005,
    /// bounded to two minutes.
    ///
    /// Peers already running (started by someone else) are reused. The returned guard
    /// runs `peers.sh stop` on drop only if this call started any peer; on failure, the
    /// peers it did start are stopped before the error returns.
    ///
    /// # Errors
    /// [`Error::Missing`] without `setup.sh` or `peers.sh`, [`Error::Script`] when one
    /// fails.
    pub fn start_standard(&self) -> Result<StandardPeers, Error> {
        self.setup()?;
        let script = self.script("peers.sh")?;
        let out = bounded(PEERS_START_TIMEOUT_S, &script, "start")
            .output()
            .map_err(|source| Error::io(format!("run {} start", script.display()), source))?;
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "peers.sh start:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peers = StandardPeers {
            script: script.clone(),
            started: text.contains(" up on "),
        };
        if !out.status.success() {
            return Err(Error::Script {
                script,
                status: out.status,
            });
        }
        Ok(peers)
    }

    /// One `peers/{script}.py` on a free loopback port, its port in `port_var`
    /// (`AGENT_PORT`, `RESOURCE_PORT`, `AUTH_PORT`); configure it, then
    /// [`PeerLaunch::start`] it. The venv must exist: call [`Self::setup`] first.
    pub fn peer(&self, script: &str, port_var: &str) -> PeerLaunch {
        PeerLaunch::new(self, script, port_var)
    }

    fn script(&self, name: &str) -> Result<PathBuf, Error> {
        let path = self.dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Missing(path))
        }
    }
}

/// `timeout SECS bash SCRIPT ARG`.
fn bounded(seconds: u32, script: &Path, arg: &str) -> Command {
    let mut c = Command::new("timeout");
    c.arg(seconds.to_string()).arg("bash").arg(script).arg(arg);
    c
}

/// The standard peers of `peers.sh start`; stopped on drop if this process started them.
#[derive(Debug)]
pub struct StandardPeers {
    script: PathBuf,
    started: bool,
}

impl StandardPeers {
    /// The agent (`POST /request` drives its whole flow).
    pub const AGENT: &str = "http://127.0.0.1:8001";
    /// The resource; its challenges name [`Self::AUTH`], `/data-chain` calls
    /// [`Self::RESOURCE2`].
    pub const RESOURCE: &str = "http://127.0.0.1:8002";
    /// The auth server.
    pub const AUTH: &str = "http://127.0.0.1:8003";
    /// The second auth server, trusting [`Self::AUTH`] for token exchange.
    pub const AUTH2: &str = "http://127.0.0.1:8004";
    /// The second resource, whose challenges name [`Self::AUTH2`].
    pub const RESOURCE2: &str = "http://127.0.0.1:8005";

    /// Whether this process started any of them (and so stops them on drop).
    pub fn started(&self) -> bool {
        self.started
    }
}

impl Drop for StandardPeers {
    fn drop(&mut self) {
        if self.started {
            let _ = bounded(PEERS_STOP_TIMEOUT_S, &self.script, "stop").status();
        }
    }
}

/// Why the harness or a peer could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Running something failed.
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// A harness file is missing: the harness is not where it is looked for.
    Missing(PathBuf),
    /// A peer did not answer `GET /` with `2xx`; it has been killed.
    NotReady {
        /// `peers/{script}.py`.
        script: String,
        /// Where it was to listen.
        url: String,
        /// It exited, or did not answer in time.
        reason: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// A harness script exited unsuccessfully.
    Script {
        /// The script.
        script: PathBuf,
        /// Its exit status.
        status: ExitStatus,
    },
}

impl Error {
    fn io(what: String, source: io::Error) -> Self {
        Self::Io { what, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Missing(path) => write!(
                f,
                "no {} (the Python reference harness: AAUTH_PYTHON_REF, or \
                 ../shared/interop/python-ref beside the checkout)",
                path.display()
            ),
            Self::NotReady {
                script,
                url,
                reason,
                log,
                tail,
            } => write!(
                f,
                "python {script} on {url} did not start: {reason}; its log ({}): {tail}",
                log.display()
            ),
            Self::Script { script, status } => write!(f, "{} failed ({status})", script.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `AAUTH_PYTHON_REF`, else the harness beside the checkout this crate is in.
fn harness_dir(var: Option<OsString>, running: Option<OsString>) -> PathBuf {
    const HARNESS: &str = "shared/interop/python-ref";
    if let Some(dir) = var {
        return dir.into();
    }
    // Where cargo runs the caller now (its `CARGO_MANIFEST_DIR` at run time), before where
    // this crate was compiled: a build cache shared by two clones in different directories
    // (a developer's and CI's) keeps the path of whichever compiled it first.
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR"));
    running
        .as_deref()
        .map(Path::new)
        .into_iter()
        .chain([compiled])
        .find_map(|dir| {
            dir.ancestors()
                .map(|d| d.join(HARNESS))
                .find(|d| d.is_dir())
        })
        .unwrap_or_else(|| compiled.join("../../..").join(HARNESS))
}

/// `$AAUTH_PEERS_HOME/venv/bin/python`, the home defaulting as in `setup.sh`.
fn venv_python(peers_home: Option<OsString>, home: Option<OsString>) -> PathBuf {
    peers_home
        .map_or_else(
            || PathBuf::from(home.unwrap_or_default()).join(".cache/aauth-python-peers"),
            PathBuf::from,
        )
        .join("venv/bin/python")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_is_beside_the_checkout_unless_overridden() {
        // tests/pyref-peers → the checkout → its parent.
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert!(checkout.join("Cargo.toml").is_file());
        let beside = checkout
            .join("../shared/interop/python-ref")
            .canonicalize()
            .ok();
        assert!(
            beside.is_some(),
            "the shared harness is there in this checkout"
        );
        let found = |running: Option<&str>| {
            let running = running.map(|r| checkout.join(r).into_os_string());
            harness_dir(None, running).canonicalize().ok()
        };
        assert_eq!(found(None), beside);
        assert_eq!(found(Some("hosts/agent")), beside);
        // Another clone with its own shared/ beside it: found from where the caller runs,
        // not from where this crate was compiled.
        let other = std::env::temp_dir().join(format!("pyref-peers-{}", std::process::id()));
        let other_harness = other.join("shared/interop/python-ref");
        std::fs::create_dir_all(&other_harness).unwrap();
        std::fs::create_dir_all(other.join("clone/hosts/agent")).unwrap();
        let from_other = harness_dir(None, Some(other.join("clone/hosts/agent").into()));
        std::fs::remove_dir_all(&other).unwrap();
        assert_eq!(from_other, other_harness);
        // Nothing there from the running directory: where this crate was compiled.
        assert_eq!(
            harness_dir(None, Some("/nonexistent/clone".into()))
                .canonicalize()
                .ok(),
            beside
        );
        assert_eq!(
            harness_dir(Some("/elsewhere/ref".into()), None),
            Path::new("/elsewhere/ref")
        );
    }

    #[test]
    fn venv_python_follows_setup_sh() {
        assert_eq!(
            venv_python(Some("/p".into()), Some("/home/u".into())),
            Path::new("/p/venv/bin/python")
        );
        assert_eq!(
            venv_python(None, Some("/home/u".into())),
            Path::new("/home/u/.cache/aauth-python-peers/venv/bin/python")
        );
        // No HOME: relative, as `PathBuf::from("")` joins.
        assert_eq!(
            venv_python(None, None),
            Path::new(".cache/aauth-python-peers/venv/bin/python")
        );
    }

    #[test]
    fn only_one_skips() {
        assert!(is_skip(Some("1".as_ref())));
        for other in ["0", "", "true", "yes"] {
            assert!(!is_skip(Some(other.as_ref())), "{other}");
        }
        assert!(!is_skip(None));
    }

    #[test]
    fn a_missing_harness_is_named() {
        let h = Harness::new("/nonexistent/python-ref", "python3");
        let err = h.setup().expect_err("no harness");
        assert!(
            matches!(&err, Error::Missing(p) if p.ends_with("setup.sh")),
            "{err:?}"
        );
        assert!(err.to_string().contains("AAUTH_PYTHON_REF"), "{err}");
        let err = h.start_standard().expect_err("no harness");
        assert!(
            matches!(&err, Error::Missing(p) if p.ends_with("setup.sh")),
            "{err:?}"
        );
        let err = h
            .peer("agent", "AGENT_PORT")
            .start()
            .expect_err("no harness");
        assert!(
            matches!(&err, Error::Missing(p) if p.ends_with("agent.py")),
            "{err:?}"
        );
    }
}
