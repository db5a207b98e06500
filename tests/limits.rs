//! Bounded work: every limit, crossed by a query that gets a clear code (not a 500, not a hang).

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::*;

async fn app_with(
    backend: Backend,
    tune: impl FnOnce(&mut dhr_graph_api::config::ServeConfig),
) -> (TestDb, std::net::SocketAddr) {
    let db = TestDb::new(backend).await;
    let mut cfg = dhr_graph_api::config::ServeConfig::for_database(db.url.clone());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.no_sample_dhrd = true;
    tune(&mut cfg);
    let app = dhr_graph_api::server::Application::build(&cfg)
        .await
        .expect("app starts");
    let addr = app.local_addr();
    tokio::spawn(app.run_until(std::future::pending()));
    (db, addr)
}

async fn post(addr: std::net::SocketAddr, query: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or_default(),
    )
}

fn code(body: &serde_json::Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

both! {
    async fn subscriptions_get_the_same_limits_and_codes(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let mut ws = WsClient::connect(app.addr, None).await.expect("connected");
        let wait = std::time::Duration::from_secs(10);
        // Too many aliases: refused before the subscription starts, with the HTTP code.
        let fields = (0..31).map(|i| format!("a{i}: reviewAdded {{ title }}")).collect::<Vec<_>>().join(" ");
        ws.subscribe(&format!("subscription {{ {fields} }}"), json!({})).await;
        let refused = ws.message(wait).await.expect("an answer");
        let errors = if refused["type"] == "error" { &refused["payload"] } else { &refused["payload"]["errors"] };
        assert_eq!(errors[0]["extensions"]["code"], "QUERY_TOO_COMPLEX", "{refused}");
        // A document that does not validate gets its code too.
        let id = ws.subscribe("subscription { reviewAdded { noSuchField } }", json!({})).await;
        let invalid = loop {
            let m = ws.message(wait).await.expect("an answer");
            if m["id"] == id.as_str() {
                break m;
            }
        };
        let errors = if invalid["type"] == "error" { &invalid["payload"] } else { &invalid["payload"]["errors"] };
        assert_eq!(errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{invalid}");
    }
}

both! {
    async fn complexity_aliases_and_page_size_are_bounded(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        // The documented nested page is well within the default budget...
        app.query("{ reviews(first: 50) { nodes { csps { name } recommendations(first: 50) { nodes { agencies { name } } } } } }", json!({})).await;
        // ...a page of pages of pages is not, and nothing runs.
        let heavy = "{ reviews(first: 100) { nodes { recommendations(first: 100) { nodes { related(first: 100) { recommendation { text } } } } } } }";
        let (status, body) = app.post_as(None, heavy, json!({})).await;
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
        assert!(status < 500);
        // Thirty aliases pass, thirty-one do not.
        let aliased = |n: usize| format!("{{ {} }}", (0..n).map(|i| format!("a{i}: reviews(first: 1) {{ totalCount }}")).collect::<Vec<_>>().join(" "));
        app.query(&aliased(30), json!({})).await;
        let (_, body) = app.post_as(None, &aliased(31), json!({})).await;
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("31 aliases"), "{body}");
        // Pages hold at most 100.
        let (code_, err) = app.error_code("{ reviews(first: 101) { totalCount } }", json!({})).await;
        assert_eq!(code_, "BAD_USER_INPUT", "{err}");
        // A batch (an array of operations) is not accepted: one operation per request.
        let resp = app.client().post(app.url("/graphql"))
            .json(&json!([{ "query": "{ reviews { totalCount } }" }, { "query": "{ reviews { totalCount } }" }]))
            .send().await.unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
}

both! {
    async fn limits_are_configurable_and_introspection_and_graphiql_can_be_off(backend: Backend) {
        let (_db, addr) = app_with(backend, |c| {
            c.max_depth = 3;
            c.max_aliases = 1;
            c.no_introspection = true;
            c.no_graphiql = true;
            c.no_samples = true;
        }).await;
        let (_, body) = post(addr, "{ reviews { nodes { csps { name } } } }").await;
        assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");
        let (_, body) = post(addr, "{ a: reviews { totalCount } b: reviews { totalCount } }").await;
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
        let (_, body) = post(addr, "{ __schema { types { name } } }").await;
        assert_eq!(code(&body), "INTROSPECTION_DISABLED", "{body}");
        let page = reqwest::Client::new().get(format!("http://{addr}/graphql")).header("accept", "text/html").send().await.unwrap();
        let text = page.text().await.unwrap();
        assert!(!text.contains("graphiql"), "GraphiQL is off: {text}");
    }
}

both! {
    async fn the_body_limit_answers_413(backend: Backend) {
        let (_db, addr) = app_with(backend, |c| {
            c.body_limit = 1024;
            c.no_samples = true;
        }).await;
        let (status, _) = post(addr, &format!("{{ reviews {{ totalCount }} }} # {}", "x".repeat(2048))).await;
        assert_eq!(status, 413);
        let (status, body) = post(addr, "{ reviews { totalCount } }").await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statements_are_cut_off_with_a_retryable_code() {
    if postgres_url().is_none() {
        return;
    }
    let (db, addr) = app_with(Backend::Postgres, |c| {
        c.statement_timeout_ms = 200;
        c.no_samples = true;
    })
    .await;
    // Every server connection carries the timeout.
    let server =
        dhr_graph_api::db::connect_with(&db.url, 1, Some(std::time::Duration::from_millis(200)))
            .await
            .unwrap();
    let row = server
        .conn
        .query_one_raw(Statement::from_string(
            server.conn.get_database_backend(),
            "SHOW statement_timeout",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<String>("", "statement_timeout").unwrap(),
        "200ms"
    );
    let err = server
        .conn
        .execute_unprepared("SELECT pg_sleep(1)")
        .await
        .unwrap_err();
    assert_eq!(dhr_graph_api::error::ApiError::from(err).code(), "TIMEOUT");
    let (status, _) = post(addr, "{ reviews { totalCount } }").await;
    assert_eq!(status, 200);
}

both! {
    async fn callers_over_their_rate_get_429_with_retry_after(backend: Backend) {
        let (db, addr) = app_with(backend, |c| {
            c.rate_limit_per_minute = 2;
            c.rate_limit_burst = 3;
            c.no_samples = true;
        }).await;
        for _ in 0..3 {
            assert_eq!(post(addr, "{ reviews { totalCount } }").await.0, 200);
        }
        let resp = reqwest::Client::new().post(format!("http://{addr}/graphql"))
            .json(&json!({ "query": "{ reviews { totalCount } }" })).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&retry), "{retry}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(code(&body), "RATE_LIMITED");
        // A request with a key spends its address's budget too: a key buys no way round it.
        let key = create_key(&db.url, "dash", "reader");
        let keyed = reqwest::Client::new().post(format!("http://{addr}/graphql")).bearer_auth(&key)
            .json(&json!({ "query": "{ reviews { totalCount } }" })).send().await.unwrap();
        assert_eq!(keyed.status().as_u16(), 429);
    }
}

both! {
    async fn a_request_slower_than_the_timeout_is_answered_408_and_others_are_served_meanwhile(backend: Backend) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let timeout = std::time::Duration::from_secs(1);
        let (_db, addr) = app_with(backend, |c| {
            c.request_timeout_secs = 1;
            c.no_samples = true;
        }).await;
        // A client that sends its headers and part of its body, then stalls.
        let body = r#"{"query":"{ reviews { totalCount } }"}"#;
        // Before the connection: the server's clock starts when it has the request, later
        // than any instant taken here (taken after the write, it could be a hair late).
        let stalled_at = std::time::Instant::now();
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(format!(
            "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            body.len(), &body[..10]
        ).as_bytes()).await.unwrap();
        let answer = tokio::spawn(async move {
            let mut got = Vec::new();
            // Everything the server sends until it closes the connection.
            let read = tokio::time::timeout(timeout * 5, slow.read_to_end(&mut got)).await;
            (read.is_ok(), String::from_utf8_lossy(&got).into_owned(), stalled_at.elapsed())
        });
        // Meanwhile other clients are served at once.
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let (status, body) = post(addr, "{ reviews { totalCount } }").await;
            assert_eq!(status, 200, "{body}");
            assert!(started.elapsed() < timeout / 2, "a request waited {:?} behind the slow one", started.elapsed());
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let (closed, text, took) = answer.await.unwrap();
        assert!(closed, "the server did not close the stalled connection within {:?}: {text}", timeout * 5);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(took >= timeout && took < timeout + std::time::Duration::from_secs(2), "answered after {took:?}");
        eprintln!("a stalled body: 408 after {took:?} (timeout {timeout:?})");
    }
}

both! {
    async fn a_websocket_that_never_sends_connection_init_is_closed_4408_at_the_timeout(backend: Backend) {
        let (db, addr) = app_with(backend, |c| {
            c.request_timeout_secs = 1;
            c.no_samples = true;
        }).await;
        let started = std::time::Instant::now();
        let mut idle = WsClient::open(addr).await;
        assert_eq!(idle.closed().await, Some(4408));
        let took = started.elapsed();
        assert!(took >= std::time::Duration::from_secs(1) && took < std::time::Duration::from_secs(3), "closed after {took:?}");
        // A client that does send it in time is served past the timeout.
        let mut sub = WsClient::connect(addr, None).await.expect("connects");
        sub.subscribe("subscription { reviewAdded { title } }", json!({})).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let editor = create_key(&db.url, "late", "editor");
        let page = "SOURCE: https://example.org/late/\nSource · Domestic Homicide Review\nLate review\nCSP: Kent\n\
            Published: May 2024\nExtracted: 1 recs\nSummary\nLate.\n| # | Recommendation | Addressed to |\n|---|---|---|\n\
            | 1 | Police to review the late item. | Kent Police |\n";
        let resp = reqwest::Client::new().post(format!("http://{addr}/graphql")).bearer_auth(&editor)
            .json(&json!({ "query": "mutation($t: String!) { ingestReviewPage(input: { text: $t }) { outcome } }", "variables": { "t": page } }))
            .send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let event = sub.next(std::time::Duration::from_secs(10)).await.expect("the subscription outlives the timeout");
        assert_eq!(event["data"]["reviewAdded"]["title"], "Late review", "{event}");
    }
}
