//! OpenTelemetry for `sre run` and `sre serve`, configured the standard way: with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
//! `..._METRICS_ENDPOINT`) set, GenAI spans and metrics go over OTLP/HTTP (protobuf) to
//! that collector; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the service,
//! `OTEL_EXPORTER_OTLP_HEADERS` adds headers, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, default
//! 10000) bounds each export, `OTEL_EXPORTER_OTLP_CERTIFICATE` names a PEM file of CA
//! certificates to trust besides the system's (each also per signal, `..._TRACES_...`,
//! `..._METRICS_...`), `OTEL_SDK_DISABLED=true` turns it off, and
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` exports message and tool
//! content (off by default). A failed export is reported on stderr (at most once a
//! minute), and the run goes on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use sre_core::telemetry::GenAiTelemetry;

/// The trace context carried by `headers` (W3C `traceparent` and `tracestate`).
pub fn extract(headers: &[(String, String)]) -> opentelemetry::Context {
    use opentelemetry::propagation::TextMapPropagator;
    let carrier: std::collections::HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier)
}

/// How long one export request may take, unless the environment says.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Least time between two reports of failed exports.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// The exporters, while they run.
pub struct Telemetry {
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
    content: bool,
}

/// The HTTP client of the exporters: the providers' own (same TLS roots), its requests run
/// on the host's runtime (the SDK exports from a thread of its own), each within the
/// signal's timeout; failures are reported, not swallowed.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    signal: &'static str,
    failures: AtomicU64,
    reported: Mutex<Option<Instant>>,
}

impl OnRuntime {
    /// Say on stderr that an export failed: the first time, then at most once a minute
    /// with the number of failures since.
    fn report(&self, why: &str) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        self.failures.store(0, Ordering::Relaxed);
        eprintln!(
            "warning: OpenTelemetry {} export failed ({n} failure(s) since the last report): {why}",
            self.signal
        );
    }
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let endpoint = request.uri().to_string();
        // A collector that does not answer must not hold an export (or the exit) for long.
        let result = self
            .runtime
            .spawn(async move {
                tokio::time::timeout(timeout, client.send_bytes(request))
                    .await
                    .map_err(|_| -> HttpError {
                        format!("no answer within {:.1} s", timeout.as_secs_f64()).into()
                    })?
            })
            .await
            .map_err(HttpError::from)
            .and_then(|r| r);
        match &result {
            Err(e) => self.report(&format!("{endpoint}: {e}")),
            Ok(r) if !r.status().is_success() => {
                let body = String::from_utf8_lossy(r.body());
                let body: String = body.chars().take(200).collect();
                self.report(&format!("{endpoint}: HTTP {}: {body}", r.status()));
            }
            Ok(_) => {}
        }
        result
    }
}

/// The value of the first of `names` that is set.
fn first_set(names: &[String]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (n.clone(), v.trim().to_string()))
    })
}

/// `OTEL_EXPORTER_OTLP_{signal}_{what}`, else `OTEL_EXPORTER_OTLP_{what}`.
fn signal_env(signal: &str, what: &str) -> Option<(String, String)> {
    first_set(&[
        format!("OTEL_EXPORTER_OTLP_{signal}_{what}"),
        format!("OTEL_EXPORTER_OTLP_{what}"),
    ])
}

/// The exporter settings of `signal` (`TRACES` or `METRICS`) from the environment: the
/// export timeout and the CA certificates to trust.
fn signal_settings(signal: &str) -> Result<(Duration, Vec<Vec<u8>>), String> {
    let timeout = match signal_env(signal, "TIMEOUT") {
        None => EXPORT_TIMEOUT,
        Some((name, v)) => match v.parse::<u64>() {
            Ok(ms) if ms > 0 => Duration::from_millis(ms),
            _ => {
                return Err(format!(
                    "{name}={v}: a timeout in milliseconds (e.g. 10000)"
                ));
            }
        },
    };
    let mut roots = Vec::new();
    if let Some((name, path)) = signal_env(signal, "CERTIFICATE") {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{name}={path}: not a readable PEM file of certificates: {e}"))?;
        if certs.is_empty() {
            return Err(format!("{name}={path}: holds no certificate"));
        }
        roots.extend(certs.into_iter().map(|c| c.to_vec()));
    }
    Ok((timeout, roots))
}

fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

impl Telemetry {
    /// The exporters the environment asks for, if any; call inside the runtime.
    pub fn from_env() -> Result<Option<Telemetry>, String> {
        if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let traces_on =
            set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let metrics_on =
            set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        if !traces_on && !metrics_on {
            return Ok(None);
        }
        // Only HTTP/protobuf is built in: a request for another protocol is an error, not
        // a silent change of protocol.
        for name in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        ] {
            if let Ok(p) = std::env::var(name)
                && !p.trim().is_empty()
                && p.trim() != "http/protobuf"
            {
                return Err(format!(
                    "{name}={p}: only http/protobuf is supported (unset it, or set http/protobuf)"
                ));
            }
        }
        let content = std::env::var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Self::build(None, traces_on, metrics_on, content).map(Some)
    }

    /// Traces and metrics to the collector at `url` (`{url}/v1/traces`, `{url}/v1/metrics`),
    /// whatever the environment says; call inside the runtime.
    pub fn to_collector(url: &str) -> Result<Telemetry, String> {
        Self::build(Some(url), true, true, false)
    }

    fn build(
        url: Option<&str>,
        traces_on: bool,
        metrics_on: bool,
        content: bool,
    ) -> Result<Telemetry, String> {
        let client = |signal: &'static str| -> Result<OnRuntime, String> {
            let (timeout, roots) = signal_settings(signal)?;
            let mut settings = sre_core::providers::HttpSettings::new("http://127.0.0.1");
            // The export's own deadline says it better than the client's read timeout.
            settings.read_timeout = timeout + Duration::from_secs(1);
            settings.extra_roots = roots;
            Ok(OnRuntime {
                client: sre_core::providers::http_client(&settings).map_err(|e| e.to_string())?,
                runtime: tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?,
                timeout,
                signal: if signal == "TRACES" {
                    "trace"
                } else {
                    "metric"
                },
                failures: AtomicU64::new(0),
                reported: Mutex::new(None),
            })
        };
        let resource = opentelemetry_sdk::Resource::builder().build();
        let mut traces = SdkTracerProvider::builder().with_resource(resource.clone());
        if traces_on {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_http_client(client("TRACES")?);
            if let Some(url) = url {
                builder = builder.with_endpoint(format!("{url}/v1/traces"));
            }
            let exporter = builder
                .build()
                .map_err(|e| format!("OpenTelemetry trace exporter: {e}"))?;
            traces = traces.with_batch_exporter(exporter);
        }
        let mut metrics = SdkMeterProvider::builder().with_resource(resource);
        if metrics_on {
            let mut builder = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_http_client(client("METRICS")?);
            if let Some(url) = url {
                builder = builder.with_endpoint(format!("{url}/v1/metrics"));
            }
            let exporter = builder
                .build()
                .map_err(|e| format!("OpenTelemetry metric exporter: {e}"))?;
            metrics = metrics.with_reader(PeriodicReader::builder(exporter).build());
        }
        Ok(Telemetry {
            traces: traces.build(),
            metrics: metrics.build(),
            content,
        })
    }

    /// A new event sink that turns a run's events into spans and metrics.
    pub fn sink(&self) -> GenAiTelemetry {
        let tracer = opentelemetry::global::BoxedTracer::new(
            opentelemetry::global::ObjectSafeTracerProvider::boxed_tracer(
                &self.traces,
                opentelemetry::InstrumentationScope::builder("sre-harness").build(),
            ),
        );
        let meter = opentelemetry::metrics::MeterProvider::meter(&self.metrics, "sre-harness");
        GenAiTelemetry::new(tracer, &meter).capture_content(self.content)
    }

    /// Export what the SDK holds now (blocks: call off the runtime's threads).
    pub fn flush(&self) {
        let _ = self.traces.force_flush();
        let _ = self.metrics.force_flush();
    }

    /// Export what is left and stop (off the runtime's threads: the exporters use it).
    pub async fn shutdown(self) {
        let _ = tokio::task::spawn_blocking(move || {
            let _ = self.traces.force_flush();
            let _ = self.traces.shutdown();
            let _ = self.metrics.force_flush();
            let _ = self.metrics.shutdown();
        })
        .await;
    }
}
