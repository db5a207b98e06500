//! Full-text search through each engine's own index.

use serde_json::json;

use crate::helpers::*;

const Q: &str = "query($q: String!, $first: Int, $after: String) { search(query: $q, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { score node { __typename ... on Recommendation { id label text review { title } } ... on Review { id title } } } } }";

both! {
    async fn a_routine_enquiry_query_ranks_gp_recommendations_first(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app.query(Q, json!({ "q": "routine enquiry", "first": 4 })).await;
        let edges = data["search"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 4);
        for e in edges {
            assert_eq!(e["node"]["__typename"], "Recommendation");
            let text = e["node"]["text"].as_str().unwrap();
            assert!(text.contains("GP"), "a GP recommendation: {text}");
            assert!(text.to_lowercase().contains("routine enquir"), "{text}");
        }
        let scores: Vec<f64> = edges.iter().map(|e| e["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        let titles: Vec<&str> = edges.iter().map(|e| e["node"]["review"]["title"].as_str().unwrap()).collect();
        assert!(titles.contains(&"Bassetlaw review") && titles.contains(&"Nottingham review"), "{titles:?}");
    }
}

both! {
    async fn search_finds_reviews_pages_and_rejects_empty_queries(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        // A word only in a summary finds the review.
        let data = app.query(Q, json!({ "q": "Polish", "first": 10 })).await;
        let kinds: Vec<&str> = data["search"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["__typename"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"Review"), "{kinds:?}");
        assert!(kinds.contains(&"Recommendation"), "{kinds:?}");

        let all = app.query(Q, json!({ "q": "agencies", "first": 100 })).await["search"].clone();
        let total = all["totalCount"].as_i64().unwrap();
        assert_eq!(all["edges"].as_array().unwrap().len() as i64, total);
        let first = app.query(Q, json!({ "q": "agencies", "first": 3 })).await["search"].clone();
        let next = app.query(Q, json!({ "q": "agencies", "first": 3, "after": first["pageInfo"]["endCursor"] })).await["search"].clone();
        let ids = |v: &serde_json::Value| -> Vec<String> { v["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect() };
        let mut walked = ids(&first);
        walked.extend(ids(&next));
        assert_eq!(walked, ids(&all)[..6].to_vec());

        let (code, err) = app.error_code(Q, json!({ "q": " \"*( " })).await;
        assert_eq!(code, "BAD_USER_INPUT");
        assert_eq!(err["extensions"]["field"], "query");
        // Engine syntax in the input is only words to us.
        app.query(Q, json!({ "q": "routine\" OR NEAR( & | !" })).await;
    }
}

both! {
    async fn the_index_follows_a_changed_page(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.txt");
        let page = fixture_text("bassetlaw-2023.txt");
        std::fs::write(&path, &page).unwrap();
        assert_eq!(ingest(&app.database.url, &[&path]).0, 0);
        assert_eq!(hits(&app, "embedded").await, 1);
        std::fs::write(&path, page.replace("could be embedded into", "could be woven into")).unwrap();
        assert_eq!(ingest(&app.database.url, &[&path]).0, 0);
        assert_eq!(hits(&app, "embedded").await, 0);
        assert_eq!(hits(&app, "woven").await, 1);
    }
}

async fn hits(app: &TestApp, q: &str) -> i64 {
    app.query(Q, json!({ "q": q })).await["search"]["totalCount"]
        .as_i64()
        .unwrap()
}
