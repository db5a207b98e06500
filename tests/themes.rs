//! Themes: the taxonomy, tags with their cues, and re-tagging when a page changes.

use serde_json::json;

use crate::helpers::*;

both! {
    async fn recommendations_carry_explainable_themes(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app.query("{ themes { id slug name cues recommendationCount reviewCount } }", json!({})).await;
        let themes = data["themes"].as_array().unwrap();
        assert!((25..=30).contains(&themes.len()));
        let counts: Vec<i64> = themes.iter().map(|t| t["recommendationCount"].as_i64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most recommendations first");

        let q = "{ theme(slug: \"routine-enquiry\") { id recommendationCount recommendations(first: 100) { totalCount nodes {
            label review { title } themes { theme { slug } cue } } } } }";
        let theme = app.query(q, json!({})).await["theme"].clone();
        let recs = theme["recommendations"]["nodes"].as_array().unwrap();
        assert_eq!(theme["recommendations"]["totalCount"], theme["recommendationCount"]);
        let found: Vec<(String, String)> = recs.iter()
            .map(|r| (r["review"]["title"].as_str().unwrap().to_owned(), r["label"].as_str().unwrap().to_owned()))
            .collect();
        for wanted in [("Bassetlaw review", "5.1"), ("Nottingham review", "10.4b"), ("Liverpool review", "1")] {
            assert!(found.contains(&(wanted.0.to_owned(), wanted.1.to_owned())), "{wanted:?} in {found:?}");
        }
        // Every tag names the cue that matched.
        let liverpool = recs.iter().find(|r| r["review"]["title"] == "Liverpool review").unwrap();
        let tag = liverpool["themes"].as_array().unwrap().iter().find(|t| t["theme"]["slug"] == "routine-enquiry").unwrap();
        assert_eq!(tag["cue"], "routine enquiries");

        let node = app.query("query($id: ID!) { node(id: $id) { ... on Theme { slug } } }", json!({ "id": theme["id"] })).await;
        assert_eq!(node["node"]["slug"], "routine-enquiry");
        let filtered = app.query("{ recommendations(filter: { theme: \"routine-enquiry\", csp: \"bassetlaw\" }) { nodes { label } } }", json!({})).await;
        assert_eq!(filtered["recommendations"]["nodes"], json!([{ "label": "5.1" }]));
    }
}

const PAGE: &str = "SOURCE: https://example.org/themes-test/\nSource · Domestic Homicide Review\nTown review\nCSP: Town\n\
Published: May 2024\nYear of death: 2020\nExtracted: 2 recs\nSummary\nWritten for a test.\n\
| # | Recommendation | Addressed to |\n|---|---|---|\n\
| 1 | Data must be shared in a safe and lawful way. | Town Council |\n\
| 2 | Staff should discuss stalking with victims. | Town Police |\n";

async fn tags(app: &TestApp) -> Vec<Vec<String>> {
    let data = app
        .query(
            "{ reviews { nodes { recommendations { nodes { themes { theme { slug } } } } } } }",
            json!({}),
        )
        .await;
    data["reviews"]["nodes"][0]["recommendations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["themes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["theme"]["slug"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

both! {
    async fn tags_follow_the_text_when_a_page_changes(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.txt");
        std::fs::write(&path, PAGE).unwrap();
        assert_eq!(ingest(&app.database.url, &[&path]).0, 0);
        let before = tags(&app).await;
        assert!(!before[0].contains(&"review-process-law".to_owned()), "'lawful' is not law reform: {before:?}");
        assert_eq!(before[1], vec!["stalking-harassment"]);

        std::fs::write(&path, PAGE.replace("discuss stalking with victims", "complete a DASH risk assessment")).unwrap();
        let (code, out, _) = ingest(&app.database.url, &[&path]);
        assert_eq!(code, 0);
        assert!(out.contains("1 updated"), "{out}");
        assert_eq!(tags(&app).await[1], vec!["risk-assessment"]);
    }
}
