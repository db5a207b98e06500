//! The GraphQL contract over HTTP: lists, filters, pagination, nodes, nested edges, and the
//! number of SQL statements a nested query costs.

use serde_json::{Value, json};

use crate::helpers::*;

both! {
    async fn agencies_by_review_count_from_the_samples(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app
            .query("{ agencies(first: 5, orderBy: REVIEW_COUNT_DESC) { nodes { name sector reviewCount } } }", json!({}))
            .await;
        let nodes = data["agencies"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 5);
        let counts: Vec<i64> = nodes.iter().map(|n| n["reviewCount"].as_i64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
        assert_eq!(nodes[0]["name"], "Home Office");
        assert_eq!(nodes[0]["reviewCount"], 3);
        let gp = nodes.iter().find(|n| n["name"] == "GP practice").expect("GP practice recurs");
        assert_eq!(gp["sector"], "PRIMARY_CARE");
        assert_eq!(gp["reviewCount"], 2, "Bassetlaw's 'GP practice' and Liverpool's 'GP Practice' are one agency");
    }
}

const NESTED: &str = "{ reviews(first: 50) { nodes { csps { name } recommendations(first: 50) { nodes { agencies { name } } } } } }";

/// Appends `n` copies of a sample page under new source URLs.
fn copies(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("nottingham-2022.txt");
    for i in 0..n {
        let page = format!(
            "SOURCE: https://example.org/copy-{i}/\n{}",
            text.replace("CSP: Nottingham", &format!("CSP: Town {i}"))
        );
        std::fs::write(dir.path().join(format!("copy-{i}.txt")), page).unwrap();
    }
    dir
}

both! {
    async fn nested_query_statements_do_not_grow_with_reviews(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let before = app.statements();
        let small = app.query(NESTED, json!({})).await;
        let small_cost = app.statements() - before;
        assert_eq!(small["reviews"]["nodes"].as_array().unwrap().len(), 11);
        assert!(small_cost <= 8, "{small_cost} statements for the nested query");

        let dir = copies(10);
        assert_eq!(ingest(&app.database.url, &[dir.path()]).0, 0);
        let before = app.statements();
        let big = app.query(NESTED, json!({})).await;
        let big_cost = app.statements() - before;
        assert_eq!(big["reviews"]["nodes"].as_array().unwrap().len(), 21);
        assert_eq!(big_cost, small_cost, "statements grew with the number of reviews");
    }
}

fn titles(v: &Value) -> Vec<String> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

both! {
    async fn relay_pagination_forwards_backwards_and_bounds(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let q = "query($first: Int, $after: String, $last: Int, $before: String) {
            reviews(first: $first, after: $after, last: $last, before: $before) {
              totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
              edges { cursor } nodes { id published } } }";
        let all = app.query(q, json!({ "first": 100 })).await["reviews"].clone();
        assert_eq!(all["totalCount"], 11);
        let all_ids = titles(&all);
        let published: Vec<&str> = all["nodes"].as_array().unwrap().iter().map(|n| n["published"].as_str().unwrap()).collect();
        assert!(published.windows(2).all(|w| w[0] >= w[1]), "newest first: {published:?}");

        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app.query(q, json!({ "first": 4, "after": after })).await["reviews"].clone();
            seen.extend(titles(&page));
            if page["pageInfo"]["hasNextPage"] == false { break; }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, all_ids, "forward pages cover the list once, in order");

        let last = app.query(q, json!({ "last": 3 })).await["reviews"].clone();
        assert_eq!(titles(&last), all_ids[8..].to_vec());
        assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
        let before = app.query(q, json!({ "last": 2, "before": last["pageInfo"]["startCursor"] })).await["reviews"].clone();
        assert_eq!(titles(&before), all_ids[6..8].to_vec());

        let (code, err) = app.error_code(q, json!({ "first": 101 })).await;
        assert_eq!(code, "BAD_USER_INPUT");
        assert_eq!(err["extensions"]["field"], "first");
        let (code, _) = app.error_code(q, json!({ "first": 2, "after": "not-a-cursor" })).await;
        assert_eq!(code, "BAD_USER_INPUT");
        let (code, _) = app.error_code(q, json!({ "last": -1 })).await;
        assert_eq!(code, "BAD_USER_INPUT");

        // Default page size is 20; nested lists page too.
        let nested = app.query("{ agency(slug: \"home-office\") { recommendations(first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } }", json!({})).await;
        let recs = &nested["agency"]["recommendations"];
        assert_eq!(recs["totalCount"], 3);
        assert_eq!(recs["pageInfo"]["hasNextPage"], true);
        let next = app.query("query($a: String) { agency(slug: \"home-office\") { recommendations(first: 10, after: $a) { pageInfo { hasNextPage hasPreviousPage } nodes { id } } } }", json!({ "a": recs["pageInfo"]["endCursor"] })).await;
        let rest = next["agency"]["recommendations"]["nodes"].as_array().unwrap();
        assert_eq!(rest.len(), 2);
        assert!(rest.iter().all(|n| n["id"] != recs["nodes"][0]["id"]));
    }
}

