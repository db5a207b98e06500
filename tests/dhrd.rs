//! The DHRD dataset: import, idempotence, bad input, regions, case tags, links to pages.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::*;

fn dhrd_csv() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhrd/incidents.csv")
}

fn import(url: &str, file: &std::path::Path) -> (i32, String, String) {
    cli(&[
        "import-dhrd",
        "--database-url",
        url,
        &file.display().to_string(),
    ])
}

/// Rows of the CSV with a column `True`, counted with the plainest reading.
fn count_true(column: &str) -> i64 {
    let text = std::fs::read_to_string(dhrd_csv()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == column).unwrap();
    // The tag columns are the last 15, after any quoted text: count from the end.
    let from_end = header.len() - i;
    lines
        .filter(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cells[cells.len() - from_end] == "True"
        })
        .count() as i64
}

both! {
    async fn import_creates_reviews_regions_and_tags_once(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let url = app.database.url.clone();
        let (code, out, err) = import(&url, &dhrd_csv());
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("647 added"), "{out}");

        let q = "query($tag: CaseTag) { all: reviews { totalCount } tagged: reviews(filter: { caseTag: $tag }) { totalCount }
                   csp(slug: \"Lincoln\") { name slug region reviews { totalCount nodes { published yearOfDeath caseTags } } } }";
        let data = app.query(q, json!({ "tag": "COERCIVE_CONTROL" })).await;
        assert_eq!(data["all"]["totalCount"], 647);
        assert_eq!(data["tagged"]["totalCount"].as_i64().unwrap(), count_true("coercive_control"));
        let csp = &data["csp"];
        assert_eq!(csp["name"], "Lincolnshire", "\"Lincoln\" is the Lincolnshire CSP");
        assert_eq!(csp["region"], "East Midlands");
        assert_eq!(csp["reviews"]["totalCount"], 16);
        let first = &csp["reviews"]["nodes"][0];
        assert!(first["published"].is_null(), "the dataset gives no publication month");
        assert!(first["yearOfDeath"].is_i64());

        let (code, out, _) = import(&url, &dhrd_csv());
        assert_eq!(code, 0);
        assert!(out.contains("0 added, 0 updated, 647 unchanged"), "{out}");
        assert_eq!(app.query(q, json!({ "tag": "STALKING" })).await["all"]["totalCount"], 647);
    }
}

both! {
    async fn a_bad_file_names_its_line_and_writes_nothing(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(dhrd_csv()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[5] = lines[5].replacen(",True,", ",Perhaps,", 1);
        let bad = dir.path().join("incidents.csv");
        std::fs::write(&bad, lines.join("\n")).unwrap();
        let (code, out, err) = import(&app.database.url, &bad);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("incidents.csv: line 6:") && err.contains("Perhaps"), "{err}");
        let data = app.query("{ reviews { totalCount } csps { totalCount } }", json!({})).await;
        assert_eq!(data, json!({ "reviews": { "totalCount": 0 }, "csps": { "totalCount": 0 } }));
    }
}

fn find<'a>(nodes: &'a [Value], title: &str) -> &'a Value {
    nodes
        .iter()
        .find(|n| n["title"] == title)
        .unwrap_or_else(|| panic!("{title}"))
}

both! {
    async fn pages_link_to_their_record_only_when_unique(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let (code, out, err) = import(&url, &dhrd_csv());
        assert_eq!(code, 0, "{out}{err}");
        // Nottingham (2018) has two records of 2018 deaths: listed, not guessed.
        assert!(out.contains("ambiguous, not linked: Nottingham review (2022-12): INC-"), "{out}");

        let q = "{ reviews(first: 100, filter: { publishedFrom: \"2000-01\" }) { nodes { title yearOfDeath caseTags
                     incident { title yearOfDeath caseTags csps { name } } } } }";
        let data = app.query(q, json!({})).await;
        let nodes = data["reviews"]["nodes"].as_array().unwrap();
        let bassetlaw = find(nodes, "Bassetlaw review");
        let incident = &bassetlaw["incident"];
        assert!(incident["title"].as_str().unwrap().starts_with("Bassetlaw review (INC-"), "{bassetlaw}");
        assert_eq!(incident["yearOfDeath"], 2018);
        assert_eq!(bassetlaw["caseTags"], incident["caseTags"], "a page carries its record's tags");
        assert!(find(nodes, "Nottingham review")["incident"].is_null());

        // Pages ingested after the import are linked too.
        let dir = tempfile::tempdir().unwrap();
        let page = fixture_text("bassetlaw-2023.txt").replace("Bassetlaw review", "Second Bassetlaw review").replace("Published: June 2023", "Published: July 2023");
        std::fs::write(dir.path().join("b2.txt"), page).unwrap();
        assert_eq!(ingest(&url, &[dir.path()]).0, 0);
        let data = app.query(q, json!({})).await;
        let second = find(data["reviews"]["nodes"].as_array().unwrap(), "Second Bassetlaw review");
        assert_eq!(second["incident"]["title"], incident["title"]);
    }
}

both! {
    async fn paging_runs_through_reviews_of_unknown_month(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        assert_eq!(import(&app.database.url, &dhrd_csv()).0, 0);
        let q = "query($after: String) { reviews(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id published } } }";
        let mut after = Value::Null;
        let mut seen = std::collections::HashSet::new();
        let mut months: Vec<Option<String>> = Vec::new();
        loop {
            let page = app.query(q, json!({ "after": after })).await["reviews"].clone();
            // 11 pages and 647 records, two of which are linked to their pages and listed
            // through them (issue 16: one review, not two).
            assert_eq!(page["totalCount"], 656);
            for n in page["nodes"].as_array().unwrap() {
                assert!(seen.insert(n["id"].as_str().unwrap().to_owned()), "a review listed twice");
                months.push(n["published"].as_str().map(str::to_owned));
            }
            if page["pageInfo"]["hasNextPage"] == false { break; }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen.len(), 656);
        // Newest first; reviews of unknown month last, on both engines.
        let known: Vec<&String> = months.iter().flatten().collect();
        assert_eq!(known.len(), 11);
        assert!(months[..11].iter().all(Option::is_some));
        assert!(known.windows(2).all(|w| w[0] >= w[1]));
    }
}
