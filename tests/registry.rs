//! Issue 12: review pages written for the purpose (bodies the fixtures never name) resolve
//! through the registry, with the review's context, on both engines.

use serde_json::{Value, json};

use crate::helpers::*;

fn table_page(slug: &str, csp: &str, published: &str, rows: &[(&str, &[&str])]) -> String {
    let mut text = format!(
        "SOURCE: https://example.org/{slug}/\nSource · Domestic Homicide Review\n{slug} review\nCSP: {csp}\n\
         Published: {published}\nExtracted: {} recs\nSummary\nWritten for a test.\n\
         | # | Recommendation | Addressed to |\n|---|---|---|\n",
        rows.len()
    );
    for (i, (rec, to)) in rows.iter().enumerate() {
        text.push_str(&format!("| {} | {rec} | {} |\n", i + 1, to.join(" | ")));
    }
    text.push_str("| Recommendations extracted from the published report. | ||\n");
    text
}

fn write(dir: &tempfile::TempDir, file: &str, text: &str) {
    std::fs::write(dir.path().join(file), text).unwrap();
}

const RECS: &str = "query($csp: String) { reviews(filter: { csp: $csp }) { nodes { title recommendations(first: 50) { nodes {
    label text addressedTo
    addressees { position resolution { method reason } agency { name slug sector kind registryCode scope
      parent { name } children { name } successor { name } successorYear predecessors { name } } } } } } } }";

