//! `dhr-graph synth`: the same seed writes the same graph, with the shapes of the public record.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::*;

/// What a dashboard sees of the graph; ids included, since a fresh database numbers rows
/// the same way each time. Timestamps are left out: plan history records when it was written.
const ANSWERS: &str = "{
  reviews(first: 100) { nodes { id title published csps { name }
    recommendations(first: 100) { nodes { id label text agencies { name sector }
      themes { theme { slug } } actionPlan { status version rag } } } } }
  recurringAgencies(first: 20, includeCollective: true) { nodes { agency { name } reviewCount } }
  actionPlanStats(groupBy: SECTOR) { sector total implemented closed }
  agencies(first: 100) { nodes { slug name sector } }
}";

async fn synthesised(backend: Backend) -> (TestApp, Value) {
    let database = TestDb::new(backend).await;
    let (code, out, err) = cli(&[
        "synth",
        "--quiet",
        "--database-url",
        &database.url,
        "--reviews",
        "30",
        "--seed",
        "7",
        "--plan-share",
        "0.2",
    ]);
    assert_eq!(code, 0, "synth failed: {err}");
    assert!(out.contains("reviews: 30;"), "{out}");
    let app = TestApp::start(database, false).await;
    let answers = app.query(ANSWERS, json!({})).await;
    (app, answers)
}

async fn numbers(app: &TestApp, sql: &str) -> Vec<i64> {
    let conn = &app.db.conn;
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect()
}

both! {
    async fn the_same_seed_writes_the_same_graph_with_realistic_shapes(backend: Backend) {
        let (first, answers) = synthesised(backend).await;
        let (_second, again) = synthesised(backend).await;
        assert_eq!(answers, again, "two runs with one seed differ");

        let per_review = numbers(&first, "SELECT COUNT(*) FROM recommendation GROUP BY review_id").await;
        assert_eq!(per_review.len(), 30);
        assert!(per_review.iter().all(|n| (4..=60).contains(n)), "{per_review:?}");

        let links = numbers(&first, "SELECT COUNT(*) FROM recommendation_agency").await[0];
        let collective = numbers(&first, "SELECT COUNT(*) FROM recommendation_agency ra \
            JOIN agency a ON a.id = ra.agency_id WHERE a.sector = 'COLLECTIVE'").await[0];
        let share = collective as f64 / links as f64;
        assert!((0.1..=0.3).contains(&share), "collective share {share} ({collective} of {links})");
        let multi = numbers(&first, "SELECT COUNT(*) FROM (SELECT recommendation_id FROM \
            recommendation_agency GROUP BY recommendation_id HAVING COUNT(*) > 1) m").await[0];
        assert!(multi > 0, "no multi-addressee rows");

        // Long-tailed CSPs: most have one or two reviews.
        let per_csp = numbers(&first, "SELECT COUNT(*) FROM review_csp GROUP BY csp_id").await;
        let small = per_csp.iter().filter(|n| **n <= 2).count();
        assert!(per_csp.len() >= 15 && small * 2 > per_csp.len(), "{per_csp:?}");

        let plans = numbers(&first, "SELECT COUNT(*) FROM action_plan").await[0];
        let events = numbers(&first, "SELECT COUNT(*) FROM status_event").await[0];
        assert!(plans > 0 && events >= plans, "{plans} plans, {events} events");
        let edges = numbers(&first, "SELECT COUNT(*) FROM recommendation_similarity").await[0];
        assert!(edges > 0, "similarity was not rebuilt");
        let tagged = numbers(&first, "SELECT COUNT(DISTINCT recommendation_id) FROM recommendation_theme").await[0];
        assert!(tagged * 2 > links, "themes: {tagged} tagged");
    }
}
