//! What `/metrics` shows, in Prometheus' text format (through the Prometheus
//! project's `prometheus-client`): requests by route and status, errors by class,
//! fallbacks, upstream latency, open streams, token refreshes.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The gateway's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    fallbacks: Counter,
    upstream: Histogram,
    open_streams: Gauge,
    token_refreshes: Counter,
    /// The client's refresh count when last shown.
    refreshes_seen: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered.
    pub fn new() -> Self {
        let requests = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let fallbacks = Counter::default();
        // 5 ms to about 80 s.
        let upstream = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.005, 2.0, 15,
        ));
        let open_streams = Gauge::default();
        let token_refreshes = Counter::default();
        let mut registry = Registry::with_prefix("codeassist");
        registry.register(
            "requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        registry.register("errors", "Failed calls, by error class", errors.clone());
        registry.register(
            "fallbacks",
            "Switches to another model before an answer",
            fallbacks.clone(),
        );
        registry.register(
            "upstream_seconds",
            "Time until Google answered (or a stream opened)",
            upstream.clone(),
        );
        registry.register(
            "open_streams",
            "Streams being relayed",
            open_streams.clone(),
        );
        registry.register(
            "token_refreshes",
            "Google access tokens minted (refreshes, grants, exchanges)",
            token_refreshes.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            errors,
            fallbacks,
            upstream,
            open_streams,
            token_refreshes,
            refreshes_seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Brings the token refresh counter up to the client's own count.
    pub(crate) fn sync_refreshes(&self, total: u64) {
        let seen = self
            .refreshes_seen
            .fetch_max(total, std::sync::atomic::Ordering::Relaxed);
        if total > seen {
            self.token_refreshes.inc_by(total - seen);
        }
    }

    pub(crate) fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&vec![
                ("route".to_owned(), route.to_owned()),
                ("status".to_owned(), status.to_string()),
            ])
            .inc();
    }

    pub(crate) fn error(&self, class: &str) {
        self.errors
            .get_or_create(&vec![("class".to_owned(), class.to_owned())])
            .inc();
    }

    pub(crate) fn fallbacks(&self, switches: usize) {
        self.fallbacks.inc_by(switches as u64);
    }

    pub(crate) fn upstream(&self, seconds: f64) {
        self.upstream.observe(seconds);
    }

    pub(crate) fn stream_opened(&self) -> StreamGuard {
        self.open_streams.inc();
        StreamGuard(self.open_streams.clone())
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Counts a stream as open until dropped.
pub(crate) struct StreamGuard(Gauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
