//! HTTP behaviour of the real router: GET queries, GraphiQL for browsers, health routes,
//! error codes for bad documents.

use serde_json::{Value, json};

use crate::helpers::*;

both! {
    async fn get_queries_graphiql_and_health(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let client = app.client();

        let html = client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
        assert_eq!(html.status(), 200);
        let body = html.text().await.unwrap();
        assert!(body.to_lowercase().contains("graphiql"), "GraphiQL page served to browsers");

        let resp = client.get(app.url("/graphql"))
            .query(&[("query", "{ csps(first: 2) { totalCount nodes { name } } }")])
            .send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["data"]["csps"]["totalCount"], 8);

        let vars = client.get(app.url("/graphql"))
            .query(&[("query", "query($s: String!) { csp(slug: $s) { name } }"), ("variables", "{\"s\":\"cardiff\"}")])
            .send().await.unwrap().json::<Value>().await.unwrap();
        assert_eq!(vars["data"]["csp"]["name"], "Cardiff");

        assert_eq!(client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
        assert_eq!(client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
        let resp = client.get(app.url("/healthz")).send().await.unwrap();
        assert!(resp.headers().get("x-request-id").is_some(), "every response carries a request id");
    }
}

both! {
    async fn bad_documents_get_codes_not_500s(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let (code, _) = app.error_code("{ reviews { nope } }", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let (code, _) = app.error_code("{ reviews(first: ", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let (code, _) = app.error_code("{ agencies(filter: { sector: NOT_A_SECTOR }) { totalCount } }", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let deep = format!("{{ reviews {{ nodes {{ {} }} }} }}", "recommendations { nodes { review { ".repeat(8) + "id" + &" } } }".repeat(8));
        let (code, err) = app.error_code(&deep, json!({})).await;
        assert_eq!(code, "QUERY_TOO_DEEP", "{err}");
    }
}

both! {
    async fn restart_keeps_data_and_loads_samples_only_once(backend: Backend) {
        let database = TestDb::new(backend).await;
        let file = database.url.strip_prefix("sqlite://").map(std::path::PathBuf::from);
        if let Some(file) = &file {
            assert!(!file.exists());
        }
        let q = "{ reviews { totalCount } agencies { totalCount } }";
        let app = TestApp::start(database, true).await;
        if let Some(file) = &file {
            assert!(file.exists(), "the SQLite file is created on first start");
        }
        let first = app.query(q, json!({})).await;
        assert_eq!(first["reviews"]["totalCount"], 11);
        let again = TestApp::start(restart(app).await, true).await;
        assert_eq!(again.query(q, json!({})).await, first, "samples load into an empty database only");
    }
}

/// Stops an app and hands back its database for the next start.
async fn restart(mut app: TestApp) -> TestDb {
    app.stop().await;
    app.take_database()
}
