//! How `sre run` exports when the collector is not a friendly one on plain HTTP: behind a
//! private CA (`OTEL_EXPORTER_OTLP_CERTIFICATE`), not answering (`OTEL_EXPORTER_OTLP_TIMEOUT`
//! bounds the wait), refusing: a failed export is reported on stderr and the run goes on.
//! The collector is a real HTTPS server (tests/fixtures/otlp_collector.py, certificates made
//! now by openssl).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A one-agent home and its script (one tool call, then an answer).
fn home(dir: &std::path::Path) -> std::path::PathBuf {
    let h = dir.join("home");
    std::fs::create_dir_all(h.join("agents")).unwrap();
    std::fs::write(
        h.join("agents/lead.yaml"),
        "kind: ExtendedAgent\nspec:\n  name: lead\n  system_prompt: Look.\n  tools: [Bash]\n",
    )
    .unwrap();
    std::fs::write(
        h.join("script.yaml"),
        "turns:\n  - tool_calls:\n      - {tool: shell, args: {command: 'echo hi'}}\n  - final: done\n",
    )
    .unwrap();
    h
}

fn run(dir: &std::path::Path, env: &[(&str, String)]) -> (Output, Duration) {
    let h = home(dir);
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sre"));
    cmd.args(["run", "--agent", "lead", "--approve", "none", "--script"])
        .arg(h.join("script.yaml"))
        .arg("--workspace")
        .arg(dir.join("ws"))
        .arg(&h)
        .arg("look");
    // Only what the test sets: none of the OTEL_* variables of the machine.
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out, started.elapsed())
}

/// The collector fixture on a free port, logging to `dir/received.log`.
fn collector(dir: &std::path::Path, extra: &[&str]) -> (common::Server, u16) {
    let port = common::free_port();
    let mut cmd = Command::new("python3");
    cmd.arg(common::fixture("otlp_collector.py"))
        .args(["--port", &port.to_string(), "--log"])
        .arg(dir.join("received.log"))
        .args(extra);
    (common::start_listening(cmd, port), port)
}

fn received(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("received.log")).unwrap_or_default()
}

#[test]
fn a_collector_behind_a_private_ca_is_reached_with_its_certificate_and_reported_without() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (_collector, port) = collector(dir.path(), &["--tls-dir", tls.to_str().unwrap()]);
    let endpoint = (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        format!("https://127.0.0.1:{port}/v1/traces"),
    );
    // Without the CA: the export fails, the run does not, and stderr says so.
    let (out, _) = run(&dir.path().join("a"), std::slice::from_ref(&endpoint));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: OpenTelemetry trace export to https://127.0.0.1:{port}/v1/traces failed"
        )) && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    assert_eq!(received(dir.path()), "", "nothing got through");
    // With it: the spans arrive over TLS, and nothing is reported.
    let (out, _) = run(
        &dir.path().join("b"),
        &[
            endpoint,
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                tls.join("ca.pem").display().to_string(),
            ),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning: OpenTelemetry"), "{stderr}");
    assert!(
        received(dir.path()).starts_with("/v1/traces "),
        "{}",
        received(dir.path())
    );
}

#[test]
fn a_collector_that_never_answers_holds_the_exit_only_for_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_collector, port) = collector(dir.path(), &["--hang"]);
    let (out, took) = run(
        &dir.path().join("a"),
        &[
            // Both signals: the exit waits for the exports under way (bounded), and nothing
            // touches the runtime after it is gone.
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000".into()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for signal in ["trace", "metric"] {
        assert!(
            stderr.contains(&format!(
                "warning: OpenTelemetry {signal} export to http://127.0.0.1:{port}/v1/"
            )) && stderr.contains("no answer within 1.0 s"),
            "{stderr}"
        );
    }
    let got = received(dir.path());
    assert!(
        got.contains("/v1/traces ") && got.contains("/v1/metrics "),
        "{got}"
    );
    // The default (10 s) would hold it far longer than this.
    assert!(took < Duration::from_secs(9), "took {took:?}");
}

#[test]
fn a_bad_timeout_or_certificate_is_an_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://127.0.0.1:9".to_string(),
    );
    for (env, says) in [
        (
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon".to_string()),
            "OTEL_EXPORTER_OTLP_TIMEOUT=soon: a timeout in milliseconds",
        ),
        (
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0".to_string()),
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT=0",
        ),
        (
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "/nonexistent/ca.pem".to_string(),
            ),
            "OTEL_EXPORTER_OTLP_CERTIFICATE=/nonexistent/ca.pem: not a readable PEM file",
        ),
    ] {
        let (out, _) = run(dir.path(), &[endpoint.clone(), env]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// What the gRPC receiver got: span names, and metric names.
#[derive(Default)]
struct Grpc {
    spans: Vec<String>,
    metrics: Vec<String>,
}

mod grpc {
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService;
    use opentelemetry_proto::tonic::collector::metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService;
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };

    #[derive(Clone)]
    pub struct Receiver(pub Arc<Mutex<super::Grpc>>);

    #[tonic::async_trait]
    impl TraceService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut got = self.0.lock().unwrap();
            for rs in request.into_inner().resource_spans {
                for ss in rs.scope_spans {
                    got.spans.extend(ss.spans.into_iter().map(|s| s.name));
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    #[tonic::async_trait]
    impl MetricsService for Receiver {
        async fn export(
            &self,
            request: tonic::Request<ExportMetricsServiceRequest>,
        ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
            let mut got = self.0.lock().unwrap();
            for rm in request.into_inner().resource_metrics {
                for sm in rm.scope_metrics {
                    got.metrics.extend(sm.metrics.into_iter().map(|m| m.name));
                }
            }
            Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_go_over_grpc_when_asked() {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Grpc::default()));
    let receiver = grpc::Receiver(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream_of(listener)),
    );
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            run(
                &dir,
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}")),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
                ],
            )
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning: OpenTelemetry"), "{stderr}");
    {
        let got = got.lock().unwrap();
        for name in ["invoke_agent lead", "execute_tool shell"] {
            assert!(
                got.spans.iter().any(|s| s == name),
                "{name} not in {:?}",
                got.spans
            );
        }
        assert!(
            got.metrics
                .iter()
                .any(|m| m == "gen_ai.client.operation.duration"),
            "{:?}",
            got.metrics
        );
    }
    // A gRPC collector that is not there: reported, within the timeout.
    let closed = 1; // nothing listens on port 1
    let (out, took) = tokio::task::spawn_blocking({
        let dir = dir.path().join("b");
        move || {
            run(
                &dir,
                &[
                    (
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        format!("http://127.0.0.1:{closed}"),
                    ),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
                    ("OTEL_EXPORTER_OTLP_TIMEOUT", "500".into()),
                ],
            )
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: OpenTelemetry trace export to http://127.0.0.1:{closed} failed"
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

/// The accepted connections of `listener`, as tonic's server takes them.
fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| s);
        Some((r, l))
    })
}
