//! The write path below HTTP: services called directly on a real database (a SQLite file,
//! a PostgreSQL database), each write checked against a full recompute of what it derives.

use dhr_graph_api::ingest::{IngestError, StoreOptions};
use std::collections::{BTreeMap, BTreeSet};

use dhr_graph_api::domain::PlanStatus;
use dhr_graph_api::ingest::ParsedPage;
use dhr_graph_api::plans::{self, PlanChange};
use dhr_graph_api::similarity::{self, Policy, Upkeep};
use dhr_graph_api::write::{self, Unit, WritePath};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, JsonValue, Statement};

use crate::helpers::*;

async fn open(db: &TestDb) -> DatabaseConnection {
    dhr_graph_api::db::connect(&db.url, 4).await.unwrap().conn
}

async fn ids(conn: &DatabaseConnection, sql: &str) -> Vec<i32> {
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<i32>(0).unwrap())
        .collect()
}

/// Each recommendation's stored top `k`, best first.
async fn stored_lists(conn: &DatabaseConnection, k: usize) -> BTreeMap<i32, Vec<i32>> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT recommendation_id, other_id FROM recommendation_similarity \
             ORDER BY recommendation_id, score DESC, other_id",
        ))
        .await
        .unwrap();
    let mut out: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for r in rows {
        let list = out.entry(r.try_get_by_index(0).unwrap()).or_default();
        if list.len() < k {
            list.push(r.try_get_by_index(1).unwrap());
        }
    }
    out
}

/// Average share of a full rebuild's top `k` that the stored lists hold (1.0: the same).
async fn overlap_with_rebuild(conn: &DatabaseConnection, k: usize) -> f64 {
    let docs: Vec<(i32, String)> = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT id, text FROM recommendation WHERE withdrawn_at IS NULL ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
            )
        })
        .collect();
    let mut full: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (a, b, _) in similarity::neighbours(&docs, similarity::TOP_K) {
        let list = full.entry(a).or_default();
        if list.len() < k {
            list.push(b);
        }
    }
    let stored = stored_lists(conn, k).await;
    let (mut sum, mut n) = (0.0, 0usize);
    for (id, want) in &full {
        let have: BTreeSet<i32> = stored.get(id).into_iter().flatten().copied().collect();
        let hit = want.iter().filter(|o| have.contains(o)).count();
        sum += hit as f64 / want.len() as f64;
        n += 1;
    }
    // Stored lists for documents a rebuild finds no neighbour for are stale.
    let stale = stored.keys().filter(|id| !full.contains_key(id)).count();
    assert_eq!(
        stale, 0,
        "lists kept for recommendations with no neighbours"
    );
    if n == 0 { 1.0 } else { sum / n as f64 }
}

async fn assert_exact(path: &WritePath, after: &str) {
    let problems = write::check::verify(path.conn()).await.unwrap();
    assert!(problems.is_empty(), "after {after}: {problems:#?}");
    path.settle().await.unwrap();
    let overlap = overlap_with_rebuild(path.conn(), 10).await;
    assert!(
        overlap >= 0.9,
        "after {after}: related overlaps a rebuild by {overlap:.3}"
    );
}

