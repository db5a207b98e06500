//! The write-time aggregates of the graph questions (`graph::derived`) stay equal to what the
//! base tables say after every kind of write, and an older database gets them on upgrade.

use dhr_graph_api::domain::PlanStatus;
use dhr_graph_api::graph::derived;
use dhr_graph_api::plans::{self, PlanChange};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use crate::helpers::*;

async fn assert_exact(conn: &DatabaseConnection, after: &str) {
    let problems = derived::verify(conn).await.unwrap();
    assert!(
        problems.is_empty(),
        "after {after}, {} aggregate rows differ from the base tables:\n{}",
        problems.len(),
        problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

async fn count(conn: &DatabaseConnection, sql: &str) -> i64 {
    sql_count(conn, sql).await
}

/// The value with every list sorted, for comparing answers whose ties (ordered by id) may
/// come in another order.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => {
            let mut map: serde_json::Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
            // A network edge runs from the lower id: name its ends in slug order instead.
            if let (Some(s), Some(t)) = (map.get("source"), map.get("target"))
                && s["slug"].as_str() > t["slug"].as_str()
            {
                let (s, t) = (s.clone(), t.clone());
                map.insert("source".into(), t);
                map.insert("target".into(), s);
            }
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// A page of three recommendations; `agencies` per row, `|`-separated.
fn page(source: &str, rows: &[(&str, &str)]) -> String {
    let mut text = format!(
        "SOURCE: https://example.org/{source}/\nSource · Domestic Homicide Review\nDerived review\n\
         CSP: Derivedshire\nPublished: March 2023\nExtracted: {n} recs\nSummary\nWritten for a test.\n\
         | # | Recommendation | Addressed to |\n|---|---|---|\n",
        n = rows.len()
    );
    for (i, (rec, to)) in rows.iter().enumerate() {
        text.push_str(&format!(
            "| {} | {rec} | {} |\n",
            i + 1,
            to.replace('|', " | ")
        ));
    }
    text
}

/// The answers the aggregates serve, for comparing before and after an upgrade.
const ANSWERS: &str = "{
  a: recurringAgencies(first: 100, minReviews: 2, includeCollective: true) { totalCount nodes { agency { slug } reviewCount recommendationCount firstPublished lastPublished } }
  m: recurringAgencies(first: 100, minReviews: 2, includeMentions: true) { totalCount nodes { agency { slug } reviewCount recommendationCount } }
  agencyNetwork(minSharedReviews: 1, includeCollective: true) { nodes { agency { slug } reviewCount } edges { source { slug } target { slug } sharedReviews } }
  s: actionPlanStats(groupBy: SECTOR) { sector total notStarted inProgress implemented }
  c: actionPlanStats(groupBy: CSP) { csp { name } total notStarted inProgress }
}";

both! {
    async fn aggregates_follow_every_kind_of_write(backend: Backend) {
        let database = TestDb::new(backend).await;
        let (code, _, err) = cli(&["synth", "--quiet", "--database-url", &database.url,
            "--reviews", "25", "--seed", "11", "--plan-share", "0.3"]);
        assert_eq!(code, 0, "synth failed: {err}");
        let app = TestApp::start(database, false).await;
        let conn = app.db.conn.clone();
        let path = dhr_graph_api::write::WritePath::batch(conn.clone());
        let url = app.database.url.clone();
        assert_exact(&conn, "synth (ingest, plan history)").await;
        assert!(count(&conn, "SELECT COUNT(*) FROM agency_pair").await > 0);
        assert!(count(&conn, "SELECT COUNT(*) FROM plan_stat WHERE status <> 'NOT_STARTED'").await > 0);

        // A new page, then the same page rewritten: addressees change, a row goes, a mention
        // ("GP practice staff") comes.
        let first = page("derived-1", &[
            ("Police to review DASH training.", "Derivedshire Police|All Agencies"),
            ("Health to audit referrals.", "Derivedshire ICB"),
            ("Adult social care to audit carers' assessments.", "Derivedshire Adult Social Care"),
        ]);
        dhr_graph_api::ingest::ingest_text(&path, &first).await.unwrap();
        assert_exact(&conn, "a new page").await;
        let second = page("derived-1", &[
            ("Police to review DASH training with GP practice staff.", "Derivedshire Police|Derivedshire ICB"),
            ("Health to audit referrals.", "Derivedshire Adult Social Care"),
        ]);
        let report = dhr_graph_api::ingest::ingest_text(&path, &second).await.unwrap();
        assert_eq!(format!("{:?}", report.stored.outcome), "Updated");
        assert_exact(&conn, "a page rewritten").await;

        // Status changes, including back to where it started.
        let recs: Vec<i32> = conn
            .query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(),
                "SELECT recommendation_id FROM recommendation_agency ORDER BY recommendation_id LIMIT 3"))
            .await.unwrap().iter().map(|r| r.try_get_by_index::<i32>(0).unwrap()).collect();
        for (i, rec) in recs.iter().enumerate() {
            let version = count(&conn, &format!(
                "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM status_event WHERE recommendation_id = {rec}")).await;
            let status = [PlanStatus::InProgress, PlanStatus::Implemented, PlanStatus::NotStarted][i];
            plans::change(&path, *rec, version as i32,
                PlanChange { status: Some(status), ..Default::default() }, "derived-test").await.unwrap();
        }
        assert_exact(&conn, "status changes").await;

        // Curation: a sector changes, two agencies merge, two reviews merge, a review goes.
        let run = |args: &[&str]| {
            let (code, out, err) = cli(args);
            assert_eq!(code, 0, "{args:?}: {out}{err}");
        };
        run(&["agencies", "--database-url", &url, "set-sector", "Derivedshire ICB", "POLICE"]);
        assert_exact(&conn, "a sector change").await;
        run(&["agencies", "--database-url", &url, "merge", "Derivedshire Police", "Derivedshire Adult Social Care"]);
        assert_exact(&conn, "an agency merge").await;
        let reviews: Vec<i32> = conn
            .query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(),
                "SELECT id FROM review ORDER BY id LIMIT 3"))
            .await.unwrap().iter().map(|r| r.try_get_by_index::<i32>(0).unwrap()).collect();
        dhr_graph_api::curation::merge_reviews(&path, reviews[0], reviews[1]).await.unwrap();
        assert_exact(&conn, "a review merge").await;
        dhr_graph_api::curation::delete_review(&path, reviews[2], None).await.unwrap();
        assert_exact(&conn, "a review deleted").await;

        // Export, and import into an empty database.
        let (code, exported, err) = cli(&["export", "--database-url", &url]);
        assert_eq!(code, 0, "{err}");
        let target = TestDb::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("graph.json");
        std::fs::write(&file, exported).unwrap();
        run(&["import", "--database-url", &target.url, &file.display().to_string()]);
        let imported = TestApp::start(target, false).await;
        assert_exact(&imported.db.conn, "an import").await;
        // An import numbers rows afresh, so ties (ordered by id) may come in another order.
        let (got, want) = (imported.query(ANSWERS, json!({})).await, app.query(ANSWERS, json!({})).await);
        assert!(canonical(&got) == canonical(&want), "the imported graph answers differently");
    }
}

