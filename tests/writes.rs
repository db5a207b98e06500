//! Writes through the API: who may do what, validation, action plans and their races, and
//! live updates over graphql-transport-ws (in one process, and across two on PostgreSQL).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::*;

static SEQ: AtomicU32 = AtomicU32::new(0);

fn n() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

struct Keys {
    reader: String,
    editor: String,
    curator: String,
    admin: String,
    revoked: String,
}

fn keys(url: &str) -> Keys {
    let revoked = create_key(url, "former", "admin");
    let (code, _, err) = cli(&["keys", "revoke", "--database-url", url, "former"]);
    assert_eq!(code, 0, "{err}");
    Keys {
        reader: create_key(url, "dashboard", "reader"),
        editor: create_key(url, "case-system", "editor"),
        curator: create_key(url, "registry-team", "curator"),
        admin: create_key(url, "board-admin", "admin"),
        revoked,
    }
}

/// Everything a write could change, read straight from the database.
async fn fingerprint(app: &TestApp) -> Vec<i64> {
    let sql = "SELECT (SELECT COUNT(*) FROM review) AS a, (SELECT COUNT(*) FROM recommendation) AS b, \
               (SELECT COUNT(*) FROM agency) AS c, (SELECT COUNT(*) FROM agency_alias) AS d, \
               (SELECT COUNT(*) FROM action_plan) AS e, (SELECT COUNT(*) FROM status_event) AS f, \
               (SELECT COALESCE(SUM(version), 0) FROM action_plan) AS g, (SELECT COUNT(*) FROM api_key) AS h, \
               (SELECT COUNT(revoked_at) FROM api_key) AS i, (SELECT COUNT(deleted_at) FROM review) AS j, \
               (SELECT COUNT(withdrawn_at) FROM recommendation) AS k";
    let row = app
        .db
        .conn
        .query_one_raw(Statement::from_string(
            app.db.conn.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
        .iter()
        .map(|c| row.try_get::<i64>("", c).unwrap())
        .collect()
}

fn data(body: (u16, Value)) -> Value {
    assert_eq!(body.0, 200, "{}", body.1);
    assert!(
        body.1.get("errors").is_none(),
        "unexpected errors: {:#}",
        body.1
    );
    body.1["data"].clone()
}

fn page(source: &str, addressee: &str) -> String {
    format!(
        "SOURCE: https://example.org/{source}/\nSource · Domestic Homicide Review\nTestshire review\nCSP: Testshire\n\
         Published: May 2024\nExtracted: 1 recs\nSummary\nWritten for a test.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
         | 1 | Review the referral policy. | {addressee} |\n"
    )
}

const UPSERT: &str = "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) {
    outcome review { id title recommendations { nodes { id label text agencies { slug } } } } } }";

fn review_input(external_ref: &str, text: &str) -> Value {
    json!({ "input": {
        "externalRef": external_ref, "title": "Casefile review", "csps": ["Kent"], "published": "2024-03",
        "summary": "Pushed by a case-management system.",
        "recommendations": [
            { "label": "1", "text": text, "agencies": ["kent-police"] },
            { "label": "2", "text": "Adult social care to audit carers' assessments.", "agencies": ["kcc-adult-social-care-and-health", "gp-practice"] }
        ] } })
}

/// A recommendation of the samples and its plan's version.
async fn a_recommendation(app: &TestApp, agency: &str) -> (String, i64) {
    let q = "query($a: String) { recommendations(first: 1, filter: { agency: $a }) { nodes { id actionPlan { version } } } }";
    let node = app.query(q, json!({ "a": agency })).await["recommendations"]["nodes"][0].clone();
    (
        node["id"].as_str().unwrap().to_owned(),
        node["actionPlan"]["version"].as_i64().unwrap(),
    )
}

const SET_STATUS: &str =
    "mutation($input: SetRecommendationStatusInput!) { setRecommendationStatus(input: $input) {
    actionPlan { status version updatedBy } event { from to by note version } } }";

#[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
enum Need {
    Editor,
    Curator,
    Admin,
}

