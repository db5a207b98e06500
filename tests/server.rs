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
        let deep = format!("{{ reviews(first: 1) {{ nodes {{ {} }} }} }}", "recommendations(first: 1) { nodes { review { ".repeat(8) + "id" + &" } } }".repeat(8));
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

both! {
    async fn graphql_over_http_status_codes_and_media_types(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let client = app.client();
        let post = |accept: &'static str, body: String| {
            client.post(app.url("/graphql")).header("content-type", "application/json").header("accept", accept).body(body)
        };
        // Plain JSON: 200 even for a document that does not parse, with the JSON media type.
        let resp = post("application/json", json!({ "query": "{" }).to_string()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        // The GraphQL response type: 400 and no `data` when nothing could run...
        let resp = post("application/graphql-response+json", json!({ "query": "{ nope }" }).to_string()).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/graphql-response+json"));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(body.get("data").is_none() && body["errors"].is_array(), "{body}");
        // ...but 200 once the operation ran, even with a field error.
        let resp = post("application/graphql-response+json", json!({ "query": "{ reviews(first: 101) { totalCount } }" }).to_string()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        // Malformed requests: 4xx with a reason, never a 500.
        for (content_type, body, status) in [
            ("text/plain", "{}".to_owned(), 415),
            ("application/json", "{ not json".to_owned(), 400),
            ("application/json", json!([{ "query": "{ reviews { totalCount } }" }]).to_string(), 400),
            ("application/json", json!({ "query": 1 }).to_string(), 400),
            ("application/json", json!({ "query": "{ reviews { totalCount } }", "variables": "x" }).to_string(), 400),
        ] {
            let resp = client.post(app.url("/graphql")).header("content-type", content_type).body(body.clone()).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), status, "{content_type} {body}");
        }
        // GET reads; a mutation over GET is 405 with Allow: POST, and writes nothing.
        let resp = client.get(app.url("/graphql?query=mutation%20%7B%20deleteReview(input%3A%20%7Bid%3A%20%22x%22%7D)%20%7B%20deletedId%20%7D%20%7D")).send().await.unwrap();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "POST");
        let resp = client.get(app.url("/graphql?query=query(%24f%3A%20Int)%20%7B%20reviews(first%3A%20%24f)%20%7B%20totalCount%20%7D%20%7D&variables=%7B%22f%22%3A2%7D")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["data"]["reviews"]["totalCount"], 0, "{body}");
    }
}
