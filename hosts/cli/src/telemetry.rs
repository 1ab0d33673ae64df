//! Logs and distributed traces: the stderr log every command had, plus OpenTelemetry span
//! export over OTLP/HTTP when the standard `OTEL_*` environment variables ask for it, and
//! W3C trace-context propagation between the agent, resources and auth servers.
//!
//! * Export is **off** unless `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and neither `OTEL_SDK_DISABLED=true` nor
//!   `OTEL_TRACES_EXPORTER=none`). The exporter reads the rest itself:
//!   `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, or `http/json`),
//!   `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` and their `_TRACES_`
//!   variants; the batch processor reads `OTEL_BSP_*`; the resource reads
//!   `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. gRPC is not built in.
//! * Servers continue the caller's trace: [`server_span`] makes each request's span a child
//!   of the incoming `traceparent`. The agent client sends `traceparent` on every hop
//!   ([`propagator`]). The propagator is installed even when export is off, so a process
//!   in the middle of a chain still passes the context on.

use std::sync::Arc;

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the span exporter alive; [`Telemetry::shutdown`] flushes what is queued.
#[derive(Debug, Default)]
#[must_use = "dropping it without shutdown() may lose the last spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every queued span and stops the exporter (bounded by the exporter timeout).
    pub fn shutdown(mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("aauth: flushing trace spans failed: {e}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Whether the environment (read through `var`) asks for OTLP trace export.
pub fn otlp_requested(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let none = var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
    !disabled
        && !none
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// Installs the global subscriber: the stderr log at `info` (`warn` when `quiet`) and, when
/// [`otlp_requested`], an OpenTelemetry layer exporting `info` spans over OTLP/HTTP under
/// the service name `service` (unless `OTEL_SERVICE_NAME` says otherwise). Also installs
/// the W3C trace-context propagator. Idempotent: a second call leaves the first in place.
pub fn init(service: &'static str, quiet: bool) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let level = if quiet {
        LevelFilter::WARN
    } else {
        LevelFilter::INFO
    };
    // The log shows events only: spans are for the exporter, and would otherwise prefix
    // every line with their fields.
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter_fn(move |m| m.is_event() && level >= *m.level()));
    let mut provider = None;
    if otlp_requested(|k| std::env::var(k).ok()) {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(exporter) => {
                let mut resource = opentelemetry_sdk::Resource::builder();
                if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
                    resource = resource.with_service_name(service);
                }
                provider = Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_resource(resource.build())
                        .build(),
                );
            }
            Err(e) => eprintln!("aauth: OTLP trace export disabled: {e}"),
        }
    }
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("aauth"))
            .with_filter(LevelFilter::INFO)
    });
    if tracing_subscriber::registry()
        .with(log)
        .with(otel)
        .try_init()
        .is_err()
    {
        // A subscriber is already installed (tests, a second call): keep it, export nothing.
        provider = None;
    }
    Telemetry { provider }
}

/// The span of one incoming request, a child of the caller's `traceparent` when present.
pub fn server_span(
    role: &'static str,
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> tracing::Span {
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format_args!("{role} {method} {path}"),
        otel.kind = "server",
        http.request.method = method,
        url.path = path,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Fails only when no OpenTelemetry layer is installed: nothing to continue then.
    let _ = span.set_parent(parent);
    span
}

/// The agent client's [`Propagator`](aauth_agent::Propagator): writes the hop span's
/// context as `traceparent` (and `tracestate`).
pub fn propagator() -> aauth_agent::Propagator {
    Arc::new(|span, headers| {
        let cx = span.context();
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    })
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn export_only_when_an_endpoint_is_configured() {
        assert!(!otlp_requested(env(&[])));
        assert!(!otlp_requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            " "
        )])));
        assert!(otlp_requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4318"
        )])));
        assert!(otlp_requested(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces"
        )])));
        assert!(!otlp_requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])));
        assert!(!otlp_requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])));
    }

    #[test]
    fn traceparent_round_trips_through_headers() {
        let mut h = HeaderMap::new();
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        h.insert("traceparent", tp.parse().unwrap());
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&h));
        let mut out = HeaderMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut out));
        assert_eq!(out["traceparent"], tp);
    }
}
