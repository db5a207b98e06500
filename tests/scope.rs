//! Keys belong to an organisation and write only inside their scope (issue 14): a foreign
//! key's upsert, page, plan change and alias are refused and write nothing.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::helpers::{code_of as code, ok_data as ok};

const UPSERT: &str = "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) {
    outcome review { id csps { slug } recommendations { nodes { id text actionPlan { status version } } } } } }";

fn input(csp: &str, texts: &[&str]) -> Value {
    json!({ "input": { "externalRef": "2024-017", "title": "Casefile review", "csps": [csp], "published": "2024-03",
        "recommendations": texts.iter().enumerate()
            .map(|(i, t)| json!({ "label": format!("{}", i + 1), "text": t, "agencies": ["kent-police"] }))
            .collect::<Vec<_>>() } })
}

/// The slug of the (first) CSP of the sample review with this title.
async fn csp_of(app: &TestApp, title: &str) -> String {
    let q = "{ reviews(first: 100) { nodes { title csps { slug } } } }";
    let data = app.query(q, json!({})).await;
    data["reviews"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == title)
        .unwrap_or_else(|| panic!("{title}"))["csps"][0]["slug"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn counts(app: &TestApp) -> Value {
    app.query(
        "{ reviews { totalCount } recommendations { totalCount } }",
        json!({}),
    )
    .await
}

both! {
    async fn a_foreign_key_writes_nothing_of_another_organisation(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let bassetlaw = csp_of(&app, "Bassetlaw review").await;
        let nottingham = csp_of(&app, "Nottingham review").await;
        let ours = create_key_with(&url, "bassetlaw-cms", "editor", &["--owner", &bassetlaw]);
        let theirs = create_key_with(&url, "nottingham-cms", "editor", &["--owner", &nottingham]);

        let first = ok(app.post_as(Some(&ours), UPSERT, input(&bassetlaw, &["Police to review DASH training.", "GPs to ask."])).await);
        assert_eq!(first["upsertReview"]["outcome"], "ADDED");
        let review = first["upsertReview"]["review"]["id"].as_str().unwrap().to_owned();
        let rec = first["upsertReview"]["review"]["recommendations"]["nodes"][0]["id"].as_str().unwrap().to_owned();
        let set = "mutation($id: ID!, $v: Int!) { setRecommendationStatus(input: { id: $id, status: IN_PROGRESS, expectedVersion: $v }) { actionPlan { version } } }";
        ok(app.post_as(Some(&ours), set, json!({ "id": rec, "v": 0 })).await);

        // The same reference from another organisation is another review.
        let other = ok(app.post_as(Some(&theirs), UPSERT, input(&nottingham, &["Housing to check."])).await);
        assert_eq!(other["upsertReview"]["outcome"], "ADDED");
        assert_ne!(other["upsertReview"]["review"]["id"], review.as_str());
        // Writing into the other's CSP is refused, and writes nothing.
        let before = counts(&app).await;
        let refused = app.post_as(Some(&theirs), UPSERT, input(&bassetlaw, &["Housing to check."])).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{:?}", refused.1);
        assert_eq!(refused.1["errors"][0]["extensions"]["outOfScope"], true);
        assert_eq!(counts(&app).await, before);

        // A page of ours, re-ingested by them with rows removed.
        let page = format!("SOURCE: https://example.org/scoped/\nSource · Domestic Homicide Review\nScoped review\nCSP: {bassetlaw}\n\
            Published: May 2024\nExtracted: 2 recs\nSummary\nWritten for a test.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
            | 1 | Police to review bail checks. | Kent Police |\n| 2 | GPs to ask about abuse. | GP practice |\n");
        let ingest = "mutation($t: String!, $w: Boolean!) { ingestReviewPage(input: { text: $t, allowWithdraw: $w }) { outcome } }";
        ok(app.post_as(Some(&ours), ingest, json!({ "t": page, "w": false })).await);
        let shrunk = page.replace("| 2 | GPs to ask about abuse. | GP practice |\n", "").replace("Extracted: 2", "Extracted: 1")
            .replace(&format!("CSP: {bassetlaw}"), &format!("CSP: {nottingham}"));
        let before = counts(&app).await;
        let refused = app.post_as(Some(&theirs), ingest, json!({ "t": shrunk, "w": true })).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{:?}", refused.1);
        assert_eq!(counts(&app).await, before);

        // Their plan change on our recommendation: refused, our version stands.
        let moved = app.post_as(Some(&theirs), set, json!({ "id": rec, "v": 1 })).await;
        assert_eq!(code(&moved), "FORBIDDEN", "{:?}", moved.1);
        let q = "query($id: ID!) { node(id: $id) { ... on Recommendation { actionPlan { version status } } } }";
        assert_eq!(app.query(q, json!({ "id": rec })).await["node"]["actionPlan"]["version"], 1);

        // An agency's key updates the plans addressed to it, and no others.
        let police = create_key_with(&url, "kent-police-plans", "editor", &["--agency", "kent-police"]);
        ok(app.post_as(Some(&police), set.replace("IN_PROGRESS", "IMPLEMENTED").as_str(), json!({ "id": rec, "v": 1 })).await);
        let gp_rec = app.query("{ recommendations(first: 1, filter: { agency: \"gp-practice\" }) { nodes { id actionPlan { version } agencies { slug } } } }", json!({})).await;
        let gp = &gp_rec["recommendations"]["nodes"][0];
        assert!(!gp["agencies"].as_array().unwrap().iter().any(|a| a["slug"] == "kent-police"), "{gp}");
        let refused = app.post_as(Some(&police), set, json!({ "id": gp["id"], "v": gp["actionPlan"]["version"] })).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{:?}", refused.1);
        // ... nor writes reviews.
        assert_eq!(code(&app.post_as(Some(&police), UPSERT, input(&bassetlaw, &["x y z"])).await), "FORBIDDEN");

        // An editor cannot send a later review's agency elsewhere: aliases are curation.
        let alias = "mutation { addAgencyAlias(input: { alias: \"Nottinghamshire Police\", agency: \"kent-police\" }) { agency { slug } } }";
        let refused = app.post_as(Some(&ours), alias, json!({})).await;
        assert_eq!(code(&refused), "FORBIDDEN");
        assert_eq!(refused.1["errors"][0]["extensions"]["requiredRole"], "curator");
        let curator = create_key(&url, "registry-team", "curator");
        ok(app.post_as(Some(&curator), alias, json!({})).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_scoped_keys_and_refuses_an_unscoped_editor() {
    let app = TestApp::with_samples(Backend::Sqlite).await;
    let url = app.database.url.clone();
    let (code, out, err) = cli(&[
        "keys",
        "create",
        "--database-url",
        &url,
        "--name",
        "loose",
        "--role",
        "editor",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("needs a scope") && err.contains("--national"),
        "{err}"
    );
    let (code, _, err) = cli(&[
        "keys",
        "create",
        "--database-url",
        &url,
        "--name",
        "nowhere",
        "--role",
        "editor",
        "--csp",
        "atlantis",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("atlantis"), "{err}");

    let (code, out, err) = cli(&[
        "keys",
        "create",
        "--database-url",
        &url,
        "--name",
        "police",
        "--role",
        "editor",
        "--owner",
        "kent-police",
        "--agency",
        "gp-practice",
    ]);
    assert_eq!(code, 0, "{err}");
    let key = out.lines().last().unwrap();
    assert!(key.starts_with("dhr_") && key.len() > 40, "{out}");
    let (code, out, err) = cli(&[
        "keys",
        "create",
        "--database-url",
        &url,
        "--name",
        "hq",
        "--role",
        "editor",
        "--national",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().last().unwrap().starts_with("dhr_"));

    let (code, out, _) = cli(&["keys", "list", "--database-url", &url]);
    assert_eq!(code, 0);
    let police = out.lines().find(|l| l.starts_with("police\t")).unwrap();
    assert!(
        police.contains("owner agency:kent-police") && police.contains("agency:gp-practice"),
        "{police}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("hq\t") && l.contains("national")),
        "{out}"
    );
}
