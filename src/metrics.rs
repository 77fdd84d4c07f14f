//! Prometheus metrics: one registry per server, shared by the layers that count (the Mailchimp
//! client, the engine, the gRPC front), and the gauges read from the store when scraped.
//!
//! Counters and histograms are updated where things happen; what the store already knows
//! (outbox depth, mirror sizes, the last job) is read at scrape time rather than mirrored,
//! so it can never drift. The registry is an instance, not a global: every server (and every
//! test in one process) has its own.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric mcsync exports.
pub struct Metrics {
    registry: Registry,
    /// Mailchimp requests by operation (`PUT /ecommerce/stores/{id}/products/{id}`) and status
    /// (the HTTP code, or `timeout`, `connect_error`, `interrupted`); every attempt counts.
    pub mailchimp_requests: IntCounterVec,
    /// Attempts tried again after a failure.
    pub mailchimp_retries: IntCounter,
    /// Answers that asked mcsync to slow down (429, or Mailchimp's throttling 403).
    pub mailchimp_throttled: IntCounter,
    /// Requests on the wire now, over every key (each key is limited to 10).
    pub mailchimp_connections_in_use: IntGauge,
    /// Operations in batches submitted to Mailchimp and not yet finished.
    pub batch_operations_pending: IntGauge,
    /// From a change entering the outbox to live sync being done with it: Mailchimp holds it,
    /// or refused it and the refusal is listed.
    pub live_sync_latency: Histogram,
    /// gRPC calls by method and final status code.
    pub grpc_requests: IntCounterVec,
    /// Scheduled store audits by result (`in_sync`, `drift`, `error`).
    pub store_audits: IntCounterVec,
    /// What audits found, by kind of drift (`missing_in_mailchimp`, `orphans`, …).
    pub audit_findings: IntCounterVec,
    outbox_depth: IntGauge,
    outbox_oldest_age: prometheus::Gauge,
    mirror_records: IntGaugeVec,
    job_state: IntGaugeVec,
    job_records: IntGaugeVec,
    job_percent: prometheus::Gauge,
}

/// What the store says at scrape time.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Changes live sync has not dealt with.
    pub outbox_depth: u64,
    /// Seconds since the oldest of them entered the outbox (0 when none, or unknown).
    pub outbox_oldest_age_secs: f64,
    /// Records in the mirror per kind name.
    pub mirror: Vec<(&'static str, u64)>,
    /// The most recent upload job, if any.
    pub job: Option<JobSnapshot>,
}

/// The most recent job, as a scrape sees it.
#[derive(Debug, Default, Clone)]
pub struct JobSnapshot {
    /// Its state's name (`running`, `succeeded`, ...).
    pub state: &'static str,
    /// Records over all phases: total, done, skipped, failed.
    pub total: i64,
    /// Sent and accepted.
    pub done: i64,
    /// Already in Mailchimp as they are.
    pub skipped: i64,
    /// Refused.
    pub failed: i64,
    /// (done + skipped + failed) / total, in percent.
    pub percent: f64,
}