fn rows(data: &Value) -> Vec<Value> {
    data["reviews"]["nodes"][0]["recommendations"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

fn addressee(row: &Value, n: usize) -> &Value {
    &row["addressees"][n]
}

both! {
    async fn unseen_bodies_resolve_by_register_abbreviation_service_and_context(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "wigan.txt", &table_page("wigan-1", "Wigan", "March 2025", &[
            ("Review call handling. Greater Manchester Mental Health NHS Foundation Trust (GMMH) should also be told.", &["Police"]),
            ("Commission a DA pathway.", &["NHS Greater Manchester"]),
            ("Assess carers.", &["Adult Social Care", "Children's Social Care"]),
            ("Follow up missed appointments.", &["GMMH"]),
            ("Fund IDVAs.", &["OPCC"]),
            ("Lead the partnership.", &["Wigan Council"]),
            ("Change the law.", &["National Government"]),
            ("Train health visitors.", &["Bridgewater Community Healthcare NHS Foundation Trust"]),
            ("Audit the plan.", &["Borsetshire Domestic Abuse Forum"]),
        ]));
        write(&dir, "kent.txt", &table_page("kent-1", "Kent", "June 2024", &[
            ("Fund IDVAs.", &["OPCC"]),
        ]));
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");

        let data = app.query(RECS, json!({ "csp": "Wigan" })).await;
        let r = rows(&data);
        let police = addressee(&r[0], 0);
        assert_eq!(police["agency"]["name"], "Greater Manchester Police");
        assert_eq!(police["agency"]["kind"], "POLICE_FORCE");
        assert_eq!(police["agency"]["registryCode"], "force:greater-manchester");
        assert_eq!(police["resolution"]["method"], "CONTEXT");
        assert!(police["resolution"]["reason"].as_str().unwrap().contains("Wigan"), "{police}");

        let icb = addressee(&r[1], 0);
        assert_eq!(icb["agency"]["name"], "NHS Greater Manchester Integrated Care Board");
        assert_eq!(icb["agency"]["sector"], "HEALTH_COMMISSIONING");
        assert_eq!(icb["agency"]["scope"], "REGIONAL");
        assert_eq!(icb["resolution"]["method"], "REGISTRY");

        let (asc, csc) = (addressee(&r[2], 0), addressee(&r[2], 1));
        assert_eq!(asc["agency"]["sector"], "ADULT_SOCIAL_CARE");
        assert_eq!(asc["agency"]["kind"], "LOCAL_AUTHORITY_SERVICE");
        assert_eq!(csc["agency"]["sector"], "CHILDRENS_SERVICES");
        assert_eq!(csc["resolution"]["method"], "CONTEXT");
        // The council came later in the page; the services are linked to it all the same.
        assert_eq!(asc["agency"]["parent"]["name"], "Wigan Metropolitan Borough Council");
        let council = addressee(&r[5], 0);
        assert_eq!(council["agency"]["name"], "Wigan Metropolitan Borough Council");
        let children: Vec<&str> = council["agency"]["children"].as_array().unwrap().iter()
            .map(|c| c["name"].as_str().unwrap()).collect();
        assert!(children.contains(&"Wigan Metropolitan Borough Council Adult Social Care"), "{children:?}");

        // An abbreviation the review defines joins the body it defines.
        let gmmh = addressee(&r[3], 0);
        assert_eq!(gmmh["agency"]["name"], "Greater Manchester Mental Health NHS Foundation Trust");
        assert_eq!(gmmh["agency"]["sector"], "MENTAL_HEALTH");
        assert_eq!(gmmh["resolution"]["method"], "ABBREVIATION");

        assert_eq!(addressee(&r[6], 0)["agency"]["sector"], "NATIONAL_GOVERNMENT");
        assert_eq!(addressee(&r[6], 0)["resolution"]["method"], "RULE");
        assert_eq!(addressee(&r[7], 0)["agency"]["sector"], "COMMUNITY_HEALTH");
        let unknown = addressee(&r[8], 0);
        assert_eq!(unknown["agency"]["sector"], "SPECIALIST_DOMESTIC_ABUSE");
        assert_eq!(unknown["agency"]["name"], "Borsetshire Domestic Abuse Forum");

        // One OPCC per force area, never one national agency.
        let wigan_opcc = addressee(&r[4], 0)["agency"]["slug"].clone();
        let kent = app.query(RECS, json!({ "csp": "Kent" })).await;
        let kent_opcc = addressee(&rows(&kent)[0], 0)["agency"].clone();
        assert_ne!(kent_opcc["slug"], wigan_opcc);
        assert_eq!(kent_opcc["sector"], "POLICING_OVERSIGHT");

        // Filters by kind, scope and resolution.
        let q = "{ ctx: agencies(first: 50, filter: { resolution: CONTEXT }) { nodes { name } }
                   forces: agencies(first: 50, filter: { kind: POLICE_FORCE }) { nodes { name } }
                   national: agencies(first: 50, filter: { scope: NATIONAL }) { totalCount } }";
        let f = app.query(q, json!({})).await;
        let ctx: Vec<&str> = f["ctx"]["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert!(ctx.contains(&"Greater Manchester Police") && !ctx.contains(&"NHS Greater Manchester Integrated Care Board"), "{ctx:?}");
        assert_eq!(f["forces"]["nodes"], json!([{ "name": "Greater Manchester Police" }]));
        assert_eq!(f["national"]["totalCount"], 0);

        // `agencies unknown` lists what only a rule read, and not the registered bodies.
        let (code, out, _) = cli(&["agencies", "--database-url", &app.database.url, "unknown"]);
        assert_eq!(code, 0);
        assert!(out.contains("Borsetshire Domestic Abuse Forum\tRULE"), "{out}");
        assert!(!out.contains("Greater Manchester Police"), "{out}");
    }
}

both! {
    async fn flat_rows_keep_every_addressee_and_contexts_differ(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let page = "SOURCE: https://example.org/swansea-1/\nSource · Domestic Homicide Review\n\nSwansea review\n\n\
            CSP: Swansea Published: January 2025 Year of death: 2021 Extracted: 4 recs\n\nSummary\n\nWritten for a test.\n\n\
            # Recommendation Addressed to\n\
            1 Review the statutory guidance on reviews. Home Office | Ministry of Justice\n\
            2 Share learning across the region; Health Board\n\
            3 Agencies should • train staff in routine enquiry • audit their records South Wales Police Swansea Council\n\
            4 Ensure that risk is reviewed at every contact Probation Service Wales\n\
            Recommendations extracted from the published report.\n";
        write(&dir, "swansea.txt", page);
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(!out.contains("could not be split"), "{out}");
        let r = rows(&app.query(RECS, json!({ "csp": "Swansea" })).await);
        let names = |row: &Value| -> Vec<String> {
            row["addressees"].as_array().unwrap().iter().map(|a| a["agency"]["name"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(r[0]["text"], "Review the statutory guidance on reviews.");
        assert_eq!(names(&r[0]), vec!["Home Office", "Ministry of Justice"]);
        assert_eq!(r[1]["text"], "Share learning across the region;");
        assert_eq!(names(&r[1]), vec!["Swansea Bay University Health Board"]);
        assert_eq!(r[2]["text"], "Agencies should • train staff in routine enquiry • audit their records");
        assert_eq!(names(&r[2])[0], "South Wales Police");
        assert_eq!(names(&r[2]).len(), 2, "{:?}", names(&r[2]));
        assert_eq!(r[2]["addressees"][1]["agency"]["sector"], "LOCAL_AUTHORITY");
        assert_eq!(r[3]["text"], "Ensure that risk is reviewed at every contact");
        assert_eq!(names(&r[3]), vec!["Probation Service Wales"]);
        assert_eq!(r[0]["addressedTo"], "Home Office | Ministry of Justice");
    }
}

both! {
    async fn a_generic_name_no_area_tells_apart_stays_in_its_area(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        // Several acute trusts serve Harlow and Nuneaton: neither "the hospital" is guessed,
        // and the two are never one agency; a second Harlow review finds Harlow's again.
        for (file, csp) in [("h1.txt", "Harlow"), ("n1.txt", "Nuneaton and Bedworth"), ("h2.txt", "Harlow")] {
            write(&dir, file, &table_page(file, csp, "March 2025", &[
                ("Review discharge planning.", &["the hospital"]),
                ("Share records.", &["Hull CC"]),
            ]));
        }
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        let agency_of = |csp: &'static str| {
            let app = &app;
            async move {
                let data = app.query("query($csp: String) { reviews(filter: { csp: $csp }) { nodes { recommendations(first: 5) { nodes {
                    addressees { resolution { method } agency { slug name sector } } } } } } }", json!({ "csp": csp })).await;
                data["reviews"]["nodes"].as_array().unwrap().iter()
                    .map(|r| r["recommendations"]["nodes"][0]["addressees"][0].clone()).collect::<Vec<_>>()
            }
        };
        let harlow = agency_of("Harlow").await;
        let nuneaton = agency_of("Nuneaton and Bedworth").await;
        assert_eq!(harlow.len(), 2);
        assert_eq!(harlow[0]["agency"]["slug"], harlow[1]["agency"]["slug"], "one Harlow hospital: {harlow:?}");
        assert_ne!(harlow[0]["agency"]["slug"], nuneaton[0]["agency"]["slug"], "two areas' hospitals are two agencies");
        assert_eq!(harlow[0]["agency"]["sector"], "ACUTE_HEALTH");
        assert!(harlow[0]["agency"]["name"].as_str().unwrap().contains("Harlow"), "{harlow:?}");
        // A council's short form names that council wherever it is printed: one agency.
        let all = app.query("{ agencies(first: 50) { nodes { name } } }", json!({})).await;
        let names: Vec<&str> = all["agencies"]["nodes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names.iter().filter(|n| **n == "Hull City Council").count(), 1, "{names:?}");
        assert!(!names.iter().any(|n| n.contains("CC")), "{names:?}");
    }
}

