//! One reference peer as a child process on a free loopback port.

use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Harness};

/// How long a peer may take to import FastAPI and answer `GET /`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The pause between two readiness probes.
const POLL: Duration = Duration::from_millis(100);

/// The budget of one readiness probe's connect, write and read each.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a killed peer may take to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a log that an error quotes.
const TAIL_BYTES: usize = 2000;

/// A free loopback port: bound, read and released; the peer binds it a moment later.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A peer to start: `peers/{script}.py` with its port variable and extra environment.
#[derive(Clone, Debug)]
#[must_use = "a launch does nothing until started"]
pub struct PeerLaunch {
    python: PathBuf,
    peers: PathBuf,
    script: String,
    port_var: String,
    port: Option<u16>,
    env: Vec<(String, String)>,
    cpu: Option<u32>,
}

impl PeerLaunch {
    pub(crate) fn new(harness: &Harness, script: &str, port_var: &str) -> Self {
        Self {
            python: harness.python().to_owned(),
            peers: harness.dir().join("peers"),
            script: script.to_owned(),
            port_var: port_var.to_owned(),
            port: None,
            env: Vec::new(),
            cpu: None,
        }
    }

    /// Sets an environment variable of the peer (after its port variable).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Listens on `port` (from [`free_port`], when the caller needs the URL beforehand)
    /// instead of a free port picked at start.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Runs the interpreter under `taskset -c CPU` (which execs it, so the child is still
    /// the interpreter); `None` leaves it to the scheduler.
    pub fn pin_to_cpu(mut self, cpu: Option<u32>) -> Self {
        self.cpu = cpu;
        self
    }

    /// Starts the peer and waits until `GET /` answers `2xx`, for at most
    /// [`READY_TIMEOUT`]. Its standard output and error go to
    /// `$TMPDIR/aauth-pyref-{script}-{port}.log`, which stays for inspection.
    ///
    /// Blocks (see the crate docs).
    ///
    /// # Errors
    /// [`Error::Missing`] without the script, [`Error::Io`] when it cannot be spawned, and
    /// [`Error::NotReady`] when it exits or does not answer in time; it is killed then.
    pub fn start(self) -> Result<Peer, Error> {
        let file = format!("{}.py", self.script);
        if !self.peers.join(&file).is_file() {
            return Err(Error::Missing(self.peers.join(file)));
        }
        let port = match self.port {
            Some(port) => port,
            None => free_port().map_err(|e| Error::io("bind a free port".into(), e))?,
        };
        let mut env = vec![(self.port_var.clone(), port.to_string())];
        env.extend(self.env.iter().cloned());
        let mut argv = Vec::new();
        if let Some(cpu) = self.cpu {
            argv.extend(["taskset".to_owned(), "-c".to_owned(), cpu.to_string()]);
        }
        argv.push(self.python.display().to_string());
        argv.push(file);
        let log_path = std::env::temp_dir().join(format!("aauth-pyref-{}-{port}.log", self.script));
        let log = File::create(&log_path)
            .map_err(|e| Error::io(format!("create {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io(format!("reopen {}", log_path.display()), e))?;
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&self.peers)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| Error::io(format!("spawn {}", argv.join(" ")), e))?;
        let mut peer = Peer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            url: format!("http://127.0.0.1:{port}"),
            command: command_line(&self.peers, &env, &argv),
            log: log_path,
            stopped: false,
        };
        match peer.wait_ready() {
            Ok(()) => Ok(peer),
            Err(reason) => {
                peer.stop();
                Err(Error::NotReady {
                    script: self.script,
                    url: peer.url.clone(),
                    reason,
                    log: peer.log.clone(),
                    tail: peer.log_tail(),
                })
            }
        }
    }
}

/// A running peer; killed and reaped on drop.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    addr: SocketAddr,
    url: String,
    command: String,
    log: PathBuf,
    stopped: bool,
}

