//! The graph questions on the samples and on pages written for the purpose.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::*;

fn names(list: &Value, path: &[&str]) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let mut v = n;
            for p in path {
                v = &v[*p];
            }
            v.as_str().unwrap().to_owned()
        })
        .collect()
}

both! {
    async fn recurring_agencies_rank_and_leave_collectives_out(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let q = "query($min: Int, $c: Boolean, $s: Sector, $from: String, $first: Int, $after: String) {
            recurringAgencies(minReviews: $min, includeCollective: $c, sector: $s, publishedFrom: $from, first: $first, after: $after) {
              totalCount pageInfo { hasNextPage endCursor }
              nodes { agency { name sector } reviewCount recommendationCount firstPublished lastPublished csps { name } } } }";
        let data = app.query(q, json!({})).await["recurringAgencies"].clone();
        let nodes = data["nodes"].as_array().unwrap();
        assert!(nodes.iter().all(|n| n["reviewCount"].as_i64().unwrap() >= 2));
        let counts: Vec<i64> = nodes.iter().map(|n| n["reviewCount"].as_i64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most reviews first: {counts:?}");
        let gp = nodes.iter().find(|n| n["agency"]["name"] == "GP practice").expect("GP practice recurs");
        assert_eq!(names(&gp["csps"], &["name"]), vec!["Bassetlaw", "Liverpool"]);
        assert_eq!(gp["firstPublished"], "2023-06");
        assert_eq!(gp["lastPublished"], "2023-07");

        // Collective addressees are out of the ranking unless asked for.
        let all = app.query(q, json!({ "min": 1, "first": 100 })).await["recurringAgencies"].clone();
        assert!(all["nodes"].as_array().unwrap().iter().all(|n| n["agency"]["sector"] != "COLLECTIVE"));
        let with = app.query(q, json!({ "min": 1, "first": 100, "c": true })).await["recurringAgencies"].clone();
        let collective: Vec<String> = with["nodes"].as_array().unwrap().iter()
            .filter(|n| n["agency"]["sector"] == "COLLECTIVE")
            .map(|n| n["agency"]["name"].as_str().unwrap().to_owned()).collect();
        assert!(collective.contains(&"All Agencies".to_owned()), "{collective:?}");
        assert_eq!(
            with["totalCount"].as_i64().unwrap(),
            all["totalCount"].as_i64().unwrap() + collective.len() as i64
        );

        // Paging walks the ranking once.
        let first = app.query(q, json!({ "min": 1, "first": 3 })).await["recurringAgencies"].clone();
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let next = app.query(q, json!({ "min": 1, "first": 3, "after": first["pageInfo"]["endCursor"] })).await["recurringAgencies"].clone();
        let mut walked = names(&first["nodes"], &["agency", "name"]);
        walked.extend(names(&next["nodes"], &["agency", "name"]));
        assert_eq!(walked, names(&all["nodes"], &["agency", "name"])[..6].to_vec());

        // Scope: sector and publication window.
        let police = app.query(q, json!({ "min": 1, "s": "POLICE" })).await["recurringAgencies"].clone();
        assert!(police["nodes"].as_array().unwrap().iter().all(|n| n["agency"]["sector"] == "POLICE"));
        let late = app.query(q, json!({ "min": 1, "from": "2024-01" })).await["recurringAgencies"].clone();
        assert!(late["nodes"].as_array().unwrap().iter().all(|n| n["firstPublished"].as_str().unwrap() >= "2024-01"));
        let (code, _) = app.error_code(q, json!({ "from": "2024" })).await;
        assert_eq!(code, "BAD_USER_INPUT");
    }
}

