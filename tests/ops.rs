//! Operations over HTTP: `/metrics` after real requests, the explorer's assets, and every
//! documented query in `docs/queries/` run against the samples (so the docs cannot rot).

use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::*;

/// The value of one series in a text exposition, given its name and labels exactly as written.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let resp = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    resp.text().await.unwrap()
}

both! {
    async fn metrics_count_requests_by_operation_and_outcome(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let before = scrape(&app).await;
        assert_eq!(series(&before, r#"dhr_graph_ingest_pages_total{outcome="added"}"#), Some(11.0), "{before}");
        assert_eq!(series(&before, r#"dhr_graph_ingest_pages_total{outcome="updated"}"#), Some(0.0));
        assert_eq!(series(&before, "dhr_graph_db_pool_max_connections"), Some(4.0), "the test pool's size");
        let open = series(&before, "dhr_graph_db_pool_connections").expect("pool size");
        let idle = series(&before, "dhr_graph_db_pool_idle_connections").expect("idle connections");
        assert!((1.0..=4.0).contains(&open) && idle <= open, "open {open}, idle {idle}");
        assert!(!before.contains("OpsThemes"), "nothing counted before the requests");

        for _ in 0..3 {
            app.query("query OpsThemes { themes { slug } }", json!({})).await;
        }
        app.query("{ csps { totalCount } }", json!({})).await;
        let (code, _) = app.error_code("query OpsBadMonth { reviews(filter: { publishedFrom: \"13-2020\" }) { totalCount } }", json!({})).await;
        assert_eq!(code, "BAD_USER_INPUT");
        let (code, _) = app.error_code("query OpsNoField { reviews { nope } }", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let two = "query OpsA { themes { slug } } query OpsB { csps { totalCount } }";
        let body: Value = app.client().post(app.url("/graphql"))
            .json(&json!({ "query": two, "operationName": "OpsB" }))
            .send().await.unwrap().json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        let got: Value = app.client().get(app.url("/graphql"))
            .query(&[("query", "query OpsThemes { themes { slug } }")])
            .send().await.unwrap().json().await.unwrap();
        assert!(got.get("errors").is_none(), "GET runs too: {got}");

        let text = scrape(&app).await;
        let count = |labels: &str| series(&text, &format!("dhr_graph_graphql_requests_total{{{labels}}}"));
        assert_eq!(count(r#"operation="OpsThemes",outcome="ok""#), Some(4.0), "POST and GET: {text}");
        assert_eq!(count(r#"operation="OpsThemes",outcome="error""#), None);
        assert_eq!(count(r#"operation="anonymous",outcome="ok""#), Some(1.0));
        assert_eq!(count(r#"operation="OpsBadMonth",outcome="error""#), Some(1.0), "a resolver's error");
        assert_eq!(count(r#"operation="OpsNoField",outcome="error""#), Some(1.0), "a validation error");
        assert_eq!(count(r#"operation="OpsB",outcome="ok""#), Some(1.0), "the operation that ran");
        assert!(!text.contains("OpsA"), "the operation not run is not counted");
        assert_eq!(
            series(&text, r#"dhr_graph_graphql_request_duration_seconds_count{operation="OpsThemes"}"#),
            Some(4.0),
            "each request timed"
        );
        assert_eq!(
            series(&text, r#"dhr_graph_graphql_request_duration_seconds_bucket{le="+Inf",operation="OpsThemes"}"#),
            Some(4.0)
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }
}

both! {
    async fn an_empty_start_ingests_nothing(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let text = scrape(&app).await;
        for outcome in ["added", "updated", "unchanged", "merged"] {
            let name = format!(r#"dhr_graph_ingest_pages_total{{outcome="{outcome}"}}"#);
            assert_eq!(series(&text, &name), Some(0.0), "{text}");
        }
    }
}

both! {
    async fn the_explorer_is_served_from_the_binary(backend: Backend) {
        let app = TestApp::empty(backend).await;
        let client = app.client();
        let mut bodies = String::new();
        for (path, kind) in [
            ("/", "text/html"),
            ("/explorer.js", "text/javascript"),
            ("/explorer.css", "text/css"),
        ] {
            let resp = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            let headers = resp.headers().clone();
            assert!(headers[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{path}");
            let policy = headers[reqwest::header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(policy.contains("connect-src 'self'"), "{path}: {policy}");
            bodies.push_str(&resp.text().await.unwrap());
        }
        assert!(bodies.contains("explorer.js") && bodies.contains("/graphql"));
        // No external network: the only absolute URL is the SVG namespace, which is a name.
        let external = bodies
            .match_indices("http")
            .filter(|(i, _)| !bodies[*i..].starts_with("http://www.w3.org/2000/svg"))
            .count();
        assert_eq!(external, 0, "the explorer loads nothing from elsewhere");

        let graphiql = client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
        assert!(graphiql.text().await.unwrap().to_lowercase().contains("graphiql"), "GraphiQL stays at /graphql");
    }
}

/// The documented queries: (file name, query, variables from its `# variables:` line).
fn documented_queries() -> Vec<(String, String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/queries");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .expect("docs/queries")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let variables = text
                .lines()
                .find_map(|l| l.strip_prefix("# variables:"))
                .map(|v| {
                    serde_json::from_str(v).unwrap_or_else(|e| panic!("{name}: variables: {e}"))
                })
                .unwrap_or_else(|| json!({}));
            (name, text, variables)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// True when a value holds something: a scalar, or a list or object with something in it.
fn has_content(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => items.iter().any(has_content),
        Value::Object(fields) => fields.values().any(has_content),
        _ => true,
    }
}

both! {
    async fn every_documented_query_answers_on_the_samples(backend: Backend) {
        let queries = documented_queries();
        let names: Vec<&str> = queries.iter().map(|(n, _, _)| n.as_str()).collect();
        for expected in ["dashboard.graphql", "partnership-board-trace.graphql", "search.graphql"] {
            assert!(names.contains(&expected), "docs/queries/{expected} is missing: {names:?}");
        }
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "docs", "editor");
        // The writes run first, in the order a case-management system would send them; the
        // plan and the status change then point at a recommendation the upsert wrote.
        let order = ["case-management-upsert.graphql", "case-management-plan.graphql", "case-management-status.graphql"];
        let mut queries = queries.clone();
        queries.sort_by_key(|(name, _, _)| (order.iter().position(|o| o == name).unwrap_or(order.len()), name.clone()));
        let mut written: Option<Value> = None;
        for (name, query, variables) in &queries {
            let mut variables = variables.clone();
            let version = match name.as_str() {
                "case-management-plan.graphql" => Some(0),
                "case-management-status.graphql" => Some(1),
                _ => None,
            };
            if let Some(version) = version {
                let id = written.as_ref().expect("the upsert ran first")["upsertReview"]["review"]
                    ["recommendations"]["nodes"][0]["id"].clone();
                variables["input"]["id"] = id;
                variables["input"]["expectedVersion"] = json!(version);
            }
            let data = if query.lines().any(|l| l.starts_with("mutation")) {
                let (status, body) = app.post_as(Some(&editor), query, variables).await;
                assert_eq!(status, 200, "{name}: {body}");
                assert!(body.get("errors").is_none(), "{name}: {body}");
                body["data"].clone()
            } else {
                app.query(query, variables).await
            };
            if name == "case-management-upsert.graphql" {
                written = Some(data.clone());
            }
            let fields = data.as_object().unwrap_or_else(|| panic!("{name}: no data"));
            assert!(!fields.is_empty(), "{name}: no data");
            for (field, value) in fields {
                assert!(has_content(value), "{name}: `{field}` is empty: {value:#}");
                // A list answer must list something: an empty page is rot too.
                for list in ["nodes", "edges"] {
                    if let Some(items) = value.get(list).and_then(Value::as_array) {
                        assert!(!items.is_empty(), "{name}: `{field}.{list}` is empty");
                    }
                }
            }
        }
        let search = app.query(&queries.iter().find(|q| q.0 == "search.graphql").unwrap().1, json!({ "query": "routine enquiry" })).await;
        assert_eq!(search["search"]["edges"][0]["node"]["label"], "5.1", "Bassetlaw 5.1 ranks first");
    }
}

/// `KEY: value` (compose) and `KEY=value` (Dockerfile ENV) settings of the docker files.
fn docker_settings() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).expect("compose file");
    let mut out = Vec::new();
    // The api service's environment block: the indented lines after `environment:` under `api:`.
    let api = &compose[compose.find("\n  api:").expect("an api service")..];
    let env = &api[api.find("environment:").expect("api environment")..];
    for line in env.lines().skip(1) {
        let Some((k, v)) = line.trim().split_once(": ") else {
            break;
        };
        if !line.starts_with("      ") {
            break;
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
    let env = &dockerfile[dockerfile.find("ENV ").expect("ENV")..];
    for part in env
        .lines()
        .take_while(|l| l.starts_with("ENV") || l.starts_with(' '))
    {
        let part = part
            .trim_start_matches("ENV")
            .trim()
            .trim_end_matches('\\')
            .trim();
        if let Some((k, v)) = part.split_once('=') {
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    out
}

#[test]
fn the_docker_files_set_only_settings_the_binary_reads() {
    let settings = docker_settings();
    assert!(
        settings.iter().any(|(k, _)| k == "DATABASE_URL"),
        "{settings:?}"
    );
    let (code, help, err) = cli(&["serve", "--help"]);
    assert_eq!(code, 0, "{err}");
    for (key, _) in &settings {
        assert!(
            help.contains(&format!("[env: {key}=")),
            "docker sets {key}, which `dhr-graph serve` does not read"
        );
    }
    // The values parse as the binary would take them: the listen address and the database URL.
    for (key, value) in &settings {
        match key.as_str() {
            "DHR_GRAPH_LISTEN" => assert!(value.parse::<std::net::SocketAddr>().is_ok(), "{value}"),
            "DATABASE_URL" => assert!(
                value.starts_with("postgres://") || value.starts_with("sqlite://"),
                "{value}"
            ),
            _ => {}
        }
    }
    // The compose API reaches the compose database by its service name and credentials.
    let compose = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/docker-compose.yml"),
    )
    .unwrap();
    let url = settings
        .iter()
        .find(|(k, v)| k == "DATABASE_URL" && v.starts_with("postgres"))
        .map(|(_, v)| v.clone())
        .unwrap();
    for (setting, part) in [("POSTGRES_USER", "dhr:"), ("POSTGRES_DB", "/dhr_graph")] {
        assert!(
            compose.contains(setting) && url.contains(part),
            "{setting} does not match {url}"
        );
    }
    assert!(
        url.contains("@db:5432/"),
        "the API must reach the `db` service: {url}"
    );
    // The health checks hit routes the server has.
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/Dockerfile"))
            .unwrap();
    assert!(
        dockerfile.contains("/healthz") && dockerfile.contains("USER dhr"),
        "health check and non-root user"
    );
}
