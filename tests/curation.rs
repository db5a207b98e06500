//! Curation commands through the real CLI, checked through the API, honoured by later ingests.

use serde_json::json;

use crate::helpers::*;

fn agencies(url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["agencies", "--database-url", url];
    all.extend(args);
    cli(&all)
}

fn page(name: &str, addressee: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "SOURCE: https://example.org/{name}/\nSource · Domestic Homicide Review\n{name} review\nCSP: {name}\n\
         Published: May 2024\nExtracted: 1 recs\nSummary\nWritten for a test.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
         | 1 | Review the policy. | {addressee} |\n"
    );
    std::fs::write(dir.path().join("p.txt"), text).unwrap();
    dir
}

both! {
    async fn merge_moves_links_keeps_the_name_and_later_ingests_follow(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let q = "{ all: agency(slug: \"all-agencies\") { reviewCount recommendationCount aliases }
                   other: agency(slug: \"other-agencies\") { slug } }";
        let before = app.query(q, json!({})).await;
        assert_eq!(before["other"]["slug"], "other-agencies");

        let (code, out, err) = agencies(&url, &["merge", "Other agencies", "all-agencies"]);
        assert_eq!(code, 0, "{out}{err}");
        let after = app.query(q, json!({})).await;
        assert_eq!(after["other"]["slug"], "all-agencies", "the old name leads to the merged agency");
        let slugs = app.query("{ agencies(first: 100, orderBy: NAME_ASC) { nodes { slug } } }", json!({})).await;
        assert!(!slugs.to_string().contains("\"other-agencies\""), "the merged agency is gone");
        assert_eq!(after["all"]["reviewCount"].as_i64().unwrap(), before["all"]["reviewCount"].as_i64().unwrap() + 1);
        assert!(after["all"]["aliases"].as_array().unwrap().contains(&json!("other agencies")), "{after}");

        // A later page naming "Other Agencies" lands on All Agencies.
        let dir = page("Later", "Other Agencies");
        assert_eq!(ingest(&url, &[dir.path()]).0, 0);
        let later = app.query(q, json!({})).await;
        assert_eq!(later["all"]["reviewCount"].as_i64().unwrap(), after["all"]["reviewCount"].as_i64().unwrap() + 1);
        assert_eq!(later["other"]["slug"], "all-agencies");

        let (code, _, err) = agencies(&url, &["merge", "all-agencies", "All Agencies"]);
        assert_eq!(code, 1);
        assert!(err.contains("same agency"), "{err}");
        let (code, _, err) = agencies(&url, &["merge", "no-such-body", "all-agencies"]);
        assert_eq!(code, 1);
        assert!(err.contains("no agency \"no-such-body\""), "{err}");
    }
}

both! {
    async fn alias_set_sector_and_unknown(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let url = app.database.url.clone();
        let dir = page("Town", "Town Borough Council");
        assert_eq!(ingest(&url, &[dir.path()]).0, 0);

        let (code, out, _) = agencies(&url, &["unknown"]);
        assert_eq!(code, 0);
        assert!(out.contains("town-borough-council\t1\t1\tTown Borough Council"), "{out}");

        let (code, _, err) = agencies(&url, &["set-sector", "town-borough-council", "LOCAL_AUTHORITEE"]);
        assert_eq!(code, 1);
        assert!(err.contains("LOCAL_AUTHORITY"), "the valid sectors are listed: {err}");
        let (code, out, err) = agencies(&url, &["set-sector", "Town Borough Council", "local authority"]);
        assert_eq!(code, 0, "{out}{err}");
        let (_, out, _) = agencies(&url, &["unknown"]);
        assert!(!out.contains("town-borough-council"), "{out}");
        let data = app.query("{ agency(slug: \"town-borough-council\") { sector } }", json!({})).await;
        assert_eq!(data["agency"]["sector"], "LOCAL_AUTHORITY");

        let (code, out, err) = agencies(&url, &["alias", "TBC", "town-borough-council"]);
        assert_eq!(code, 0, "{out}{err}");
        let dir = page("Town2", "TBC");
        assert_eq!(ingest(&url, &[dir.path()]).0, 0);
        let data = app.query("{ agency(slug: \"town-borough-council\") { reviewCount aliases } agencies { totalCount } }", json!({})).await;
        assert_eq!(data["agency"]["reviewCount"], 2, "the alias is honoured: {data}");
        assert_eq!(data["agencies"]["totalCount"], 1);

        let dir = page("Town3", "Town Police");
        assert_eq!(ingest(&url, &[dir.path()]).0, 0);
        let (code, _, err) = agencies(&url, &["alias", "Town Police", "town-borough-council"]);
        assert_eq!(code, 1);
        assert!(err.contains("already names \"Town Police\""), "{err}");
    }
}