both! {
    async fn an_agency_traced_across_reviews_oldest_first(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let data = app.query("{ agency(slug: \"gp-practice\") {
            trace { totalCount nodes { review { title published } recommendations { label addressedTo } } }
            coAddressed(first: 20) { agency { name sector } sharedReviews } } }", json!({})).await;
        let trace = &data["agency"]["trace"];
        assert_eq!(trace["totalCount"], 2);
        let entries = trace["nodes"].as_array().unwrap();
        assert_eq!(entries[0]["review"]["title"], "Bassetlaw review");
        assert_eq!(entries[1]["review"]["title"], "Liverpool review");
        assert_eq!(names(&entries[0]["recommendations"], &["label"]), vec!["5.1"]);
        // Only what the review addressed to this agency: Liverpool's third row "1", not the others.
        assert_eq!(names(&entries[1]["recommendations"], &["addressedTo"]), vec!["GP Practice"]);

        let co = data["agency"]["coAddressed"].as_array().unwrap();
        let co_names = names(&data["agency"]["coAddressed"], &["agency", "name"]);
        assert!(co_names.contains(&"Merseyside Police".to_owned()), "{co_names:?}");
        assert!(co_names.contains(&"Her Majesty's Government".to_owned()), "{co_names:?}");
        assert!(co.iter().all(|c| c["agency"]["sector"] != "COLLECTIVE"));
        assert!(!co_names.contains(&"GP practice".to_owned()), "not co-addressed with itself");
        let kent = app.query("{ agency(slug: \"KMPT\") { coAddressed { agency { name } sharedReviews } } }", json!({})).await;
        assert_eq!(kent["agency"]["coAddressed"], json!([{ "agency": { "name": "Kent Police" }, "sharedReviews": 1 }]));
    }
}

both! {
    async fn the_network_has_each_pair_once_weighted_by_shared_reviews(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let q = "query($m: Int, $c: Boolean) { agencyNetwork(minSharedReviews: $m, includeCollective: $c) {
            nodes { agency { id name } reviewCount } edges { source { id name } target { id name } sharedReviews } } }";
        let net = app.query(q, json!({ "m": 2 })).await["agencyNetwork"].clone();
        let edges = net["edges"].as_array().unwrap();
        // Southampton's two listings address the same three bodies: three edges of weight 2.
        assert_eq!(edges.len(), 3, "{edges:#?}");
        assert!(edges.iter().all(|e| e["sharedReviews"] == 2));
        let nodes = names(&net["nodes"], &["agency", "name"]);
        assert!(nodes.contains(&"Home Office".to_owned()));
        assert!(nodes.contains(&"Southampton Safe City Partnership".to_owned()));

        let all = app.query(q, json!({ "m": 1 })).await["agencyNetwork"].clone();
        let mut pairs = std::collections::HashSet::new();
        for e in all["edges"].as_array().unwrap() {
            let (s, t) = (e["source"]["id"].as_str().unwrap(), e["target"]["id"].as_str().unwrap());
            assert_ne!(s, t);
            assert!(pairs.insert((s.min(t).to_owned(), s.max(t).to_owned())), "pair listed twice");
        }
        let kmpt_police = all["edges"].as_array().unwrap().iter().any(|e| {
            let ends = [e["source"]["name"].as_str().unwrap(), e["target"]["name"].as_str().unwrap()];
            ends.contains(&"Kent Police") && ends.contains(&"Kent and Medway Mental Health NHS Trust")
        });
        assert!(kmpt_police, "KMPT and Kent Police share a review");
        assert!(all["nodes"].as_array().unwrap().iter().all(|n| n["agency"]["name"] != "All Agencies"));
        let with = app.query(q, json!({ "m": 1, "c": true })).await["agencyNetwork"].clone();
        assert!(names(&with["nodes"], &["agency", "name"]).contains(&"All Agencies".to_owned()));
    }
}

both! {
    async fn sector_stats_by_year_and_csp(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let by_year = app.query("{ sectorStats(groupBy: YEAR) { sector year csp { name } reviewCount recommendationCount } }", json!({})).await;
        let rows = by_year["sectorStats"].as_array().unwrap();
        let find = |sector: &str, year: i64| rows.iter().find(|r| r["sector"] == sector && r["year"] == year).cloned();
        // December 2022: Kent (Kent and Medway CCG) and Nottingham (Greater Nottingham CCP).
        let hc = find("HEALTH_COMMISSIONING", 2022).expect("health commissioning in 2022");
        assert_eq!(hc["reviewCount"], 2);
        assert_eq!(hc["recommendationCount"], 8);
        assert!(rows.iter().all(|r| r["csp"].is_null()));
        assert_eq!(find("NATIONAL_GOVERNMENT", 2024).unwrap()["reviewCount"], 1);

        let by_csp = app.query("{ sectorStats(groupBy: CSP, filter: { publishedTo: \"2022-12\" }) { sector year csp { name } reviewCount } }", json!({})).await;
        let rows = by_csp["sectorStats"].as_array().unwrap();
        let csps: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["csp"]["name"].as_str().unwrap()).collect();
        assert_eq!(csps.into_iter().collect::<Vec<_>>(), vec!["Kent", "Nottingham"]);
        assert!(rows.iter().all(|r| r["year"].is_null()));
    }
}