impl Peer {
    /// `http://127.0.0.1:{port}`, its base URL (and the id a peer derives from its port).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A shell line that starts it the same way (`cd … && VAR=… python script.py`), for
    /// reports.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Its log file (standard output and error).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last 2 KB of its log, trimmed; `(empty)` when there is none.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        match tail(&text, TAIL_BYTES) {
            "" => "(empty)".to_owned(),
            t => t.to_owned(),
        }
    }

    /// Kills it and reaps it, waiting at most 5 s; does nothing the second time.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let _ = self.child.kill();
        let deadline = Instant::now() + REAP_TIMEOUT;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls `GET /` until it answers `2xx`; why not, when it exits or the time is up.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Err(format!("it exited ({status})")),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for it: {e}")),
            }
            if probe(self.addr).is_some_and(|s| (200..300).contains(&s)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("no answer within {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `GET /` on a fresh connection; the response's status code, if one came.
fn probe(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    s.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    s.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut head = [0; 64];
    let mut n = 0;
    while n < head.len() && !head[..n].contains(&b'\n') {
        match s.read(&mut head[n..]).ok()? {
            0 => break,
            k => n += k,
        }
    }
    status_code(&head[..n])
}

/// The status code of an HTTP/1.x status line (`HTTP/1.1 200 OK`).
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    if !parts.next()?.starts_with(b"HTTP/1.") {
        return None;
    }
    match parts.next()? {
        code @ [b'1'..=b'5', b'0'..=b'9', b'0'..=b'9'] => {
            std::str::from_utf8(code).ok()?.parse().ok()
        }
        _ => None,
    }
}

/// At most the last `max` bytes of `text`, from a character boundary, trimmed.
fn tail(text: &str, max: usize) -> &str {
    let cut = text.len().saturating_sub(max);
    let cut = (cut..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[cut..].trim()
}

/// `cd DIR && K=V … ARGV…`.
fn command_line(dir: &Path, env: &[(String, String)], argv: &[String]) -> String {
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "cd {} && {} {}",
        dir.display(),
        env.join(" "),
        argv.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            status_code(b"HTTP/1.1 200 OK\r\ncontent-type: x"),
            Some(200)
        );
        assert_eq!(status_code(b"HTTP/1.0 404 Not Found\r\n"), Some(404));
        assert_eq!(status_code(b"HTTP/1.1 503"), Some(503));
        assert_eq!(status_code(b"HTTP/1.1 502\r\n"), Some(502));
        for bad in [
            &b""[..],
            b"HTTP/1.1",
            b"HTTP/2 200 OK\r\n",
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 20 OK\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 abc OK\r\n",
        ] {
            assert_eq!(status_code(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn probe_reads_a_status_from_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0; 256];
            while !req.ends_with(b"\r\n\r\n") {
                match s.read(&mut buf).unwrap() {
                    0 => break,
                    n => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            String::from_utf8_lossy(&req).into_owned()
        });
        assert_eq!(probe(addr), Some(204));
        let req = server.join().unwrap();
        assert!(req.starts_with("GET / HTTP/1.1\r\n"), "{req}");
        assert!(req.contains(&format!("Host: {addr}\r\n")), "{req}");
    }

    #[test]
    fn probe_of_a_closed_port_is_none() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        assert_eq!(probe(SocketAddr::from(([127, 0, 0, 1], port))), None);
    }

    #[test]
    fn tail_cuts_at_a_character_boundary() {
        assert_eq!(tail("  short log \n", 100), "short log");
        assert_eq!(tail("abcdef", 3), "def");
        // 'é' is two bytes: a cut inside it moves past it.
        assert_eq!(tail("aébc", 4), "ébc");
        assert_eq!(tail("aébc", 3), "bc");
        assert_eq!(tail("", 10), "");
    }

    #[test]
    fn command_line_reproduces_the_launch() {
        let env = [
            ("RESOURCE_PORT".to_owned(), "9002".to_owned()),
            ("AAUTH_JWKS_CACHE_TTL".to_owned(), "0".to_owned()),
        ];
        let argv = ["taskset", "-c", "0", "/v/bin/python", "resource.py"].map(String::from);
        assert_eq!(
            command_line(Path::new("/ref/peers"), &env, &argv),
            "cd /ref/peers && RESOURCE_PORT=9002 AAUTH_JWKS_CACHE_TTL=0 \
             taskset -c 0 /v/bin/python resource.py"
        );
    }

    #[test]
    fn a_peer_that_exits_is_reported_with_its_log() {
        // `sh` as the interpreter: the "script" prints and exits, never listening.
        let dir = std::env::temp_dir().join(format!("aauth-pyref-test-{}", std::process::id()));
        let peers = dir.join("peers");
        std::fs::create_dir_all(&peers).unwrap();
        std::fs::write(peers.join("broken.py"), "echo import failed >&2; exit 3\n").unwrap();
        let err = Harness::new(&dir, "sh")
            .peer("broken", "BROKEN_PORT")
            .start()
            .expect_err("exits");
        std::fs::remove_dir_all(&dir).unwrap();
        let Error::NotReady {
            reason, tail, log, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(reason.contains("exited"), "{reason}");
        assert_eq!(tail, "import failed");
        let _ = std::fs::remove_file(log);
        assert!(
            err.to_string()
                .contains("python broken on http://127.0.0.1:"),
            "{err}"
        );
    }
}