both! {
    async fn an_older_database_gets_the_aggregates_on_upgrade(backend: Backend) {
        let mut app = TestApp::with_samples(backend).await;
        let before: Value = app.query(ANSWERS, json!({})).await;
        assert!(!before["a"]["nodes"].as_array().unwrap().is_empty());
        // Wind the database back to before migration 10.
        for sql in ["DROP TABLE plan_stat", "DROP TABLE agency_pair", "DROP TABLE agency_recurrence",
                    "DROP TABLE agency_review",
                    "DROP INDEX IF EXISTS idx_agency_slug_pattern", "DROP INDEX IF EXISTS idx_csp_slug_pattern",
                    "DELETE FROM seaql_migrations WHERE version = 'm20261126_000010_derived_graph'"] {
            app.db.conn.execute_unprepared(sql).await.unwrap();
        }
        app.stop().await;
        let app = TestApp::start(app.take_database(), false).await;
        assert_exact(&app.db.conn, "the upgrade").await;
        assert_eq!(app.query(ANSWERS, json!({})).await, before, "same answers after the upgrade");
    }
}

both! {
    async fn verify_finds_a_stale_aggregate(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        assert_exact(&app.db.conn, "the samples").await;
        app.db.conn.execute_unprepared(
            "UPDATE agency_recurrence SET addressed_reviews = addressed_reviews + 1 \
             WHERE agency_id = (SELECT MIN(agency_id) FROM agency_recurrence)").await.unwrap();
        let problems = derived::verify(&app.db.conn).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("agency_recurrence"), "{problems:?}");
    }
}

