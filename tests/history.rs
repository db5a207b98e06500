//! Nothing with history is lost by a write: recommendations keep their identity through
//! re-sends and re-ingests, leave as WITHDRAWN with their plans and history, and a deleted
//! review is a tombstone an admin restores (issue 14).

use serde_json::{Value, json};

use crate::helpers::*;
use crate::helpers::{code_of as code, ok_data as ok};

const UPSERT: &str = "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) {
    outcome review { id recommendations(includeWithdrawn: true) { nodes { id label state actionPlan { status version } } } } } }";

const SET: &str =
    "mutation($input: SetRecommendationStatusInput!) { setRecommendationStatus(input: $input) {
    actionPlan { status version } } }";

const HISTORY: &str = "query($id: ID!) { node(id: $id) { ... on Recommendation { state label
    actionPlan { status version } statusHistory { to version } } } }";

const A: &str = "GP practices to make routine enquiry about domestic abuse at every appointment.";
const B: &str = "Police to review DASH risk assessment training for call handlers.";
const C: &str = "Adult social care to audit carers' assessments for hidden quillwort abuse.";

fn rows(rows: &[(&str, &str)]) -> Value {
    json!(
        rows.iter()
            .map(|(l, t)| json!({ "label": l, "text": t, "agencies": ["kent-police"] }))
            .collect::<Vec<_>>()
    )
}

fn upsert_input(recs: Value, allow_withdraw: bool) -> Value {
    json!({ "input": { "externalRef": "cms-1", "title": "Casefile review", "csps": ["Kent"],
        "published": "2024-03", "recommendations": recs, "allowWithdraw": allow_withdraw } })
}

