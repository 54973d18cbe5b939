//! The OTLP exporters, configured from the environment per signal (`TRACES`, `METRICS`):
//! protocol (`http/protobuf`, or `grpc`), timeout, CA certificate; each reports its failed
//! exports on stderr (at most once a minute) instead of dropping them silently.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokio::runtime::Handle;

/// How long one export may take, unless the environment says.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Least time between two reports of failed exports.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// What the exporters of one [`Telemetry`](super::Telemetry) share: the runtime their
/// requests run on, the exports under way, their reporters.
#[derive(Debug)]
pub(super) struct Exports {
    runtime: Handle,
    inflight: AtomicUsize,
    /// Set at the end of shutdown: an export still polled after it fails at once rather
    /// than touch a runtime that is going away.
    closing: AtomicBool,
    /// The longest an export may take, retries included (each signal's timeout, twice,
    /// and a second).
    longest: Mutex<Duration>,
    reporters: Mutex<Vec<Arc<Reporter>>>,
}

impl Exports {
    /// Exports on the current runtime, which must be a multi-thread one: the SDK exports
    /// from threads of its own and waits for the runtime to do the work.
    pub(super) fn new() -> Result<Arc<Exports>, String> {
        let runtime = Handle::try_current().map_err(|e| e.to_string())?;
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err("OpenTelemetry export needs a multi-thread Tokio runtime".into());
        }
        Ok(Arc::new(Exports {
            runtime,
            inflight: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            longest: Mutex::new(Duration::ZERO),
            reporters: Mutex::new(Vec::new()),
        }))
    }

    fn add(&self, signal: &Signal, reporter: &Arc<Reporter>) {
        let wait = signal.timeout * 2 + Duration::from_secs(1);
        let mut longest = self.longest.lock().unwrap_or_else(|p| p.into_inner());
        *longest = (*longest).max(wait);
        self.reporters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reporter.clone());
    }

    /// How long shutdown waits for one signal.
    pub(super) fn longest_wait(&self) -> Duration {
        *self.longest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until no export is under way, at most [`longest_wait`](Self::longest_wait).
    pub(super) fn wait_idle(&self) {
        let deadline = Instant::now() + self.longest_wait();
        while self.inflight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stop: what is still polled fails at once; failures not yet reported are.
    pub(super) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        for r in self
            .reporters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            r.report_pending();
        }
    }
}

/// Counts an export under way while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        InFlight(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One signal's export settings.
pub(super) struct Signal {
    /// `TRACES` or `METRICS` (as in the variables' names).
    name: &'static str,
    grpc: bool,
    timeout: Duration,
    /// The CA certificates to trust besides the system's: the PEM file's bytes, and each
    /// certificate DER-encoded.
    ca: Option<(Vec<u8>, Vec<Vec<u8>>)>,
    /// The collector's base URL, when the host gives it (else the environment's).
    url: Option<String>,
}

/// The value of the first of `names` that is set (and not blank).
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

impl Signal {
    /// The settings of `name` (`TRACES` or `METRICS`) from the environment; with `url`,
    /// HTTP/protobuf to that collector whatever the environment says of protocol and
    /// endpoint.
    pub(super) fn from_env(name: &'static str, url: Option<&str>) -> Result<Signal, String> {
        let grpc = match signal_env(name, "PROTOCOL") {
            _ if url.is_some() => false,
            None => false,
            Some((_, p)) if p == "http/protobuf" => false,
            Some((_, p)) if p == "grpc" => true,
            Some((var, p)) => {
                return Err(format!("{var}={p}: http/protobuf (the default) or grpc"));
            }
        };
        let timeout = match signal_env(name, "TIMEOUT") {
            None => EXPORT_TIMEOUT,
            Some((var, v)) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => return Err(format!("{var}={v}: a timeout in milliseconds (e.g. 10000)")),
            },
        };
        let ca = match signal_env(name, "CERTIFICATE") {
            None => None,
            Some((var, path)) => {
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject;
                let bad = |e: &dyn std::fmt::Display| {
                    format!("{var}={path}: not a readable PEM file of certificates: {e}")
                };
                let pem = std::fs::read(&path).map_err(|e| bad(&e))?;
                let der = CertificateDer::pem_slice_iter(&pem)
                    .map(|c| c.map(|c| c.to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(&e))?;
                if der.is_empty() {
                    return Err(format!("{var}={path}: holds no certificate"));
                }
                Some((pem, der))
            }
        };
        Ok(Signal {
            name,
            grpc,
            timeout,
            ca,
            url: url.map(str::to_string),
        })
    }

