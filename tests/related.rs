//! How recommendations connect: related, repeats, duplicate reviews.

use serde_json::{Value, json};

use crate::helpers::*;

const REL: &str = "query($same: Boolean) { recommendations(first: 100) { nodes { id label review { title published }
    related(first: 3, includeSameReview: $same) { score reasons recommendation { id label review { title } } }
    repeats { score reasons recommendation { id label review { title published } } } } } }";

fn find<'a>(nodes: &'a [Value], title: &str, label: &str, text_has: Option<&str>) -> &'a Value {
    nodes
        .iter()
        .find(|n| {
            n["review"]["title"] == title
                && n["label"] == label
                && text_has
                    .is_none_or(|t| n["review"]["published"].as_str().unwrap().starts_with(t))
        })
        .unwrap_or_else(|| panic!("{title} {label}"))
}

fn top(n: &Value) -> Vec<(String, String)> {
    n["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["recommendation"]["review"]["title"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r["recommendation"]["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

both! {
    async fn routine_enquiry_recommendations_rank_each_other_top_three(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app.query(REL, json!({})).await;
        let nodes = data["recommendations"]["nodes"].as_array().unwrap();
        let bassetlaw = find(nodes, "Bassetlaw review", "5.1", None);
        let nottingham = find(nodes, "Nottingham review", "10.4b", None);
        // Liverpool's GP row is the third row labelled "1" of the 14-rec listing.
        let liverpool = nodes.iter().find(|n| n["review"]["title"] == "Liverpool review"
            && n["related"].as_array().unwrap().iter().any(|r| r["reasons"].as_array().unwrap().contains(&json!("SAME_AGENCY"))
                && r["recommendation"]["label"] == "5.1")).expect("Liverpool GP row");
        let b = ("Bassetlaw review".to_owned(), "5.1".to_owned());
        let n = ("Nottingham review".to_owned(), "10.4b".to_owned());
        let l = ("Liverpool review".to_owned(), "1".to_owned());
        assert!(top(bassetlaw).contains(&n) && top(bassetlaw).contains(&l), "{:?}", top(bassetlaw));
        assert!(top(nottingham).contains(&b) && top(nottingham).contains(&l), "{:?}", top(nottingham));
        assert!(top(liverpool).contains(&b) && top(liverpool).contains(&n), "{:?}", top(liverpool));

        let to_liverpool = bassetlaw["related"].as_array().unwrap().iter().find(|r| r["recommendation"]["review"]["title"] == "Liverpool review").unwrap();
        let reasons = to_liverpool["reasons"].as_array().unwrap();
        assert!(reasons.contains(&json!("SAME_AGENCY")) && reasons.contains(&json!("SHARED_THEME")), "{reasons:?}");
        for node in nodes {
            let scores: Vec<f64> = node["related"].as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).collect();
            assert!(scores.windows(2).all(|w| w[0] >= w[1]));
            assert!(node["related"].as_array().unwrap().iter().all(|r| r["recommendation"]["review"]["title"] != node["review"]["title"]
                || r["recommendation"]["id"] != node["id"]));
        }
        // Same-review recommendations only when asked.
        assert!(!top(nottingham).iter().any(|(t, _)| t == "Nottingham review"));
        let with = app.query(REL, json!({ "same": true })).await;
        let with_nodes = with["recommendations"]["nodes"].as_array().unwrap();
        let nott_same = find(with_nodes, "Nottingham review", "10.4b", None);
        assert!(top(nott_same).iter().any(|(t, _)| t == "Nottingham review"), "{:?}", top(nott_same));
    }
}

both! {
    async fn repeats_and_duplicate_listings(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app.query(REL, json!({})).await;
        let nodes = data["recommendations"]["nodes"].as_array().unwrap();
        // The 2024 Southampton listing repeats the 2023 one's recommendations, word for word.
        let later = find(nodes, "Southampton review", "1", Some("2024"));
        let repeats = later["repeats"].as_array().unwrap();
        assert_eq!(repeats.len(), 1, "{repeats:?}");
        assert_eq!(repeats[0]["recommendation"]["review"]["published"], "2023-04");
        assert!(repeats[0]["reasons"].as_array().unwrap().contains(&json!("SAME_AGENCY")));
        let earlier = find(nodes, "Southampton review", "1", Some("2023"));
        assert!(earlier["repeats"].as_array().unwrap().is_empty(), "nothing earlier to repeat");

        let dups = app.query("{ reviews(first: 20) { nodes { title published possibleDuplicates { score review { title published } } } } }", json!({})).await;
        for review in dups["reviews"]["nodes"].as_array().unwrap() {
            let found = review["possibleDuplicates"].as_array().unwrap();
            if review["title"] == "Southampton review" {
                assert_eq!(found.len(), 1, "{review}");
                assert_eq!(found[0]["score"], 1.0);
                assert_ne!(found[0]["review"]["published"], review["published"]);
            } else {
                assert!(found.is_empty(), "{review}");
            }
        }
    }
}

/// Reviews written for the test: a recommendation, and a later one repeating it.
fn repeating_pages(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let page = format!(
            "SOURCE: https://example.org/repeat-{i}/\nSource · Domestic Homicide Review\nShire {i} review\nCSP: Shire {i}\n\
             Published: {} 2024\nExtracted: 2 recs\nSummary\nWritten for a test.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
             | 1 | Kent Police should review how call handlers record welfare checks after repeat domestic abuse calls. | Kent Police |\n\
             | 2 | Housing providers should confirm who is present at a property during visit {i}. | Shire {i} Homes |\n",
            [
                "January", "February", "March", "April", "May", "June", "July", "August"
            ][i % 8]
        );
        std::fs::write(dir.path().join(format!("r{i}.txt")), page).unwrap();
    }
    dir
}