/// Prepares (with the admin key) and returns one call of the mutation that must write.
async fn prepared(app: &TestApp, admin: &str, mutation: &str) -> (String, Value, Need) {
    let i = n();
    match mutation {
        "ingestReviewPage" => (
            "mutation($t: String!) { ingestReviewPage(input: { text: $t }) { outcome } }".into(),
            json!({ "t": page(&format!("matrix-{i}"), "Kent Police") }),
            Need::Editor,
        ),
        "upsertReview" => (UPSERT.into(), review_input(&format!("matrix-{i}"), "Police to review DASH training."), Need::Editor),
        "setRecommendationStatus" => {
            let (id, v) = a_recommendation(app, "kent-police").await;
            // A note each time: the same status again without one changes nothing, and is refused.
            (SET_STATUS.into(), json!({ "input": { "id": id, "status": "IN_PROGRESS", "expectedVersion": v, "note": format!("check {i}") } }), Need::Editor)
        }
        "updateRecommendation" => {
            let (id, v) = a_recommendation(app, "kent-police").await;
            (
                "mutation($input: UpdateRecommendationInput!) { updateRecommendation(input: $input) { actionPlan { version } } }".into(),
                json!({ "input": { "id": id, "expectedVersion": v, "targetDate": format!("2030-01-{:02}", i % 28 + 1), "action": format!("Action {i}") } }),
                Need::Editor,
            )
        }
        "addAgencyAlias" => (
            "mutation($a: String!) { addAgencyAlias(input: { alias: $a, agency: \"kent-police\" }) { agency { slug } } }".into(),
            json!({ "a": format!("Kent Constabulary {i}") }),
            Need::Curator,
        ),
        "deleteReview" => {
            let made = data(app.post_as(Some(admin), UPSERT, review_input(&format!("doomed-{i}"), "To be deleted.")).await);
            (
                "mutation($id: ID!) { deleteReview(input: { id: $id }) { deletedId recommendationsDeleted } }".into(),
                json!({ "id": made["upsertReview"]["review"]["id"] }),
                Need::Admin,
            )
        }
        "mergeAgencies" => {
            let name = format!("Temporary Body {i}");
            let ingest = "mutation($t: String!) { ingestReviewPage(input: { text: $t }) { outcome } }";
            data(app.post_as(Some(admin), ingest, json!({ "t": page(&format!("merge-{i}"), &name) })).await);
            (
                "mutation($f: String!) { mergeAgencies(input: { from: $f, into: \"kent-police\" }) { agency { slug } } }".into(),
                json!({ "f": name }),
                Need::Curator,
            )
        }
        "createApiKey" => (
            "mutation($n: String!) { createApiKey(input: { name: $n, role: READER }) { key } }".into(),
            json!({ "n": format!("new-{i}") }),
            Need::Admin,
        ),
        "revokeApiKey" => {
            let name = format!("victim-{i}");
            let create = "mutation($n: String!) { createApiKey(input: { name: $n, role: READER }) { key } }";
            data(app.post_as(Some(admin), create, json!({ "n": name })).await);
            (
                "mutation($n: String!) { revokeApiKey(input: { name: $n }) { revokedAt } }".into(),
                json!({ "n": name }),
                Need::Admin,
            )
        }
        other => panic!("no case for {other}"),
    }
}