    /// What it says in reports (`trace`, `metric`).
    fn noun(&self) -> &'static str {
        if self.name == "TRACES" {
            "trace"
        } else {
            "metric"
        }
    }

    /// The endpoint it exports to, for reports and the choice of TLS.
    fn endpoint(&self) -> String {
        let path = if self.name == "TRACES" {
            "v1/traces"
        } else {
            "v1/metrics"
        };
        match &self.url {
            Some(url) => format!("{url}/{path}"),
            None => match signal_env(self.name, "ENDPOINT") {
                Some((var, v)) if var.contains(self.name) || self.grpc => v,
                Some((_, v)) => format!("{}/{path}", v.trim_end_matches('/')),
                None if self.grpc => "http://localhost:4317".into(),
                None => format!("http://localhost:4318/{path}"),
            },
        }
    }

    /// Whether gRPC goes over TLS, by the SDK's rule: `https://`, or no scheme at all
    /// unless `OTEL_EXPORTER_OTLP_INSECURE` (or the signal's) is true.
    fn grpc_tls(&self) -> bool {
        let insecure =
            signal_env(self.name, "INSECURE").is_some_and(|(_, v)| v.eq_ignore_ascii_case("true"));
        grpc_tls(&self.endpoint(), insecure)
    }

    /// The HTTP client of the HTTP/protobuf exporter.
    fn http_client(
        &self,
        exports: &Exports,
        reporter: &Arc<Reporter>,
    ) -> Result<OnRuntime, String> {
        let mut settings = sre_core::providers::HttpSettings::new("http://127.0.0.1");
        // The export's own deadline says it better than the client's read timeout.
        settings.read_timeout = self.timeout + Duration::from_secs(1);
        if let Some((_, der)) = &self.ca {
            settings.extra_roots = der.clone();
        }
        Ok(OnRuntime {
            client: sre_core::providers::http_client(&settings).map_err(|e| e.to_string())?,
            runtime: exports.runtime.clone(),
            timeout: self.timeout,
            reporter: reporter.clone(),
        })
    }

    /// TLS for a gRPC collector on `https`: the system's roots and the given CA.
    fn tls(&self) -> Option<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig> {
        use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
        if !self.grpc_tls() {
            return None;
        }
        let mut tls = ClientTlsConfig::new().with_native_roots();
        if let Some((pem, _)) = &self.ca {
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        Some(tls)
    }

    fn reporter(&self) -> Arc<Reporter> {
        Arc::new(Reporter {
            what: format!(
                "OpenTelemetry {} export to {}",
                self.noun(),
                redacted(&self.endpoint())
            ),
            failures: AtomicU64::new(0),
            reported: Mutex::new(None),
            detail: Mutex::new(None),
        })
    }

    /// The span exporter.
    pub(super) fn spans(
        &self,
        exports: &Arc<Exports>,
    ) -> Result<Reported<opentelemetry_otlp::SpanExporter>, String> {
        build!(self, exports, opentelemetry_otlp::SpanExporter)
    }

    /// The metric exporter.
    pub(super) fn metrics(
        &self,
        exports: &Arc<Exports>,
    ) -> Result<Reported<opentelemetry_otlp::MetricExporter>, String> {
        build!(self, exports, opentelemetry_otlp::MetricExporter)
    }
}

/// A signal's exporter of type `$exporter` (the SDK's span and metric exporters have
/// builders with the same methods but no common trait): gRPC or HTTP/protobuf as the signal
/// says, wrapped to report its failures.
macro_rules! build {
    ($signal:expr, $exports:expr, $exporter:path) => {{
        let (signal, exports): (&Signal, &Arc<Exports>) = ($signal, $exports);
        let reporter = signal.reporter();
        exports.add(signal, &reporter);
        let exporter = if signal.grpc {
            let mut b = <$exporter>::builder()
                .with_tonic()
                .with_timeout(signal.timeout);
            if let Some(tls) = signal.tls() {
                b = b.with_tls_config(tls);
            }
            b.build()
        } else {
            let mut b = <$exporter>::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_timeout(signal.timeout)
                .with_http_client(signal.http_client(exports, &reporter)?);
            if signal.url.is_some() {
                b = b.with_endpoint(signal.endpoint());
            }
            b.build()
        }
        .map_err(|e| format!("OpenTelemetry {} exporter: {e}", signal.noun()))?;
        Ok(Reported {
            inner: exporter,
            exports: exports.clone(),
            reporter,
        })
    }};
}
use build;