/// The states a job can be in, so that each has a series (0 or 1) and alerts can match on it.
pub const JOB_STATES: [&str; 4] = ["running", "succeeded", "failed", "cancelled"];

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("mcsync".into()), None).expect("valid prefix");
        let m = Self {
            mailchimp_requests: IntCounterVec::new(
                Opts::new(
                    "mailchimp_requests_total",
                    "Mailchimp requests by operation and status",
                ),
                &["operation", "status"],
            )
            .expect("valid metric"),
            mailchimp_retries: IntCounter::new(
                "mailchimp_retries_total",
                "Mailchimp requests tried again after a failure",
            )
            .expect("valid metric"),
            mailchimp_throttled: IntCounter::new(
                "mailchimp_throttled_total",
                "Mailchimp answers that asked to slow down (429 or throttling 403)",
            )
            .expect("valid metric"),
            mailchimp_connections_in_use: IntGauge::new(
                "mailchimp_connections_in_use",
                "Mailchimp requests on the wire now (at most 10 per API key)",
            )
            .expect("valid metric"),
            batch_operations_pending: IntGauge::new(
                "batch_operations_pending",
                "Operations in submitted Mailchimp batches not yet finished",
            )
            .expect("valid metric"),
            live_sync_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "live_sync_latency_seconds",
                    "From a change entering the outbox to live sync being done with it",
                )
                .buckets(vec![
                    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                ]),
            )
            .expect("valid metric"),
            grpc_requests: IntCounterVec::new(
                Opts::new(
                    "grpc_requests_total",
                    "gRPC calls by method and status code",
                ),
                &["method", "code"],
            )
            .expect("valid metric"),
            store_audits: IntCounterVec::new(
                Opts::new(
                    "store_audits_total",
                    "Scheduled audits of a store against Mailchimp, by result",
                ),
                &["result"],
            )
            .expect("valid metric"),
            audit_findings: IntCounterVec::new(
                Opts::new(
                    "audit_findings_total",
                    "Drift scheduled audits found, by kind (each starts a repair)",
                ),
                &["found"],
            )
            .expect("valid metric"),
            outbox_depth: IntGauge::new(
                "outbox_depth",
                "Changes in the outbox live sync has not dealt with",
            )
            .expect("valid metric"),
            outbox_oldest_age: prometheus::Gauge::new(
                "outbox_oldest_age_seconds",
                "Seconds since the oldest change still in the outbox entered it",
            )
            .expect("valid metric"),
            mirror_records: IntGaugeVec::new(
                Opts::new("mirror_records", "Shop records in the mirror per kind"),
                &["kind"],
            )
            .expect("valid metric"),
            job_state: IntGaugeVec::new(
                Opts::new(
                    "upload_job_state",
                    "1 for the state the most recent upload job is in",
                ),
                &["state"],
            )
            .expect("valid metric"),
            job_records: IntGaugeVec::new(
                Opts::new(
                    "upload_job_records",
                    "Records of the most recent upload job by outcome",
                ),
                &["outcome"],
            )
            .expect("valid metric"),
            job_percent: prometheus::Gauge::new(
                "upload_job_percent",
                "How far the most recent upload job is, in percent",
            )
            .expect("valid metric"),
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 15] = [
            Box::new(m.store_audits.clone()),
            Box::new(m.audit_findings.clone()),
            Box::new(m.mailchimp_requests.clone()),
            Box::new(m.mailchimp_retries.clone()),
            Box::new(m.mailchimp_throttled.clone()),
            Box::new(m.mailchimp_connections_in_use.clone()),
            Box::new(m.batch_operations_pending.clone()),
            Box::new(m.live_sync_latency.clone()),
            Box::new(m.grpc_requests.clone()),
            Box::new(m.outbox_depth.clone()),
            Box::new(m.outbox_oldest_age.clone()),
            Box::new(m.mirror_records.clone()),
            Box::new(m.job_state.clone()),
            Box::new(m.job_records.clone()),
            Box::new(m.job_percent.clone()),
        ];
        for c in collectors {
            m.registry
                .register(c)
                .expect("each metric is registered once");
        }
        m
    }

    /// The text exposition of every metric, with the store's gauges set from `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        self.outbox_depth
            .set(i64::try_from(snapshot.outbox_depth).unwrap_or(i64::MAX));
        self.outbox_oldest_age.set(snapshot.outbox_oldest_age_secs);
        for (kind, n) in &snapshot.mirror {
            self.mirror_records
                .with_label_values(&[*kind])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        if let Some(job) = &snapshot.job {
            for state in JOB_STATES {
                self.job_state
                    .with_label_values(&[state])
                    .set(i64::from(state == job.state));
            }
            for (outcome, n) in [
                ("total", job.total),
                ("done", job.done),
                ("skipped", job.skipped),
                ("failed", job.failed),
            ] {
                self.job_records.with_label_values(&[outcome]).set(n);
            }
            self.job_percent.set(job.percent);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text encoder writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Counts a request on the wire until the guard drops.
    pub fn connection(&self) -> Held {
        Held::new(&self.mailchimp_connections_in_use, 1)
    }

    /// Counts a submitted batch's operations as pending until the guard drops.
    pub fn batch_pending(&self, operations: usize) -> Held {
        Held::new(
            &self.batch_operations_pending,
            i64::try_from(operations).unwrap_or(i64::MAX),
        )
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Holds some units of a gauge; gives them back when dropped, also on a cancelled request or
/// an early return, so the gauge never drifts.
pub struct Held {
    gauge: IntGauge,
    n: i64,
}

impl Held {
    fn new(gauge: &IntGauge, n: i64) -> Self {
        gauge.add(n);
        Self {
            gauge: gauge.clone(),
            n,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.gauge.sub(self.n);
    }
}

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A request's operation with its ids taken out, so that the label's values stay few:
/// `/ecommerce/stores/s1/products/p1` becomes `/ecommerce/stores/{id}/products/{id}`.
/// Mailchimp's paths alternate a collection and an id, after the `ecommerce` prefix.
pub fn operation_label(method: &str, path: &str) -> String {
    let mut label = String::with_capacity(path.len() + 8);
    label.push_str(method);
    label.push(' ');
    let mut position = 0usize;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        label.push('/');
    }
    for s in segments {
        label.push('/');
        if position == 0 && s == "ecommerce" {
            label.push_str(s);
            continue;
        }
        // `actions/<name>` is a verb, not an id.
        if position % 2 == 1 && !label.ends_with("/actions/") {
            label.push_str("{id}");
        } else {
            label.push_str(s);
        }
        position += 1;
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_labelled_without_their_ids() {
        assert_eq!(operation_label("GET", "/"), "GET /");
        assert_eq!(operation_label("GET", "/ping"), "GET /ping");
        assert_eq!(
            operation_label("PUT", "/ecommerce/stores/s%201/products/p1/variants/v1"),
            "PUT /ecommerce/stores/{id}/products/{id}/variants/{id}"
        );
        assert_eq!(
            operation_label("PATCH", "/lists/abc/members/0123abcd"),
            "PATCH /lists/{id}/members/{id}"
        );
        assert_eq!(operation_label("POST", "/batches"), "POST /batches");
        assert_eq!(operation_label("GET", "/batches/b1"), "GET /batches/{id}");
    }

    #[test]
    fn a_scrape_shows_the_store_gauges_and_the_last_job() {
        let m = Metrics::new();
        m.mailchimp_requests
            .with_label_values(&["GET /ping", "200"])
            .inc();
        let text = m.render(&Snapshot {
            outbox_depth: 3,
            outbox_oldest_age_secs: 1.5,
            mirror: vec![("product", 7)],
            job: Some(JobSnapshot {
                state: "running",
                total: 10,
                done: 4,
                percent: 40.0,
                ..JobSnapshot::default()
            }),
        });
        for line in [
            "mcsync_outbox_depth 3",
            "mcsync_outbox_oldest_age_seconds 1.5",
            "mcsync_mirror_records{kind=\"product\"} 7",
            "mcsync_upload_job_state{state=\"running\"} 1",
            "mcsync_upload_job_state{state=\"failed\"} 0",
            "mcsync_upload_job_records{outcome=\"done\"} 4",
            "mcsync_mailchimp_requests_total{operation=\"GET /ping\",status=\"200\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        let guard = m.connection();
        assert_eq!(m.mailchimp_connections_in_use.get(), 1);
        drop(guard);
        assert_eq!(m.mailchimp_connections_in_use.get(), 0);
        let batch = m.batch_pending(500);
        assert_eq!(m.batch_operations_pending.get(), 500);
        drop(batch);
        assert_eq!(m.batch_operations_pending.get(), 0);
    }
}
