//! The HTTP client: TLS with an explicit crypto provider (nothing process-wide installed),
//! certificate checks, and redirects that never carry headers to another origin.
//! Real servers: `tests/fixtures/effects_server.py` over HTTPS (its own CA) and HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use sre_mcp::{ConnectorConfig, FailureKind, McpConnector};

fn https_peer(dir: &std::path::Path) -> common::Peer {
    let peer =
        common::effects_server_on(common::free_port(), &["--tls-dir", dir.to_str().unwrap()]);
    assert!(dir.join("ca.pem").exists());
    peer
}

/// A certificate from an unknown CA is a `tls` failure naming the certificate, and no
/// connector installs a process-wide rustls provider (a library must not: the host may
/// want another one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_tls_error_and_no_global_provider_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let peer = https_peer(dir.path());
    let conn = McpConnector::new(
        ConnectorConfig::streamable_http("fx", format!("https://127.0.0.1:{}/mcp", peer.port))
            .startup_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let err = conn.connect().await.err().expect("connect must fail");
    assert_eq!(err.kind(), Some(FailureKind::Tls), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    // Plain HTTP works too, all without a process default provider.
    let plain = common::effects_server_on(common::free_port(), &[]);
    let conn = McpConnector::new(ConnectorConfig::streamable_http(
        "plain",
        format!("http://127.0.0.1:{}/mcp", plain.port),
    ))
    .unwrap();
    conn.connect().await.unwrap();
    let out = conn.call("lookup", json!({"note": "x"})).await.unwrap();
    assert!(out.content.starts_with("found x"), "{}", out.content);
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "sre-mcp installed a process-wide crypto provider"
    );
}

/// With the server's CA trusted (`SSL_CERT_FILE`, read by the platform verifier on
/// Linux), a full session runs over HTTPS: handshake, listing, every tool called. Run in
/// the example client so the variable is set for that process only.
#[test]
fn trusted_certificate_gives_a_working_https_session() {
    let dir = tempfile::tempdir().unwrap();
    let peer = https_peer(dir.path());
    let url = format!("https://127.0.0.1:{}/mcp", peer.port);
    let client = common::client_binary();
    let out = Command::new(&client)
        .arg(&url)
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("lookup -> found test"),
        "{stdout}\n{stderr}"
    );
    // The same client without the CA: a TLS failure.
    let out = Command::new(&client)
        .arg(&url)
        .env("SSL_CERT_FILE", dir.path().join("cert.pem"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("TLS failure"), "{stderr}");
}

/// A 307 to another origin is not followed: the custom header (an API key) never reaches
/// the other host. A same-origin 307 is followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_never_carry_headers_to_another_origin() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("headers.log");
    let other = common::effects_server_on(
        common::free_port(),
        &["--headers-log", seen.to_str().unwrap()],
    );
    let to = format!("http://127.0.0.1:{}/mcp", other.port);
    let first = common::effects_server_on(common::free_port(), &["--redirect-to", &to]);

    let cross = McpConnector::new(
        ConnectorConfig::streamable_http("x", format!("http://127.0.0.1:{}/cross", first.port))
            .header("X-Key", "s3cret-key")
            .startup_timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let err = cross.connect().await.err().expect("must not follow");
    eprintln!("{err}");
    assert!(
        !std::fs::read_to_string(&seen)
            .unwrap_or_default()
            .contains("s3cret-key"),
        "the key reached the other origin"
    );

    let same = McpConnector::new(
        ConnectorConfig::streamable_http("s", format!("http://127.0.0.1:{}/same", first.port))
            .header("X-Key", "s3cret-key"),
    )
    .unwrap();
    same.connect().await.unwrap();
    assert_eq!(
        same.call("lookup", json!({"note": "y"}))
            .await
            .unwrap()
            .content,
        "found y"
    );
}
