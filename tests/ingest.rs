//! Ingest through the real CLI, checked through the real API.

use serde_json::json;

use crate::helpers::*;

const RECS: &str = "query($csp: String) { reviews(first: 100, filter: { csp: $csp }) { totalCount nodes {
    id title published yearOfDeath incomplete statedRecommendationCount recommendationCount
    recommendations(first: 100) { totalCount nodes { id label position text addressedTo agencies { name slug } } } } } }";

both! {
    async fn bassetlaw_and_nottingham_exactly_as_printed(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let (code, out, err) = ingest(
            &app.database.url,
            &[&fixture("bassetlaw-2023.txt"), &fixture("nottingham-2022.txt")],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("2 added"), "{out}");

        let data = app.query(RECS, json!({})).await;
        assert_eq!(data["reviews"]["totalCount"], 2);
        let total: i64 = data["reviews"]["nodes"].as_array().unwrap().iter()
            .map(|r| r["recommendations"]["totalCount"].as_i64().unwrap()).sum();
        assert_eq!(total, 26);

        for (csp, file) in [("Bassetlaw", "bassetlaw-2023.txt"), ("Nottingham", "nottingham-2022.txt")] {
            let data = app.query(RECS, json!({ "csp": csp })).await;
            let review = &data["reviews"]["nodes"][0];
            assert_eq!(review["incomplete"], false);
            let expected = printed_rows(&fixture_text(file));
            let got = review["recommendations"]["nodes"].as_array().unwrap();
            assert_eq!(got.len(), expected.len());
            for (i, (row, (label, text, addressees))) in got.iter().zip(&expected).enumerate() {
                assert_eq!(row["position"], i as i64 + 1);
                assert_eq!(row["label"], label.as_str());
                assert_eq!(row["text"], text.as_str());
                assert_eq!(row["addressedTo"], addressees.join(" | ").as_str());
            }
        }
        let data = app.query(RECS, json!({ "csp": "bassetlaw" })).await;
        let r = &data["reviews"]["nodes"][0];
        assert_eq!(r["published"], "2023-06");
        assert_eq!(r["yearOfDeath"], 2018);
        // The printed "Her Majesty’s Government" keeps its curly quote; the agency is curated.
        let row = &r["recommendations"]["nodes"][2];
        assert_eq!(row["addressedTo"], "Her Majesty’s Government");
        assert_eq!(row["agencies"][0]["name"], "Her Majesty's Government");
    }
}

both! {
    async fn all_fixtures_multi_addressees_repeated_labels_cut_pages_and_rerun(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = fixtures_dir();
        let (code, out, err) = ingest(&app.database.url, &[&dir]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("11 added"), "{out}");
        // Every cut row is reported with its file and line.
        assert!(out.contains("kent-644a9ef9.txt:19: row cut short"), "{out}");

        let data = app.query(RECS, json!({ "csp": "Kent" })).await;
        let kent = data["reviews"]["nodes"].as_array().unwrap();
        assert_eq!(kent.len(), 2);
        let table = kent.iter().find(|r| r["published"] == "2023-04").unwrap();
        let row2 = &table["recommendations"]["nodes"][1];
        assert_eq!(row2["addressedTo"], "KMPT | Kent Police");
        let names: Vec<&str> = row2["agencies"].as_array().unwrap().iter()
            .map(|a| a["name"].as_str().unwrap()).collect();
        // KMPT is the register's trust RXY, under its current register name.
        assert_eq!(names, vec!["Kent and Medway Mental Health NHS Trust", "Kent Police"]);

        // The flat layout: rows split from their addressee, the cut third row not stored.
        let flat = kent.iter().find(|r| r["published"] == "2022-12").unwrap();
        assert_eq!(flat["incomplete"], true);
        let rows = flat["recommendations"]["nodes"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["addressedTo"], "Kent and Medway CCG");
        assert!(rows[0]["text"].as_str().unwrap().ends_with("as circumstances change."));
        assert_eq!(rows[1]["addressedTo"], "KCC Adult Social Care and Health");

        // Southampton's second row names two addressees.
        let data = app.query(RECS, json!({ "csp": "southampton" })).await;
        for review in data["reviews"]["nodes"].as_array().unwrap() {
            assert_eq!(review["recommendations"]["nodes"][1]["agencies"].as_array().unwrap().len(), 2);
        }

        // Liverpool's three rows labelled "1" stay three recommendations.
        let data = app.query(RECS, json!({ "csp": "Liverpool" })).await;
        let lpool = data["reviews"]["nodes"].as_array().unwrap().iter()
            .find(|r| r["statedRecommendationCount"] == 14).unwrap().clone();
        let ones: Vec<_> = lpool["recommendations"]["nodes"].as_array().unwrap().iter()
            .filter(|r| r["label"] == "1").collect();
        assert_eq!(ones.len(), 3);
        let ids: std::collections::HashSet<_> = ones.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 3);

        // Cut-short pages are incomplete; the two complete pages are not.
        let data = app.query("{ all: reviews { totalCount } cut: reviews(filter: { incomplete: true }) { totalCount } }", json!({})).await;
        assert_eq!(data["all"]["totalCount"], 11);
        assert_eq!(data["cut"]["totalCount"], 9);

        // A second run changes nothing: not a statement that writes.
        let before = app.query(RECS, json!({})).await;
        let (code, out, _) = ingest(&app.database.url, &[&dir]);
        assert_eq!(code, 0);
        assert!(out.contains("0 added, 0 updated, 11 unchanged"), "{out}");
        let after = app.query(RECS, json!({})).await;
        assert_eq!(before, after);
    }
}