/// Says on stderr that exports fail: the first time, then at most once a minute with the
/// number of failures since.
#[derive(Debug)]
struct Reporter {
    what: String,
    failures: AtomicU64,
    reported: Mutex<Option<Instant>>,
    /// The last transport error the HTTP client saw (the exporter's own error is terser).
    detail: Mutex<Option<String>>,
}

impl Reporter {
    fn report(&self, error: &str) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let detail = self.detail.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut last = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        self.failures.store(0, Ordering::Relaxed);
        let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
        eprintln!(
            "warning: {} failed ({n} failure(s) since the last report): {error}{detail}",
            self.what
        );
    }

    /// Say how many failures went unreported (at shutdown).
    fn report_pending(&self) {
        let n = self.failures.swap(0, Ordering::Relaxed);
        if n > 0
            && self
                .reported
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
        {
            eprintln!(
                "warning: {} failed {n} more time(s) since the last report",
                self.what
            );
        }
    }

    /// Forget the last transport error (a new export starts).
    fn clear(&self) {
        *self.detail.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn saw(&self, detail: String) {
        *self.detail.lock().unwrap_or_else(|p| p.into_inner()) = Some(detail);
    }
}

/// The HTTP client of the HTTP/protobuf exporters: the providers' own (same TLS roots),
/// its requests run on the host's runtime, each within the signal's timeout.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: Handle,
    timeout: Duration,
    reporter: Arc<Reporter>,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let url = request.uri().to_string();
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
            Err(e) => self
                .reporter
                .saw(error_chain(e.as_ref()).replace(&url, &redacted(&url))),
            // Not the body: a collector may echo credentials in it.
            Ok(r) if !r.status().is_success() => self.reporter.saw(format!("HTTP {}", r.status())),
            Ok(_) => {}
        }
        result
    }
}

/// Whether a gRPC `endpoint` is reached over TLS (the SDK's rule: `https`, or no scheme
/// unless insecure).
fn grpc_tls(endpoint: &str, insecure: bool) -> bool {
    let endpoint = endpoint.to_ascii_lowercase();
    if endpoint.starts_with("https://") {
        return true;
    }
    !endpoint.contains("://") && !insecure
}

/// `url` without credentials: no user information, no query.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            let mut out = u.to_string();
            // As written: no slash added to a bare host.
            if u.path() == "/" && !url.ends_with('/') {
                out.pop();
            }
            out
        }
        Err(_) => "(an endpoint that is not a URL)".into(),
    }
}

/// An error and its causes, `a: b: c`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

/// An exporter whose exports run in the host runtime's context (the SDK calls them from
/// threads of its own; gRPC's client needs the runtime's timers and sockets), are counted
/// while under way, and whose failures are reported.
#[derive(Debug)]
pub(super) struct Reported<E> {
    inner: E,
    exports: Arc<Exports>,
    reporter: Arc<Reporter>,
}

impl<E> Reported<E> {
    async fn run(&self, export: impl Future<Output = OTelSdkResult> + Send) -> OTelSdkResult {
        let _counted = InFlight::new(&self.exports.inflight);
        self.reporter.clear();
        let result = InRuntime {
            exports: &self.exports,
            future: Box::pin(export),
        }
        .await;
        if let Err(e) = &result {
            self.reporter.report(&e.to_string());
        }
        result
    }
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.run(self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _in = self.exports.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource)
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        self.run(self.inner.export(metrics))
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _in = self.exports.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// An export polled with the runtime entered; once the exports close, it fails at once.
struct InRuntime<'a, F> {
    exports: &'a Exports,
    future: Pin<Box<F>>,
}

impl<F: Future<Output = OTelSdkResult>> Future for InRuntime<'_, F> {
    type Output = OTelSdkResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OTelSdkResult> {
        if self.exports.closing.load(Ordering::Acquire) {
            return Poll::Ready(Err(
                opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    "the exporter has shut down".into(),
                ),
            ));
        }
        let _in = self.exports.runtime.enter();
        self.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_goes_over_tls_as_the_sdk_decides() {
        assert!(grpc_tls("https://collector:4317", false));
        assert!(grpc_tls("HTTPS://collector:4317", true));
        assert!(grpc_tls("collector:4317", false));
        assert!(!grpc_tls("collector:4317", true));
        assert!(!grpc_tls("http://collector:4317", false));
    }

    #[test]
    fn reports_name_endpoints_without_credentials() {
        assert_eq!(
            redacted("https://user:secret@collector:4318/v1/traces?api_key=k"),
            "https://collector:4318/v1/traces"
        );
        assert_eq!(redacted("http://127.0.0.1:1"), "http://127.0.0.1:1");
        assert_eq!(redacted("not a url"), "(an endpoint that is not a URL)");
    }
}