fn page(source: &str, rows: &[(&str, &str)]) -> String {
    let mut text = format!(
        "SOURCE: https://example.org/{source}/\nSource · Domestic Homicide Review\nWrite path review\n\
         CSP: Southampton\nPublished: May 2024\nExtracted: {n} recs\nSummary\nWritten for a test.\n\
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

both! {
    async fn every_kind_of_write_matches_a_full_recompute(backend: Backend) {
        let db = TestDb::new(backend).await;
        let conn = open(&db).await;
        let path = WritePath::batch(conn.clone());
        dhr_graph_api::ingest::samples::load_if_empty(&path, true).await.unwrap();
        assert_exact(&path, "the samples").await;

        // The DHRD import as a service, without HTTP or the CLI: the records land, and the
        // write path links the sample pages that share a CSP with them.
        let csv = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhrd/incidents.csv")).unwrap();
        let summary = dhr_graph_api::ingest::dhrd::import(&path, &csv).await.unwrap();
        assert!(summary.added > 600 && summary.updated == 0, "{summary:?}");
        assert!(summary.linked > 0, "{summary:?}");
        assert_exact(&path, "the DHRD import").await;
        let again = dhr_graph_api::ingest::dhrd::import(&path, &csv).await.unwrap();
        assert_eq!((again.added, again.updated, again.unchanged), (0, 0, summary.added), "{again:?}");
        assert_exact(&path, "the DHRD import again").await;

        let first = page("w-1", &[
            ("Police to review DASH risk assessment training for call handlers.", "Hampshire Constabulary|All Agencies"),
            ("GP practices to make routine enquiry about domestic abuse.", "GP practice"),
            ("Adult social care to audit carers' assessments.", "Southampton City Council Adult Social Care"),
        ]);
        dhr_graph_api::ingest::ingest_text(&path, &first).await.unwrap();
        assert_exact(&path, "a new page").await;
        let second = page("w-1", &[
            ("Police to review DASH risk assessment training with GP practice staff.", "Hampshire Constabulary"),
            ("GP practices to make routine enquiry about coercive control.", "Southampton City Council Adult Social Care"),
        ]);
        let report = dhr_graph_api::ingest::ingest_text(&path, &second).await.unwrap();
        assert_eq!(format!("{:?}", report.stored.outcome), "Updated");
        assert_exact(&path, "a page rewritten").await;

        let recs = ids(&conn, "SELECT recommendation_id FROM recommendation_agency ORDER BY recommendation_id LIMIT 2").await;
        plans::change(&path, recs[0], 0, PlanChange { status: Some(PlanStatus::InProgress), ..Default::default() }, "t").await.unwrap();
        plans::change(&path, recs[0], 1, PlanChange { status: Some(PlanStatus::Implemented), ..Default::default() }, "t").await.unwrap();
        plans::change(&path, recs[1], 0, PlanChange { status: Some(PlanStatus::NotAccepted), ..Default::default() }, "t").await.unwrap();
        assert_exact(&path, "status changes").await;

        use dhr_graph_api::curation;
        curation::set_sector(&path, "Hampshire Constabulary", "PROBATION_CRIMINAL_JUSTICE").await.unwrap();
        assert_exact(&path, "a sector change").await;
        curation::add_alias(&path, "Hants Police", "Hampshire Constabulary").await.unwrap();
        assert_exact(&path, "an alias").await;
        let merged = curation::merge(&path, "Hampshire Constabulary", "GP practice").await.unwrap();
        assert!(merged.review_count > 0, "the merged agency's counts are read after the commit");
        assert_exact(&path, "an agency merge").await;
        let reviews = ids(&conn, "SELECT id FROM review WHERE source_key NOT LIKE 'dhrd:%' ORDER BY id LIMIT 3").await;
        curation::merge_reviews(&path, reviews[0], reviews[1]).await.unwrap();
        assert_exact(&path, "a review merge").await;
        curation::delete_review(&path, reviews[2], None).await.unwrap();
        assert_exact(&path, "a review deleted").await;

        // The whole graph into an empty database, as one unit.
        let export = dhr_graph_api::exchange::snapshot(&conn).await.unwrap();
        let target = TestDb::new(backend).await;
        let target_path = WritePath::batch(open(&target).await);
        dhr_graph_api::exchange::import(&target_path, &export).await.unwrap();
        assert_exact(&target_path, "an import").await;
    }
}

/// Every row of the tables a write touches, base and derived, in a comparable form.
async fn dump(conn: &DatabaseConnection) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in [
        "review",
        "review_csp",
        "recommendation",
        "recommendation_agency",
        "recommendation_mention",
        "recommendation_theme",
        "agency",
        "agency_alias",
        "csp",
        "csp_alias",
        "agency_review",
        "agency_recurrence",
        "agency_pair",
        "plan_stat",
        "action_plan",
        "status_event",
        "recommendation_similarity",
        "review_incident",
    ] {
        let mut rows: Vec<String> = JsonValue::find_by_statement(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT * FROM {table}"),
        ))
        .all(conn)
        .await
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
        rows.sort();
        out.insert(table, rows);
    }
    let search = ids(conn, "SELECT CAST(COUNT(*) AS INTEGER) FROM search_index").await;
    out.insert("search_index", vec![format!("{search:?}")]);
    out
}