/// `(label, id, state, status)` of each recommendation the upsert answered with.
fn listed(data: &Value) -> Vec<(String, String, String, String)> {
    data["upsertReview"]["review"]["recommendations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["label"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().to_owned(),
                n["state"].as_str().unwrap().to_owned(),
                n["actionPlan"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn id_of(list: &[(String, String, String, String)], label: &str) -> String {
    list.iter()
        .find(|r| r.0 == label)
        .unwrap_or_else(|| panic!("{label} in {list:?}"))
        .1
        .clone()
}

async fn implement(app: &TestApp, key: &str, id: &str) {
    let v = app.query(HISTORY, json!({ "id": id })).await["node"]["actionPlan"]["version"]
        .as_i64()
        .unwrap();
    ok(app.post_as(Some(key), SET, json!({ "input": { "id": id, "status": "IMPLEMENTED", "expectedVersion": v, "note": "done" } })).await);
}

async fn status_events(app: &TestApp) -> i64 {
    sql_count(&app.db.conn, "SELECT COUNT(*) FROM status_event").await
}

async fn assert_derived_exact(app: &TestApp, after: &str) {
    let diffs = dhr_graph_api::write::check::verify(&app.db.conn)
        .await
        .unwrap();
    assert!(diffs.is_empty(), "after {after}: {diffs:?}");
}

both! {
    async fn an_inserted_row_keeps_every_plan_where_it_was(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let first = listed(&ok(app.post_as(Some(&editor), UPSERT, upsert_input(rows(&[("1", A), ("2", B)]), false)).await));
        let two = id_of(&first, "2");
        implement(&app, &editor, &two).await;

        // A row inserted above "2", and "1" renumbered and edited: ids follow the rows.
        let edited = "GP practices to make routine enquiry about domestic abuse at every single appointment.";
        let second = listed(&ok(app.post_as(Some(&editor), UPSERT,
            upsert_input(rows(&[("1.1", edited), ("1b", C), ("2", B)]), false)).await));
        assert_eq!(id_of(&second, "2"), two, "{second:?}");
        assert_eq!(id_of(&second, "1.1"), id_of(&first, "1"), "an edit keeps its id");
        let inserted = id_of(&second, "1b");
        assert!(inserted != two && inserted != id_of(&first, "1"));
        let status = |label: &str| second.iter().find(|r| r.0 == label).unwrap().3.clone();
        assert_eq!(status("2"), "IMPLEMENTED");
        assert_eq!(status("1b"), "NOT_STARTED");
        assert_derived_exact(&app, "an inserted row").await;

        // The sender's own references win over label and text.
        let referenced = json!([
            { "label": "1", "text": B, "agencies": ["kent-police"], "externalRef": "r-2" },
            { "label": "2", "text": A, "agencies": ["kent-police"], "externalRef": "r-1" }]);
        let third = listed(&ok(app.post_as(Some(&editor), UPSERT, upsert_input(referenced.clone(), true)).await));
        let fourth = listed(&ok(app.post_as(Some(&editor), UPSERT, upsert_input(json!([
            { "label": "1", "text": A, "agencies": ["kent-police"], "externalRef": "r-1" },
            { "label": "2", "text": B, "agencies": ["kent-police"], "externalRef": "r-2" }]), true)).await));
        assert_eq!(id_of(&fourth, "1"), id_of(&third, "2"), "r-1 kept its id when it moved");
        assert_eq!(id_of(&fourth, "2"), id_of(&third, "1"), "r-2 kept its id when it moved");
        assert_derived_exact(&app, "references").await;
        // One reference names one recommendation.
        let twice = app.post_as(Some(&editor), UPSERT, upsert_input(json!([
            { "label": "1", "text": A, "agencies": ["kent-police"], "externalRef": "r-1" },
            { "label": "2", "text": B, "agencies": ["kent-police"], "externalRef": "r-1" }]), true)).await;
        assert_eq!(code(&twice), "BAD_USER_INPUT", "{:?}", twice.1);
        assert_eq!(twice.1["errors"][0]["extensions"]["field"], "input.recommendations[1].externalRef");
    }
}

fn page(rows: &[(&str, &str)]) -> String {
    let mut text = format!(
        "SOURCE: https://example.org/history/\nSource · Domestic Homicide Review\nHistory review\n\
         CSP: Kent\nPublished: May 2024\nExtracted: {} recs\nSummary\nWritten for a test.\n\
         | # | Recommendation | Addressed to |\n|---|---|---|\n",
        rows.len()
    );
    for (l, t) in rows {
        text.push_str(&format!("| {l} | {t} | Kent Police |\n"));
    }
    text
}

const INGEST: &str = "mutation($text: String!, $allow: Boolean!) { ingestReviewPage(input: { text: $text, allowWithdraw: $allow }) {
    outcome review { id recommendations(includeWithdrawn: true) { nodes { id label state actionPlan { status version } } } } } }";

both! {
    async fn a_shrinking_page_is_refused_until_allowed_and_loses_nothing(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let full = page(&[("1", A), ("2", B), ("3", C)]);
        let body = ok(app.post_as(Some(&editor), INGEST, json!({ "text": full, "allow": false })).await);
        let review = body["ingestReviewPage"]["review"]["id"].as_str().unwrap().to_owned();
        let nodes = body["ingestReviewPage"]["review"]["recommendations"]["nodes"].as_array().unwrap().clone();
        let third = nodes[2]["id"].as_str().unwrap().to_owned();
        implement(&app, &editor, &third).await;
        let events = status_events(&app).await;

        // Read half-way: the page lost its last row.
        let shrunk = page(&[("1", A), ("2", B)]);
        let refused = app.post_as(Some(&editor), INGEST, json!({ "text": shrunk, "allow": false })).await;
        assert_eq!(code(&refused), "WOULD_WITHDRAW", "{:?}", refused.1);
        assert_eq!(refused.1["errors"][0]["extensions"]["withheld"][0]["id"], third.as_str(), "{:?}", refused.1);
        assert_eq!(refused.1["errors"][0]["extensions"]["withheld"][0]["statusEvents"], 1);
        let still = app.query(HISTORY, json!({ "id": third })).await;
        assert_eq!(still["node"]["state"], "ACTIVE", "a refused page wrote nothing");

        // Allowed: withdrawn, with its plan and history; hidden from the default lists.
        let allowed = ok(app.post_as(Some(&editor), INGEST, json!({ "text": shrunk, "allow": true })).await);
        assert_eq!(allowed["ingestReviewPage"]["outcome"], "UPDATED");
        let gone = app.query(HISTORY, json!({ "id": third })).await;
        assert_eq!(gone["node"]["state"], "WITHDRAWN", "{gone}");
        assert_eq!(gone["node"]["actionPlan"]["status"], "IMPLEMENTED");
        assert_eq!(gone["node"]["statusHistory"].as_array().unwrap().len(), 1);
        assert_eq!(status_events(&app).await, events);
        let q = "query($id: ID!) { node(id: $id) { ... on Review { recommendations { totalCount } all: recommendations(includeWithdrawn: true) { totalCount } } } }";
        let counts = app.query(q, json!({ "id": review })).await;
        assert_eq!((counts["node"]["recommendations"]["totalCount"].as_i64(), counts["node"]["all"]["totalCount"].as_i64()), (Some(2), Some(3)));
        let searched = app.query("{ search(query: \"quillwort\") { totalCount } }", json!({})).await;
        assert_eq!(searched["search"]["totalCount"], 0, "a withdrawn recommendation is not found by search");
        // Its plan is kept as it was.
        let moved = app.post_as(Some(&editor), SET, json!({ "input": { "id": third, "status": "IN_PROGRESS", "expectedVersion": 1 } })).await;
        assert_eq!(code(&moved), "BAD_USER_INPUT", "{:?}", moved.1);
        assert_derived_exact(&app, "a withdrawal").await;

        // The full page again: it comes back, same id, plan and history.
        let back = ok(app.post_as(Some(&editor), INGEST, json!({ "text": full, "allow": false })).await);
        let nodes = back["ingestReviewPage"]["review"]["recommendations"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[2]["id"], third.as_str());
        assert_eq!(nodes[2]["state"], "ACTIVE");
        assert_eq!(nodes[2]["actionPlan"]["status"], "IMPLEMENTED");
        assert_derived_exact(&app, "a restored row").await;
        let searched = app.query("{ search(query: \"quillwort\") { totalCount } }", json!({})).await;
        assert!(searched["search"]["totalCount"].as_i64().unwrap() > 0, "{searched}");
    }
}

both! {
    async fn a_deleted_review_is_a_tombstone_an_admin_restores(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let admin = create_key(&app.database.url, "root", "admin");
        let made = listed(&ok(app.post_as(Some(&editor), UPSERT, upsert_input(rows(&[("1", A), ("2", B)]), false)).await));
        let two = id_of(&made, "2");
        implement(&app, &editor, &two).await;
        let review = ok(app.post_as(Some(&editor), UPSERT, upsert_input(rows(&[("1", A), ("2", B)]), false)).await)
            ["upsertReview"]["review"]["id"].as_str().unwrap().to_owned();
        let totals = "{ reviews { totalCount } agency(slug: \"kent-police\") { reviewCount } recommendations { totalCount } }";
        let before = app.query(totals, json!({})).await;
        let events = status_events(&app).await;

        let del = "mutation($id: ID!) { deleteReview(input: { id: $id, reason: \"entered twice\" }) { deletedId recommendationsDeleted } }";
        let refused = app.post_as(Some(&editor), del, json!({ "id": review })).await;
        assert_eq!(code(&refused), "FORBIDDEN");
        let deleted = ok(app.post_as(Some(&admin), del, json!({ "id": review })).await);
        assert_eq!(deleted["deleteReview"]["recommendationsDeleted"], 2);
        let node = app.query("query($id: ID!) { node(id: $id) { id } }", json!({ "id": review })).await;
        assert_eq!(node["node"], Value::Null, "a tombstone is hidden from reads");
        let after = app.query(totals, json!({})).await;
        assert_eq!(after["reviews"]["totalCount"].as_i64().unwrap(), before["reviews"]["totalCount"].as_i64().unwrap() - 1);
        assert_eq!(after["agency"]["reviewCount"].as_i64().unwrap(), before["agency"]["reviewCount"].as_i64().unwrap() - 1);
        assert_eq!(after["recommendations"]["totalCount"].as_i64().unwrap(), before["recommendations"]["totalCount"].as_i64().unwrap() - 2);
        assert_eq!(status_events(&app).await, events, "deleting kept the history");
        assert_derived_exact(&app, "a delete").await;
        // Writing it again is refused, not silently re-created.
        let again = app.post_as(Some(&editor), UPSERT, upsert_input(rows(&[("1", A)]), false)).await;
        assert_eq!(code(&again), "DELETED", "{:?}", again.1);

        let restore = "mutation($id: ID!) { restoreReview(input: { id: $id }) { review { id recommendations { nodes { id label actionPlan { status } statusHistory { to } } } } } }";
        assert_eq!(code(&app.post_as(Some(&editor), restore, json!({ "id": review })).await), "FORBIDDEN");
        let restored = ok(app.post_as(Some(&admin), restore, json!({ "id": review })).await);
        let nodes = restored["restoreReview"]["review"]["recommendations"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1]["id"], two.as_str());
        assert_eq!(nodes[1]["actionPlan"]["status"], "IMPLEMENTED");
        assert_eq!(nodes[1]["statusHistory"].as_array().unwrap().len(), 1);
        assert_eq!(app.query(totals, json!({})).await, before, "a restore brings every count back");
        assert_derived_exact(&app, "a restore").await;
        let twice = app.post_as(Some(&admin), restore, json!({ "id": review })).await;
        assert_eq!(code(&twice), "BAD_USER_INPUT", "{:?}", twice.1);

        // The audit log kept who did what.
        use sea_orm::{EntityTrait, QueryOrder};
        let log = entity::audit_log::Entity::find().order_by_asc(entity::audit_log::Column::Id).all(&app.db.conn).await.unwrap();
        let actions: Vec<(String, String)> = log.iter().map(|e| (e.action.clone(), e.actor.clone())).collect();
        assert!(actions.contains(&("review.deleted".into(), "root".into())), "{actions:?}");
        assert!(actions.contains(&("review.restored".into(), "root".into())), "{actions:?}");
        assert!(log.iter().any(|e| e.action == "review.deleted" && e.detail.as_deref().is_some_and(|d| d.contains("entered twice"))));
    }
}