/// `n` pages written for the purpose: each a new review addressed to shared and new agencies.
fn written_pages(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let page = format!(
            "SOURCE: https://example.org/written-{i}/\nSource · Domestic Homicide Review\nTown {i} review\n\
             CSP: Town {i}\nPublished: March 2024\nYear of death: 2021\nExtracted: 3 recs\nSummary\nWritten for a test.\n\
             | # | Recommendation | Addressed to |\n|---|---|---|\n\
             | 1 | GPs should ask about domestic abuse. | GP Practice | Local Body {i} |\n\
             | 2 | Police should share information. | Kent Police |\n\
             | 3 | All agencies should train staff. | All Agencies |\n"
        );
        std::fs::write(dir.path().join(format!("w{i}.txt")), page).unwrap();
    }
    dir
}

both! {
    async fn graph_questions_cost_a_fixed_number_of_statements(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let queries = [
            ("recurringAgencies", "{ recurringAgencies(minReviews: 1, first: 50) { nodes { agency { name sector } reviewCount csps { name } } } }"),
            ("agencyNetwork", "{ agencyNetwork { nodes { agency { name } reviewCount } edges { source { name } target { name } sharedReviews } } }"),
            ("trace and coAddressed", "{ agencies(first: 50) { nodes { trace { nodes { review { title } recommendations { label } } } coAddressed { agency { name } sharedReviews } } } }"),
        ];
        let mut small = Vec::new();
        for (_, q) in queries {
            let before = app.statements();
            app.query(q, json!({})).await;
            small.push(app.statements() - before);
        }
        let dir = written_pages(8);
        assert_eq!(ingest(&app.database.url, &[dir.path()]).0, 0);
        for ((name, q), small) in queries.iter().zip(small) {
            let before = app.statements();
            let data = app.query(q, json!({})).await;
            let cost = app.statements() - before;
            assert!(small <= 5, "{name}: {small} statements");
            assert_eq!(cost, small, "{name}: statements grew with the data");
            assert!(!data.to_string().is_empty());
        }
        let gp = app.query("{ agency(slug: \"gp-practice\") { reviewCount trace { totalCount } } }", json!({})).await;
        assert_eq!(gp["agency"]["reviewCount"], 10);
        assert_eq!(gp["agency"]["trace"]["totalCount"], 10);
    }
}

both! {
    async fn mentions_let_gp_practice_recur_where_a_commissioner_was_addressed(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        // Nottingham 10.4b is addressed to the commissioning partnership but is about GP practices.
        let rec = "{ recommendations(filter: { textContains: \"take place by all GP Practice Staff\" }) {
              nodes { label agencies { name } mentions { agency { name } cue } } } }";
        let r = app.query(rec, json!({})).await["recommendations"]["nodes"][0].clone();
        assert_eq!(r["label"], "10.4b");
        assert_eq!(r["agencies"][0]["name"], "Greater Nottingham Clinical Commissioning Partnership");
        assert_eq!(r["mentions"], json!([{ "agency": { "name": "GP practice" }, "cue": "GP practice*" }]));
        // A recommendation addressed to GP practice does not mention it as well.
        let addressed = "{ agency(slug: \"gp-practice\") { recommendations(first: 50) { nodes { mentions { agency { name } } } } } }";
        let nodes = app.query(addressed, json!({})).await["agency"]["recommendations"]["nodes"].clone();
        assert!(!nodes.as_array().unwrap().is_empty());
        assert!(!nodes.to_string().contains("GP practice"), "{nodes}");

        let q = "query($m: Boolean) { recurringAgencies(includeMentions: $m, first: 100) {
              nodes { agency { name } reviewCount csps { name } } } }";
        let gp = |data: Value| {
            data["recurringAgencies"]["nodes"].as_array().unwrap().iter()
                .find(|n| n["agency"]["name"] == "GP practice").cloned().expect("GP practice recurs")
        };
        let addressed_only = gp(app.query(q, json!({})).await);
        assert_eq!(names(&addressed_only["csps"], &["name"]), vec!["Bassetlaw", "Liverpool"]);
        let with_mentions = gp(app.query(q, json!({ "m": true })).await);
        // Manchester 9.1a-c ("all GP practices to establish a policy") are addressed to the
        // CCG, too.
        assert_eq!(
            names(&with_mentions["csps"], &["name"]),
            vec!["Bassetlaw", "Liverpool", "Manchester", "Nottingham"]
        );
        assert_eq!(with_mentions["reviewCount"].as_i64().unwrap(), addressed_only["reviewCount"].as_i64().unwrap() + 2);

        // The network draws the same edge only when mentions count.
        let net = "query($m: Boolean) { agencyNetwork(includeMentions: $m) { edges { source { name } target { name } } } }";
        let pair = |data: Value| data["agencyNetwork"]["edges"].as_array().unwrap().iter().any(|e| {
            let ends = [e["source"]["name"].as_str().unwrap(), e["target"]["name"].as_str().unwrap()];
            ends.contains(&"GP practice") && ends.contains(&"Nottingham City Adult Social Care")
        });
        assert!(!pair(app.query(net, json!({})).await));
        assert!(pair(app.query(net, json!({ "m": true })).await));
    }
}

