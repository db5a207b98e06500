//! In-process execution of the dashboard questions (`graphql::execute` on the real schema,
//! with per-request loaders, exactly as the server runs them), each beside its floor: the
//! same answer from one hand-written SQL statement.
//!
//! `DHR_BENCH_DATABASE_URL` names an existing database (e.g. one written by `dhr-graph
//! synth --reviews 20000`); without it a small SQLite database is synthesised in a temporary
//! directory so that `cargo bench` works out of the box. Before criterion runs, a plain loop
//! of `DHR_BENCH_SAMPLES` (default 200) executions per query prints p50/p99 and the
//! GraphQL / floor ratio: criterion estimates means, the targets are percentiles.

use std::time::{Duration, Instant};

use criterion::Criterion;
use dhr_graph_api::db::Db;
use dhr_graph_api::graphql::ids::{self, Kind};
use dhr_graph_api::graphql::{AppSchema, build_schema, execute};
use dhr_graph_api::sql::statement;
use sea_orm::{ConnectionTrait, DbBackend, Value};
use tokio::runtime::Runtime;

struct Question {
    name: &'static str,
    query: String,
    floor: String,
    floor_values: Vec<Value>,
}

struct Bench {
    rt: Runtime,
    db: Db,
    schema: AppSchema,
    _dir: Option<tempfile::TempDir>,
}

fn setup() -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (url, dir) = match std::env::var("DHR_BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            (url, Some(dir))
        }
    };
    let db = rt.block_on(async {
        let db = dhr_graph_api::db::connect(&url, 8)
            .await
            .expect("bench database");
        if dir.is_some() {
            let opts = dhr_graph_api::synth::SynthOptions {
                reviews: 200,
                seed: 1,
                batch: 50,
                plan_share: 0.1,
                progress: false,
                statements: db.statements.clone(),
            };
            dhr_graph_api::synth::run(
                &dhr_graph_api::write::WritePath::batch(db.conn.clone()),
                &opts,
            )
            .await
            .expect("synth");
        }
        db
    });
    let bus = dhr_graph_api::events::EventBus::new(db.backend());
    let schema = build_schema(db.clone(), bus, Default::default());
    Bench {
        rt,
        db,
        schema,
        _dir: dir,
    }
}

async fn one_i64(db: &Db, sql: &str) -> i64 {
    let row = db
        .conn
        .query_one_raw(statement(db.backend(), sql, Vec::new()))
        .await
        .expect("probe")
        .expect("a row");
    row.try_get_by_index::<i64>(0)
        .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
        .expect("an integer")
}

async fn one_string(db: &Db, sql: &str) -> String {
    let row = db
        .conn
        .query_one_raw(statement(db.backend(), sql, Vec::new()))
        .await
        .expect("probe")
        .expect("a row");
    row.try_get_by_index::<String>(0).expect("a string")
}

fn relay_id(kind: Kind, id: i64) -> String {
    ids::encode(kind, id as i32).0
}

