//! Every documented command-line form parses; bad input is a clap error, not a panic.

use aauth_cli::Cli;
use aauth_cli::cli::{
    Command, ConsentMode, DemoFlow, IssuerArgs, KeysCommand, SchemeArg, ServeCommand, TokenCommand,
};
use clap::Parser as _;

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Parses an `aauth serve issuer …` line into its arguments.
fn parse_issuer(args: &[&str]) -> IssuerArgs {
    let Command::Serve {
        role: ServeCommand::Issuer(a),
    } = parse(args).command
    else {
        panic!("{args:?}: not serve issuer")
    };
    a
}

#[test]
fn demo_forms() {
    for (arg, flow) in [
        (None, DemoFlow::All),
        (Some("all"), DemoFlow::All),
        (Some("autonomous"), DemoFlow::Autonomous),
        (Some("consent"), DemoFlow::Consent),
        (Some("exchange"), DemoFlow::Exchange),
    ] {
        let mut v = vec!["aauth", "demo"];
        v.extend(arg);
        let Command::Demo(d) = parse(&v).command else {
            panic!("demo")
        };
        assert_eq!(d.flow, flow);
        assert!(!d.manual);
    }
    let Command::Demo(d) = parse(&["aauth", "demo", "consent", "--manual"]).command else {
        panic!("demo")
    };
    assert!(d.manual);
    assert!(Cli::try_parse_from(["aauth", "demo", "bogus"]).is_err());
}

#[test]
fn serve_issuer_form() {
    let a = parse_issuer(&[
        "aauth",
        "serve",
        "issuer",
        "--listen",
        "127.0.0.1:9003",
        "--id",
        "http://127.0.0.1:9003",
        "--db",
        "/tmp/x.db",
        "--trust",
        "http://a",
        "--trust",
        "http://b",
        "--consent-scope",
        "user.",
        "--consent-scope",
        "admin.",
        "--user",
        "alice:pw:with:colons",
        "--user",
        "bob:x",
        "--dev",
    ]);
    assert_eq!(a.listen.port(), 9003);
    assert_eq!(a.trust, ["http://a", "http://b"]);
    assert_eq!(a.consent_scope, ["user.", "admin."]);
    assert_eq!(a.user[0].name, "alice");
    assert_eq!(a.user[0].password, "pw:with:colons");
    assert!(a.dev);
    let a = parse_issuer(&[
        "aauth",
        "serve",
        "issuer",
        "--listen",
        "127.0.0.1:1",
        "--id",
        "https://as",
    ]);
    assert!(a.db.is_none() && !a.dev && a.user.is_empty());
    assert!(
        Cli::try_parse_from(["aauth", "serve", "issuer", "--listen", "nope", "--id", "x"]).is_err()
    );
    assert!(
        Cli::try_parse_from([
            "aauth",
            "serve",
            "issuer",
            "--listen",
            "127.0.0.1:1",
            "--id",
            "x",
            "--user",
            "nocolon"
        ])
        .is_err()
    );
}

#[test]
fn serve_resource_and_agent_forms() {
    let c = parse(&[
        "aauth",
        "serve",
        "resource",
        "--listen",
        "127.0.0.1:9002",
        "--id",
        "http://127.0.0.1:9002",
        "--auth-server",
        "http://127.0.0.1:9003",
        "--downstream",
        "http://127.0.0.1:9005/data-auth",
        "--dev",
    ]);
    let Command::Serve {
        role: ServeCommand::Resource(a),
    } = c.command
    else {
        panic!("resource")
    };
    assert_eq!(a.auth_server, ["http://127.0.0.1:9003"]);
    assert_eq!(
        a.downstream.as_deref(),
        Some("http://127.0.0.1:9005/data-auth")
    );
    assert!(a.dev);
    assert!(
        Cli::try_parse_from([
            "aauth",
            "serve",
            "resource",
            "--listen",
            "127.0.0.1:1",
            "--id",
            "x"
        ])
        .is_err(),
        "--auth-server is required"
    );
    let c = parse(&[
        "aauth",
        "serve",
        "agent",
        "--listen",
        "127.0.0.1:9001",
        "--id",
        "http://127.0.0.1:9001",
        "--dev",
    ]);
    let Command::Serve {
        role: ServeCommand::Agent(a),
    } = c.command
    else {
        panic!("agent")
    };
    assert!(a.dev);
    assert_eq!(a.id, "http://127.0.0.1:9001");
}