both! {
    async fn the_cli_refuses_a_shrinking_page_without_allow_withdraw(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.txt");
        std::fs::write(&file, page(&[("1", A), ("2", B)])).unwrap();
        assert_eq!(ingest(&app.database.url, &[&file]).0, 0);
        let q = "{ recommendations(first: 100, filter: { textContains: \"DASH risk assessment training for call\" }) { nodes { id } } }";
        let id = app.query(q, json!({})).await["recommendations"]["nodes"][0]["id"].as_str().unwrap().to_owned();
        implement(&app, &editor, &id).await;

        std::fs::write(&file, page(&[("1", A)])).unwrap();
        let (code, out, err) = ingest(&app.database.url, &[&file]);
        assert_ne!(code, 0, "{out}");
        let said = format!("{out}{err}");
        assert!(said.contains("history.txt") && said.contains("allow-withdraw"), "{said}");
        assert_eq!(app.query(HISTORY, json!({ "id": id })).await["node"]["state"], "ACTIVE");
        let (code, out, err) = cli(&["ingest", "--database-url", &app.database.url, "--allow-withdraw", "--quiet", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(app.query(HISTORY, json!({ "id": id })).await["node"]["state"], "WITHDRAWN");
    }
}

both! {
    async fn a_page_cut_short_withdraws_nothing_without_being_told(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let full = page(&[("1", A), ("2", B), ("3", C)]);
        ok(app.post_as(Some(&editor), INGEST, json!({ "text": full, "allow": false })).await);
        // The same page, cut after two rows: it still says it has three. No row has a plan,
        // yet nothing is withdrawn from a page that says it is incomplete.
        let cut = full.replace(&format!("| 3 | {C} | Kent Police |\n"), "");
        assert!(cut.contains("Extracted: 3 recs"));
        let refused = app.post_as(Some(&editor), INGEST, json!({ "text": cut, "allow": false })).await;
        assert_eq!(code(&refused), "WOULD_WITHDRAW", "{:?}", refused.1);
        assert_eq!(refused.1["errors"][0]["extensions"]["withheld"].as_array().unwrap().len(), 1);
        let q = "{ recommendations(filter: { textContains: \"quillwort\" }) { totalCount } }";
        assert_eq!(app.query(q, json!({})).await["recommendations"]["totalCount"], 1);
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_changes_while_it_is_read_is_refused() {
    let app = TestApp::with_samples(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    // A pipe reads as a file whose bytes are not its length (0): what a file still being
    // written looks like to a reader that asked its size first.
    let fifo = dir.path().join("growing.txt");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        let text = page(&[("1", A)]);
        std::thread::spawn(move || std::fs::write(fifo, text))
    };
    let (code, out, err) = ingest(&app.database.url, &[&fifo]);
    writer.join().unwrap().unwrap();
    assert_ne!(code, 0, "{out}");
    let said = format!("{out}{err}");
    assert!(
        said.contains("growing.txt") && said.contains("changed while it was read"),
        "{said}"
    );
    let q = "{ reviews(filter: { textContains: \"routine enquiry about domestic abuse at every appointment\" }) { totalCount } }";
    assert_eq!(
        app.query(q, json!({})).await["reviews"]["totalCount"],
        0,
        "nothing was stored"
    );
}

/// Status events per recommendation, straight from the table.
async fn events_by_rec(conn: &sea_orm::DatabaseConnection) -> std::collections::BTreeMap<i32, i64> {
    use sea_orm::ConnectionTrait;
    conn.query_all_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        "SELECT recommendation_id, COUNT(*) AS n FROM status_event GROUP BY recommendation_id",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get::<i32>("", "recommendation_id").unwrap(),
            r.try_get::<i64>("", "n").unwrap(),
        )
    })
    .collect()
}

async fn audit_rows(conn: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::ConnectionTrait;
    conn.query_one_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM audit_log",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

both! {
    async fn no_sequence_of_writes_loses_a_status_event(backend: Backend) {
        use dhr_graph_api::domain::PlanStatus;
        use dhr_graph_api::ingest::{IngestError, StoreOptions, parse_page};
        use dhr_graph_api::plans::{PlanChange, PlanError};
        let app = TestApp::with_samples(backend).await;
        let conn = app.db.conn.clone();
        let path = dhr_graph_api::write::WritePath::batch(conn.clone());
        let pool = [A, B, C,
            "Housing providers to confirm who is present at a property during visits.",
            "Probation to share risk information with the MARAC before each meeting.",
            "The CSP to commission training on coercive control for frontline staff.",
            "Children's social care to record the voice of the child in every assessment."];
        let source = |n: usize, rows: &[(String, String)]| {
            let mut text = format!(
                "SOURCE: https://example.org/prop-{n}/\nSource · Domestic Homicide Review\nProperty review {n}\n\
                 CSP: Kent\nPublished: May 2024\nExtracted: {} recs\nSummary\nWritten for a test.\n\
                 | # | Recommendation | Addressed to |\n|---|---|---|\n", rows.len());
            for (l, t) in rows {
                text.push_str(&format!("| {l} | {t} | Kent Police |\n"));
            }
            text
        };
        let mut rng = Lcg(7);
        let mut before = events_by_rec(&conn).await;
        let mut deleted: Vec<i32> = Vec::new();
        let mut audited = audit_rows(&conn).await;
        let (mut refused, mut moved, mut withdrew, mut restored) = (0, 0, 0, 0);
        for step in 0..160 {
            match rng.below(10) {
                // A page of one of four reviews: a random selection of rows, some edited, some
                // renumbered; withdrawals allowed half the time.
                0..4 => {
                    let n = rng.below(4);
                    let mut rows = Vec::new();
                    for (i, t) in pool.iter().enumerate() {
                        if rng.below(3) > 0 {
                            let text = if rng.below(5) == 0 { format!("{t} Report to the board.") } else { (*t).to_owned() };
                            rows.push((format!("{}", i + 1 + rng.below(2)), text));
                        }
                    }
                    if rows.is_empty() { continue; }
                    let opts = StoreOptions { allow_withdraw: rng.below(2) == 0, ..Default::default() };
                    match dhr_graph_api::ingest::ingest_page_with(&path, parse_page(&source(n, &rows)).unwrap(), &opts).await {
                        Ok(_) => {}
                        Err(IngestError::WouldWithdraw { .. }) => refused += 1,
                        Err(IngestError::Deleted { .. }) => {}
                        Err(e) => panic!("step {step}: {e}"),
                    }
                }
                // A plan change on some recommendation, withdrawn or not.
                4..7 => {
                    let recs: Vec<(i32, i32)> = {
                        use sea_orm::{EntityTrait, QueryOrder};
                        entity::recommendation::Entity::find().order_by_asc(entity::recommendation::Column::Id)
                            .all(&conn).await.unwrap().into_iter().map(|r| (r.id, r.review_id)).collect()
                    };
                    let (id, _) = recs[rng.below(recs.len())];
                    let version = {
                        use sea_orm::EntityTrait;
                        entity::action_plan::Entity::find_by_id(id).one(&conn).await.unwrap().map_or(0, |p| p.version)
                    };
                    let status = [PlanStatus::InProgress, PlanStatus::Implemented, PlanStatus::NotStarted][rng.below(3)];
                    match dhr_graph_api::plans::change(&path, id, version, PlanChange { status: Some(status), ..Default::default() }, "prop").await {
                        Ok(_) => moved += 1,
                        Err(PlanError::Withdrawn) => withdrew += 1,
                        // The status it already has: refused, and no event written.
                        Err(PlanError::NothingToChange) => {}
                        Err(e) => panic!("step {step}: {e}"),
                    }
                }
                // Delete a review, or restore one.
                7..9 => {
                    let reviews: Vec<i32> = {
                        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
                        entity::review::Entity::find().filter(entity::review::Column::DeletedAt.is_null())
                            .all(&conn).await.unwrap().into_iter().map(|r| r.id).collect()
                    };
                    let id = reviews[rng.below(reviews.len())];
                    dhr_graph_api::curation::delete_review(&path, id, Some("a test")).await.unwrap();
                    deleted.push(id);
                }
                _ => {
                    if let Some(id) = deleted.pop() {
                        dhr_graph_api::curation::restore_review(&path, id).await.unwrap();
                        restored += 1;
                    }
                }
            }
            let now = events_by_rec(&conn).await;
            for (rec, n) in &before {
                let still = now.get(rec).copied().unwrap_or(0);
                assert!(still >= *n, "step {step}: recommendation {rec} had {n} status events, now {still}");
            }
            before = now;
            let logged = audit_rows(&conn).await;
            assert!(logged >= audited, "step {step}: the audit log shrank from {audited} to {logged}");
            audited = logged;
        }
        assert!(refused > 0 && moved > 0 && withdrew > 0 && restored > 0,
            "the sequence exercised every kind of write: {refused} {moved} {withdrew} {restored}");
        let diffs = dhr_graph_api::write::check::verify(&conn).await.unwrap();
        assert!(diffs.is_empty(), "{diffs:?}");

        // Every stored event stays readable through the API.
        let q = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Recommendation { statusHistory { version } } } }";
        let recs: Vec<(i32, i64)> = before.into_iter().collect();
        for chunk in recs.chunks(100) {
            let ids: Vec<String> = chunk.iter().map(|(id, _)| dhr_graph_api::graphql::ids::encode(
                dhr_graph_api::graphql::ids::Kind::Recommendation, *id).to_string()).collect();
            let data = app.query(q, json!({ "ids": ids })).await;
            for ((id, n), node) in chunk.iter().zip(data["nodes"].as_array().unwrap()) {
                let read = node["statusHistory"].as_array().map_or(0, Vec::len) as i64;
                assert_eq!(read, *n, "recommendation {id}: {node}");
            }
        }
    }
}