/// The questions, with their subjects picked from the data: a review of median size, the
/// agency named by most reviews, a recommendation with neighbours.
async fn questions(db: &Db) -> Vec<Question> {
    let review = one_i64(
        db,
        "SELECT id FROM review ORDER BY ABS(recommendation_count - 15), id LIMIT 1",
    )
    .await;
    let agency = one_string(
        db,
        "SELECT slug FROM agency WHERE sector <> 'COLLECTIVE' ORDER BY review_count DESC, id LIMIT 1",
    )
    .await;
    let agency_id = one_i64(
        db,
        &format!("SELECT id FROM agency WHERE slug = '{agency}'"),
    )
    .await;
    let rec = one_i64(
        db,
        "SELECT recommendation_id FROM recommendation_similarity ORDER BY recommendation_id LIMIT 1 OFFSET 1000",
    )
    .await;
    let reviews = one_i64(db, "SELECT COUNT(*) FROM review").await;
    // About the strongest tenth of the pairs: a network a person can read.
    let min_shared = (reviews / 200).max(2);
    let sqlite = db.backend() == DbBackend::Sqlite;
    let (search_from, search_score, search_key, search_value) = if sqlite {
        (
            "FROM search_index WHERE search_index MATCH ?",
            "-bm25(search_index)",
            "rowid",
            "\"routine\" OR \"enquiry\"",
        )
    } else {
        (
            "FROM search_index, to_tsquery('english', ?) q WHERE tsv @@ q",
            "CAST(ts_rank(tsv, q, 1) AS DOUBLE PRECISION)",
            "id",
            "routine | enquiry",
        )
    };
    vec![
        Question {
            name: "review_page",
            query: format!(
                "{{ node(id: \"{}\") {{ ... on Review {{ title published csps {{ name }}
                   recommendations(first: 60) {{ nodes {{ label text agencies {{ name sector }} }} }} }} }} }}",
                relay_id(Kind::Review, review)
            ),
            floor: "SELECT r.title, r.published, c.name AS csp, rec.label, rec.text, a.name, a.sector \
                    FROM review r JOIN review_csp rc ON rc.review_id = r.id JOIN csp c ON c.id = rc.csp_id \
                    JOIN recommendation rec ON rec.review_id = r.id \
                    LEFT JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
                    LEFT JOIN agency a ON a.id = ra.agency_id \
                    WHERE r.id = ? ORDER BY rc.position, rec.position, ra.position"
                .into(),
            floor_values: vec![review.into()],
        },
        Question {
            name: "reviews_list",
            query: "{ reviews(first: 20) { nodes { title published csps { name } } } }".into(),
            floor: "SELECT r.id, r.title, r.published, c.name FROM \
                    (SELECT id, title, published FROM review ORDER BY published DESC, id DESC LIMIT 20) r \
                    JOIN review_csp rc ON rc.review_id = r.id JOIN csp c ON c.id = rc.csp_id \
                    ORDER BY r.published DESC, r.id DESC, rc.position"
                .into(),
            floor_values: vec![],
        },
        Question {
            name: "recurring_agencies",
            query: "{ recurringAgencies(first: 20) { nodes { agency { name sector } reviewCount firstPublished lastPublished } } }".into(),
            // The floors of the aggregate questions read the tables migration 10 keeps at
            // write time, as the resolvers do: the best one statement this schema allows.
            floor: "SELECT t.*, \
                      (SELECT MIN(x.published) FROM agency_review x WHERE x.agency_id = t.id \
                         AND x.addressed_recs > 0 AND x.published <> '') AS first_published, \
                      (SELECT MAX(x.published) FROM agency_review x WHERE x.agency_id = t.id \
                         AND x.addressed_recs > 0 AND x.published <> '') AS last_published \
                    FROM (SELECT a.id, a.name, a.sector, s.addressed_reviews AS n, s.addressed_recs AS m \
                      FROM agency_recurrence s JOIN agency a ON a.id = s.agency_id \
                      WHERE a.sector <> 'COLLECTIVE' AND s.addressed_reviews >= 2 \
                      ORDER BY n DESC, m DESC, a.id LIMIT 20) t"
                .into(),
            floor_values: vec![],
        },
        Question {
            name: "agency_trace",
            query: format!(
                "{{ agency(slug: \"{agency}\") {{ name trace(first: 20) {{ nodes {{
                   review {{ title published }} recommendations {{ label text }} }} }} }} }}"
            ),
            floor: "SELECT r.id, r.title, r.published, rec.label, rec.text FROM \
                    (SELECT x.review_id FROM agency_review x WHERE x.agency_id = ? \
                       AND x.addressed_recs > 0 ORDER BY x.published, x.review_id LIMIT 20) p \
                    JOIN review r ON r.id = p.review_id \
                    JOIN recommendation rec ON rec.review_id = r.id \
                    CROSS JOIN recommendation_agency ra \
                    WHERE ra.recommendation_id = rec.id AND ra.agency_id = ? \
                    ORDER BY r.published, r.id, rec.position"
                .into(),
            floor_values: vec![agency_id.into(), agency_id.into()],
        },
        Question {
            name: "agency_network",
            query: format!(
                "{{ agencyNetwork(minSharedReviews: {min_shared}) {{ nodes {{ agency {{ name }} reviewCount }}
                   edges {{ source {{ name }} target {{ name }} sharedReviews }} }} }}"
            ),
            floor: "SELECT s.name, t.name, p.addressed_shared FROM agency_pair p \
                    JOIN agency s ON s.id = p.agency_id JOIN agency t ON t.id = p.other_id \
                    WHERE p.addressed_shared >= ? AND s.sector <> 'COLLECTIVE' AND t.sector <> 'COLLECTIVE' \
                    ORDER BY p.addressed_shared DESC, p.agency_id, p.other_id"
                .into(),
            floor_values: vec![min_shared.into()],
        },
        Question {
            name: "related",
            query: format!(
                "{{ node(id: \"{}\") {{ ... on Recommendation {{ related(first: 10) {{ score reasons
                   recommendation {{ label review {{ title }} }} }} }} }} }}",
                relay_id(Kind::Recommendation, rec)
            ),
            floor: "SELECT s.other_id, s.score, rec.label, r.title FROM recommendation_similarity s \
                    JOIN recommendation rec ON rec.id = s.other_id JOIN review r ON r.id = rec.review_id \
                    WHERE s.recommendation_id = ? ORDER BY s.score DESC, s.other_id LIMIT 10"
                .into(),
            floor_values: vec![rec.into()],
        },
        Question {
            name: "search",
            query: "{ search(query: \"routine enquiry\", first: 10) { totalCount edges { score node {
                      ... on Recommendation { label review { title } } ... on Review { title } } } } }"
                .into(),
            floor: format!(
                "SELECT h.kind, h.ref_id, h.score, rec.label, r.title FROM \
                   (SELECT kind, ref_id, {search_score} AS score {search_from} \
                    ORDER BY score DESC, {search_key} LIMIT 10) h \
                 LEFT JOIN recommendation rec ON h.kind = 'R' AND rec.id = h.ref_id \
                 LEFT JOIN review r ON r.id = CASE WHEN h.kind = 'R' THEN rec.review_id ELSE h.ref_id END"
            ),
            floor_values: vec![search_value.into()],
        },
        Question {
            name: "action_plan_stats",
            query: "{ actionPlanStats(groupBy: SECTOR) { sector total notStarted inProgress implemented notAccepted closed } }".into(),
            floor: "SELECT bucket, status, n FROM plan_stat WHERE kind = 'SECTOR' AND n <> 0 \
                    ORDER BY bucket, status"
                .into(),
            floor_values: vec![],
        },
    ]
}