both! {
    async fn a_renamed_body_is_one_agency_and_a_reorganised_one_links_its_successor(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "old.txt", &table_page("kent-old", "Kent", "May 2019", &[
            ("Assess risk.", &["Kent and Medway NHS and Social Care Partnership Trust"]),
            ("Commission services.", &["NHS Kent and Medway CCG"]),
            ("Supervise the offender.", &["National Probation Service"]),
        ]));
        write(&dir, "new.txt", &table_page("kent-new", "Kent", "May 2024", &[
            ("Assess risk.", &["Kent and Medway Mental Health NHS Trust"]),
            ("Commission services.", &["NHS Kent and Medway"]),
            ("Supervise the offender.", &["The Probation Service"]),
        ]));
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        let q = "{ trust: agency(slug: \"kent-and-medway-mental-health-nhs-trust\") { reviewCount registryCode }
                   ccg: agency(slug: \"nhs-kent-and-medway-ccg\") { kind successor { name } successorYear }
                   icb: agency(slug: \"nhs-kent-and-medway-integrated-care-board\") { kind predecessors { name } }
                   nps: agency(slug: \"national-probation-service\") { successor { name } successorYear } }";
        let d = app.query(q, json!({})).await;
        assert_eq!(d["trust"]["reviewCount"], 2, "the old and the new name are one trust: {d}");
        assert_eq!(d["trust"]["registryCode"], "ods:RXY");
        assert_eq!(d["ccg"]["kind"], "CCG");
        assert_eq!(d["ccg"]["successor"]["name"], "NHS Kent and Medway Integrated Care Board");
        assert_eq!(d["ccg"]["successorYear"], 2022);
        assert_eq!(d["icb"]["predecessors"], json!([{ "name": "NHS Kent and Medway CCG" }]));
        assert_eq!(d["nps"]["successor"]["name"], "Probation Service");
        assert_eq!(d["nps"]["successorYear"], 2021);
    }
}

both! {
    async fn a_curators_alias_wins_over_the_registry_at_the_next_ingest(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let url = app.database.url.clone();
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "a.txt", &table_page("a", "Kent", "May 2024", &[("Do it.", &["Kent Fire and Rescue Service"])]));
        assert_eq!(ingest(&url, &[dir.path()]).0, 0);
        // A curator teaches "KFRS" as a name of the fire service, which no register holds.
        let (code, out, err) = cli(&["agencies", "--database-url", &url, "alias", "KFRS", "Kent Fire and Rescue Service"]);
        assert_eq!(code, 0, "{out}{err}");
        let later = tempfile::tempdir().unwrap();
        write(&later, "b.txt", &table_page("b", "Kent", "June 2024", &[("Do it.", &["KFRS"])]));
        assert_eq!(ingest(&url, &[later.path()]).0, 0);
        let r = rows(&app.query(RECS, json!({ "csp": "Kent" })).await);
        let link = addressee(&r[0], 0);
        assert_eq!(link["agency"]["name"], "Kent Fire and Rescue Service");
        assert_eq!(link["resolution"]["method"], "CURATED");
        let (code, out, _) = cli(&["agencies", "--database-url", &url, "explain", "KFRS"]);
        assert_eq!(code, 0);
        assert!(out.contains("method\tCURATED"), "{out}");
        let (_, out, _) = cli(&["agencies", "--database-url", &url, "explain", "Police", "--csp", "Dudley"]);
        assert!(out.contains("method\tCONTEXT") && out.contains("West Midlands Police"), "{out}");
    }
}

both! {
    async fn an_existing_database_upgrades_keeping_links_aliases_and_curated_decisions(backend: Backend) {
        use migration::MigratorTrait;
        use sea_orm::ConnectionTrait;
        let database = TestDb::new(backend).await;
        {
            // The database as the release before the registry left it (migration 10).
            let url = match backend {
                Backend::Sqlite => format!("{}?mode=rwc", database.url),
                Backend::Postgres => database.url.clone(),
            };
            let conn = sea_orm::Database::connect(&url).await.unwrap();
            migration::Migrator::up(&conn, Some(10)).await.unwrap();
            for sql in [
                "INSERT INTO agency (slug, name, sector, review_count, recommendation_count) VALUES \
                 ('kent-police', 'Kent Police', 'POLICE', 1, 1), \
                 ('town-borough-council', 'Town Borough Council', 'OTHER', 1, 1), \
                 ('office-of-the-police-and-crime-commissioner', 'Office of the Police and Crime Commissioner', 'POLICING_OVERSIGHT', 1, 1)",
                "INSERT INTO agency_alias (agency_id, name, key) SELECT id, 'Kent Police', 'kent police' FROM agency WHERE slug = 'kent-police'",
                "INSERT INTO agency_alias (agency_id, name, key) SELECT id, 'Kent Constab', 'kent constab' FROM agency WHERE slug = 'kent-police'",
                "INSERT INTO agency_alias (agency_id, name, key) SELECT id, 'Town Borough Council', 'town borough council' FROM agency WHERE slug = 'town-borough-council'",
                "INSERT INTO agency_alias (agency_id, name, key) SELECT id, 'OPCC', 'opcc' FROM agency WHERE slug = 'office-of-the-police-and-crime-commissioner'",
                "INSERT INTO review (source_key, title, published, summary, stated_recommendation_count, recommendation_count, incomplete, review_type, content_hash, created_at, updated_at) \
                 VALUES ('url:https://example.org/old', 'Old review', '2020-01', 's', 1, 1, FALSE, 'DHR', 'h', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00')",
                "INSERT INTO recommendation (review_id, position, label, text, addressed_to) SELECT id, 1, '1', 'Do it.', 'Kent Police | Town Borough Council | OPCC' FROM review",
                "INSERT INTO recommendation_agency (recommendation_id, agency_id, position) SELECT r.id, a.id, 1 FROM recommendation r, agency a",
            ] {
                conn.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
        let app = TestApp::start(database, false).await;
        let conn = sea_orm::Database::connect(&app.database.url).await.unwrap();
        let one = |sql: &'static str| {
            let conn = conn.clone();
            async move {
                let row = conn.query_one_raw(sea_orm::Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
                row.try_get_by_index::<String>(0).unwrap()
            }
        };
        assert_eq!(one("SELECT CAST(COUNT(*) AS TEXT) FROM recommendation_agency").await, "3", "every link kept");
        assert_eq!(one("SELECT method FROM recommendation_agency ra JOIN agency a ON a.id = ra.agency_id WHERE a.slug = 'kent-police'").await, "CURATED");
        assert_eq!(one("SELECT method FROM recommendation_agency ra JOIN agency a ON a.id = ra.agency_id WHERE a.slug = 'town-borough-council'").await, "UNRESOLVED");
        assert_eq!(one("SELECT origin FROM agency_alias WHERE key = 'kent constab'").await, "CURATED");
        assert_eq!(one("SELECT origin FROM agency_alias WHERE key = 'opcc'").await, "INGEST", "a generic name is not kept as one national body");

        let dir = tempfile::tempdir().unwrap();
        write(&dir, "new.txt", &table_page("kent-new", "Kent", "May 2024", &[
            ("Do it.", &["Kent Constab"]),
            ("Fund IDVAs.", &["OPCC"]),
        ]));
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        let d = app.query("{ agency(slug: \"kent-police\") { reviewCount registryCode kind } }", json!({})).await;
        assert_eq!(d["agency"]["reviewCount"], 2, "the curator's alias still leads to the same agency: {d}");
        assert_eq!(d["agency"]["registryCode"], "force:kent", "and it gained the register's code");
        let r = rows(&app.query(RECS, json!({ "csp": "Kent" })).await);
        let opcc = addressee(&r[1], 0);
        assert_eq!(opcc["resolution"]["method"], "CONTEXT");
        assert_ne!(opcc["agency"]["slug"], "office-of-the-police-and-crime-commissioner");
    }
}

both! {
    async fn a_pages_csp_is_the_dhrd_csp_of_its_area(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "a.txt", &table_page("dudley-a", "Safe and Sound (the Dudley Community Safety Partnership)", "May 2024", &[("Do it.", &["Police"])]));
        write(&dir, "b.txt", &table_page("dudley-b", "Dudley", "June 2024", &[("Do it.", &["Police"])]));
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        let d = app.query("{ csps { totalCount nodes { name reviews { totalCount } } } agencies { nodes { name reviewCount } } }", json!({})).await;
        assert_eq!(d["csps"]["totalCount"], 1, "{d}");
        assert_eq!(d["csps"]["nodes"][0]["name"], "Dudley");
        assert_eq!(d["agencies"]["nodes"], json!([{ "name": "West Midlands Police", "reviewCount": 2 }]));
    }
}

both! {
    async fn reresolve_shows_then_writes_what_the_registry_now_says(backend: Backend) {
        use sea_orm::ConnectionTrait;
        let app = TestApp::with_samples(backend).await;
        let url = app.database.url.clone();
        let conn = app.db.conn.clone();
        // The samples were resolved by this registry: nothing to change.
        let (code, out, err) = cli(&["agencies", "--database-url", &url, "reresolve"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.trim_end().ends_with(")") && out.starts_with("0 of "), "{out}");

        // An older registry's decision, written properly (through the write path): two
        // GP practice recommendations sent to Kent Police, one of them by a curator.
        let q = "{ recommendations(first: 2, filter: { agency: \"gp-practice\" }) { nodes { id label review { id } } } }";
        let recs = app.query(q, json!({})).await["recommendations"]["nodes"].as_array().unwrap().clone();
        let id = |v: &Value| dhr_graph_api::graphql::ids::decode("id", &async_graphql::ID(v.as_str().unwrap().to_owned())).unwrap().1;
        let (wrong, curated) = (id(&recs[0]["id"]), id(&recs[1]["id"]));
        let reviews = vec![id(&recs[0]["review"]["id"]), id(&recs[1]["review"]["id"])];
        let path = dhr_graph_api::write::WritePath::batch(conn.clone());
        path.run(&reviews, |unit, reviews| Box::pin(async move {
            unit.reviews_changing(reviews).await?;
            let b = unit.db().get_database_backend();
            for (rec, method) in [(wrong, "REGISTRY"), (curated, "CURATED")] {
                unit.db().execute_raw(dhr_graph_api::sql::statement(b,
                    "UPDATE recommendation_agency SET agency_id = (SELECT id FROM agency WHERE slug = 'kent-police'), method = ? \
                     WHERE recommendation_id = ? AND agency_id = (SELECT id FROM agency WHERE slug = 'gp-practice')",
                    vec![method.into(), rec.into()])).await?;
            }
            // Mentions skip addressed agencies: they follow the links.
            for (i, rec) in [wrong, curated].into_iter().enumerate() {
                let text: String = unit.db().query_one_raw(dhr_graph_api::sql::statement(b,
                    "SELECT text FROM recommendation WHERE id = ?", vec![rec.into()])).await?
                    .unwrap().try_get("", "text")?;
                unit.texts_written(reviews[i], vec![(rec, text)], [], &[]);
            }
            Ok::<_, sea_orm::DbErr>(())
        })).await.unwrap();
        let diffs = dhr_graph_api::write::check::verify(&conn).await.unwrap();
        assert!(diffs.is_empty(), "{diffs:?}");
        let agencies_of = |rec: i32| {
            let conn = conn.clone();
            async move {
                conn.query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(), format!(
                    "SELECT a.slug FROM recommendation_agency ra JOIN agency a ON a.id = ra.agency_id \
                     WHERE ra.recommendation_id = {rec} ORDER BY ra.position"))).await.unwrap()
                    .iter().map(|r| r.try_get::<String>("", "slug").unwrap()).collect::<Vec<_>>()
            }
        };
        let before = agencies_of(wrong).await;
        assert!(before.contains(&"kent-police".to_owned()) && !before.contains(&"gp-practice".to_owned()), "{before:?}");

        // A dry run shows the change and writes nothing.
        let (code, out, err) = cli(&["agencies", "--database-url", &url, "reresolve"]);
        assert_eq!(code, 0, "{err}");
        let line = out.lines().find(|l| l.contains("\t->\t")).unwrap_or_else(|| panic!("{out}"));
        let (was, now) = line.split_once("\t->\t").unwrap();
        assert!(was.contains("kent-police"), "{line}");
        assert!(now.contains("gp-practice"), "{line}");
        assert!(out.contains("1 of ") && out.contains("would name") && out.contains("--apply"), "{out}");
        assert_eq!(agencies_of(wrong).await, before, "a dry run writes nothing");

        // Applied: the registry's answer, everything derived with it; the curator's stays.
        let (code, out, err) = cli(&["agencies", "--database-url", &url, "reresolve", "--apply"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("1 of ") && out.contains("now name"), "{out}");
        let after = agencies_of(wrong).await;
        assert!(after.contains(&"gp-practice".to_owned()), "{after:?}");
        assert!(agencies_of(curated).await.contains(&"kent-police".to_owned()), "a curator's decision stands");
        let diffs = dhr_graph_api::write::check::verify(&conn).await.unwrap();
        assert!(diffs.is_empty(), "{diffs:?}");
        let (_, again, _) = cli(&["agencies", "--database-url", &url, "reresolve"]);
        assert!(again.starts_with("0 of "), "{again}");
    }
}

both! {
    async fn recurrence_rolls_up_to_successors_and_parents(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "old.txt", &table_page("kent-old", "Kent", "May 2019", &[
            ("Commission services.", &["NHS Kent and Medway CCG"]),
            ("Assess carers.", &["Kent County Council Adult Social Care"]),
            ("Lead the partnership.", &["Kent County Council"]),
        ]));
        // One recommendation to the CCG and its ICB: one recommendation of the ICB's group.
        write(&dir, "mid.txt", &table_page("kent-mid", "Kent", "May 2021", &[
            ("Hand over the pathway.", &["NHS Kent and Medway CCG", "NHS Kent and Medway"]),
        ]));
        write(&dir, "new.txt", &table_page("kent-new", "Kent", "May 2024", &[
            ("Commission services.", &["NHS Kent and Medway"]),
            ("Review the child's plan.", &["Kent County Council Children's Social Care"]),
        ]));
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        let q = "query($r: RollUp) { recurringAgencies(minReviews: 1, first: 50, rollUp: $r) { totalCount nodes {
                   agency { slug } reviewCount recommendationCount firstPublished lastPublished csps { name } } } }";
        let ranked = |d: &Value| -> Vec<(String, i64, i64)> {
            d["recurringAgencies"]["nodes"].as_array().unwrap().iter()
                .map(|n| (n["agency"]["slug"].as_str().unwrap().to_owned(),
                          n["reviewCount"].as_i64().unwrap(), n["recommendationCount"].as_i64().unwrap()))
                .collect()
        };
        let (ccg, icb, kcc) = ("nhs-kent-and-medway-ccg", "nhs-kent-and-medway-integrated-care-board", "kent-county-council");
        let none = app.query(q, json!({ "r": "NONE" })).await;
        let plain = ranked(&none);
        assert!(plain.contains(&(ccg.into(), 2, 2)) && plain.contains(&(icb.into(), 2, 2)), "{plain:?}");
        assert_eq!(plain, ranked(&app.query(q, json!({})).await), "NONE is the default");

        let by_successor = app.query(q, json!({ "r": "SUCCESSOR" })).await;
        let s = ranked(&by_successor);
        assert_eq!(s[0], (icb.into(), 3, 3), "{s:?}");
        assert!(!s.iter().any(|(slug, ..)| slug == ccg), "the CCG counts under its ICB: {s:?}");
        let top = &by_successor["recurringAgencies"]["nodes"][0];
        assert_eq!((top["firstPublished"].as_str(), top["lastPublished"].as_str()), (Some("2019-05"), Some("2024-05")));
        assert_eq!(top["csps"], json!([{ "name": "Kent" }]));
        assert_eq!(by_successor["recurringAgencies"]["totalCount"].as_i64().unwrap(), s.len() as i64);

        let p = ranked(&app.query(q, json!({ "r": "PARENT" })).await);
        assert_eq!(p[0], (kcc.into(), 2, 3), "the council with its two services: {p:?}");
        assert!(!p.iter().any(|(slug, ..)| slug.contains("social-care")), "{p:?}");
        // The sector filter chooses what is counted before it is rolled up.
        let asc = app.query("{ recurringAgencies(minReviews: 1, sector: ADULT_SOCIAL_CARE, rollUp: PARENT) {
            nodes { agency { slug } reviewCount recommendationCount } } }", json!({})).await;
        assert_eq!(asc["recurringAgencies"]["nodes"], json!([{ "agency": { "slug": kcc }, "reviewCount": 1, "recommendationCount": 1 }]));
    }
}