both! {
    async fn a_write_failing_half_way_leaves_nothing_behind(backend: Backend) {
        let db = TestDb::new(backend).await;
        let conn = open(&db).await;
        let path = WritePath::batch(conn.clone());
        dhr_graph_api::ingest::samples::load_if_empty(&path, true).await.unwrap();
        let before = dump(&conn).await;

        // The writer fails after writing a whole page (and a second one half).
        let text = page("half", &[("Police to review bail conditions.", "Merseyside Police|A Brand New Agency")]);
        let parsed = dhr_graph_api::ingest::parse_page(&text).unwrap();
        let failed: Result<(), IngestError> = path
            .run(&parsed, |unit: &mut Unit, page: &ParsedPage| {
                Box::pin(async move {
                    dhr_graph_api::ingest::store::store_page(unit, page, &StoreOptions::default()).await?;
                    Err(IngestError::Db(DbErr::Custom("the writer gave up".into())))
                })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(dump(&conn).await, before, "a failed writer left rows behind");

        // The upkeep fails half-way: the aggregates of the review are already moved when the
        // agency, still linked, cannot go.
        let agency = ids(&conn, "SELECT id FROM agency WHERE review_count >= 2 ORDER BY id LIMIT 1").await[0];
        let review = ids(&conn, &format!(
            "SELECT r.review_id FROM recommendation_agency ra JOIN recommendation r ON r.id = ra.recommendation_id \
             WHERE ra.agency_id = {agency} LIMIT 1")).await[0];
        let failed: Result<(), DbErr> = path
            .run(&(), |unit: &mut Unit, _| {
                Box::pin(async move {
                    unit.agency_changing(agency).await?;
                    unit.delete_review(review, None).await?;
                    unit.delete_agency(agency);
                    Ok(())
                })
            })
            .await;
        assert!(failed.is_err(), "an agency still linked elsewhere cannot go");
        assert_eq!(dump(&conn).await, before, "a failed upkeep left rows behind");
        assert!(write::check::verify(&conn).await.unwrap().is_empty());
    }
}

both! {
    async fn incremental_similarity_stays_close_to_a_rebuild(backend: Backend) {
        let db = TestDb::new(backend).await;
        let conn = open(&db).await;
        // Never rebuild by policy: what is measured is the incremental upkeep alone.
        let never = Policy { rebuild_fraction: f64::INFINITY, min_changes: usize::MAX };
        let path = WritePath::with_upkeep(conn.clone(), Upkeep::with_policy(conn.clone(), never, false));
        let pool = dhr_graph_api::synth::pages(400, 5);
        let (start, spare) = pool.split_at(300);
        for chunk in start.chunks(50) {
            path.run(chunk, |unit: &mut Unit, chunk: &[ParsedPage]| {
                Box::pin(async move {
                    for p in chunk {
                        dhr_graph_api::ingest::store::store_page(unit, p, &StoreOptions::default()).await?;
                    }
                    Ok::<_, IngestError>(())
                })
            })
            .await
            .unwrap();
        }
        assert!(path.settle().await.unwrap().rebuilt, "the first settle of a new graph rebuilds");

        let mut rng = Lcg(42);
        let mut spare = spare.iter();
        let mut live: Vec<ParsedPage> = start.to_vec();
        let mut followed = 0;
        for _ in 0..100 {
            match rng.below(10) {
                0..4 => {
                    let p = spare.next().unwrap().clone();
                    dhr_graph_api::ingest::ingest_page(&path, p.clone()).await.unwrap();
                    live.push(p);
                }
                4..8 => {
                    // The same review (same source), other recommendations.
                    let i = rng.below(live.len());
                    let mut p = spare.next().unwrap().clone();
                    p.source_url = live[i].source_url.clone();
                    dhr_graph_api::ingest::ingest_page(&path, p.clone()).await.unwrap();
                    live[i] = p;
                }
                _ => {
                    let i = rng.below(live.len());
                    let key = dhr_graph_api::ingest::store::source_key(&live.remove(i));
                    let id = ids(&conn, &format!("SELECT id FROM review WHERE source_key = '{key}'")).await[0];
                    dhr_graph_api::curation::delete_review(&path, id, None).await.unwrap();
                }
            }
            let done = path.settle().await.unwrap();
            assert!(!done.rebuilt);
            followed += done.neighbours;
        }
        assert!(followed > 0, "new recommendations entered other lists");
        let overlap = overlap_with_rebuild(&conn, 10).await;
        println!("incremental against full after 100 writes ({backend:?}): top-10 overlap {overlap:.4}");
        assert!(overlap >= 0.9, "top-10 overlap {overlap:.3}");
        // A rebuild brings it back to exact.
        similarity::rebuild(&conn).await.unwrap();
        assert!(overlap_with_rebuild(&conn, 10).await > 0.999);
    }
}
