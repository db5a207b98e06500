//! Operational metrics, served at `GET /metrics` for Prometheus: GraphQL requests by operation
//! and outcome, their latency, the database pool, and the pages this process ingested.
//!
//! Built on `prometheus-client` (the Prometheus project's own Rust client) rather than the
//! `metrics` facade: its registries are values, not a process-wide recorder, so every
//! `Application` owns its own and the tests, which run many apps in one process, each read
//! exactly their own counts. It writes the OpenMetrics text format, which Prometheus scrapes
//! natively.
//!
//! This module records and renders; it decides nothing about requests.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::parser::types::DocumentOperations;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::{DatabaseConnection, DatabaseConnectionType};

use crate::ingest::Outcome;

/// Distinct operation names kept as labels. Names come from clients, so past this many a
/// new one is counted as `other` rather than growing the series without bound.
const MAX_OPERATIONS: usize = 100;
/// Longer names are counted as `other`: a label this long is noise, not a dashboard row.
const MAX_NAME_LEN: usize = 64;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The metrics of one running app; cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    pages: Family<OutcomeLabel, Counter>,
    operations: Mutex<HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 8 s: a cached lookup to a request near the timeout.
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

impl Metrics {
    /// Metrics for an app serving from `conn`, whose pool is read at each scrape.
    pub fn new(conn: &DatabaseConnection) -> Self {
        let mut registry = Registry::with_prefix("dhr_graph");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests by operation name and outcome (error when the response has errors)",
            requests.clone(),
        );
        let latency = Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to execute a GraphQL request, by operation name",
            latency.clone(),
        );
        let pages = Family::<OutcomeLabel, Counter>::default();
        // Every outcome from the start, so that a rate over "updated" exists before one happens.
        for outcome in ["added", "updated", "unchanged", "merged"] {
            let _ = pages.get_or_create(&OutcomeLabel { outcome });
        }
        registry.register(
            "ingest_pages",
            "Review pages ingested by this process, by outcome",
            pages.clone(),
        );
        registry.register_collector(Box::new(PoolCollector(conn.clone())));
        Metrics(Arc::new(Inner {
            registry,
            requests,
            latency,
            pages,
            operations: Mutex::new(HashSet::new()),
        }))
    }

    /// Records one executed GraphQL request.
    pub fn graphql_request(&self, operation: &str, ok: bool, took: Duration) {
        let operation = self.bounded(operation);
        let outcome = if ok { "ok" } else { "error" };
        self.0
            .requests
            .get_or_create(&RequestLabels {
                operation: operation.clone(),
                outcome,
            })
            .inc();
        self.0
            .latency
            .get_or_create(&OperationLabel { operation })
            .observe(took.as_secs_f64());
    }

    /// Records one page stored (or found unchanged).
    pub fn page_ingested(&self, outcome: Outcome) {
        let outcome = match outcome {
            Outcome::Added => "added",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Merged => "merged",
        };
        self.0.pages.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The name to label with: itself while under the cap, else `other`.
    fn bounded(&self, operation: &str) -> String {
        if operation.len() > MAX_NAME_LEN {
            return "other".to_owned();
        }
        // A poisoned lock only means another recording panicked; the set is still usable.
        let mut seen = self
            .0
            .operations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.contains(operation) || seen.len() < MAX_OPERATIONS {
            seen.insert(operation.to_owned());
            operation.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// The exposition, in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.0.registry)?;
        Ok(out)
    }

    /// The `GET /metrics` response.
    pub fn response(&self) -> Response {
        match self.render() {
            Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot render the metrics");
                axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// The operation a request runs, as a label: its name, `anonymous` for an unnamed one, or
/// `invalid` when the document cannot be read or does not say which operation to run.
///
/// Parsing here costs nothing extra: the request keeps the parsed document for execution.
/// Only names the document declares are returned, and GraphQL names are `[_A-Za-z0-9]`, so a
/// client cannot put arbitrary text into a label.
pub fn operation_name(request: &mut async_graphql::Request) -> String {
    let wanted = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return "invalid".to_owned();
    };
    match (&doc.operations, wanted) {
        (DocumentOperations::Single(_), None) => "anonymous".to_owned(),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .keys()
            .next()
            .map_or("invalid", |n| n.as_str())
            .to_owned(),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .keys()
            .find(|n| n.as_str() == name)
            .map_or("invalid", |n| n.as_str())
            .to_owned(),
        _ => "invalid".to_owned(),
    }
}

/// Reads the pool at scrape time, so the figures are current without a background task.
#[derive(Debug)]
struct PoolCollector(DatabaseConnection);

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some((open, idle, max)) = pool_figures(&self.0) else {
            return Ok(());
        };
        for (name, help, value) in [
            (
                "db_pool_connections",
                "Connections the pool holds open",
                open,
            ),
            (
                "db_pool_idle_connections",
                "Open connections not in use",
                idle,
            ),
            (
                "db_pool_max_connections",
                "Connections the pool may open (--db-pool-size)",
                max,
            ),
        ] {
            let gauge = ConstGauge::new(i64::from(value));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// (open, idle, max) connections of a sqlx pool; `None` for a connection that has no pool.
fn pool_figures(conn: &DatabaseConnection) -> Option<(u32, u32, u32)> {
    fn figures<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> (u32, u32, u32) {
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        (pool.size(), idle, pool.options().get_max_connections())
    }
    // Matched first because the pool getters panic on the other engine.
    match &conn.inner {
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            Some(figures(conn.get_sqlite_connection_pool()))
        }
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            Some(figures(conn.get_postgres_connection_pool()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(query: &str, operation: Option<&str>) -> String {
        let mut req = async_graphql::Request::new(query);
        req.operation_name = operation.map(str::to_owned);
        operation_name(&mut req)
    }

    #[test]
    fn names_come_from_the_document() {
        assert_eq!(name_of("{ themes { slug } }", None), "anonymous");
        assert_eq!(name_of("query Dash { themes { slug } }", None), "Dash");
        let two = "query A { themes { slug } } query B { themes { slug } }";
        assert_eq!(name_of(two, Some("B")), "B");
        assert_eq!(name_of(two, None), "invalid", "ambiguous without a name");
        assert_eq!(
            name_of(two, Some("evil\"} 1\n")),
            "invalid",
            "a name the document does not declare never becomes a label"
        );
        assert_eq!(name_of("{ themes { ", None), "invalid");
    }

    #[test]
    fn operation_labels_are_capped() {
        let m = Metrics::new(&DatabaseConnection::default());
        for i in 0..MAX_OPERATIONS {
            m.graphql_request(&format!("Op{i}"), true, Duration::ZERO);
        }
        m.graphql_request("OneTooMany", true, Duration::ZERO);
        m.graphql_request("Op0", false, Duration::ZERO);
        m.graphql_request(&"L".repeat(MAX_NAME_LEN + 1), true, Duration::ZERO);
        let text = m.render().unwrap();
        assert!(
            text.contains(r#"dhr_graph_graphql_requests_total{operation="other",outcome="ok"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"dhr_graph_graphql_requests_total{operation="Op0",outcome="error"} 1"#)
        );
        assert!(!text.contains("OneTooMany"));
        assert!(!text.contains("db_pool"), "no pool, no pool figures");
    }
}