async fn run_graphql(b: &Bench, q: &str) {
    let resp = execute(
        &b.schema,
        &b.db,
        async_graphql::Request::new(q),
        Duration::ZERO,
    )
    .await;
    assert!(resp.errors.is_empty(), "{q}: {:?}", resp.errors);
}

async fn run_floor(db: &Db, q: &Question) {
    db.conn
        .query_all_raw(statement(db.backend(), &q.floor, q.floor_values.clone()))
        .await
        .unwrap_or_else(|e| panic!("{} floor: {e}", q.name));
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

fn main() {
    let bench = setup();
    let qs = bench.rt.block_on(questions(&bench.db));
    let samples: usize = std::env::var("DHR_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let label =
        std::env::var("DHR_BENCH_LABEL").unwrap_or_else(|_| format!("{:?}", bench.db.backend()));
    let only = std::env::var("DHR_BENCH_ONLY").ok();
    let selected: Vec<&Question> = qs
        .iter()
        .filter(|q| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == q.name))
        })
        .collect();
    println!("\n{label}: {samples} runs each, milliseconds");
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "query", "gql p50", "gql p99", "sql p50", "sql p99", "ratio"
    );
    for q in &selected {
        let (g, f) = bench.rt.block_on(async {
            run_graphql(&bench, &q.query).await;
            run_floor(&bench.db, q).await;
            let mut g = Vec::with_capacity(samples);
            let mut f = Vec::with_capacity(samples);
            for _ in 0..samples {
                let t = Instant::now();
                run_graphql(&bench, &q.query).await;
                g.push(t.elapsed());
                let t = Instant::now();
                run_floor(&bench.db, q).await;
                f.push(t.elapsed());
            }
            (percentiles(g), percentiles(f))
        });
        println!(
            "{:<20} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7.2}",
            q.name,
            g.0,
            g.1,
            f.0,
            f.1,
            g.0 / f.0
        );
    }
    if std::env::var("DHR_BENCH_SKIP_CRITERION").is_ok() {
        return;
    }
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for q in &selected {
        let mut group = c.benchmark_group(format!("{label}/{}", q.name));
        group.bench_function("graphql", |b| {
            b.to_async(&bench.rt).iter(|| run_graphql(&bench, &q.query))
        });
        group.bench_function("sql_floor", |b| {
            b.to_async(&bench.rt).iter(|| run_floor(&bench.db, q))
        });
        group.finish();
    }
    c.final_summary();
}