both! {
    async fn a_csp_and_an_agency_know_their_area_from_the_registers(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let dir = tempfile::tempdir().unwrap();
        write(&dir, "kent.txt", &table_page("kent-a", "Kent", "May 2024", &[
            ("Commission services.", &["NHS Kent and Medway"]),
            ("Assess carers.", &["Kent County Council Adult Social Care"]),
        ]));
        write(&dir, "cardiff.txt", &table_page("cardiff-a", "Cardiff", "May 2024", &[("Do it.", &["Police"])]));
        let (code, out, err) = ingest(&app.database.url, &[dir.path()]);
        assert_eq!(code, 0, "{out}{err}");
        let body = "code name kind current agency { slug }";
        let q = format!("{{ kent: csp(slug: \"kent\") {{ region localAuthorities {{ {body} }} policeForce {{ {body} }} icb {{ {body} }} healthBoard {{ name }} }}
                   cardiff: csp(slug: \"cardiff\") {{ region localAuthorities {{ name }} policeForce {{ {body} }} icb {{ name }} healthBoard {{ name kind }} }}
                   icb: agency(slug: \"nhs-kent-and-medway-integrated-care-board\") {{ area {{ name }} }}
                   asc: agency(slug: \"kent-county-council-adult-social-care\") {{ area {{ name }} }} }}");
        let d = app.query(&q, json!({})).await;
        let kent = &d["kent"];
        assert_eq!(kent["region"], "South East");
        assert_eq!(kent["policeForce"]["name"], "Kent Police");
        assert_eq!(kent["policeForce"]["code"], "force:kent");
        assert_eq!(kent["policeForce"]["agency"], Value::Null, "no review addressed Kent Police");
        assert_eq!(kent["icb"]["name"], "NHS Kent and Medway Integrated Care Board");
        assert_eq!(kent["icb"]["agency"]["slug"], "nhs-kent-and-medway-integrated-care-board");
        assert_eq!(kent["healthBoard"], Value::Null);
        let las: Vec<&str> = kent["localAuthorities"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
        assert!(las.contains(&"Kent County Council"), "{las:?}");
        assert!(!las.iter().any(|l| l.contains("Cardiff")), "{las:?}");

        let cardiff = &d["cardiff"];
        assert_eq!(cardiff["region"], "Wales");
        assert_eq!(cardiff["policeForce"]["name"], "South Wales Police");
        assert_eq!(cardiff["policeForce"]["agency"]["slug"], "south-wales-police");
        assert_eq!(cardiff["icb"], Value::Null);
        assert_eq!(cardiff["healthBoard"]["name"], "Cardiff and Vale University Health Board");
        assert_eq!(cardiff["healthBoard"]["kind"], "HEALTH_BOARD");
        assert_eq!(cardiff["localAuthorities"], json!([{ "name": "City of Cardiff Council" }]));

        let names = |v: &Value| v["area"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        let icb_area = names(&d["icb"]);
        assert!(icb_area.contains(&"Kent County Council".into()) && icb_area.contains(&"Medway Council".into()), "{icb_area:?}");
        assert!(names(&d["asc"]).contains(&"Kent County Council".into()), "a service serves its council's area");
    }
}

both! {
    async fn resolving_a_pages_addressees_is_two_lookups_however_many_names(backend: Backend) {
        use dhr_graph_api::ingest::store::resolve_agencies;
        use dhr_graph_api::registry::resolve::ReviewContext;
        use sea_orm::TransactionTrait;

        let app = TestApp::empty(backend).await;
        let db = dhr_graph_api::db::connect(&app.database.url, 1).await.unwrap();
        let names: Vec<String> = [
            "Police", "Kent County Council Adult Social Care", "NHS Kent and Medway",
            "Kent and Medway NHS and Social Care Partnership Trust", "GP Practice", "Home Office",
            "Kent Fire and Rescue Service", "Refuge", "Adult Social Care", "OPCC",
            "National Probation Service", "Kent County Council",
        ].map(str::to_owned).to_vec();
        let ctx = ReviewContext::new(&["Kent".to_owned()], []);
        let cost = |names: Vec<String>| {
            let (db, ctx) = (db.clone(), ctx.clone());
            async move {
                let tx = db.conn.begin().await.unwrap();
                let before = db.statements.get();
                let (found, created) = resolve_agencies(&tx, &ctx, &names).await.unwrap();
                let spent = db.statements.get() - before;
                tx.commit().await.unwrap();
                (spent, found.len(), created.len())
            }
        };
        // New: the lookups, then one slug lookup, one insert and one alias insert for all the
        // page's new agencies, and a link for each relative that exists already (the
        // services and the council, the NPS's successor does not exist).
        let (first, found, created) = cost(names[..2].to_vec()).await;
        assert_eq!((found, created), (2, 2));
        assert!(first <= 2 + 3 + 1, "{first} statements for two new agencies");
        let (many, found, created) = cost(names.clone()).await;
        assert_eq!(found, names.len());
        assert!(created >= 8, "{created}");
        assert!(many <= 2 + 3 + 3, "{many} statements for {created} new agencies: not three each");
        // Seen: the same lookups for two names and for twelve (generic names in context
        // included, which no alias remembers).
        let (two, ..) = cost(names[..2].to_vec()).await;
        let (twelve, found, created) = cost(names.clone()).await;
        assert_eq!((found, created), (names.len(), 0));
        assert!(two <= 2, "{two}");
        assert_eq!(twelve, 2, "an alias lookup and a register-code lookup, not one per name");
    }
}
