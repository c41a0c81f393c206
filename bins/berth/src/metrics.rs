//! `/metrics`: what `serve` counts per request (by operation, with duration histograms and
//! bytes), rendered with the engine's counters and the connection gate's, in the Prometheus text
//! format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use berth_core::metrics::{JobRuns, Snapshot};
use http::{Method, StatusCode};

/// What a request asks for, for the duration histograms: the registry operations operators
/// watch, then the token endpoint, the management API, the console page and the probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    ManifestGet,
    ManifestHead,
    ManifestPut,
    ManifestDelete,
    BlobGet,
    BlobHead,
    BlobDelete,
    UploadStart,
    UploadPatch,
    UploadCommit,
    UploadStatus,
    UploadCancel,
    Tags,
    Referrers,
    Catalog,
    Base,
    Token,
    Api,
    Console,
    Probe,
    Other,
}

impl Operation {
    const ALL: [Operation; 21] = [
        Operation::ManifestGet,
        Operation::ManifestHead,
        Operation::ManifestPut,
        Operation::ManifestDelete,
        Operation::BlobGet,
        Operation::BlobHead,
        Operation::BlobDelete,
        Operation::UploadStart,
        Operation::UploadPatch,
        Operation::UploadCommit,
        Operation::UploadStatus,
        Operation::UploadCancel,
        Operation::Tags,
        Operation::Referrers,
        Operation::Catalog,
        Operation::Base,
        Operation::Token,
        Operation::Api,
        Operation::Console,
        Operation::Probe,
        Operation::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            Operation::ManifestGet => "manifest_get",
            Operation::ManifestHead => "manifest_head",
            Operation::ManifestPut => "manifest_put",
            Operation::ManifestDelete => "manifest_delete",
            Operation::BlobGet => "blob_get",
            Operation::BlobHead => "blob_head",
            Operation::BlobDelete => "blob_delete",
            Operation::UploadStart => "upload_start",
            Operation::UploadPatch => "upload_patch",
            Operation::UploadCommit => "upload_commit",
            Operation::UploadStatus => "upload_status",
            Operation::UploadCancel => "upload_cancel",
            Operation::Tags => "tags",
            Operation::Referrers => "referrers",
            Operation::Catalog => "catalog",
            Operation::Base => "base",
            Operation::Token => "token",
            Operation::Api => "api",
            Operation::Console => "console",
            Operation::Probe => "probe",
            Operation::Other => "other",
        }
    }

    /// Whether a request of this operation carries an upload's bytes.
    pub(crate) fn is_upload(self) -> bool {
        matches!(
            self,
            Operation::UploadStart | Operation::UploadPatch | Operation::UploadCommit
        )
    }

    /// The operation of a request, from its method and path alone (no routing: a path the
    /// router would refuse still lands in its histogram).
    pub(crate) fn of(method: &Method, path: &str) -> Operation {
        match path {
            "/healthz" | "/readyz" | "/metrics" => return Operation::Probe,
            "/token" => return Operation::Token,
            "/v2" | "/v2/" => return Operation::Base,
            "/v2/_catalog" => return Operation::Catalog,
            _ => {}
        }
        if path.starts_with("/api/") {
            return Operation::Api;
        }
        if !path.starts_with("/v2/") {
            return Operation::Console;
        }
        // `/v2/<name>/<kind>/<reference>`: the kind is the next-to-last segment (`uploads`
        // after `blobs` for a session), whatever the name holds.
        let mut tail = path.rsplit('/');
        let (last, kind, before) = (tail.next(), tail.next(), tail.next());
        let get = method == Method::GET;
        let head = method == Method::HEAD;
        match (before, kind, last) {
            (Some("blobs"), Some("uploads"), _) | (_, Some("blobs"), Some("uploads")) => {
                match *method {
                    Method::POST => Operation::UploadStart,
                    Method::PATCH => Operation::UploadPatch,
                    Method::PUT => Operation::UploadCommit,
                    Method::GET => Operation::UploadStatus,
                    Method::DELETE => Operation::UploadCancel,
                    _ => Operation::Other,
                }
            }
            (_, Some("manifests"), _) => match *method {
                _ if get => Operation::ManifestGet,
                _ if head => Operation::ManifestHead,
                Method::PUT => Operation::ManifestPut,
                Method::DELETE => Operation::ManifestDelete,
                _ => Operation::Other,
            },
            (_, Some("blobs"), _) => match *method {
                _ if get => Operation::BlobGet,
                _ if head => Operation::BlobHead,
                Method::DELETE => Operation::BlobDelete,
                _ => Operation::Other,
            },
            (_, Some("tags"), Some("list")) => Operation::Tags,
            (_, Some("referrers"), _) => Operation::Referrers,
            _ => Operation::Other,
        }
    }
}

