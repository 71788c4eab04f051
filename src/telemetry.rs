//! Logging set-up and request metrics in Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use crate::app::AppState;

/// Installs the global log subscriber with `filter` (for example `info`).
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second call (tests start many servers) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct RouteStats {
    /// Requests by status class: index 0 is 1xx … index 4 is 5xx.
    by_class: [u64; 5],
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counts and latencies per method and route pattern (never per id, so the number of
/// series stays small).
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let stats = routes
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        stats.by_class[class] += 1;
        stats.count += 1;
        stats.sum += seconds;
        for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(routes) = self.routes.lock() else {
            return out;
        };
        out.push_str("# HELP openconnector_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE openconnector_http_requests_total counter\n");
        for ((method, route), stats) in routes.iter() {
            for (i, n) in stats.by_class.iter().enumerate().filter(|(_, n)| **n > 0) {
                let _ = writeln!(
                    out,
                    "openconnector_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{}xx\"}} {n}",
                    i + 1
                );
            }
        }
        out.push_str(
            "# HELP openconnector_http_request_duration_seconds Time to answer a request.\n",
        );
        out.push_str("# TYPE openconnector_http_request_duration_seconds histogram\n");
        for ((method, route), stats) in routes.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, n) in BUCKETS.iter().zip(stats.buckets) {
                let _ = writeln!(
                    out,
                    "openconnector_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "openconnector_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "openconnector_http_request_duration_seconds_sum{{{labels}}} {}",
                stats.sum
            );
            let _ = writeln!(
                out,
                "openconnector_http_request_duration_seconds_count{{{labels}}} {}",
                stats.count
            );
        }
        out
    }
}

/// Middleware that times every request and records it under its route pattern.
pub async fn measure(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let result = next.call(request).await;
    if let Some(state) = state {
        let status = match &result {
            Ok(response) => response.status().as_u16(),
            Err(error) => error.as_response_error().status_code().as_u16(),
        };
        state
            .metrics
            .record(&method, &route, status, started.elapsed());
    }
    result
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_class() {
        let metrics = Metrics::default();
        metrics.record("GET", "/api/sources", 200, Duration::from_millis(3));
        metrics.record("GET", "/api/sources", 404, Duration::from_millis(30));
        let text = metrics.render();
        assert!(text.contains(
            r#"openconnector_http_requests_total{method="GET",route="/api/sources",status="2xx"} 1"#
        ));
        assert!(text.contains(
            r#"openconnector_http_requests_total{method="GET",route="/api/sources",status="4xx"} 1"#
        ));
        assert!(text.contains(r#"openconnector_http_request_duration_seconds_bucket{method="GET",route="/api/sources",le="0.005"} 1"#));
        assert!(text.contains(r#"openconnector_http_request_duration_seconds_count{method="GET",route="/api/sources"} 2"#));
    }
}
