//! Faults: a server stopped with SIGTERM closes what it serves; an ingest killed with SIGKILL
//! leaves every page fully in or fully out, and running it again completes it.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::*;

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

both! {
    async fn sigterm_closes_subscriptions_and_exits_cleanly(backend: Backend) {
        let db = TestDb::new(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let mut server = ServerProcess::start(&db.url, dir.path()).await;
        let mut sub = WsClient::connect(server.addr, None).await.expect("connects");
        sub.subscribe("subscription { reviewAdded { title } }", json!({})).await;
        let client = reqwest::Client::new();
        let ok = client.post(format!("http://{}/graphql", server.addr))
            .json(&json!({ "query": "{ reviews { totalCount } }" })).send().await.unwrap();
        assert_eq!(ok.status(), 200);

        signal(server.child.id(), "-TERM");
        assert_eq!(sub.closed().await, Some(1001), "the subscription is told the server is going away");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "the server did not stop after SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "a clean exit: {status:?}");
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(log.contains("shutting down"), "{log}");
    }
}

/// A page of `n` rows, unique by `i`.
fn page(i: usize, n: usize) -> String {
    let rows: String = (1..=n)
        .map(|r| {
            format!("| {r} | Agency {i} to review practice item {r} of the plan. | Kent Police |\n")
        })
        .collect();
    format!(
        "SOURCE: https://example.org/kill/{i}/\nSource · Domestic Homicide Review\nKill review {i}\nCSP: Killshire {}\n\
         Published: May 2024\nExtracted: {n} recs\nSummary\nWritten to be interrupted.\n| # | Recommendation | Addressed to |\n|---|---|---|\n{rows}",
        i % 7
    )
}

async fn counts(url: &str) -> Vec<(String, i64, i64)> {
    let db = dhr_graph_api::db::connect(url, 1).await.unwrap();
    let sql = "SELECT r.title, r.recommendation_count, \
               (SELECT COUNT(*) FROM recommendation rec WHERE rec.review_id = r.id) AS n \
               FROM review r ORDER BY r.title";
    let rows = db
        .conn
        .query_all_raw(Statement::from_string(db.conn.get_database_backend(), sql))
        .await
        .unwrap();
    let out = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "title").unwrap(),
                i64::from(r.try_get::<i32>("", "recommendation_count").unwrap()),
                r.try_get("", "n").unwrap(),
            )
        })
        .collect();
    let _ = db.conn.close().await;
    out
}