both! {
    async fn every_mutation_writes_only_with_a_strong_enough_key(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let k = keys(&app.database.url);
        let mutations = ["ingestReviewPage", "upsertReview", "setRecommendationStatus", "updateRecommendation",
            "addAgencyAlias", "deleteReview", "mergeAgencies", "createApiKey", "revokeApiKey"];
        let callers: [(&str, Option<&str>); 6] = [("none", None), ("reader", Some(&k.reader)),
            ("editor", Some(&k.editor)), ("curator", Some(&k.curator)), ("admin", Some(&k.admin)),
            ("revoked", Some(&k.revoked))];
        for mutation in mutations {
            for (who, key) in callers {
                let (query, vars, need) = prepared(&app, &k.admin, mutation).await;
                let before = fingerprint(&app).await;
                let (status, body) = app.post_as(key, &query, vars).await;
                let after = fingerprint(&app).await;
                let allowed = match who {
                    "editor" => need == Need::Editor,
                    "curator" => need <= Need::Curator,
                    "admin" => true,
                    _ => false,
                };
                let context = format!("{mutation} as {who}: {body}");
                if allowed {
                    assert_eq!(status, 200, "{context}");
                    assert!(body.get("errors").is_none(), "{context}");
                    assert_ne!(before, after, "an allowed write changed nothing: {context}");
                    continue;
                }
                assert_eq!(before, after, "a refused write changed something: {context}");
                let code = body["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
                let expected = match who {
                    "none" | "revoked" => "UNAUTHENTICATED",
                    _ => "FORBIDDEN",
                };
                assert_eq!(code, expected, "{context}");
                // A revoked key is refused before the operation runs, as HTTP 401.
                assert_eq!(status, if who == "revoked" { 401 } else { 200 }, "{context}");
                assert!(body["data"].is_null() || body.get("data").is_none(), "{context}");
            }
        }
    }
}

both! {
    async fn reads_can_require_a_key(backend: Backend) {
        let db = TestDb::new(backend).await;
        let url = db.url.clone();
        let reader = {
            // The key table exists once the app has migrated the database.
            let mut app = TestApp::start(db, false).await;
            let key = create_key(&url, "viewer", "reader");
            app.stop().await;
            (app.take_database(), key)
        };
        let mut cfg = dhr_graph_api::config::ServeConfig::for_database(url.clone());
        cfg.require_key_for_reads = true;
        cfg.no_samples = true;
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        let server = dhr_graph_api::server::Application::build(&cfg).await.unwrap();
        let addr = server.local_addr();
        tokio::spawn(server.run_until(std::future::pending()));
        let client = reqwest::Client::new();
        let ask = |key: Option<&str>| {
            let mut req = client.post(format!("http://{addr}/graphql")).json(&json!({ "query": "{ reviews { totalCount } }" }));
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            req.send()
        };
        let anonymous = ask(None).await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
        let body: Value = anonymous.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        let with_key = ask(Some(&reader.1)).await.unwrap();
        assert_eq!(with_key.status().as_u16(), 200);
        let body: Value = with_key.json().await.unwrap();
        assert_eq!(body["data"]["reviews"]["totalCount"], 0);
        // A websocket without a key is refused at connection_init.
        assert!(WsClient::connect(addr, None).await.is_err());
        assert!(WsClient::connect(addr, Some(&reader.1)).await.is_ok());
        drop(reader.0);
    }
}

both! {
    async fn bad_input_names_its_field_and_writes_nothing(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let k = keys(&app.database.url);
        let before = fingerprint(&app).await;
        let mut cases: Vec<(Value, &str)> = Vec::new();
        let mut v = review_input("bad-1", "Fine text.");
        v["input"]["recommendations"][1]["agencies"][1] = json!("no-such-agency");
        cases.push((v, "input.recommendations[1].agencies[1]"));
        let mut v = review_input("bad-2", "Fine text.");
        v["input"]["published"] = json!("2999-01");
        cases.push((v, "input.published"));
        cases.push((review_input("bad-3", "   "), "input.recommendations[0].text"));
        let mut v = review_input("bad-4", "Fine text.");
        v["input"]["recommendations"][0]["label"] = json!("x".repeat(21));
        cases.push((v, "input.recommendations[0].label"));
        let mut v = review_input("bad-5", "Fine text.");
        v["input"]["csps"] = json!([]);
        cases.push((v, "input.csps"));
        for (vars, field) in cases {
            let (status, body) = app.post_as(Some(&k.editor), UPSERT, vars).await;
            assert_eq!(status, 200);
            let err = &body["errors"][0];
            assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{body}");
            assert_eq!(err["extensions"]["field"], field, "{body}");
        }
        // A page that cannot be read: its line, and nothing written.
        let ingest = "mutation($t: String!) { ingestReviewPage(input: { text: $t }) { outcome } }";
        let (_, body) = app.post_as(Some(&k.editor), ingest, json!({ "t": "Source · Domestic Homicide Review\nno title or table\n" })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["extensions"]["line"].as_u64().is_some(), "{body}");
        let (_, body) = app.post_as(Some(&k.editor), ingest, json!({ "t": "  " })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "input.text", "{body}");
        // Action-plan fields.
        let (id, _) = a_recommendation(&app, "kent-police").await;
        let update = "mutation($input: UpdateRecommendationInput!) { updateRecommendation(input: $input) { actionPlan { version } } }";
        for (input, field) in [
            (json!({ "id": id, "expectedVersion": 0, "targetDate": "31/01/2025" }), "input.targetDate"),
            (json!({ "id": id, "expectedVersion": 0, "leadAgency": "nobody" }), "input.leadAgency"),
            (json!({ "id": "not-an-id", "expectedVersion": 0 }), "input.id"),
        ] {
            let (_, body) = app.post_as(Some(&k.editor), update, json!({ "input": input })).await;
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
        assert_eq!(fingerprint(&app).await, before);
    }
}

both! {
    async fn upsert_is_idempotent_and_updates_in_place(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let k = keys(&app.database.url);
        let first = data(app.post_as(Some(&k.editor), UPSERT, review_input("cms-42", "Police to review DASH training.")).await);
        assert_eq!(first["upsertReview"]["outcome"], "ADDED");
        let before = fingerprint(&app).await;
        let again = data(app.post_as(Some(&k.editor), UPSERT, review_input("cms-42", "Police to review DASH training.")).await);
        assert_eq!(again["upsertReview"]["outcome"], "UNCHANGED");
        assert_eq!(fingerprint(&app).await, before, "the same call twice changes nothing");
        let changed = data(app.post_as(Some(&k.editor), UPSERT, review_input("cms-42", "Police to review DASH refresher training.")).await);
        assert_eq!(changed["upsertReview"]["outcome"], "UPDATED");
        let (a, b) = (&first["upsertReview"]["review"], &changed["upsertReview"]["review"]);
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["recommendations"]["nodes"][0]["id"], b["recommendations"]["nodes"][0]["id"], "ids kept by position");
        assert_eq!(b["recommendations"]["nodes"][0]["text"], "Police to review DASH refresher training.");
        assert_eq!(b["recommendations"]["nodes"][1]["agencies"], json!([{ "slug": "kcc-adult-social-care-and-health" }, { "slug": "gp-practice" }]));
    }
}

both! {
    async fn racing_writers_one_wins_the_other_gets_conflict(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let k = keys(&app.database.url);
        let (id, _) = a_recommendation(&app, "kent-police").await;
        for round in 0..4i64 {
            let racers = (0..4).map(|r| {
                let vars = json!({ "input": { "id": id, "status": if r % 2 == 0 { "IN_PROGRESS" } else { "IMPLEMENTED" },
                    "expectedVersion": round, "note": format!("racer {r}") } });
                app.post_as(Some(&k.editor), SET_STATUS, vars)
            });
            let results = futures::future::join_all(racers).await;
            let wins = results.iter().filter(|(_, b)| b.get("errors").is_none()).count();
            assert_eq!(wins, 1, "exactly one racer wins: {results:?}");
            for (_, body) in results.iter().filter(|(_, b)| b.get("errors").is_some()) {
                assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT", "{body}");
                assert_eq!(body["errors"][0]["extensions"]["currentVersion"], round + 1, "{body}");
            }
        }
        let q = "query($id: ID!) { node(id: $id) { ... on Recommendation { actionPlan { version } statusHistory { version by } } } }";
        let rec = app.query(q, json!({ "id": id })).await["node"].clone();
        assert_eq!(rec["actionPlan"]["version"], 4);
        let versions: Vec<i64> = rec["statusHistory"].as_array().unwrap().iter().map(|e| e["version"].as_i64().unwrap()).collect();
        assert_eq!(versions, vec![1, 2, 3, 4], "one event per version, none lost or doubled");
    }
}

both! {
    async fn oversight_counts_statuses_and_finds_the_overdue(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let k = keys(&app.database.url);
        let q = "{ agency(slug: \"greater-nottingham-clinical-commissioning-partnership\") { recommendations(first: 10) { nodes { id } } } }";
        let ids: Vec<String> = app.query(q, json!({})).await["agency"]["recommendations"]["nodes"].as_array().unwrap()
            .iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect();
        assert!(ids.len() >= 3, "{ids:?}");
        let update = "mutation($input: UpdateRecommendationInput!) { updateRecommendation(input: $input) { actionPlan { version } } }";
        // Three with target dates: one past and open, one past but implemented, one future.
        for (id, date) in [(&ids[0], "2025-01-31"), (&ids[1], "2025-02-28"), (&ids[2], "2031-01-01")] {
            data(app.post_as(Some(&k.editor), update, json!({ "input": { "id": id, "expectedVersion": 0, "targetDate": date, "leadAgency": "kent-police", "rag": "AMBER" } })).await);
        }
        data(app.post_as(Some(&k.editor), SET_STATUS, json!({ "input": { "id": ids[0], "status": "IN_PROGRESS", "expectedVersion": 1 } })).await);
        data(app.post_as(Some(&k.editor), SET_STATUS, json!({ "input": { "id": ids[1], "status": "IMPLEMENTED", "expectedVersion": 1, "completionDate": "2025-02-01" } })).await);

        let overdue = app.query("{ overdueRecommendations(asOf: \"2026-06-01\") { totalCount nodes { id actionPlan { status targetDate rag leadAgency { slug } } } } }", json!({})).await;
        let nodes = overdue["overdueRecommendations"]["nodes"].as_array().unwrap();
        assert_eq!(overdue["overdueRecommendations"]["totalCount"], 1, "{overdue}");
        assert_eq!(nodes[0]["id"], ids[0].as_str());
        assert_eq!(nodes[0]["actionPlan"]["rag"], "AMBER");
        assert_eq!(nodes[0]["actionPlan"]["leadAgency"]["slug"], "kent-police");
        let later = app.query("{ overdueRecommendations(asOf: \"2032-01-01\") { totalCount } }", json!({})).await;
        assert_eq!(later["overdueRecommendations"]["totalCount"], 2);

        let stats = app.query("{ actionPlanStats(groupBy: AGENCY) { agency { slug } total notStarted inProgress implemented } }", json!({})).await;
        let kent = stats["actionPlanStats"].as_array().unwrap().iter()
            .find(|s| s["agency"]["slug"] == "greater-nottingham-clinical-commissioning-partnership").unwrap().clone();
        assert_eq!(kent["inProgress"], 1);
        assert_eq!(kent["implemented"], 1);
        assert_eq!(kent["total"].as_i64().unwrap(), kent["notStarted"].as_i64().unwrap() + 2);
        let filtered = app.query("{ recommendations(filter: { status: [IN_PROGRESS, IMPLEMENTED] }) { totalCount } }", json!({})).await;
        assert_eq!(filtered["recommendations"]["totalCount"], 2);
        let (code, _) = app.error_code("{ overdueRecommendations(asOf: \"soon\") { totalCount } }", json!({})).await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
}

const STATUS_SUB: &str = "subscription($a: String) { recommendationStatusChanged(agency: $a) {
    recommendationId from to version by note recommendation { label agencies { slug } } } }";