/// Upper bounds of the duration buckets, in seconds (Prometheus' defaults, plus 30 and 60 s for
/// big blobs).
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// One operation's durations.
#[derive(Default)]
struct Histogram {
    /// Per bucket (not cumulative), then the overflow.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_us
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// The statuses' classes, as labels.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// What `serve` counts.
pub(crate) struct Http {
    /// Answers by operation and status class.
    answers: Vec<[AtomicU64; 5]>,
    durations: Vec<Histogram>,
    /// Request body bytes read, response body bytes sent (shared with the body wrappers).
    pub(crate) bytes_in: Arc<AtomicU64>,
    pub(crate) bytes_out: Arc<AtomicU64>,
    /// Requests carrying upload bytes being answered now.
    uploads_in_flight: AtomicI64,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            answers: Operation::ALL.iter().map(|_| Default::default()).collect(),
            durations: Operation::ALL
                .iter()
                .map(|_| Histogram::default())
                .collect(),
            bytes_in: Arc::default(),
            bytes_out: Arc::default(),
            uploads_in_flight: AtomicI64::new(0),
        }
    }
}

/// An upload request being answered: counted in flight until dropped.
pub(crate) struct Uploading<'a>(Option<&'a AtomicI64>);

impl Drop for Uploading<'_> {
    fn drop(&mut self) {
        if let Some(gauge) = self.0 {
            gauge.fetch_sub(1, Relaxed);
        }
    }
}

impl Http {
    /// Notes a request of `op` starting.
    pub(crate) fn start(&self, op: Operation) -> Uploading<'_> {
        if op.is_upload() {
            self.uploads_in_flight.fetch_add(1, Relaxed);
            Uploading(Some(&self.uploads_in_flight))
        } else {
            Uploading(None)
        }
    }

    /// Counts an answer: its class, and the time until its head was ready.
    pub(crate) fn answered(&self, op: Operation, status: StatusCode, took: Duration) {
        let i = op as usize;
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.answers[i][class].fetch_add(1, Relaxed);
        self.durations[i].observe(took);
    }
}

/// What `/metrics` reads besides [`Http`].
pub(crate) struct Sources<'a> {
    pub(crate) http: &'a Http,
    pub(crate) engine: Snapshot,
    /// Families rendered elsewhere (the connection gate's, the body budget's), whole.
    pub(crate) extra: &'a str,
    /// Upload sessions open, when the metadata store answered in time.
    pub(crate) upload_sessions: Option<u64>,
    pub(crate) uptime: Duration,
}

/// Writes one metric family's header.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn unix_seconds(at: Option<berth_model::Timestamp>) -> f64 {
    at.map_or(0.0, |t| t.unix_millis() as f64 / 1000.0)
}

fn job(out: &mut String, name: &str, what: &str, runs: &JobRuns) {
    family(
        out,
        &format!("berth_{name}_runs_total"),
        "counter",
        &format!("{what} runs since start."),
    );
    let _ = writeln!(out, "berth_{name}_runs_total {}", runs.runs);
    family(
        out,
        &format!("berth_{name}_failures_total"),
        "counter",
        &format!("{what} runs that failed (the log has each cause)."),
    );
    let _ = writeln!(out, "berth_{name}_failures_total {}", runs.failures);
    family(
        out,
        &format!("berth_{name}_last_duration_seconds"),
        "gauge",
        &format!("How long the last {what} run took."),
    );
    let _ = writeln!(
        out,
        "berth_{name}_last_duration_seconds {}",
        runs.last_duration.as_secs_f64()
    );
    family(
        out,
        &format!("berth_{name}_last_success_timestamp_seconds"),
        "gauge",
        &format!("When a {what} run last succeeded (Unix time; 0: not since start)."),
    );
    let _ = writeln!(
        out,
        "berth_{name}_last_success_timestamp_seconds {}",
        unix_seconds(runs.last_success)
    );
}