#[test]
fn fetch_forms() {
    let c = parse(&[
        "aauth",
        "fetch",
        "http://127.0.0.1:8002/data-auth",
        "-X",
        "POST",
        "-d",
        "{\"a\":1}",
        "-H",
        "X-One: 1",
        "-H",
        "X-Two: 2",
        "--scheme",
        "jwt",
        "--agent-id",
        "http://127.0.0.1:9001",
        "--consent",
        "auto",
        "--user",
        "testuser:testpass",
        "-v",
        "--dev",
    ]);
    let Command::Fetch(f) = c.command else {
        panic!("fetch")
    };
    assert_eq!(f.method, "POST");
    assert_eq!(f.data.as_deref(), Some("{\"a\":1}"));
    assert_eq!(f.header, ["X-One: 1", "X-Two: 2"]);
    assert_eq!(f.scheme, SchemeArg::Jwt);
    assert_eq!(f.consent, Some(ConsentMode::Auto));
    assert!(f.verbose && f.dev);
    for s in ["hwk", "jwks", "jwt"] {
        parse(&["aauth", "fetch", "https://r/x", "--scheme", s]);
    }
    let Command::Fetch(f) = parse(&["aauth", "fetch", "https://r/x", "--consent", "print"]).command
    else {
        panic!("fetch")
    };
    assert_eq!(f.consent, Some(ConsentMode::Print));
    assert_eq!(f.scheme, SchemeArg::Jwks);
    assert!(Cli::try_parse_from(["aauth", "fetch", "https://r/x", "--scheme", "x509"]).is_err());
    assert!(Cli::try_parse_from(["aauth", "fetch"]).is_err());
    // --consent auto without --user is refused when building the options, not by panicking.
    let Command::Fetch(f) = parse(&["aauth", "fetch", "https://r/x", "--consent", "auto"]).command
    else {
        panic!("fetch")
    };
    assert!(aauth_cli::fetch::FetchOptions::try_from(f).is_err());
    let Command::Fetch(f) = parse(&["aauth", "fetch", "https://r/x", "-H", "no colon"]).command
    else {
        panic!("fetch")
    };
    assert!(aauth_cli::fetch::FetchOptions::try_from(f).is_err());
}

#[test]
fn keys_and_token_forms() {
    let Command::Keys {
        command: KeysCommand::Generate { out, kid },
    } = parse(&["aauth", "keys", "generate"]).command
    else {
        panic!("keys")
    };
    assert!(out.is_none());
    assert_eq!(kid, "key-1");
    let Command::Token {
        command: TokenCommand::Decode { token },
    } = parse(&["aauth", "token", "decode", "a.b.c"]).command
    else {
        panic!("token")
    };
    assert_eq!(token, "a.b.c");
    assert!(aauth_cli::token::decode("a.b.c").is_err());
    assert!(aauth_cli::token::decode("garbage").is_err());
    // {"alg":"EdDSA","typ":"auth+jwt"} . {"exp":5}
    let out =
        aauth_cli::token::decode("eyJhbGciOiJFZERTQSIsInR5cCI6ImF1dGgrand0In0.eyJleHAiOjV9.c2ln")
            .expect("decodes");
    assert!(out.contains("auth+jwt") && out.contains("expired"));
}

#[test]
fn help_documents_every_subcommand() {
    for path in [
        vec!["aauth", "--help"],
        vec!["aauth", "demo", "--help"],
        vec!["aauth", "serve", "issuer", "--help"],
        vec!["aauth", "serve", "resource", "--help"],
        vec!["aauth", "serve", "agent", "--help"],
        vec!["aauth", "fetch", "--help"],
        vec!["aauth", "keys", "generate", "--help"],
        vec!["aauth", "token", "decode", "--help"],
    ] {
        let e = Cli::try_parse_from(&path).expect_err("help exits");
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{path:?}");
    }
}

#[test]
fn key_file_roundtrip() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("k.json");
    let k1 = aauth_cli::keys::load_or_create(&path).expect("create");
    let k2 = aauth_cli::keys::load_or_create(&path).expect("load");
    assert_eq!(k1.public_bytes(), k2.public_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(aauth_cli::keys::parse_private_jwk("{}").is_err());
}

#[test]
fn database_selection_by_url_scheme() {
    use aauth_cli::cli::{Database, parse_database};
    use std::path::PathBuf;
    assert_eq!(
        parse_database("/var/lib/aauth/issuer.db"),
        Ok(Database::Sqlite(PathBuf::from("/var/lib/aauth/issuer.db")))
    );
    assert_eq!(
        parse_database("sqlite:state/issuer.db"),
        Ok(Database::Sqlite(PathBuf::from("state/issuer.db")))
    );
    assert_eq!(
        parse_database("sqlite:///abs/issuer.db"),
        Ok(Database::Sqlite(PathBuf::from("/abs/issuer.db")))
    );
    let pg = parse_database("postgres://aauth:s3cret@db.internal:5432/aauth").unwrap();
    assert_eq!(
        pg,
        Database::Postgres("postgres://aauth:s3cret@db.internal:5432/aauth".into())
    );
    // Logged and debug-printed without the password.
    assert_eq!(
        pg.to_string(),
        "postgres://aauth:***@db.internal:5432/aauth"
    );
    assert!(!format!("{pg:?}").contains("s3cret"));
    assert!(matches!(
        parse_database("postgresql://h/db"),
        Ok(Database::Postgres(_))
    ));
    assert!(
        parse_database("mysql://h/db")
            .unwrap_err()
            .contains("mysql")
    );
    assert!(parse_database("").is_err());
    assert!(parse_database("sqlite:").is_err());

    let a = parse_issuer(&[
        "aauth",
        "serve",
        "issuer",
        "--listen",
        "127.0.0.1:1",
        "--id",
        "https://as",
        "--db",
        "postgres://h/aauth",
    ]);
    assert_eq!(a.db, Some(Database::Postgres("postgres://h/aauth".into())));
}