both! {
    async fn subscribers_hear_status_changes_and_new_reviews(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let k = keys(&app.database.url);
        let mut police = WsClient::connect(app.addr, None).await.expect("anonymous reads are open");
        // By a name the agency is known under, as filters take it.
        police.subscribe(STATUS_SUB, json!({ "a": "Kent Police" })).await;
        let mut everything = WsClient::connect(app.addr, Some(&k.reader)).await.expect("reader connects");
        everything.subscribe(STATUS_SUB, json!({})).await;
        everything.subscribe("subscription { reviewAdded { title csps { name } } }", json!({})).await;
        // Let the subscriptions register before writing.
        tokio::time::sleep(Duration::from_millis(300)).await;

        let (kent, _) = a_recommendation(&app, "kent-police").await;
        let (home, _) = a_recommendation(&app, "home-office").await;
        data(app.post_as(Some(&k.editor), SET_STATUS, json!({ "input": { "id": home, "status": "CLOSED", "expectedVersion": 0, "note": "done" } })).await);
        data(app.post_as(Some(&k.editor), SET_STATUS, json!({ "input": { "id": kent, "status": "IN_PROGRESS", "expectedVersion": 0 } })).await);

        let first = police.next(Duration::from_secs(10)).await.expect("the police change arrives");
        let change = &first["data"]["recommendationStatusChanged"];
        assert_eq!(change["recommendationId"], kent.as_str(), "the filter kept only Kent Police: {first}");
        assert_eq!((change["from"].as_str(), change["to"].as_str()), (Some("NOT_STARTED"), Some("IN_PROGRESS")));
        assert_eq!(change["by"], "case-system");
        assert!(change["recommendation"]["agencies"].to_string().contains("kent-police"));

        let a = everything.next(Duration::from_secs(10)).await.unwrap();
        let b = everything.next(Duration::from_secs(10)).await.unwrap();
        assert_eq!(a["data"]["recommendationStatusChanged"]["recommendationId"], home.as_str());
        assert_eq!(a["data"]["recommendationStatusChanged"]["note"], "done");
        assert_eq!(b["data"]["recommendationStatusChanged"]["recommendationId"], kent.as_str());

        data(app.post_as(Some(&k.editor), UPSERT, review_input("live-1", "Police to review DASH training.")).await);
        let added = everything.next(Duration::from_secs(10)).await.expect("reviewAdded arrives");
        assert_eq!(added["data"]["reviewAdded"], json!({ "title": "Casefile review", "csps": [{ "name": "Kent" }] }));
        // The same upsert again adds nothing, so announces nothing.
        data(app.post_as(Some(&k.editor), UPSERT, review_input("live-1", "Police to review DASH training.")).await);
        assert!(everything.next(Duration::from_millis(500)).await.is_none());

        // A wrong key is refused at connection_init with the protocol's Forbidden close.
        assert_eq!(WsClient::connect(app.addr, Some("dhr_wrong")).await.err(), Some(WsClosed(4403)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_written_through_one_process_reaches_subscribers_of_another_on_postgres() {
    if postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_samples(Backend::Postgres).await;
    let k = keys(&app.database.url);
    let dir = tempfile::tempdir().unwrap();
    let other = ServerProcess::start(&app.database.url, dir.path()).await;

    // Subscribed on the other process, written through this one.
    let mut there = WsClient::connect(other.addr, Some(&k.reader))
        .await
        .expect("connects");
    there
        .subscribe(STATUS_SUB, json!({ "a": "kent-police" }))
        .await;
    let mut here = WsClient::connect(app.addr, Some(&k.reader))
        .await
        .expect("connects");
    here.subscribe(STATUS_SUB, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (kent, _) = a_recommendation(&app, "kent-police").await;
    data(
        app.post_as(
            Some(&k.editor),
            SET_STATUS,
            json!({ "input": { "id": kent, "status": "IN_PROGRESS", "expectedVersion": 0 } }),
        )
        .await,
    );
    let got = there
        .next(Duration::from_secs(10))
        .await
        .expect("the change crosses processes");
    assert_eq!(
        got["data"]["recommendationStatusChanged"]["recommendationId"],
        kent.as_str()
    );
    assert_eq!(got["data"]["recommendationStatusChanged"]["version"], 1);
    let local = here
        .next(Duration::from_secs(10))
        .await
        .expect("and reaches this process once");
    assert_eq!(local["data"]["recommendationStatusChanged"]["version"], 1);
    assert!(
        here.next(Duration::from_millis(500)).await.is_none(),
        "delivered once, not twice"
    );

    // And back: written through the other process (with a key it checks itself).
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("http://{}/graphql", other.addr))
        .bearer_auth(&k.editor)
        .json(&json!({ "query": SET_STATUS, "variables": { "input": { "id": kent, "status": "IMPLEMENTED", "expectedVersion": 1 } } }))
        .send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    let back = here
        .next(Duration::from_secs(10))
        .await
        .expect("the change comes back");
    assert_eq!(
        back["data"]["recommendationStatusChanged"]["to"],
        "IMPLEMENTED"
    );

    // The keys used never reach the log, even at debug level.
    let log = std::fs::read_to_string(&other.log).unwrap();
    assert!(log.contains("request"), "the log is being written: {log}");
    for key in [&k.reader, &k.editor] {
        assert!(!log.contains(key.as_str()), "a key leaked into the log");
    }
}

both! {
    async fn the_websocket_closes_with_the_protocol_codes(backend: Backend) {
        let app = TestApp::empty(backend).await;
        // Subscribing before the handshake: 4401.
        let mut early = WsClient::open(app.addr).await;
        early.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { reviewAdded { title } }" } })).await;
        assert_eq!(early.closed().await, Some(4401));
        // Not a protocol message: 4400.
        let mut garbled = WsClient::connect(app.addr, None).await.unwrap();
        garbled.send_text("{ this is not json").await;
        assert_eq!(garbled.closed().await, Some(4400));
        // A second init: 4429.
        let mut twice = WsClient::connect(app.addr, None).await.unwrap();
        assert_eq!(twice.init(None).await, Err(WsClosed(4429)));
        // Two live subscriptions under one id: 4409.
        let mut dup = WsClient::connect(app.addr, None).await.unwrap();
        for _ in 0..2 {
            dup.send(json!({ "id": "same", "type": "subscribe", "payload": { "query": "subscription { reviewAdded { title } }" } })).await;
        }
        assert_eq!(dup.closed().await, Some(4409));
        // A bad key: 4403.
        assert_eq!(WsClient::connect(app.addr, Some("dhr_nobody")).await.err(), Some(WsClosed(4403)));
    }
}

both! {
    async fn keys_are_listed_without_their_secret_and_stored_only_as_hashes(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let url = app.database.url.clone();
        let k = keys(&url);
        let (code, out, err) = cli(&["keys", "list", "--database-url", &url]);
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(lines[0].starts_with("former\tadmin\t") && lines[0].contains("revoked"), "{out}");
        assert!(lines[1].starts_with("dashboard\treader\t") && lines[1].contains("\tactive"), "{out}");
        assert!(lines[2].starts_with("case-system\teditor\t") && lines[2].ends_with("national"), "{out}");
        for key in [&k.reader, &k.editor, &k.curator, &k.admin, &k.revoked] {
            assert!(!out.contains(key.as_str()), "a key was listed");
        }
        // The database holds hashes, never the keys.
        let rows = app.db.conn
            .query_all_raw(Statement::from_string(app.db.conn.get_database_backend(), "SELECT key_hash FROM api_key"))
            .await.unwrap();
        let hashes: Vec<String> = rows.iter().map(|r| r.try_get("", "key_hash").unwrap()).collect();
        assert_eq!(hashes.len(), 5);
        assert!(hashes.iter().all(|h| h.len() == 64 && !h.starts_with("dhr_")));
        // A second key of the same name is refused; an unknown role names the choices.
        let (code, _, err) = cli(&["keys", "create", "--database-url", &url, "--name", "dashboard", "--role", "reader"]);
        assert_ne!(code, 0);
        assert!(err.contains("exists already"), "{err}");
        let (code, _, err) = cli(&["keys", "create", "--database-url", &url, "--name", "x", "--role", "owner"]);
        assert_ne!(code, 0);
        assert!(err.contains("reader, editor, curator or admin"), "{err}");
    }
}

both! {
    async fn a_review_written_through_the_api_is_counted_and_linked_to_its_dhrd_record(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhrd/incidents.csv");
        let (code, out, err) = cli(&["import-dhrd", "--database-url", &url, csv.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        let k = keys(&url);
        let mut input = review_input("linked-1", "Police to review DASH training.");
        input["input"]["csps"] = json!(["Bassetlaw"]);
        input["input"]["yearOfDeath"] = json!(2018);
        input["input"]["published"] = json!("2024-02");
        let written = data(app.post_as(Some(&k.editor), "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) {
            review { caseTags incident { title yearOfDeath } } } }", input).await);
        // Bassetlaw has one DHRD record of a 2018 death: a page of that CSP and year links to it.
        let review = &written["upsertReview"]["review"];
        assert!(review["incident"]["title"].as_str().unwrap().starts_with("Bassetlaw review (INC-"), "{written}");
        assert!(!review["caseTags"].as_array().unwrap().is_empty(), "the record's tags come with it");
        let metrics = app.client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            metrics.lines().any(|l| l == "dhr_graph_ingest_pages_total{outcome=\"added\"} 12"),
            "the API write is counted beside the 11 sample pages: {metrics}"
        );
    }
}

both! {
    async fn keys_created_at_once_under_one_name_make_one_key(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let admin = create_key(&app.database.url, "root", "admin");
        let create = "mutation { createApiKey(input: { name: \"twin\", role: READER }) { key } }";
        let answers = futures::future::join_all((0..6).map(|_| app.post_as(Some(&admin), create, json!({})))).await;
        let made = answers.iter().filter(|(_, b)| b.get("errors").is_none()).count();
        assert_eq!(made, 1, "{answers:?}");
        // The others lost the race for the unique name: the write path ran them again, and
        // the second run found the key (not an INTERNAL unique-key error).
        for (_, body) in answers.iter().filter(|(_, b)| b.get("errors").is_some()) {
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
            assert!(body["errors"][0]["message"].as_str().unwrap().contains("exists already"), "{body}");
        }
        let (code, out, err) = cli(&["keys", "list", "--database-url", &app.database.url]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().filter(|l| l.starts_with("twin\t")).count(), 1, "{out}");
    }
}
