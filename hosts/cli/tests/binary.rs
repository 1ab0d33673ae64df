//! The `aauth` binary: exit statuses, error messages, graceful shutdown.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn aauth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aauth"));
    c.env(
        "AAUTH_HOME",
        std::env::temp_dir().join("aauth-cli-binary-test"),
    );
    c
}

#[test]
fn bad_input_exits_non_zero_with_a_message() {
    let out = aauth()
        .args(["token", "decode", "garbage"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a compact JWT"));

    let out = aauth()
        .args(["fetch", "http://127.0.0.1:1/x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("egress policy"));

    let out = aauth()
        .args(["serve", "resource", "--listen", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "clap usage error");

    let out = aauth().args(["keys", "generate"]).output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"d\""));
}

#[test]
fn fetch_reports_a_protocol_error() {
    // Nothing listens on port 1: a transport error, non-zero, no panic.
    let out = aauth()
        .args([
            "fetch",
            "http://127.0.0.1:1/x",
            "--scheme",
            "hwk",
            "--dev",
            "--timeout",
            "5",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aauth:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(unix)]
#[test]
fn serve_agent_stops_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = aauth()
        .args([
            "serve",
            "agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--id",
            &format!("http://127.0.0.1:{port}"),
            "--key",
        ])
        .arg(dir.path().join("k.json"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "agent did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("agent did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "{code:?}");
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    assert!(err.contains("shutting down"), "{err}");
}

/// `aauth issuer-keys`: the offline rotation procedure of OPERATIONS.md, on a SQLite file.
#[test]
fn issuer_keys_rotate_list_retire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("issuer.db");
    let db = db.to_str().expect("utf-8");
    let run = |args: &[&str]| {
        let out = aauth()
            .arg("issuer-keys")
            .args(args)
            .args(["--db", db])
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("no signing keys yet"), "{out}");

    let (code, out, _) = run(&["rotate"]);
    assert_eq!(code, Some(0));
    let first = out
        .strip_prefix("new active key ")
        .and_then(|s| s.lines().next())
        .expect("kid")
        .to_owned();
    let (_, out, _) = run(&["rotate"]);
    let second = out
        .strip_prefix("new active key ")
        .and_then(|s| s.lines().next())
        .expect("kid")
        .to_owned();
    assert_ne!(first, second);
    let (_, out, _) = run(&["list"]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0][..2], [second.as_str(), "active"]);
    assert_eq!(rows[1][..2], [first.as_str(), "verify-only"]);

    let (code, _, err) = run(&["retire", "--kid", &second]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is the active key"), "{err}");
    let (code, _, err) = run(&["retire", "--kid", "nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no signing key nope"), "{err}");
    let (code, out, _) = run(&["retire", "--kid", &first]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with(&format!("retired {first}\n")), "{out}");
    assert_eq!(out.lines().count(), 2, "only the active key is left: {out}");
}
