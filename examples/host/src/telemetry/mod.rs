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
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
    content: bool,
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
        let resource = opentelemetry_sdk::Resource::builder().build();
        let mut traces = SdkTracerProvider::builder().with_resource(resource.clone());
        if traces_on {
            let exporter = export::Signal::from_env("TRACES", url)?.spans()?;
            traces = traces.with_batch_exporter(exporter);
        }
        let mut metrics = SdkMeterProvider::builder().with_resource(resource);
        if metrics_on {
            let exporter = export::Signal::from_env("METRICS", url)?.metrics()?;
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
