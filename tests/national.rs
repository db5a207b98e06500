//! Issue 16's API for the national picture: page reviews and DHRD records told apart, a page
//! and its DHRD record listed once, regions, and undated records last.

use serde_json::{Value, json};

use crate::helpers::*;

const LIST: &str = "query($f: ReviewFilter, $o: ReviewOrder, $first: Int) {
    reviews(filter: $f, orderBy: $o, first: $first) { totalCount nodes { id title published recommendations { totalCount } } } }";

fn total(v: &Value) -> i64 {
    v["reviews"]["totalCount"].as_i64().unwrap()
}

both! {
    async fn pages_and_dhrd_records_are_told_apart_and_a_linked_page_is_listed_once(backend: Backend) {
        let app = national(backend).await;
        let q = |f: Value| { let app = &app; async move { app.query(LIST, json!({ "f": f, "first": 100 })).await } };
        let all = q(json!({})).await;
        let pages = q(json!({ "source": "PAGE" })).await;
        let records = q(json!({ "source": "DHRD_RECORD" })).await;
        let linked = count_linked(&app).await;
        assert!(linked > 0, "the samples link a page to its DHRD record");
        assert!(total(&records) > 600 && total(&pages) > 0);
        assert_eq!(total(&all), total(&pages) + total(&records) - linked, "a linked record is listed through its page");
        // Pages have recommendations, records none.
        let with = q(json!({ "hasRecommendations": true })).await;
        assert_eq!(total(&with), total(&q(json!({ "source": "PAGE", "hasRecommendations": true })).await));
        assert!(with["reviews"]["nodes"].as_array().unwrap().iter().all(|n| n["recommendations"]["totalCount"].as_i64().unwrap() > 0));
        let without = q(json!({ "source": "PAGE", "hasRecommendations": false })).await;
        assert!(without["reviews"]["nodes"].as_array().unwrap().iter().all(|n| n["recommendations"]["totalCount"] == 0));
        // Every page has a CSP with a region, from the dataset or the registers.
        let regions = app.query("{ reviews(filter: { source: PAGE }, first: 100) { nodes { csps { region } } } }", json!({})).await;
        for n in regions["reviews"]["nodes"].as_array().unwrap() {
            assert!(n["csps"][0]["region"].is_string(), "{n}");
        }
    }
}