both! {
    async fn the_audit_log_says_who_did_what_to_whom(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let editor = create_key(&url, "cms", "editor");
        let curator = create_key(&url, "registry-team", "curator");
        let admin = create_key(&url, "root", "admin");
        let made = listed(&ok(app.post_as(Some(&editor), UPSERT, upsert_input(rows(&[("1", A), ("2", B)]), false)).await));
        let one = id_of(&made, "1");
        implement(&app, &editor, &one).await;
        ok(app.post_as(Some(&editor), UPSERT, upsert_input(rows(&[("1", A), ("2", C)]), false)).await);
        ok(app.post_as(Some(&curator), "mutation { addAgencyAlias(input: { alias: \"Kent Constabulary\", agency: \"kent-police\" }) { agency { id } } }", json!({})).await);

        let log = "query($f: AuditFilter) { auditLog(filter: $f, first: 50) { totalCount nodes { sequence actor action subjectKind subject detail } } }";
        let refused = app.post_as(Some(&editor), log, json!({})).await;
        assert_eq!(code(&refused), "FORBIDDEN", "the audit log is for admins");
        let all = ok(app.post_as(Some(&admin), log, json!({})).await);
        let nodes = all["auditLog"]["nodes"].as_array().unwrap();
        let seen: Vec<(String, String)> = nodes.iter().map(|n| (n["actor"].as_str().unwrap().to_owned(), n["action"].as_str().unwrap().to_owned())).collect();
        for want in [("cms", "review.added"), ("cms", "plan.changed"), ("cms", "review.updated"),
                     ("cms", "recommendation.withdrawn"), ("registry-team", "agency.alias_added"), ("cli", "key.created")] {
            assert!(seen.contains(&(want.0.to_owned(), want.1.to_owned())), "{want:?} in {seen:?}");
        }
        // Newest first.
        let seqs: Vec<i64> = nodes.iter().map(|n| n["sequence"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
        // A plan change says what it changed; a recommendation's entries are found by its id.
        let about = ok(app.post_as(Some(&admin), log, json!({ "f": { "subject": one } })).await);
        let plan = about["auditLog"]["nodes"].as_array().unwrap().iter().find(|n| n["action"] == "plan.changed").expect("plan.changed");
        let detail: Value = serde_json::from_str(plan["detail"].as_str().unwrap()).unwrap();
        assert_eq!(detail["after"]["status"], "IMPLEMENTED");
        assert_eq!(plan["subject"], one.as_str());
        let updates = ok(app.post_as(Some(&admin), log, json!({ "f": { "action": "review.", "actor": "cms" } })).await);
        assert!(updates["auditLog"]["nodes"].as_array().unwrap().iter().all(|n| n["action"].as_str().unwrap().starts_with("review.")));
        assert_eq!(updates["auditLog"]["totalCount"], 2, "{updates}");
    }
}

both! {
    async fn a_deleted_dhrd_record_restores_with_its_csp(backend: Backend) {
        use sea_orm::ConnectionTrait;
        let app = TestApp::with_samples(backend).await;
        let admin = create_key(&app.database.url, "root", "admin");
        let path = dhr_graph_api::write::WritePath::batch(app.db.conn.clone());
        let csv = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhrd/incidents.csv")).unwrap();
        dhr_graph_api::ingest::dhrd::import(&path, &csv).await.unwrap();
        let conn = &app.db.conn;
        let row = conn.query_one_raw(sea_orm::Statement::from_string(conn.get_database_backend(),
            "SELECT id FROM review WHERE source_key LIKE 'dhrd:%' ORDER BY id LIMIT 1")).await.unwrap().unwrap();
        let id = dhr_graph_api::graphql::ids::encode(dhr_graph_api::graphql::ids::Kind::Review, row.try_get::<i32>("", "id").unwrap()).to_string();
        let q = "query($id: ID!) { node(id: $id) { ... on Review { title csps { slug } } } }";
        let before = app.query(q, json!({ "id": id })).await;
        assert!(!before["node"]["csps"].as_array().unwrap().is_empty(), "{before}");
        ok(app.post_as(Some(&admin), "mutation($id: ID!) { deleteReview(input: { id: $id }) { deletedId } }", json!({ "id": id })).await);
        assert_eq!(app.query(q, json!({ "id": id })).await["node"], Value::Null);
        ok(app.post_as(Some(&admin), "mutation($id: ID!) { restoreReview(input: { id: $id }) { review { id } } }", json!({ "id": id })).await);
        assert_eq!(app.query(q, json!({ "id": id })).await, before);
        assert_derived_exact(&app, "a DHRD record restored").await;
    }
}