/// A deadlock PostgreSQL breaks by rolling the API's transaction back is retried, and the
/// client sees only its write succeed. The test's own transaction forms the cycle: it holds
/// an aggregate row the delete must update, then asks for the review the delete has locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_rolled_back_for_a_deadlock_is_retried() {
    use sea_orm::TransactionTrait;
    if postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_samples(Backend::Postgres).await;
    let admin = create_key(&app.database.url, "deadlock-admin", "admin");
    let conn = app.db.conn.clone();
    let (review, agency) = {
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT review_id, agency_id FROM agency_review ORDER BY review_id, agency_id LIMIT 1",
            ))
            .await.unwrap().unwrap();
        (
            row.try_get_by_index::<i32>(0).unwrap(),
            row.try_get_by_index::<i32>(1).unwrap(),
        )
    };
    let other = dhr_graph_api::db::connect(&app.database.url, 1)
        .await
        .unwrap()
        .conn;
    let txn = other.begin().await.unwrap();
    // The delete must be the victim whatever the timing under load: this session checks for
    // deadlocks only after 20 s, the server's after the default second.
    txn.execute_unprepared("SET LOCAL deadlock_timeout = '20s'")
        .await
        .unwrap();
    txn.execute_unprepared(&format!(
        "SELECT 1 FROM agency_recurrence WHERE agency_id = {agency} FOR UPDATE"
    ))
    .await
    .unwrap();
    let watch = conn.clone();
    let cycle = tokio::spawn(async move {
        // Once the delete holds its review and waits for our aggregate row, close the cycle:
        // it has waited longest, so PostgreSQL's deadlock check picks it as the victim.
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        for _ in 0..500 {
            if count(&watch, waiting).await > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        txn.execute_unprepared(&format!(
            "SELECT 1 FROM review WHERE id = {review} FOR UPDATE"
        ))
        .await
        .unwrap();
        txn.commit().await.unwrap();
    });
    let id =
        dhr_graph_api::graphql::ids::encode(dhr_graph_api::graphql::ids::Kind::Review, review).0;
    let (status, body) = app
        .post_as(
            Some(&admin),
            "mutation($id: ID!) { deleteReview(input: { id: $id }) { deletedId } }",
            json!({ "id": id }),
        )
        .await;
    cycle.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        body["errors"].is_null(),
        "the client sees no deadlock: {body}"
    );
    assert_eq!(body["data"]["deleteReview"]["deletedId"], id.as_str());
    assert_exact(&conn, "a retried delete").await;
}

both! {
    async fn a_big_agency_pages_through_its_trace_and_reviews(backend: Backend) {
        let database = TestDb::new(backend).await;
        let (code, _, err) = cli(&["synth", "--quiet", "--database-url", &database.url,
            "--reviews", "40", "--seed", "3"]);
        assert_eq!(code, 0, "synth failed: {err}");
        let app = TestApp::start(database, false).await;
        let top = app.query("{ recurringAgencies(first: 1, includeCollective: true) { nodes { agency { slug } reviewCount } } }", json!({})).await;
        let slug = top["recurringAgencies"]["nodes"][0]["agency"]["slug"].as_str().unwrap().to_owned();
        let n = top["recurringAgencies"]["nodes"][0]["reviewCount"].as_i64().unwrap();
        assert!(n > 6, "a big enough agency: {n}");
        for field in ["trace", "reviews"] {
            let node = if field == "trace" { "review { id }" } else { "id" };
            let whole = app.query(&format!("query($s: String!) {{ agency(slug: $s) {{ {field}(first: 100) {{ totalCount nodes {{ {node} }} }} }} }}"),
                json!({ "s": slug })).await;
            let ids = |v: &Value| -> Vec<String> {
                v.as_array().unwrap().iter().map(|n| if field == "trace" { n["review"]["id"].clone() } else { n["id"].clone() })
                    .map(|id| id.as_str().unwrap().to_owned()).collect()
            };
            let all = ids(&whole["agency"][field]["nodes"]);
            assert_eq!(all.len() as i64, n, "{field}: every review once");
            assert_eq!(whole["agency"][field]["totalCount"].as_i64().unwrap(), n);
            // Three at a time, following the cursors.
            let (mut paged, mut after, mut pages) = (Vec::new(), Value::Null, 0);
            loop {
                let page = app.query(&format!("query($s: String!, $a: String) {{ agency(slug: $s) {{ {field}(first: 3, after: $a) {{
                    totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ {node} }} }} }} }}"),
                    json!({ "s": slug, "a": after })).await["agency"][field].clone();
                assert_eq!(page["totalCount"].as_i64().unwrap(), n);
                assert_eq!(page["pageInfo"]["hasPreviousPage"], pages > 0);
                paged.extend(ids(&page["nodes"]));
                pages += 1;
                if page["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(paged, all, "{field}: the pages make up the whole list, in order");
            assert_eq!(pages, (n + 2) / 3);
        }
    }
}
