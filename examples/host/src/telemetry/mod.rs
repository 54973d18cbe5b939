//! OpenTelemetry for `sre run` and `sre serve`, configured the standard way. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
//! `..._METRICS_ENDPOINT`) set, GenAI spans and metrics go over OTLP to that collector:
//! HTTP/protobuf, or gRPC with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the service,
//! `OTEL_EXPORTER_OTLP_HEADERS` adds headers, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, default
//! 10000) bounds each export, `OTEL_EXPORTER_OTLP_CERTIFICATE` names a PEM file of CA
//! certificates to trust besides the system's (each also per signal, `..._TRACES_...`,
//! `..._METRICS_...`), `OTEL_SDK_DISABLED=true` turns it off, and
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` exports message and tool
//! content (off by default). A failed export is reported on stderr (at most once a
//! minute), and the run goes on.

mod export;

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

/// The exporters, while they run.
pub struct Telemetry {
    /// None when only metrics are exported: runs then get a no-op tracer, and MCP servers
    /// no trace context for a trace that goes nowhere.
    traces: Option<SdkTracerProvider>,
    metrics: SdkMeterProvider,
    content: bool,
    exports: std::sync::Arc<export::Exports>,
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
        let exports = export::Exports::new()?;
        let resource = opentelemetry_sdk::Resource::builder().build();
        let traces = if traces_on {
            let signal = export::Signal::from_env("TRACES", url)?;
            let exporter = signal.spans(&exports)?;
            Some(
                SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(exporter)
                    .build(),
            )
        } else {
            None
        };
        let mut metrics = SdkMeterProvider::builder().with_resource(resource);
        if metrics_on {
            let signal = export::Signal::from_env("METRICS", url)?;
            let exporter = signal.metrics(&exports)?;
            metrics = metrics.with_reader(PeriodicReader::builder(exporter).build());
        }
        Ok(Telemetry {
            traces,
            metrics: metrics.build(),
            content,
            exports,
        })
    }

    /// A new event sink that turns a run's events into spans and metrics.
    pub fn sink(&self) -> GenAiTelemetry {
        use opentelemetry::global::{BoxedTracer, ObjectSafeTracerProvider};
        let scope = opentelemetry::InstrumentationScope::builder("sre-harness").build();
        let tracer = match &self.traces {
            Some(traces) => BoxedTracer::new(traces.boxed_tracer(scope)),
            None => BoxedTracer::new(
                opentelemetry::trace::noop::NoopTracerProvider::new().boxed_tracer(scope),
            ),
        };
        let meter = opentelemetry::metrics::MeterProvider::meter(&self.metrics, "sre-harness");
        GenAiTelemetry::new(tracer, &meter).capture_content(self.content)
    }

    /// Export what the SDK holds now, and wait (bounded) for exports under way (blocks:
    /// call off the runtime's threads).
    pub fn flush(&self) {
        if let Some(traces) = &self.traces {
            let _ = traces.force_flush();
        }
        let _ = self.metrics.force_flush();
        self.exports.wait_idle();
    }

    /// Export what is left and stop: waits for exports under way (each bounded by its
    /// timeout, retries included), then says what failed and was not yet reported. Call
    /// off the runtime's threads' work (it runs the waits on a blocking thread).
    pub async fn shutdown(self) {
        let _ = tokio::task::spawn_blocking(move || {
            let wait = self.exports.longest_wait();
            if let Some(traces) = &self.traces {
                let _ = traces.shutdown_with_timeout(wait);
            }
            let _ = self.metrics.shutdown_with_timeout(wait);
            // The SDK stops waiting after a fixed time; exports still under way finish (or
            // give up) before the runtime they use goes away.
            self.exports.wait_idle();
            self.exports.close();
        })
        .await;
    }
}