async fn count(app: &TestApp, filter: Value) -> i64 {
    app.query(
        "query($f: ReviewFilter) { reviews(filter: $f) { totalCount } }",
        json!({ "f": filter }),
    )
    .await["reviews"]["totalCount"]
        .as_i64()
        .unwrap()
}

both! {
    async fn review_filters(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        assert_eq!(count(&app, json!({ "csp": "bassetlaw" })).await, 1);
        assert_eq!(count(&app, json!({ "csp": "BASSETLAW" })).await, 1);
        assert_eq!(count(&app, json!({ "csp": "Kent" })).await, 2);
        assert_eq!(count(&app, json!({ "agency": "gp-practice" })).await, 2);
        assert_eq!(count(&app, json!({ "sector": "POLICE" })).await, 3);
        assert_eq!(count(&app, json!({ "publishedFrom": "2023-07" })).await, 5);
        assert_eq!(count(&app, json!({ "publishedFrom": "2023-04", "publishedTo": "2023-04" })).await, 3);
        assert_eq!(count(&app, json!({ "yearOfDeathFrom": 2018, "yearOfDeathTo": 2018 })).await, 3);
        assert_eq!(count(&app, json!({ "textContains": "Routine Enquir" })).await, 3);
        assert_eq!(count(&app, json!({ "textContains": "100%_" })).await, 0);
        assert_eq!(count(&app, json!({ "csp": "Kent", "yearOfDeathTo": 2015 })).await, 1);

        let (code, err) = app.error_code("{ reviews(filter: { publishedFrom: \"June 2023\" }) { totalCount } }", json!({})).await;
        assert_eq!(code, "BAD_USER_INPUT");
        assert_eq!(err["extensions"]["field"], "publishedFrom");

        let recs = app.query("{ recommendations(filter: { agency: \"gp-practice\", textContains: \"routine\" }) { totalCount nodes { label review { title } } } }", json!({})).await;
        assert_eq!(recs["recommendations"]["totalCount"], 2);
        let agencies = app.query("{ agencies(filter: { csp: \"nottingham\", sector: COLLECTIVE }, orderBy: NAME_ASC) { nodes { name } } }", json!({})).await;
        let names: Vec<&str> = agencies["agencies"]["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["All Agencies", "Commissioning agencies", "Local Agencies"]);
    }
}

both! {
    async fn nodes_by_global_id_and_nested_edges(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app.query("{ csp(slug: \"Kent\") { id slug name reviews { totalCount nodes { id } } agencies(first: 3) { totalCount nodes { id slug } } }
                               agency(slug: \"GP Practice\") { id slug aliases reviews { nodes { title } } } }", json!({})).await;
        let csp = &data["csp"];
        assert_eq!(csp["slug"], "kent");
        assert_eq!(csp["reviews"]["totalCount"], 2);
        assert!(csp["agencies"]["totalCount"].as_i64().unwrap() >= 4);
        assert_eq!(data["agency"]["slug"], "gp-practice");
        let review_titles: Vec<&str> = data["agency"]["reviews"]["nodes"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
        assert_eq!(review_titles, vec!["Liverpool review", "Bassetlaw review"]);

        let ids = json!([csp["id"], data["agency"]["id"], csp["reviews"]["nodes"][0]["id"], "bm90LWFuLWlk"]);
        // An id that is none of ours is `null` in its place, as `nodes` promises.
        let found = app.query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).await;
        assert_eq!(found["nodes"][3], Value::Null, "{found}");
        assert_eq!(found["nodes"][0]["id"], csp["id"]);
        // `node` answers null with an error saying why.
        let body = app.post("{ node(id: \"bm90LWFuLWlk\") { id } }", json!({})).await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let ids = json!([csp["id"], data["agency"]["id"], csp["reviews"]["nodes"][0]["id"]]);
        let nodes = app.query("query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Csp { name } ... on Agency { sector } ... on Review { title } } }", json!({ "ids": ids })).await;
        let n = nodes["nodes"].as_array().unwrap();
        assert_eq!(n[0]["__typename"], "Csp");
        assert_eq!(n[0]["name"], "Kent");
        assert_eq!(n[1]["sector"], "PRIMARY_CARE");
        assert_eq!(n[2]["__typename"], "Review");
        for (i, id) in ids.as_array().unwrap().iter().enumerate() {
            assert_eq!(&n[i]["id"], id);
        }
        let rec = app.query("{ recommendations(first: 1) { nodes { id review { id } } } }", json!({})).await;
        let rid = &rec["recommendations"]["nodes"][0]["id"];
        let node = app.query("query($id: ID!) { node(id: $id) { ... on Recommendation { id text } } }", json!({ "id": rid })).await;
        assert_eq!(&node["node"]["id"], rid);
        assert!(app.query("{ csp(slug: \"nowhere\") { id } }", json!({})).await["csp"].is_null());
    }
}

both! {
    async fn an_agencys_recommendations_are_one_order_however_they_are_read(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let dir = tempfile::tempdir().unwrap();
        for (i, month) in ["March 2024", "May 2019", "March 2024", "January 2022"].iter().enumerate() {
            let page = format!(
                "SOURCE: https://example.org/order-{i}/\nSource · Domestic Homicide Review\nOrder {i} review\n\
                 CSP: Kent\nPublished: {month}\nExtracted: 3 recs\nSummary\nWritten for a test.\n\
                 | # | Recommendation | Addressed to |\n|---|---|---|\n\
                 | 1 | Police should share information {i}. | Kent Police |\n\
                 | 2 | GPs should ask about abuse {i}. | GP Practice |\n\
                 | 3 | Police should review call handling {i}. | Kent Police | GP Practice |\n"
            );
            std::fs::write(dir.path().join(format!("o{i}.txt")), page).unwrap();
        }
        assert_eq!(ingest(&app.database.url, &[dir.path()]).0, 0);
        let top = app.query("{ recurringAgencies(minReviews: 1, first: 1) { nodes { agency { slug recommendationCount } } } }", json!({})).await;
        let agency = &top["recurringAgencies"]["nodes"][0]["agency"];
        let slug = agency["slug"].as_str().unwrap().to_owned();
        let count = agency["recommendationCount"].as_i64().unwrap();
        assert!(count >= 4, "{top}");
        let ids = |v: &Value| v["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

        let q = "query($s: String!) { agency(slug: $s) { recommendations(first: 100) { nodes { id position review { id published } } } } }";
        let all = app.query(q, json!({ "s": slug })).await;
        let nodes = all["agency"]["recommendations"]["nodes"].as_array().unwrap().clone();
        assert_eq!(nodes.len() as i64, count);
        // Newest review first (undated last), printed order within a review.
        let key = |n: &Value| (n["review"]["published"].as_str().unwrap_or("").to_owned(), n["position"].as_i64().unwrap());
        for pair in nodes.windows(2) {
            let (a, b) = (key(&pair[0]), key(&pair[1]));
            assert!(a.0 > b.0 || (a.0 == b.0 && (pair[0]["review"]["id"] != pair[1]["review"]["id"] || a.1 < b.1)), "{a:?} then {b:?}");
        }
        let all_ids = ids(&all["agency"]["recommendations"]);

        // Paged two at a time along the index: the same list.
        let mut paged = Vec::new();
        let mut after = Value::Null;
        loop {
            let p = app.query("query($s: String!, $a: String) { agency(slug: $s) { recommendations(first: 2, after: $a) { pageInfo { hasNextPage endCursor } nodes { id } } } }",
                json!({ "s": slug, "a": after })).await;
            let page = &p["agency"]["recommendations"];
            paged.extend(ids(page));
            if page["pageInfo"]["hasNextPage"] != true { break; }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(paged, all_ids);

        // Under several parents at once (numbered in a window): the same list again.
        let many = app.query("{ recurringAgencies(minReviews: 1, first: 5) { nodes { agency { slug recommendations(first: 100) { nodes { id } } } } } }", json!({})).await;
        let mine = many["recurringAgencies"]["nodes"].as_array().unwrap().iter().find(|n| n["agency"]["slug"] == slug.as_str()).unwrap();
        assert_eq!(ids(&mine["agency"]["recommendations"]), all_ids);

        // Counted only when asked.
        let cost = |q: &'static str| {
            let app = &app;
            let slug = slug.clone();
            async move {
                let before = app.statements();
                app.query(q, json!({ "s": slug })).await;
                app.statements() - before
            }
        };
        let plain = cost("query($s: String!) { agency(slug: $s) { recommendations(first: 3) { nodes { id } } } }").await;
        let counted = cost("query($s: String!) { agency(slug: $s) { recommendations(first: 3) { totalCount nodes { id } } } }").await;
        assert_eq!(counted, plain + 1, "the total costs one statement, and only when asked");
    }
}