/// The samples with the DHRD records, which link two of the pages.
async fn national(backend: Backend) -> TestApp {
    let app = TestApp::with_samples(backend).await;
    let csv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhrd/incidents.csv");
    let (code, out, err) = cli(&[
        "import-dhrd",
        "--database-url",
        &app.database.url,
        &csv.display().to_string(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    app
}

async fn count_linked(app: &TestApp) -> i64 {
    sql_count(
        &app.db.conn,
        "SELECT COUNT(DISTINCT incident_review_id) FROM review_incident",
    )
    .await
}

both! {
    async fn undated_records_sort_last_both_ways_and_regions_filter(backend: Backend) {
        let app = national(backend).await;
        for order in ["PUBLISHED_ASC", "PUBLISHED_DESC"] {
            let v = app.query(LIST, json!({ "o": order, "first": 100 })).await;
            let published: Vec<Value> = v["reviews"]["nodes"].as_array().unwrap().iter().map(|n| n["published"].clone()).collect();
            let first_undated = published.iter().position(Value::is_null).expect("undated records in the samples");
            assert!(first_undated > 0, "{order}: dated reviews come first");
            assert!(published[first_undated..].iter().all(Value::is_null), "{order}: {published:?}");
            let dated: Vec<&str> = published[..first_undated].iter().map(|p| p.as_str().unwrap()).collect();
            let mut sorted = dated.clone();
            sorted.sort();
            if order == "PUBLISHED_DESC" { sorted.reverse(); }
            assert_eq!(dated, sorted, "{order}");
        }
        // Regions by the DHRD's name or the registers', any case.
        let q = |r: &str| { let app = &app; let r = r.to_owned(); async move { total(&app.query(LIST, json!({ "f": { "region": r } })).await) } };
        let london = q("Greater London").await;
        assert!(london > 0);
        assert_eq!(q("london").await, london);
        let east = q("East").await;
        assert_eq!(q("East of England").await, east);
        assert!(q("South East").await > 0);
        let (_, body) = app.post_as(None, LIST, json!({ "f": { "region": "Narnia" } })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "filter.region");
        // The samples' Kent page is in the South East, as its DHRD record says.
        let kent = app.query(LIST, json!({ "f": { "region": "South East", "source": "PAGE", "csp": "Kent" } })).await;
        assert!(total(&kent) > 0, "{kent}");
    }
}

both! {
    async fn review_stats_count_reviews_by_death_year_region_and_case_tag_as_listed(backend: Backend) {
        let app = national(backend).await;
        let stats = |by: &str, f: Value| {
            let app = &app;
            let q = format!("query($f: ReviewFilter) {{ reviewStats(groupBy: {by}, filter: $f) {{ year region caseTag reviewCount withRecommendations meanYearsToPublication }} }}");
            async move { app.query(&q, json!({ "f": f })).await["reviewStats"].as_array().unwrap().clone() }
        };
        let listed = total(&app.query(LIST, json!({})).await);
        let sum = |rows: &[Value]| rows.iter().map(|r| r["reviewCount"].as_i64().unwrap()).sum::<i64>();
        // Every listed review has one death year bucket (null where unknown): the sum is the list.
        let by_year = stats("DEATH_YEAR", json!({})).await;
        assert_eq!(sum(&by_year), listed);
        assert!(by_year.iter().any(|r| r["year"].is_i64()));
        // Pages with recommendations are counted apart; their publication gap is known.
        let by_pub = stats("PUBLICATION_YEAR", json!({ "source": "PAGE" })).await;
        let pages = total(&app.query(LIST, json!({ "f": { "source": "PAGE" } })).await);
        assert_eq!(sum(&by_pub), pages);
        assert!(by_pub.iter().all(|r| r["year"].is_i64()), "{by_pub:?}");
        assert!(by_pub.iter().any(|r| r["meanYearsToPublication"].as_f64().is_some_and(|m| m >= 0.0)), "{by_pub:?}");
        // Regions: the filter and the grouping agree.
        let by_region = stats("REGION", json!({})).await;
        let london = by_region.iter().find(|r| r["region"] == "Greater London").expect("London reviews");
        assert_eq!(london["reviewCount"].as_i64().unwrap(), total(&app.query(LIST, json!({ "f": { "region": "London" } })).await));
        // Case tags: a tag's count is the tag filter's.
        let by_tag = stats("CASE_TAG", json!({})).await;
        let first = by_tag.iter().find(|r| r["caseTag"].is_string()).expect("tagged reviews");
        let tag = first["caseTag"].as_str().unwrap();
        let tagged = app.query(&format!("{{ reviews(filter: {{ caseTag: {tag} }}) {{ totalCount }} }}"), json!({})).await;
        assert_eq!(first["reviewCount"], tagged["reviews"]["totalCount"], "{tag}");
    }
}

both! {
    async fn sector_and_plan_stats_group_by_region(backend: Backend) {
        let app = national(backend).await;
        let sectors = app.query("{ sectorStats(groupBy: REGION) { sector region year csp { name } reviewCount } }", json!({})).await;
        let rows = sectors["sectorStats"].as_array().unwrap();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r["region"].is_string() && r["year"].is_null() && r["csp"].is_null()), "{sectors}");
        assert!(rows.iter().any(|r| r["region"] == "South East"), "{sectors}");
        let plans = app.query("{ actionPlanStats(groupBy: REGION) { region total notStarted } byCsp: actionPlanStats(groupBy: CSP) { total } }", json!({})).await;
        let regions = plans["actionPlanStats"].as_array().unwrap();
        assert!(regions.iter().all(|r| r["region"].is_string()), "{plans}");
        let by_region: i64 = regions.iter().map(|r| r["total"].as_i64().unwrap()).sum();
        let by_csp: i64 = plans["byCsp"].as_array().unwrap().iter().map(|r| r["total"].as_i64().unwrap()).sum();
        // A recommendation counts once per region, once per CSP: at most as many by region.
        assert!(by_region > 0 && by_region <= by_csp, "{by_region} {by_csp}");
    }
}
