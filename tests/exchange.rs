//! Exchange: export, import into an empty database, export again gives the same bytes;
//! derived data is rebuilt; a bad file names what is wrong and writes nothing; the CSV reads
//! back one row per recommendation.

use std::path::{Path, PathBuf};

use dhr_graph_api::domain::{PlanStatus, Rag};
use dhr_graph_api::plans::{self, PlanChange};
use entity::{
    agency, csp, recommendation, recommendation_mention, recommendation_similarity,
    recommendation_theme, review,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use crate::helpers::*;

fn dhrd_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhrd/incidents.csv")
}

fn export(url: &str, format: &str, out: &Path) -> String {
    let shown = out.display().to_string();
    let (code, stdout, err) = cli(&[
        "export",
        "--database-url",
        url,
        "--format",
        format,
        "--out",
        &shown,
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    std::fs::read_to_string(out).expect("export written")
}

fn import(url: &str, file: &Path) -> (i32, String, String) {
    cli(&["import", "--database-url", url, &file.display().to_string()])
}

/// The samples, the DHRD records (reviews without a publication month, case tags, links to
/// pages), a merged duplicate listing, and action plans with history.
async fn populated(backend: Backend) -> TestApp {
    let app = TestApp::with_samples(backend).await;
    let url = app.database.url.clone();
    let (code, out, err) = cli(&[
        "import-dhrd",
        "--database-url",
        &url,
        &dhrd_csv().display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");

    let q = "{ reviews(filter: { csp: \"southampton\" }) { nodes { id published } } }";
    let listings = app.query(q, json!({})).await;
    let id_of = |month: &str| {
        listings["reviews"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["published"] == month)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (keep, drop) = (id_of("2023-04"), id_of("2024-02"));
    let (code, out, err) = cli(&["reviews", "--database-url", &url, "merge", &keep, &drop]);
    assert_eq!(code, 0, "{out}{err}");

    let conn = &app.db.conn;
    let path = dhr_graph_api::write::WritePath::batch(conn.clone());
    let recs = recommendation::Entity::find()
        .order_by_asc(recommendation::Column::Id)
        .all(conn)
        .await
        .unwrap();
    let gp = agency::Entity::find()
        .filter(agency::Column::Slug.eq("gp-practice"))
        .one(conn)
        .await
        .unwrap()
        .expect("the samples address GP practices");
    let (first, second) = (recs[0].id, recs[1].id);
    plans::change(
        &path,
        first,
        0,
        PlanChange {
            status: Some(PlanStatus::InProgress),
            lead_agency: Some(Some((gp.id, gp.slug.clone()))),
            action: Some(Some("Embed routine enquiry in new-patient checks".into())),
            target_date: Some(Some("2025-03-31".into())),
            rag: Some(Some(Rag::Amber)),
            note: Some("Owner agreed at the partnership board".into()),
            ..Default::default()
        },
        "board-clerk",
    )
    .await
    .unwrap();
    plans::change(
        &path,
        first,
        1,
        PlanChange {
            status: Some(PlanStatus::Implemented),
            completion_date: Some(Some("2025-02-28".into())),
            outcome_note: Some(Some("Audit: 92% of new patients asked".into())),
            rag: Some(Some(Rag::Green)),
            sign_off_body: Some(Some("Safer Bassetlaw Partnership".into())),
            ..Default::default()
        },
        "board-clerk",
    )
    .await
    .unwrap();
    plans::change(
        &path,
        second,
        0,
        PlanChange {
            status: Some(PlanStatus::NotAccepted),
            note: Some("Superseded by the national guidance".into()),
            ..Default::default()
        },
        "case-system",
    )
    .await
    .unwrap();

    // A page that lost a row with a plan: the row is withdrawn, kept with its history.
    let page = |rows: &[&str]| {
        let mut text = "SOURCE: https://example.org/withdrawn/\nSource · Domestic Homicide Review\nWithdrawn row review\n\
            CSP: Kent\nPublished: May 2024\nExtracted: 2 recs\nSummary\nWritten for a test.\n\
            | # | Recommendation | Addressed to |\n|---|---|---|\n".to_owned();
        for (i, r) in rows.iter().enumerate() {
            text.push_str(&format!("| {} | {r} | Kent Police |\n", i + 1));
        }
        text
    };
    let rows = [
        "Police to review bail conditions after a breach.",
        "Housing to record who is present at visits.",
    ];
    let opts = dhr_graph_api::ingest::StoreOptions {
        allow_withdraw: true,
        ..Default::default()
    };
    let first = dhr_graph_api::ingest::ingest_text_with(&path, &page(&rows), &opts)
        .await
        .unwrap();
    let leaving = recommendation::Entity::find()
        .filter(recommendation::Column::ReviewId.eq(first.stored.review_id))
        .filter(recommendation::Column::Position.eq(2))
        .one(conn)
        .await
        .unwrap()
        .unwrap();
    plans::change(
        &path,
        leaving.id,
        0,
        PlanChange {
            status: Some(PlanStatus::InProgress),
            ..Default::default()
        },
        "case-system",
    )
    .await
    .unwrap();
    dhr_graph_api::ingest::ingest_text_with(&path, &page(&rows[..1]), &opts)
        .await
        .unwrap();
    path.settle().await.unwrap();
    app
}

async fn count<E: EntityTrait>(conn: &DatabaseConnection, _: E) -> u64
where
    E::Model: Sync,
{
    E::find().count(conn).await.unwrap()
}

async fn search_rows(conn: &DatabaseConnection) -> i64 {
    sql_count(conn, "SELECT COUNT(*) FROM search_index").await
}

/// What import derives rather than reads, in a form that does not depend on row ids.
async fn derived(app: &TestApp) -> Value {
    let q = "{ agencies(first: 100) { totalCount nodes { slug reviewCount recommendationCount } }
               themes { slug recommendationCount reviewCount }
               search(query: \"routine enquiry\", first: 50) { totalCount } }";
    let mut data = app.query(q, json!({})).await;
    let nodes = data["agencies"]["nodes"].as_array_mut().unwrap();
    nodes.sort_by_key(|n| n["slug"].as_str().unwrap().to_owned());
    let conn = &app.db.conn;
    data["rows"] = json!({
        "themeTags": count(conn, recommendation_theme::Entity).await,
        "mentions": count(conn, recommendation_mention::Entity).await,
        "similarityEdges": count(conn, recommendation_similarity::Entity).await,
        "searchIndex": search_rows(conn).await,
    });
    data
}

/// The first differing line, so that a failure shows where rather than two whole files.
fn first_difference(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| format!("line {}: {x:?} then {y:?}", i + 1))
        .unwrap_or_else(|| format!("lengths {} and {}", a.len(), b.len()))
}

both! {
    async fn export_import_export_gives_the_same_bytes(backend: Backend) {
        let mut app = populated(backend).await;
        let url = app.database.url.clone();
        let (code, key, err) = cli(&["keys", "create", "--database-url", &url, "--name", "exchange-editor", "--role", "editor", "--national"]);
        assert_eq!(code, 0, "{err}");
        let dir = tempfile::tempdir().unwrap();
        let first = export(&url, "json", &dir.path().join("first.json"));

        let (code, stdout, err) = cli(&["export", "--database-url", &url]);
        assert_eq!(code, 0, "{err}");
        assert!(stdout == first, "JSON is the default, standard output the default place");
        assert!(!first.contains("exchange-editor") && !first.contains(key.trim()), "API keys are not exported");

        let doc: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(doc["format"], 1);
        let reviews = doc["reviews"].as_array().unwrap();
        let live = reviews.iter().filter(|r| r.get("deleted").is_none()).count();
        assert_eq!(live, 11 + 647, "the pages (one merged away) and the DHRD records");
        let tombstone = reviews.iter().find(|r| r.get("deleted").is_some()).expect("the merged listing's tombstone");
        assert!(tombstone["deleted"]["reason"].as_str().unwrap().starts_with("merged into"), "{tombstone}");
        let withdrawn: Vec<&Value> = reviews.iter().flat_map(|r| r["recommendations"].as_array().unwrap())
            .filter(|r| r.get("withdrawn_at").is_some()).collect();
        assert!(withdrawn.iter().any(|r| r["position"] == 0 && r["history"].as_array().unwrap().len() == 1),
            "the withdrawn row, with its history: {withdrawn:?}");
        assert!(reviews.iter().any(|r| r["published"].is_null() && !r["case_tags"].as_array().unwrap().is_empty()));
        assert!(reviews.iter().any(|r| r["incident"].is_string()), "pages linked to their DHRD record");
        assert!(reviews.iter().any(|r| r["merged_source_keys"].as_array().unwrap().len() == 1));
        let recs: Vec<&Value> = reviews.iter().flat_map(|r| r["recommendations"].as_array().unwrap()).collect();
        let done = recs.iter().find(|r| r["history"].as_array().unwrap().len() == 2).expect("a plan with two changes");
        assert_eq!(done["action_plan"]["status"], "IMPLEMENTED");
        assert_eq!(done["action_plan"]["lead_agency"], "gp-practice");
        assert_eq!(done["action_plan"]["version"], 2);
        assert_eq!(done["history"][0]["to_status"], "IN_PROGRESS");
        assert_eq!(done["history"][0]["note"], "Owner agreed at the partnership board");
        assert!(done.get("themes").is_none() && doc["agencies"][0].get("review_count").is_none(), "derived data stays out");

        // A database holding only API keys holds no graph: it may be imported into.
        let target = TestDb::new(backend).await;
        let (code, _, err) = cli(&["keys", "create", "--database-url", &target.url, "--name", "importer", "--role", "admin"]);
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = import(&target.url, &dir.path().join("first.json"));
        assert_eq!(code, 0, "{out}{err}");
        // The pages, the DHRD records, the merged listing's tombstone, and the page that lost
        // a row (whose withdrawn row keeps its plan and history).
        assert!(out.contains("659 reviews") && out.contains("3 action plans") && out.contains("4 status events"), "{out}");

        let second = export(&target.url, "json", &dir.path().join("second.json"));
        assert!(first == second, "the exports differ at {}", first_difference(&first, &second));

        let (code, out, err) = import(&target.url, &dir.path().join("first.json"));
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("first.json") && err.contains("not empty") && err.contains("659 reviews"), "{err}");

        let mut imported = TestApp::start(target, false).await;
        // The source's edges follow its writes with the weights of its last full rebuild;
        // an import rebuilds in full. Compared on the same footing:
        let (code, out, err) = cli(&["similarity", "rebuild", "--database-url", &url]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("rebuilt in full"), "{out}");
        assert_eq!(derived(&imported).await, derived(&app).await);
        let q = "{ recommendations(filter: { csp: \"bassetlaw\" }) { nodes { label actionPlan { status version } statusHistory { version to by at note } } } }";
        assert_eq!(imported.query(q, json!({})).await, app.query(q, json!({})).await);
        imported.stop().await;
        app.stop().await;
    }
}

/// Connects to a database an import may have created, to count what it holds.
async fn graph_rows(url: &str) -> (u64, u64, u64) {
    let db = dhr_graph_api::db::connect(url, 1).await.unwrap();
    let counts = (
        count(&db.conn, csp::Entity).await,
        count(&db.conn, agency::Entity).await,
        count(&db.conn, review::Entity).await,
    );
    let _ = db.conn.close().await;
    counts
}

both! {
    async fn a_bad_file_is_named_with_what_is_wrong_and_writes_nothing(backend: Backend) {
        let mut app = TestApp::with_samples(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let good = export(&app.database.url, "json", &dir.path().join("good.json"));
        app.stop().await;
        let target = TestDb::new(backend).await;
        let bad = dir.path().join("truncated.json");

        let half = (0..=good.len() / 2).rev().find(|i| good.is_char_boundary(*i)).unwrap();
        std::fs::write(&bad, &good[..half]).unwrap();
        let (code, out, err) = import(&target.url, &bad);
        assert_eq!(code, 1, "{out}{err}");
        let last_line = good[..half].matches('\n').count() + 1;
        assert!(err.contains(&format!("truncated.json: line {last_line}, column ")) && err.contains("EOF"), "{err}");
        assert_eq!(graph_rows(&target.url).await, (0, 0, 0));

        let mut doc: Value = serde_json::from_str(&good).unwrap();
        doc["format"] = json!(2);
        std::fs::write(&bad, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let (code, _, err) = import(&target.url, &bad);
        assert_eq!(code, 1);
        assert!(err.contains("export format 2"), "{err}");

        let mut doc: Value = serde_json::from_str(&good).unwrap();
        doc["reviews"][0]["reviewCount"] = json!(3);
        std::fs::write(&bad, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let (code, _, err) = import(&target.url, &bad);
        assert_eq!(code, 1);
        assert!(err.contains("unknown field `reviewCount`") && err.contains("line "), "{err}");

        // A reference checked only once CSPs, agencies and every other review are written:
        // the transaction takes them back.
        let mut doc: Value = serde_json::from_str(&good).unwrap();
        let last = doc["reviews"].as_array_mut().unwrap().last_mut().unwrap();
        let key = last["source_key"].as_str().unwrap().to_owned();
        last["csps"].as_array_mut().unwrap().push(json!("atlantis"));
        std::fs::write(&bad, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let (code, _, err) = import(&target.url, &bad);
        assert_eq!(code, 1);
        assert!(err.contains(&format!("{key:?}")) && err.contains("csp \"atlantis\" is not among the csps"), "{err}");
        assert_eq!(graph_rows(&target.url).await, (0, 0, 0));

        let mut doc: Value = serde_json::from_str(&good).unwrap();
        let with_recs = doc["reviews"].as_array_mut().unwrap().iter_mut()
            .find(|r| !r["recommendations"].as_array().unwrap().is_empty()).unwrap();
        let rec = &mut with_recs["recommendations"][0];
        rec["action_plan"] = json!({ "status": "DONE", "lead_agency": null, "action": null, "target_date": null,
            "completion_date": null, "outcome_note": null, "rag": null, "sign_off_body": null,
            "version": 0, "updated_at": "2025-01-01T00:00:00Z", "updated_by": "x" });
        std::fs::write(&bad, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        let (code, _, err) = import(&target.url, &bad);
        assert_eq!(code, 1);
        assert!(err.contains("action plan: status: unknown planstatus \"DONE\""), "{err}");
        assert_eq!(graph_rows(&target.url).await, (0, 0, 0));

        // The same target takes the good file.
        let (code, out, err) = import(&target.url, &dir.path().join("good.json"));
        assert_eq!(code, 0, "{out}{err}");
    }
}

both! {
    async fn the_csv_has_one_row_per_recommendation(backend: Backend) {
        let mut app = populated(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let text = export(&app.database.url, "csv", &dir.path().join("plans.csv"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, dhr_graph_api::exchange::CSV_HEADER);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let total = app.query("{ recommendations { totalCount } }", json!({})).await;
        assert_eq!(rows.len() as i64, total["recommendations"]["totalCount"].as_i64().unwrap());
        assert!(rows.iter().all(|r| r.len() == header.len()));

        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let done = rows.iter().find(|r| &r[col("Status")] == "IMPLEMENTED").expect("the implemented plan");
        assert_eq!(&done[col("Lead agency")], "GP practice");
        assert_eq!(&done[col("Target date")], "2025-03-31");
        assert_eq!(&done[col("Completion date")], "2025-02-28");
        assert_eq!(&done[col("RAG")], "GREEN");
        assert_eq!(&done[col("Version")], "2");
        assert!(rows.iter().any(|r| &r[col("Status")] == "NOT_ACCEPTED" && &r[col("Version")] == "1"));
        let unstarted = rows.iter().filter(|r| &r[col("Status")] == "NOT_STARTED" && &r[col("Version")] == "0").count();
        assert_eq!(unstarted, rows.len() - 2);
        let joint = rows.iter().find(|r| r[col("Agencies")].contains("; ")).expect("a row addressed to several agencies");
        assert_eq!(joint[col("Agencies")].split("; ").count(), joint[col("Agencies")].matches("; ").count() + 1);
        assert!(!joint[col("Sectors")].is_empty());
        assert!(rows.iter().all(|r| r[col("Published")].len() == 7), "only pages have recommendations, and pages have a month");
        app.stop().await;
    }
}
