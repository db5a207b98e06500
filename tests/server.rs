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
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED", "{err}");
    }
}