both! {
    async fn malformed_pages_are_reported_and_change_nothing(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-good.txt"), fixture_text("bassetlaw-2023.txt")).unwrap();
        std::fs::write(dir.path().join("b-no-header.txt"), "Just some text\nwith no header\n").unwrap();
        let bad_month = fixture_text("nottingham-2022.txt").replace("Published: December 2022", "Published: Decembruary 2022");
        std::fs::write(dir.path().join("c-bad-month.txt"), bad_month).unwrap();
        std::fs::write(dir.path().join("d-binary.txt"), b"CSP: X\n\xff\xfe\x00oops").unwrap();

        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 1, "a failed file makes the exit code say so: {out}{err}");
        assert!(out.contains("b-no-header.txt:1: no review header"), "{out}");
        assert!(out.contains("c-bad-month.txt:5: Published:"), "{out}");
        assert!(out.contains("d-binary.txt:2: not UTF-8"), "{out}");
        assert!(out.contains("1 added") && out.contains("3 failed"), "{out}");

        let data = app.query("{ reviews { totalCount nodes { title } } agencies { totalCount } csps { totalCount } }", json!({})).await;
        assert_eq!(data["reviews"]["totalCount"], 1);
        assert_eq!(data["reviews"]["nodes"][0]["title"], "Bassetlaw review");
        assert_eq!(data["csps"]["totalCount"], 1, "the failed pages created no CSP");
    }
}

both! {
    async fn a_changed_page_updates_its_review_in_place(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bassetlaw.txt");
        let original = fixture_text("bassetlaw-2023.txt");
        std::fs::write(&path, &original).unwrap();
        assert_eq!(ingest(&app.database.url, &[&path]).0, 0);
        let q = "{ reviews { totalCount nodes { id recommendationCount recommendations { nodes { id text } } } } agency(slug: \"gp-practice\") { reviewCount recommendationCount } }";
        let before = app.query(q, json!({})).await;

        // Reword 5.1, drop 5.4 (and say so: a page that still claims four rows is cut short,
        // and withdraws nothing).
        let changed = original
            .replace("embedded into the practice", "embedded into every practice")
            .replace("Extracted: 4 recs", "Extracted: 3 recs")
            .lines()
            .filter(|l| !l.starts_with("| 5.4 "))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, changed).unwrap();
        let (code, out, _) = ingest(&app.database.url, &[&path]);
        assert_eq!(code, 0);
        assert!(out.contains("1 updated"), "{out}");

        let after = app.query(q, json!({})).await;
        assert_eq!(after["reviews"]["totalCount"], 1, "no duplicate review");
        let (b, a) = (&before["reviews"]["nodes"][0], &after["reviews"]["nodes"][0]);
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["recommendationCount"], 3);
        let (brecs, arecs) = (b["recommendations"]["nodes"].as_array().unwrap(), a["recommendations"]["nodes"].as_array().unwrap());
        assert_eq!(arecs.len(), 3);
        for i in 0..3 {
            assert_eq!(arecs[i]["id"], brecs[i]["id"], "row {i} keeps its id");
        }
        assert!(arecs[0]["text"].as_str().unwrap().contains("every practice"));
        assert_eq!(after["agency"]["reviewCount"], 1);
    }
}

/// `n` pages in a folder of their own, all addressed to the same new and curated agencies.
fn batch_of_pages(tag: &str, n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let page = format!(
            "SOURCE: https://example.org/{tag}-{i}/\nSource · Domestic Homicide Review\n{tag} {i} review\n\
             CSP: Shared Partnership\nPublished: June 2024\nExtracted: 2 recs\nSummary\nWritten for a test.\n\
             | # | Recommendation | Addressed to |\n|---|---|---|\n\
             | 1 | Share risk information at every contact ({tag} {i}). | Brand New Shared Body | Kent Police |\n\
             | 2 | Train staff in routine enquiry ({tag} {i}). | GP practice |\n"
        );
        std::fs::write(dir.path().join(format!("{tag}-{i}.txt")), page).unwrap();
    }
    dir
}

both! {
    async fn concurrent_ingests_all_land_without_duplicates(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dirs: Vec<_> = (0..4).map(|w| batch_of_pages(&format!("w{w}"), 6)).collect();
        let url = app.database.url.clone();
        let runs: Vec<_> = dirs
            .iter()
            .map(|d| {
                let (url, path) = (url.clone(), d.path().to_owned());
                std::thread::spawn(move || ingest(&url, &[&path]))
            })
            .collect();
        for run in runs {
            let (code, out, err) = run.join().unwrap();
            assert_eq!(code, 0, "{out}{err}");
            assert!(!err.contains("locked") && !out.contains("locked"), "{out}{err}");
        }
        let data = app.query("{ reviews { totalCount } csps { totalCount }
            shared: agency(slug: \"brand-new-shared-body\") { reviewCount recommendationCount }
            gp: agency(slug: \"gp-practice\") { reviewCount } agencies { totalCount } }", json!({})).await;
        assert_eq!(data["reviews"]["totalCount"], 24);
        assert_eq!(data["csps"]["totalCount"], 1, "one CSP, created once");
        assert_eq!(data["agencies"]["totalCount"], 3, "each agency created once");
        assert_eq!(data["shared"]["reviewCount"], 24);
        assert_eq!(data["shared"]["recommendationCount"], 24);
        assert_eq!(data["gp"]["reviewCount"], 24);
    }
}
