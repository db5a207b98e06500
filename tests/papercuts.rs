//! Papercuts a new user met (issue 16): filters that take a name in one place and only a slug
//! in another, subscriptions that wait for ever on a mistyped agency, action-plan events that
//! change nothing, a completion date on work still in progress, and an upsert that could not
//! name a new agency but made a mistyped CSP without a word.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::helpers::{code_of as code, ok_data as ok};

const SET: &str =
    "mutation($input: SetRecommendationStatusInput!) { setRecommendationStatus(input: $input) {
    actionPlan { status version completionDate } } }";

const PLAN: &str = "query($id: ID!) { node(id: $id) { ... on Recommendation {
    actionPlan { status version completionDate leadAgency { slug } } statusHistory { to } } } }";

/// A sample recommendation addressed to Kent Police.
async fn kent_recommendation(app: &TestApp) -> String {
    let q = "{ recommendations(first: 1, filter: { agency: \"kent-police\" }) { nodes { id } } }";
    app.query(q, json!({})).await["recommendations"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(v: &Value, root: &str) -> Vec<String> {
    v[root]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

both! {
    async fn filters_take_an_agencys_name_as_well_as_its_slug(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        for root in ["reviews", "recommendations"] {
            let q = format!("query($a: String) {{ {root}(first: 50, filter: {{ agency: $a }}) {{ nodes {{ id }} }} }}");
            let by_slug = ids(&app.query(&q, json!({ "a": "gp-practice" })).await, root);
            assert!(!by_slug.is_empty(), "{root}: the samples address GP practices");
            for name in ["GP Practice", "gp practice", "GP  practice"] {
                let by_name = ids(&app.query(&q, json!({ "a": name })).await, root);
                assert_eq!(by_name, by_slug, "{root} by {name:?}");
            }
            assert!(ids(&app.query(&q, json!({ "a": "no-such-agency" })).await, root).is_empty());
        }
    }
}

both! {
    async fn a_subscription_to_an_unknown_agency_or_csp_is_refused(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let sub = "subscription($a: String, $c: String) { recommendationStatusChanged(agency: $a, csp: $c) { to } }";
        for (vars, field) in [
            (json!({ "a": "no-such-agency" }), "agency"),
            (json!({ "c": "Kentt" }), "csp"),
        ] {
            let mut ws = WsClient::connect(app.addr, None).await.expect("anonymous reads are open");
            ws.subscribe(sub, vars.clone()).await;
            let msg = ws.message(std::time::Duration::from_secs(10)).await.expect("an answer, not silence");
            // An execution error of the subscription field, as graphql-transport-ws carries it.
            let error = &msg["payload"]["errors"][0];
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{vars}: {msg}");
            assert_eq!(error["extensions"]["field"], field, "{msg}");
        }
        // Known ones, by slug or by name, are taken: nothing comes back until a change does.
        let mut ws = WsClient::connect(app.addr, None).await.unwrap();
        ws.subscribe(sub, json!({ "a": "Kent Police", "c": "Kent" })).await;
        assert!(ws.message(std::time::Duration::from_millis(500)).await.is_none());
    }
}

both! {
    async fn a_plan_event_that_changes_nothing_is_refused_and_a_note_alone_is_kept(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let id = kent_recommendation(&app).await;
        let set = |v: i64, extra: Value| {
            let mut input = json!({ "id": id, "status": "IN_PROGRESS", "expectedVersion": v });
            input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({ "input": input })
        };
        ok(app.post_as(Some(&editor), SET, set(0, json!({}))).await);
        let again = app.post_as(Some(&editor), SET, set(1, json!({}))).await;
        assert_eq!(code(&again), "BAD_USER_INPUT", "{:?}", again.1);
        assert!(again.1["errors"][0]["message"].as_str().unwrap().contains("nothing to change"));
        let plan = app.query(PLAN, json!({ "id": id })).await;
        assert_eq!(plan["node"]["actionPlan"]["version"], 1, "the refused write bumped nothing");
        assert_eq!(plan["node"]["statusHistory"].as_array().unwrap().len(), 1);
        // The same status with a note records that the board looked at it.
        ok(app.post_as(Some(&editor), SET, set(1, json!({ "note": "Reviewed in March" }))).await);
        let plan = app.query(PLAN, json!({ "id": id })).await;
        assert_eq!(plan["node"]["statusHistory"].as_array().unwrap().len(), 2);
    }
}

both! {
    async fn a_completion_date_goes_only_with_finished_work(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        let id = kent_recommendation(&app).await;
        let early = app.post_as(Some(&editor), SET, json!({ "input": { "id": id, "status": "IN_PROGRESS",
            "expectedVersion": 0, "completionDate": "2024-05-01" } })).await;
        assert_eq!(code(&early), "BAD_USER_INPUT", "{:?}", early.1);
        assert_eq!(early.1["errors"][0]["extensions"]["field"], "input.completionDate");
        let plan = app.query(PLAN, json!({ "id": id })).await;
        assert_eq!(plan["node"]["actionPlan"]["version"], 0, "nothing was stored");
        assert_eq!(plan["node"]["actionPlan"]["completionDate"], Value::Null);
        let done = ok(app.post_as(Some(&editor), SET, json!({ "input": { "id": id, "status": "IMPLEMENTED",
            "expectedVersion": 0, "completionDate": "2024-05-01" } })).await);
        assert_eq!(done["setRecommendationStatus"]["actionPlan"]["completionDate"], "2024-05-01");
        // The lead agency is taken by name too.
        let update = "mutation($input: UpdateRecommendationInput!) { updateRecommendation(input: $input) { actionPlan { leadAgency { slug } } } }";
        let led = ok(app.post_as(Some(&editor), update, json!({ "input": { "id": id, "expectedVersion": 1, "leadAgency": "Kent Police" } })).await);
        assert_eq!(led["updateRecommendation"]["actionPlan"]["leadAgency"]["slug"], "kent-police");
    }
}

const UPSERT: &str = "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) {
    outcome newAgencies { slug name sector } newCsps { slug name }
    review { recommendations { nodes { addressees { agency { slug name kind } resolution { method } } } } } } }";

fn upsert(external_ref: &str, csps: Value, agencies: Value) -> Value {
    json!({ "input": { "externalRef": external_ref, "title": "Casefile review", "csps": csps,
        "published": "2024-03", "recommendations": [
            { "label": "1", "text": "Agencies to share DASH risk assessments.", "agencies": agencies }] } })
}

both! {
    async fn upsert_review_resolves_agency_names_as_ingest_does_and_reports_what_it_created(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "case-system", "editor");
        let agencies = json!(["Kent Police", "Wibble Outreach Project", "the CCG", "gp-practice"]);
        let first = ok(app.post_as(Some(&editor), UPSERT, upsert("cms-names", json!(["Kent"]), agencies.clone())).await);
        let w = &first["upsertReview"];
        assert_eq!(w["outcome"], "ADDED");
        assert_eq!(w["newCsps"], json!([]), "Kent exists");
        let new: Vec<&str> = w["newAgencies"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert!(new.contains(&"Wibble Outreach Project"), "{w}");
        assert!(!new.contains(&"Kent Police"), "a stored agency is not new: {w}");
        let addressees = w["review"]["recommendations"]["nodes"][0]["addressees"].as_array().unwrap();
        let slugs: Vec<&str> = addressees.iter().map(|a| a["agency"]["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs.len(), 4, "{w}");
        assert_eq!(slugs[0], "kent-police");
        assert_eq!(slugs[3], "gp-practice");
        // A generic name read in the review's context, as in an ingested page.
        let ccg = &addressees[2];
        assert_eq!(ccg["resolution"]["method"], "CONTEXT", "{ccg}");
        assert!(ccg["agency"]["name"].as_str().unwrap().contains("Kent"), "{ccg}");
        // The same call again creates nothing.
        let again = ok(app.post_as(Some(&editor), UPSERT, upsert("cms-names", json!(["Kent"]), agencies)).await);
        assert_eq!(again["upsertReview"]["outcome"], "UNCHANGED");
        assert_eq!(again["upsertReview"]["newAgencies"], json!([]));
        // A mistyped CSP is no longer created silently.
        let typo = ok(app.post_as(Some(&editor), UPSERT, upsert("cms-typo", json!(["Kentt"]), json!(["kent-police"]))).await);
        assert_eq!(typo["upsertReview"]["newCsps"], json!([{ "slug": "kentt", "name": "Kentt" }]));
        // A slug-shaped string that is no agency's slug is a typo, refused with its field.
        let (_, body) = app.post_as(Some(&editor), UPSERT, upsert("cms-slug", json!(["Kent"]), json!(["kent-polic"]))).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "input.recommendations[0].agencies[0]");
    }
}

#[test]
fn the_cli_says_what_serve_is_and_names_what_went_wrong() {
    let (code, help, _) = cli(&["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("Without a command, `serve` runs"), "{help}");
    assert!(help.contains("dhr-graph serve --help"), "{help}");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("blank.txt");
    std::fs::write(&empty, "  \n\n").unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let (code, out, err) = cli(&["ingest", "--database-url", &url, empty.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        out.contains("blank.txt: the page is empty"),
        "the report names the file and says why: {out} {err}"
    );

    if let Some(pg) = postgres_url() {
        let missing = format!(
            "{}_no_such_db",
            pg.rsplit_once('/').unwrap().0.to_owned() + "/dhr"
        );
        let (code, _, err) = cli(&["serve", "--database-url", &missing]);
        assert_ne!(code, 0);
        assert!(err.contains("does not exist"), "{err}");
        assert!(
            !err.contains("at line"),
            "the server's own source line means nothing here: {err}"
        );
    }
}
