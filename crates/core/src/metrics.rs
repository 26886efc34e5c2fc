//! Process-wide counters and histograms, rendered in Prometheus' text
//! format by whoever serves `/metrics` (the reference server does).
//!
//! Dependency-free on purpose: the SDK records what happens (jobs, previews,
//! payments, downloads, HTTP requests) through these functions and any
//! exporter can read [`render`]. Label values are small closed sets (task
//! kinds, outcomes, route templates, status codes), never ids.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{Mutex, OnceLock},
    time::Duration,
};

/// Histogram buckets in seconds: 1 ms to 60 s.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    counters: BTreeMap<&'static str, (&'static str, BTreeMap<Labels, u64>)>,
    histograms: BTreeMap<&'static str, (&'static str, BTreeMap<Labels, Histogram>)>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Mutex::default)
}

/// Adds `by` to counter `name{labels}`.
pub fn count(name: &'static str, help: &'static str, labels: &[(&'static str, &str)], by: u64) {
    let labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    *r.counters.entry(name).or_insert_with(|| (help, BTreeMap::new())).1.entry(labels).or_default() += by;
}

/// Records one observation of `took` in histogram `name{labels}`.
pub fn observe(name: &'static str, help: &'static str, labels: &[(&'static str, &str)], took: Duration) {
    let labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let secs = took.as_secs_f64();
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    let h = r.histograms.entry(name).or_insert_with(|| (help, BTreeMap::new())).1.entry(labels).or_default();
    for (i, le) in BUCKETS.iter().enumerate() {
        if secs <= *le {
            h.counts[i] += 1;
        }
    }
    h.count += 1;
    h.sum += secs;
}

fn label_text(labels: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> =
        labels.iter().map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

/// Everything recorded so far, in Prometheus' text exposition format.
pub fn render() -> String {
    let r = registry().lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    for (name, (help, series)) in &r.counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, v) in series {
            let _ = writeln!(out, "{name}{} {v}", label_text(labels, None));
        }
    }
    for (name, (help, series)) in &r.histograms {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (labels, h) in series {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ =
                    writeln!(out, "{name}_bucket{} {}", label_text(labels, Some(("le", le.to_string()))), h.counts[i]);
            }
            let _ = writeln!(out, "{name}_bucket{} {}", label_text(labels, Some(("le", "+Inf".into()))), h.count);
            let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), h.sum);
            let _ = writeln!(out, "{name}_count{} {}", label_text(labels, None), h.count);
        }
    }
    out
}

/// A job finished: `outcome` is `succeeded`, `retried` or `failed`.
pub fn job(kind: &str, outcome: &str, took: Duration) {
    count("proofsheet_jobs_total", "Jobs run, by kind and outcome.", &[("kind", kind), ("outcome", outcome)], 1);
    observe("proofsheet_job_duration_seconds", "Time to run a job, by kind.", &[("kind", kind)], took);
}

/// A preview (and thumbnail) was rendered, or refused.
pub fn preview(outcome: &str, took: Duration) {
    count("proofsheet_previews_total", "Preview renders, by outcome.", &[("outcome", outcome)], 1);
    if outcome == "rendered" {
        observe("proofsheet_preview_duration_seconds", "Time to decode, resize, watermark and encode.", &[], took);
    }
}

/// A verified payment notification was applied (`changed`) or was a no-op
/// (`ignored`), or one was refused (`rejected`).
pub fn payment(gateway: &str, outcome: &str, result: &str) {
    count(
        "proofsheet_payment_events_total",
        "Payment notifications, by gateway, outcome and what they did.",
        &[("gateway", gateway), ("outcome", outcome), ("result", result)],
        1,
    );
}

/// Bytes of zips sent to buyers.
pub fn downloaded(bytes: u64) {
    count("proofsheet_download_bytes_total", "Bytes of zips sent to buyers.", &[], bytes);
}

/// An HTTP request finished.
pub fn http(method: &str, route: &str, status: u16, took: Duration) {
    let status = status.to_string();
    let labels = [("method", method), ("route", route), ("status", status.as_str())];
    count("proofsheet_http_requests_total", "HTTP requests, by method, route template and status.", &labels, 1);
    observe(
        "proofsheet_http_request_duration_seconds",
        "HTTP request latency, by method, route template and status.",
        &labels,
        took,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        count("proofsheet_test_total", "A test counter.", &[("k", "a\"b")], 2);
        observe("proofsheet_test_seconds", "A test histogram.", &[], Duration::from_millis(3));
        let text = render();
        assert!(
            text.contains("# TYPE proofsheet_test_total counter\nproofsheet_test_total{k=\"a\\\"b\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("proofsheet_test_seconds_bucket{le=\"0.0025\"} 0\n"), "{text}");
        assert!(text.contains("proofsheet_test_seconds_bucket{le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("proofsheet_test_seconds_bucket{le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("proofsheet_test_seconds_count 1\n"), "{text}");
    }
}