/// The whole `/metrics` page.
pub(crate) fn render(s: &Sources<'_>) -> String {
    let mut out = String::with_capacity(16 << 10);
    let http = s.http;

    family(
        &mut out,
        "berth_http_requests_total",
        "counter",
        "HTTP requests answered, by operation and status class.",
    );
    for (op, answers) in Operation::ALL.iter().zip(&http.answers) {
        for (class, n) in CLASSES.iter().zip(answers) {
            let n = n.load(Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "berth_http_requests_total{{operation=\"{}\",status=\"{class}\"}} {n}",
                    op.label()
                );
            }
        }
    }
    family(
        &mut out,
        "berth_http_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its answer's head, by operation (a blob's body streams after).",
    );
    for (op, h) in Operation::ALL.iter().zip(&http.durations) {
        let total: u64 = h.counts.iter().map(|c| c.load(Relaxed)).sum();
        if total == 0 {
            continue;
        }
        let label = op.label();
        let mut cumulative = 0;
        for (le, count) in BUCKETS.iter().zip(&h.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(
                out,
                "berth_http_request_duration_seconds_bucket{{operation=\"{label}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "berth_http_request_duration_seconds_bucket{{operation=\"{label}\",le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(
            out,
            "berth_http_request_duration_seconds_sum{{operation=\"{label}\"}} {}",
            h.sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "berth_http_request_duration_seconds_count{{operation=\"{label}\"}} {total}"
        );
    }
    family(
        &mut out,
        "berth_http_received_bytes_total",
        "counter",
        "Request body bytes read.",
    );
    let _ = writeln!(
        out,
        "berth_http_received_bytes_total {}",
        http.bytes_in.load(Relaxed)
    );
    family(
        &mut out,
        "berth_http_sent_bytes_total",
        "counter",
        "Response body bytes sent.",
    );
    let _ = writeln!(
        out,
        "berth_http_sent_bytes_total {}",
        http.bytes_out.load(Relaxed)
    );
    family(
        &mut out,
        "berth_uploads_in_flight",
        "gauge",
        "Upload requests (start, chunk, commit) being answered now.",
    );
    let _ = writeln!(
        out,
        "berth_uploads_in_flight {}",
        http.uploads_in_flight.load(Relaxed)
    );

    if let Some(n) = s.upload_sessions {
        family(
            &mut out,
            "berth_upload_sessions_open",
            "gauge",
            "Upload sessions open in every repository (all nodes'), from the metadata store.",
        );
        let _ = writeln!(out, "berth_upload_sessions_open {n}");
    }
    out.push_str(s.extra);

    let e = &s.engine;
    job(&mut out, "gc", "garbage collection", &e.gc);
    job(
        &mut out,
        "upload_expiry",
        "idle-upload removal",
        &e.upload_expiry,
    );
    family(
        &mut out,
        "berth_gc_reclaimed_blobs_total",
        "counter",
        "Blobs deleted by garbage collection since start.",
    );
    let _ = writeln!(
        out,
        "berth_gc_reclaimed_blobs_total {}",
        e.gc_blobs_reclaimed
    );
    family(
        &mut out,
        "berth_gc_reclaimed_bytes_total",
        "counter",
        "Bytes of the blobs deleted by garbage collection since start.",
    );
    let _ = writeln!(
        out,
        "berth_gc_reclaimed_bytes_total {}",
        e.gc_bytes_reclaimed
    );

    family(
        &mut out,
        "berth_replication_artifacts_total",
        "counter",
        "Artifacts replication handled on this node since start, by result (copied includes deletes carried out).",
    );
    let r = &e.replication;
    for (result, n) in [
        ("copied", r.artifacts_copied),
        ("skipped", r.artifacts_skipped),
        ("failed", r.artifacts_failed),
    ] {
        let _ = writeln!(
            out,
            "berth_replication_artifacts_total{{result=\"{result}\"}} {n}"
        );
    }
    family(
        &mut out,
        "berth_replication_bytes_total",
        "counter",
        "Bytes replication sent to destinations from this node since start.",
    );
    let _ = writeln!(out, "berth_replication_bytes_total {}", r.bytes);
    family(
        &mut out,
        "berth_replication_executions_finished_total",
        "counter",
        "Replication executions this node finished since start.",
    );
    let _ = writeln!(
        out,
        "berth_replication_executions_finished_total {}",
        r.executions_finished
    );
    family(
        &mut out,
        "berth_replication_executions_running",
        "gauge",
        "Replication executions running on this node now.",
    );
    let _ = writeln!(
        out,
        "berth_replication_executions_running {}",
        r.executions_running
    );

    job(
        &mut out,
        "pull_flush",
        "pull-statistics flush",
        &e.pull_flush,
    );
    family(
        &mut out,
        "berth_pending_pulls",
        "gauge",
        "Pulls counted in memory, not yet written.",
    );
    let _ = writeln!(out, "berth_pending_pulls {}", e.pending_pulls);
    family(
        &mut out,
        "berth_pull_flush_lag_seconds",
        "gauge",
        "With pulls pending: seconds since the last successful flush (or since start); else 0.",
    );
    let lag = if e.pending_pulls == 0 {
        0.0
    } else {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        match e.pull_flush.last_success {
            Some(at) => (now - unix_seconds(Some(at))).max(0.0),
            None => s.uptime.as_secs_f64(),
        }
    };
    let _ = writeln!(out, "berth_pull_flush_lag_seconds {lag}");

    family(
        &mut out,
        "berth_cache_lookups_total",
        "counter",
        "Lookups of the engine's in-memory caches, by cache and result (hit ratio: hit / all).",
    );
    for (cache, (hits, misses)) in [
        ("manifest", e.manifest_cache),
        ("repository", e.repository_cache),
    ] {
        let _ = writeln!(
            out,
            "berth_cache_lookups_total{{cache=\"{cache}\",result=\"hit\"}} {hits}"
        );
        let _ = writeln!(
            out,
            "berth_cache_lookups_total{{cache=\"{cache}\",result=\"miss\"}} {misses}"
        );
    }

    if let Some(pool) = e.metadata_pool {
        family(
            &mut out,
            "berth_metadata_pool_connections",
            "gauge",
            "The metadata store's connection pool: connections open, idle, and the most it opens.",
        );
        let _ = writeln!(
            out,
            "berth_metadata_pool_connections{{state=\"open\"}} {}",
            pool.open
        );
        let _ = writeln!(
            out,
            "berth_metadata_pool_connections{{state=\"idle\"}} {}",
            pool.idle
        );
        let _ = writeln!(
            out,
            "berth_metadata_pool_connections{{state=\"max\"}} {}",
            pool.max
        );
        family(
            &mut out,
            "berth_metadata_pool_waiting",
            "gauge",
            "Callers waiting for a metadata connection now.",
        );
        let _ = writeln!(out, "berth_metadata_pool_waiting {}", pool.waiting);
    }
    family(
        &mut out,
        "berth_backend_failures_total",
        "counter",
        "Requests failed by a backend, by role, backend and kind (unavailable: could not be reached, answered 503; failed: 500).",
    );
    for (outage, unreachable, n) in &e.backend_failures {
        let kind = if *unreachable {
            "unavailable"
        } else {
            "failed"
        };
        let role = outage.role.replace(' ', "_");
        let _ = writeln!(
            out,
            "berth_backend_failures_total{{role=\"{role}\",backend=\"{}\",kind=\"{kind}\"}} {n}",
            outage.store
        );
    }
    family(
        &mut out,
        "berth_login_failures_total",
        "counter",
        "Logins refused for their credentials, an expired or a disabled user.",
    );
    let _ = writeln!(out, "berth_login_failures_total {}", e.login_failures);
    family(
        &mut out,
        "berth_logins_throttled_total",
        "counter",
        "Logins refused unchecked (429) because their source or user failed too often.",
    );
    let _ = writeln!(out, "berth_logins_throttled_total {}", e.logins_throttled);
    family(
        &mut out,
        "berth_quota_refusals_total",
        "counter",
        "Pushes and uploads refused because the repository's quota would be exceeded.",
    );
    let _ = writeln!(out, "berth_quota_refusals_total {}", e.quota_refusals);

    family(
        &mut out,
        "berth_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let _ = writeln!(out, "berth_uptime_seconds {}", s.uptime.as_secs());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_named_by_operation() {
        let cases = [
            (
                Method::GET,
                "/v2/team/app/manifests/v1",
                Operation::ManifestGet,
            ),
            (
                Method::HEAD,
                "/v2/team/app/manifests/v1",
                Operation::ManifestHead,
            ),
            (
                Method::PUT,
                "/v2/team/app/manifests/v1",
                Operation::ManifestPut,
            ),
            (
                Method::GET,
                "/v2/team/app/blobs/sha256:ab",
                Operation::BlobGet,
            ),
            (
                Method::HEAD,
                "/v2/team/app/blobs/sha256:ab",
                Operation::BlobHead,
            ),
            (
                Method::POST,
                "/v2/team/app/blobs/uploads/",
                Operation::UploadStart,
            ),
            (
                Method::PATCH,
                "/v2/team/app/blobs/uploads/x",
                Operation::UploadPatch,
            ),
            (
                Method::PUT,
                "/v2/team/app/blobs/uploads/x",
                Operation::UploadCommit,
            ),
            (Method::GET, "/v2/team/app/tags/list", Operation::Tags),
            (
                Method::GET,
                "/v2/team/app/referrers/sha256:ab",
                Operation::Referrers,
            ),
            (Method::GET, "/v2/_catalog", Operation::Catalog),
            (Method::GET, "/v2/", Operation::Base),
            (Method::GET, "/token", Operation::Token),
            (Method::POST, "/api/v1/repositories", Operation::Api),
            (Method::GET, "/", Operation::Console),
            (Method::GET, "/readyz", Operation::Probe),
            (
                Method::POST,
                "/v2/team/app/blobs/uploads",
                Operation::UploadStart,
            ),
            // An image named like an operation is still read by its last parts.
            (
                Method::GET,
                "/v2/blobs/manifests/manifests/v1",
                Operation::ManifestGet,
            ),
            (
                Method::GET,
                "/v2/team/manifests/blobs/sha256:ab",
                Operation::BlobGet,
            ),
            (
                Method::GET,
                "/v2/blobs/uploads/manifests/v1",
                Operation::ManifestGet,
            ),
        ];
        for (method, path, op) in cases {
            assert_eq!(Operation::of(&method, path), op, "{method} {path}");
        }
    }

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let http = Http::default();
        http.answered(
            Operation::ManifestGet,
            StatusCode::OK,
            Duration::from_micros(800),
        );
        http.answered(
            Operation::ManifestGet,
            StatusCode::NOT_FOUND,
            Duration::from_millis(30),
        );
        http.answered(
            Operation::ManifestGet,
            StatusCode::OK,
            Duration::from_secs(100),
        );
        let text = render(&Sources {
            http: &http,
            engine: Snapshot::default(),
            extra: "",
            upload_sessions: Some(0),
            uptime: Duration::from_secs(1),
        });
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
                .rsplit_once(' ')
                .unwrap()
                .1
                .to_owned()
        };
        let bucket = "berth_http_request_duration_seconds_bucket{operation=\"manifest_get\"";
        assert_eq!(line(&format!("{bucket},le=\"0.001\"}}")), "1");
        assert_eq!(line(&format!("{bucket},le=\"0.05\"}}")), "2");
        assert_eq!(line(&format!("{bucket},le=\"60\"}}")), "2");
        assert_eq!(line(&format!("{bucket},le=\"+Inf\"}}")), "3");
        assert_eq!(
            line("berth_http_request_duration_seconds_count{operation=\"manifest_get\"}"),
            "3"
        );
        assert_eq!(
            line("berth_http_requests_total{operation=\"manifest_get\",status=\"4xx\"}"),
            "1"
        );
        // Every family has its HELP and TYPE, once.
        for name in text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
        {
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
        }
    }
}