both! {
    async fn related_costs_a_fixed_number_of_statements(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let q = "{ recommendations(first: 100) { nodes { related { reasons recommendation { label } } repeats { recommendation { label } } } } }";
        let before = app.statements();
        app.query(q, json!({})).await;
        let small = app.statements() - before;
        let dir = repeating_pages(6);
        assert_eq!(ingest(&app.database.url, &[dir.path()]).0, 0);
        let before = app.statements();
        let data = app.query(q, json!({})).await;
        let big = app.statements() - before;
        // The list, then per field (related, repeats) its batched steps: neighbours,
        // recommendations, agencies, themes; repeats also loads reviews.
        assert!(small <= 10, "{small}");
        assert_eq!(big, small, "statements grew with the data");
        // The written pages repeat each other: later Kent Police rows list earlier ones.
        let with_repeats = data["recommendations"]["nodes"].as_array().unwrap().iter()
            .filter(|n| !n["repeats"].as_array().unwrap().is_empty()).count();
        assert!(with_repeats >= 5, "{with_repeats}");
    }
}

both! {
    async fn merging_a_duplicate_listing_is_final(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let q = "{ reviews(filter: { csp: \"southampton\" }) { totalCount nodes { id published possibleDuplicates { review { id } } } }
                   agency(slug: \"southampton-safe-city-partnership\") { reviewCount }
                   search(query: \"Polish\") { totalCount } all: reviews { totalCount } }";
        let before = app.query(q, json!({})).await;
        let nodes = before["reviews"]["nodes"].as_array().unwrap();
        let keep = nodes.iter().find(|n| n["published"] == "2023-04").unwrap()["id"].as_str().unwrap().to_owned();
        let drop = nodes.iter().find(|n| n["published"] == "2024-02").unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(before["agency"]["reviewCount"], 2);

        let (code, out, err) = cli(&["reviews", "--database-url", &url, "merge", &keep, &drop]);
        assert_eq!(code, 0, "{out}{err}");
        let after = app.query(q, json!({})).await;
        assert_eq!(after["reviews"]["totalCount"], 1);
        assert_eq!(after["reviews"]["nodes"][0]["id"], keep.as_str());
        assert_eq!(after["reviews"]["nodes"][0]["possibleDuplicates"], json!([]));
        assert_eq!(after["agency"]["reviewCount"], 1);
        assert_eq!(after["all"]["totalCount"], 10);
        assert!(after["search"]["totalCount"].as_i64().unwrap() < before["search"]["totalCount"].as_i64().unwrap());

        // Ingesting the merged listing again does not bring it back.
        let (code, out, _) = ingest(&url, &[&fixture("southampton-65cf3168.txt")]);
        assert_eq!(code, 0);
        assert!(out.contains("merged into another review"), "{out}");
        assert_eq!(app.query(q, json!({})).await["all"]["totalCount"], 10);

        let (code, _, err) = cli(&["reviews", "--database-url", &url, "merge", &keep, &keep]);
        assert_eq!(code, 1);
        assert!(err.contains("itself"), "{err}");
        let (code, _, err) = cli(&["reviews", "--database-url", &url, "merge", &keep, "nonsense"]);
        assert_eq!(code, 2);
        assert!(err.contains("DROP"), "{err}");
    }
}

both! {
    async fn a_write_is_in_related_once_similarity_status_says_current(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "casefile", "editor");
        let status = "{ similarityStatus { current pending documents changesSinceRebuild rebuilding } }";
        let before = app.query(status, json!({})).await["similarityStatus"].clone();
        let rec = "{ recommendations(first: 100) { nodes { id label text review { title } agencies { slug } } } }";
        let nodes = app.query(rec, json!({})).await["recommendations"]["nodes"].as_array().unwrap().clone();
        let bassetlaw = find(&nodes, "Bassetlaw review", "5.1", None).clone();
        let agencies: Vec<Value> = bassetlaw["agencies"].as_array().unwrap().iter().map(|a| a["slug"].clone()).collect();
        let upsert = "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) {
            review { recommendations { nodes { id } } } } }";
        let input = json!({ "input": {
            "externalRef": "sim-1", "title": "Casefile review", "csps": ["Kent"], "published": "2025-01",
            "recommendations": [{ "label": "1", "text": format!("{} Again.", bassetlaw["text"].as_str().unwrap()), "agencies": agencies }] } });
        let (code, body) = app.post_as(Some(&editor), upsert, input).await;
        assert_eq!(code, 200, "{body}");
        let new_id = body["data"]["upsertReview"]["review"]["recommendations"]["nodes"][0]["id"].as_str().unwrap().to_owned();

        let mut now = json!(null);
        for _ in 0..300 {
            now = app.query(status, json!({})).await["similarityStatus"].clone();
            if now["current"] == true { break; }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(now["current"], true, "{now}");
        assert_eq!(now["pending"], 0);
        assert!(now["documents"].as_i64().unwrap() > 0, "{now}");
        // The write was followed one by one, not by a rebuild.
        assert_eq!(now["changesSinceRebuild"].as_i64().unwrap(), before["changesSinceRebuild"].as_i64().unwrap() + 1, "{before} {now}");

        let related = "query($id: ID!) { node(id: $id) { ... on Recommendation { related(first: 3) { recommendation { id } } } } }";
        let ids = |v: &Value| -> Vec<String> { v["node"]["related"].as_array().unwrap().iter()
            .map(|r| r["recommendation"]["id"].as_str().unwrap().to_owned()).collect() };
        // Its own list, and the list it entered.
        let own = app.query(related, json!({ "id": new_id })).await;
        assert!(ids(&own).contains(&bassetlaw["id"].as_str().unwrap().to_owned()), "{own}");
        let theirs = app.query(related, json!({ "id": bassetlaw["id"] })).await;
        assert!(ids(&theirs).contains(&new_id), "{theirs}");
    }
}
