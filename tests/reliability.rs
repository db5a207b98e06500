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
