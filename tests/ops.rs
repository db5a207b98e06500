//! Operations over HTTP: `/metrics` after real requests.

use serde_json::{Value, json};

use crate::helpers::*;

/// The value of one series in a text exposition, given its name and labels exactly as written.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let resp = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    resp.text().await.unwrap()
}

both! {
    async fn metrics_count_requests_by_operation_and_outcome(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let before = scrape(&app).await;
        assert_eq!(series(&before, r#"dhr_graph_ingest_pages_total{outcome="added"}"#), Some(11.0), "{before}");
        assert_eq!(series(&before, r#"dhr_graph_ingest_pages_total{outcome="updated"}"#), Some(0.0));
        assert_eq!(series(&before, "dhr_graph_db_pool_max_connections"), Some(4.0), "the test pool's size");
        let open = series(&before, "dhr_graph_db_pool_connections").expect("pool size");
        let idle = series(&before, "dhr_graph_db_pool_idle_connections").expect("idle connections");
        assert!((1.0..=4.0).contains(&open) && idle <= open, "open {open}, idle {idle}");
        assert!(!before.contains("OpsThemes"), "nothing counted before the requests");

        for _ in 0..3 {
            app.query("query OpsThemes { themes { slug } }", json!({})).await;
        }
        app.query("{ csps { totalCount } }", json!({})).await;
        let (code, _) = app.error_code("query OpsBadMonth { reviews(filter: { publishedFrom: \"13-2020\" }) { totalCount } }", json!({})).await;
        assert_eq!(code, "BAD_USER_INPUT");
        let (code, _) = app.error_code("query OpsNoField { reviews { nope } }", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let two = "query OpsA { themes { slug } } query OpsB { csps { totalCount } }";
        let body: Value = app.client().post(app.url("/graphql"))
            .json(&json!({ "query": two, "operationName": "OpsB" }))
            .send().await.unwrap().json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        let got: Value = app.client().get(app.url("/graphql"))
            .query(&[("query", "query OpsThemes { themes { slug } }")])
            .send().await.unwrap().json().await.unwrap();
        assert!(got.get("errors").is_none(), "GET runs too: {got}");

        let text = scrape(&app).await;
        let count = |labels: &str| series(&text, &format!("dhr_graph_graphql_requests_total{{{labels}}}"));
        assert_eq!(count(r#"operation="OpsThemes",outcome="ok""#), Some(4.0), "POST and GET: {text}");
        assert_eq!(count(r#"operation="OpsThemes",outcome="error""#), None);
        assert_eq!(count(r#"operation="anonymous",outcome="ok""#), Some(1.0));
        assert_eq!(count(r#"operation="OpsBadMonth",outcome="error""#), Some(1.0), "a resolver's error");
        assert_eq!(count(r#"operation="OpsNoField",outcome="error""#), Some(1.0), "a validation error");
        assert_eq!(count(r#"operation="OpsB",outcome="ok""#), Some(1.0), "the operation that ran");
        assert!(!text.contains("OpsA"), "the operation not run is not counted");
        assert_eq!(
            series(&text, r#"dhr_graph_graphql_request_duration_seconds_count{operation="OpsThemes"}"#),
            Some(4.0),
            "each request timed"
        );
        assert_eq!(
            series(&text, r#"dhr_graph_graphql_request_duration_seconds_bucket{le="+Inf",operation="OpsThemes"}"#),
            Some(4.0)
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }
}

both! {
    async fn an_empty_start_ingests_nothing(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let text = scrape(&app).await;
        for outcome in ["added", "updated", "unchanged", "merged"] {
            let name = format!(r#"dhr_graph_ingest_pages_total{{outcome="{outcome}"}}"#);
            assert_eq!(series(&text, &name), Some(0.0), "{text}");
        }
    }
}