both! {
    async fn an_ingest_killed_midway_leaves_whole_pages_and_a_rerun_completes_it(backend: Backend) {
        let db = TestDb::new(backend).await;
        // Migrate first, so that the kill lands among pages, not in a migration.
        drop(dhr_graph_api::db::connect(&db.url, 1).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        let pages = 400;
        for i in 0..pages {
            std::fs::write(dir.path().join(format!("p{i:04}.txt")), page(i, 5 + i % 20)).unwrap();
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dhr-graph"))
            .args(["ingest", "--quiet", "--database-url", &db.url, dir.path().to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once some pages are in, but not all.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let n = counts(&db.url).await.len();
            if n >= 20 {
                break;
            }
            assert!(child.try_wait().unwrap().is_none(), "the ingest finished before it could be killed");
            assert!(std::time::Instant::now() < deadline, "the ingest made no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        signal(child.id(), "-KILL");
        let _ = child.wait();

        let partial = counts(&db.url).await;
        assert!(partial.len() < pages, "the kill came too late to test anything ({} pages in)", partial.len());
        for (title, stated, stored) in &partial {
            let i: usize = title.trim_start_matches("Kill review ").parse().unwrap();
            assert_eq!((*stated, *stored), ((5 + i % 20) as i64, (5 + i % 20) as i64), "{title} is half-written");
        }

        let (code, out, err) = ingest(&db.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("{} unchanged", partial.len())), "pages already in are not written again: {out}");
        let done = counts(&db.url).await;
        assert_eq!(done.len(), pages);
        assert!(done.iter().all(|(_, stated, stored)| stated == stored));
    }
}

/// Seconds of mixed load: `DHR_LOAD_SECS` (3 by default; `docs/RELIABILITY.md` records 30).
fn load_secs() -> u64 {
    std::env::var("DHR_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

const SET: &str = "mutation($input: SetRecommendationStatusInput!) { setRecommendationStatus(input: $input) { actionPlan { version } } }";

both! {
    async fn mixed_load_loses_no_update_and_locks_out_no_client(backend: Backend) {
        let app = std::sync::Arc::new(TestApp::with_samples(backend).await);
        let editor = std::sync::Arc::new(create_key(&app.database.url, "load", "editor"));
        let ids: Vec<String> = app.query("{ recommendations(first: 8) { nodes { id } } }", json!({})).await["recommendations"]["nodes"]
            .as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect();
        let until = std::time::Instant::now() + Duration::from_secs(load_secs());
        let mut tasks = Vec::new();
        // Writers: two per recommendation, racing; each counts its wins.
        for (w, id) in ids.iter().cycle().take(ids.len() * 2).enumerate() {
            let (app, editor, id) = (app.clone(), editor.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let (mut wins, mut conflicts) = (0i64, 0i64);
                while std::time::Instant::now() < until {
                    let q = "query($id: ID!) { node(id: $id) { ... on Recommendation { actionPlan { version } } } }";
                    let v = app.query(q, json!({ "id": id })).await["node"]["actionPlan"]["version"].as_i64().unwrap();
                    let status = if (v + w as i64) % 2 == 0 { "IN_PROGRESS" } else { "IMPLEMENTED" };
                    let (code, body) = app.post_as(Some(&editor), SET, json!({ "input": { "id": id, "status": status, "expectedVersion": v } })).await;
                    assert_eq!(code, 200, "{body}");
                    match body["errors"][0]["extensions"]["code"].as_str() {
                        None => wins += 1,
                        Some("CONFLICT") => conflicts += 1,
                        Some(other) => panic!("a writer got {other}: {body}"),
                    }
                }
                (id, wins, conflicts)
            }));
        }
        // An ingesting client.
        let ingests = {
            let (app, editor) = (app.clone(), editor.clone());
            tokio::spawn(async move {
                let mut added = 0;
                while std::time::Instant::now() < until {
                    let text = format!("SOURCE: https://example.org/load/{added}/\nSource · Domestic Homicide Review\nLoad review {added}\nCSP: Loadshire\n\
                        Published: May 2024\nExtracted: 2 recs\nSummary\nUnder load.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
                        | 1 | Police to review item {added}. | Kent Police |\n| 2 | GP practices to review item {added}. | GP practice |\n");
                    let (code, body) = app.post_as(Some(&editor), "mutation($t: String!) { ingestReviewPage(input: { text: $t }) { outcome } }", json!({ "t": text })).await;
                    assert_eq!(code, 200, "{body}");
                    assert!(body.get("errors").is_none(), "an ingest failed under load: {body}");
                    added += 1;
                }
                added
            })
        };
        // Readers.
        let mut readers = Vec::new();
        for _ in 0..2 {
            let app = app.clone();
            readers.push(tokio::spawn(async move {
                let mut n = 0;
                while std::time::Instant::now() < until {
                    app.query("{ reviews(first: 20) { totalCount nodes { recommendations(first: 5) { nodes { actionPlan { status } agencies { name } } } } } recurringAgencies { totalCount } }", json!({})).await;
                    n += 1;
                }
                n
            }));
        }
        let mut wins_by: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        let mut total = 0;
        for t in tasks {
            let (id, wins, _) = t.await.unwrap();
            *wins_by.entry(id).or_default() += wins;
            total += wins;
        }
        let added = ingests.await.unwrap();
        let mut reads = 0;
        for r in readers {
            reads += r.await.unwrap();
        }
        assert!(total > 0 && added > 0 && reads > 0, "the load did something: {total} {added} {reads}");
        // No lost update: each plan's version is exactly the number of wins on it, and the
        // history holds one event per win.
        for (id, wins) in &wins_by {
            let q = "query($id: ID!) { node(id: $id) { ... on Recommendation { actionPlan { version } statusHistory { version } } } }";
            let node = app.query(q, json!({ "id": id })).await["node"].clone();
            assert_eq!(node["actionPlan"]["version"].as_i64().unwrap(), *wins, "{id}");
            assert_eq!(node["statusHistory"].as_array().unwrap().len() as i64, *wins, "{id}");
        }
        let reviews = app.query("{ reviews { totalCount } }", json!({})).await["reviews"]["totalCount"].as_i64().unwrap();
        assert_eq!(reviews, 11 + added);
        // The aggregates the writers all added to (hot rows: a sector's counts, the samples'
        // common agencies) are exactly what the edge tables say.
        let problems = dhr_graph_api::graph::derived::verify(&app.db.conn).await.unwrap();
        assert!(problems.is_empty(), "aggregates off after the load: {problems:?}");
        eprintln!("mixed load: {total} status changes, {added} pages, {reads} reads in {} s", load_secs());
    }
}

/// How long a request may take to be refused while PostgreSQL is down: well within the
/// pool's acquire timeout (10 s), which is what a request waited before it was fixed.
const OUTAGE_ANSWER_BOUND: Duration = Duration::from_secs(2);

const INGEST: &str = "mutation($t: String!) { ingestReviewPage(input: { text: $t }) { outcome } }";

/// A POST to `/graphql`: status, `Retry-After` (if any), body, and how long it took.
async fn timed_post(
    http: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> (u16, Option<String>, serde_json::Value, Duration) {
    let started = std::time::Instant::now();
    let mut req = http.post(url).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.json().await.unwrap_or_default();
    (status, retry, body, started.elapsed())
}

/// PostgreSQL stops (cleanly, then abruptly) and starts again under a running server, on a
/// cluster of the test's own. Meanwhile requests are refused at once with a retryable code;
/// afterwards the same server process reads, writes and delivers subscription events again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_under_the_server_is_survived() {
    if postgres_url().is_none() {
        return;
    }
    let mut pg = crate::pg_cluster::PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start_with(&pg.url(), dir.path(), &["--rate-limit-per-minute", "0"]).await;
    let admin = create_key(&pg.url(), "ops", "admin");
    let http = reqwest::Client::new();
    let graphql = format!("http://{}/graphql", server.addr);
    let readyz = format!("http://{}/readyz", server.addr);
    let count = json!({ "query": "{ reviews { totalCount } }" });
    let (status, _, body, _) = timed_post(&http, &graphql, None, count.clone()).await;
    assert_eq!(
        (status, &body["data"]["reviews"]["totalCount"]),
        (200, &json!(0)),
        "{body}"
    );
    let mut sub = WsClient::connect(server.addr, None)
        .await
        .expect("connects");
    sub.subscribe("subscription { reviewAdded { title } }", json!({}))
        .await;

    for (round, mode) in ["fast", "immediate"].into_iter().enumerate() {
        pg.stop(mode);
        let down_at = std::time::Instant::now();
        // Reads, and a write with a key (checked against the database first), over 3 s: long
        // enough for the event listener to fail a reconnection (2 s acquire timeout) and retry.
        let mut slowest = Duration::ZERO;
        let page = |n: usize| {
            format!(
                "SOURCE: https://example.org/restart/{n}/\nSource · Domestic Homicide Review\nRestart review {n}\nCSP: Kent\n\
             Published: May 2024\nExtracted: 1 recs\nSummary\nAfter a restart.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
             | 1 | Police to review item {n}. | Kent Police |\n"
            )
        };
        for i in 0..6 {
            let (key, request) = if i % 2 == 0 {
                (None, count.clone())
            } else {
                (
                    Some(admin.as_str()),
                    json!({ "query": INGEST, "variables": { "t": page(100 + i) } }),
                )
            };
            let (status, retry, body, took) = timed_post(&http, &graphql, key, request).await;
            slowest = slowest.max(took);
            assert!(
                took < OUTAGE_ANSWER_BOUND,
                "a request during the outage took {took:?}: {body}"
            );
            assert_eq!(status, 503, "{body}");
            let retry: u64 = retry.expect("Retry-After").parse().unwrap();
            assert!((1..=30).contains(&retry), "{retry}");
            let error = &body["errors"][0];
            assert_eq!(
                error["extensions"]["code"], "DATABASE_UNAVAILABLE",
                "{body}"
            );
            assert_eq!(error["extensions"]["retryable"], true, "{body}");
            let text = body.to_string().to_lowercase();
            for leak in [
                "127.0.0.1",
                &pg.port.to_string(),
                "postgres",
                "refused",
                "sqlx",
                "pool",
                "select",
            ] {
                assert!(!text.contains(leak), "the error says {leak:?}: {body}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Not ready, and said promptly.
        let started = std::time::Instant::now();
        let ready = http.get(&readyz).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        assert!(
            started.elapsed() < OUTAGE_ANSWER_BOUND,
            "/readyz took {:?}",
            started.elapsed()
        );
        let outage = down_at.elapsed();

        pg.start_again();
        let answers = crate::pg_cluster::wait_until(
            Duration::from_secs(30),
            "a read after the restart",
            || {
                let (http, graphql, count) = (&http, &graphql, &count);
                async move {
                    let (status, _, body, _) = timed_post(http, graphql, None, count.clone()).await;
                    status == 200 && body.get("errors").is_none()
                }
            },
        )
        .await;
        let ready_after = crate::pg_cluster::wait_until(
            Duration::from_secs(30),
            "/readyz after the restart",
            || {
                let (http, readyz) = (&http, &readyz);
                async move {
                    http.get(readyz)
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
                }
            },
        )
        .await;
        // A write, and its event reaches the subscription opened before the outage (ready
        // means the event listener is listening again).
        let (status, _, body, _) = timed_post(
            &http,
            &graphql,
            Some(&admin),
            json!({ "query": INGEST, "variables": { "t": page(round) } }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["ingestReviewPage"]["outcome"], "ADDED",
            "{body}"
        );
        let event = sub
            .next(Duration::from_secs(10))
            .await
            .expect("an event after the restart");
        assert_eq!(
            event["data"]["reviewAdded"]["title"],
            format!("Restart review {round}"),
            "{event}"
        );
        eprintln!(
            "postgres stop -m {mode}: {} requests during {outage:?} of outage, slowest answer {slowest:?}; \
             after pg_ctl start: reads answered in {answers:?}, ready (events listening) in {:?}",
            6,
            answers + ready_after
        );
    }
    let (status, _, body, _) = timed_post(&http, &graphql, None, count).await;
    assert_eq!(
        (status, &body["data"]["reviews"]["totalCount"]),
        (200, &json!(2)),
        "{body}"
    );
}