both! {
    async fn a_merge_carries_mentions_and_drops_those_now_addressed(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let (code, out, err) = cli(&["agencies", "--database-url", &url, "merge", "gp-practice",
            "Greater Nottingham Clinical Commissioning Partnership"]);
        assert_eq!(code, 0, "{out}{err}");
        let q = "{ recommendations(first: 100, filter: { csp: \"nottingham\" }) { nodes { label mentions { agency { name } } } } }";
        let nodes = app.query(q, json!({})).await["recommendations"]["nodes"].clone();
        // Nottingham's GP recommendations are now addressed to the merged agency: no mention left.
        assert!(nodes.as_array().unwrap().iter().all(|n| n["mentions"] == json!([])), "{nodes}");
        // Elsewhere a mention of GP practice now names the merged agency.
        let all = app.query("{ recommendations(first: 100) { nodes { mentions { agency { name } } } } }", json!({})).await;
        assert!(!all.to_string().contains("\"GP practice\""), "{all}");
    }
}

both! {
    async fn a_database_from_before_mentions_gets_them_on_upgrade(backend: Backend) {
        let mut app = TestApp::with_samples(backend).await;
        let count = "{ recurringAgencies(includeMentions: true, first: 100) { nodes { agency { name } reviewCount } } }";
        let before = app.query(count, json!({})).await;
        // Wind the database back to before the mentions migration.
        for sql in ["DROP TABLE recommendation_mention",
                    "DELETE FROM seaql_migrations WHERE version = 'm20261125_000007_mentions'"] {
            app.db.conn.execute_unprepared(sql).await.unwrap();
        }
        app.stop().await;
        let app = TestApp::start(app.take_database(), false).await;
        assert_eq!(app.query(count, json!({})).await, before, "mentions rebuilt on upgrade");
    }
}

both! {
    async fn a_new_page_costs_the_same_statements_however_many_new_agencies_it_names(backend: Backend) {
        use dhr_graph_api::ingest::{StoreOptions, ingest_text_with};
        use dhr_graph_api::write::WritePath;
        let app = TestApp::with_samples(backend).await;
        // A batch write path: its similarity upkeep waits for settle(), so nothing runs in
        // the background while the statements are counted.
        let db = dhr_graph_api::db::connect(&app.database.url, 1).await.unwrap();
        let path = WritePath::batch(db.conn.clone());
        let page = |town: &str, names: &[String]| format!(
            "SOURCE: https://example.org/{town}/\nSource · Domestic Homicide Review\n{town} review\n\
             CSP: Kent\nPublished: March 2024\nYear of death: 2021\nExtracted: 3 recs\nSummary\nWritten for a test.\n\
             | # | Recommendation | Addressed to |\n|---|---|---|\n\
             | 1 | GPs should ask about domestic abuse. | {} |\n\
             | 2 | Police should share information. | Kent Police |\n\
             | 3 | All agencies should train staff. | All Agencies |\n",
            names.join(" | "));
        let mut cost = Vec::new();
        for (town, n) in [("Alpha", 1), ("Beta", 12)] {
            let names: Vec<String> = (1..=n).map(|i| format!("{town} Outreach Project {i}")).collect();
            let before = db.statements.get();
            let report = ingest_text_with(&path, &page(town, &names), &StoreOptions::default()).await.unwrap();
            cost.push(db.statements.get() - before);
            assert_eq!(report.stored.new_agencies.len(), n);
        }
        // New agencies are written together: one slug lookup, one insert, one alias insert.
        assert_eq!(cost[1], cost[0], "statements grew with the page's new agencies: {cost:?}");
        path.settle().await.unwrap();
        let problems = dhr_graph_api::write::check::verify(&db.conn).await.unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    }
}
