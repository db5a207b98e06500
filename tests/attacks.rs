//! The attacks of the second hardening round, each against the real server: refused with a
//! clear code, while `/healthz` keeps answering within 100 ms and the process stays under
//! 300 MB. Attacks that need their own process (memory, signals, connection caps) run the
//! real binary; the others the in-process app.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

const RSS_BUDGET_MB: u64 = 300;

/// Fragments that each spread the next one twice: 2^n fields once expanded, in ~40 bytes a level.
fn fan_out(n: usize) -> String {
    let mut q = String::from("{ ...F0 }");
    for i in 0..n {
        q.push_str(&format!(
            " fragment F{i} on Query {{ ...F{j} ...F{j} }}",
            j = i + 1
        ));
    }
    q.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
    q
}

/// The real binary on a fresh SQLite file (kept while the folder lives).
async fn fresh_server(flags: &[&str]) -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let server = ServerProcess::start_with(&url, dir.path(), flags).await;
    (dir, server)
}

async fn post_raw(addr: std::net::SocketAddr, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_fan_out_is_refused_before_validation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let server =
        ServerProcess::start_with(&url, dir.path(), &["--rate-limit-per-minute", "0"]).await;
    let health = HealthWatch::start(server.addr);
    let query = fan_out(30);
    assert!(
        query.len() < 1_300,
        "the attack is about 1.2 KB: {}",
        query.len()
    );
    let started = Instant::now();
    let attacks = (0..8).map(|i| {
        let q = if i % 2 == 0 { fan_out(30) } else { fan_out(60) };
        post_raw(server.addr, json!({ "query": q }))
    });
    for (status, body) in futures::future::join_all(attacks).await {
        assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{status} {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("fields once its fragments are expanded"),
            "{body}"
        );
    }
    // Eight of them are answered about as fast as one cheap query (minutes before).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Ten levels (1,024 fields) are a legal query and are answered.
    let (_, ok) = post_raw(server.addr, json!({ "query": fan_out(10) })).await;
    assert_eq!(ok["data"]["__typename"], "Query", "{ok}");
    health.assert_fast().await;
    assert!(server.rss_mb() < RSS_BUDGET_MB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_brackets_are_refused_before_parsing() {
    let app = TestApp::empty(Backend::Sqlite).await;
    let health = HealthWatch::start(app.addr);
    // Under the body limit, each a way to make a recursive parser run out of stack.
    for q in [
        format!(
            "{{ reviews(filter: {{ csp: {} }}) {{ totalCount }} }}",
            "[".repeat(500_000)
        ),
        "{ a ".repeat(200_000),
        format!("query {}", "(".repeat(500_000)),
    ] {
        let (status, body) = app.post_as(None, &q, json!({})).await;
        assert_eq!(first_code(&body), "QUERY_TOO_DEEP", "{status} {body}");
    }
    // Wide documents: 50,000 variables or arguments cost the parser and validator a second
    // of CPU each; they are refused by a count of their tokens before parsing.
    for q in [
        format!(
            "query({}) {{ __typename }}",
            (0..50_000)
                .map(|i| format!("$v{i}: Int"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        format!(
            "{{ __typename({}) }}",
            (0..50_000)
                .map(|i| format!("a{i}: 1"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ] {
        let started = Instant::now();
        let (status, body) = app.post_as(None, &q, json!({})).await;
        assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{status} {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("tokens"),
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    // A quoted bracket is text, not nesting.
    let text = "[".repeat(100);
    app.query(
        &format!("{{ reviews(filter: {{ textContains: \"{text}\" }}) {{ totalCount }} }}"),
        json!({}),
    )
    .await;
    health.assert_fast().await;
}

both! {
    async fn revoked_keys_stop_working_on_open_websockets(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let root = create_key(&app.database.url, "root", "admin");
        let doomed = create_key(&app.database.url, "doomed", "admin");
        let mut ws = WsClient::connect(app.addr, Some(&doomed)).await.expect("connected");
        let mut listener = WsClient::connect(app.addr, Some(&doomed)).await.expect("connected");
        listener.subscribe("subscription { reviewAdded { title } }", json!({})).await;
        // Works while the key is valid.
        ws.subscribe("mutation { createApiKey(input: { name: \"before\", role: READER }) { name } }", json!({})).await;
        let made = ws.message(Duration::from_secs(10)).await.expect("an answer");
        assert_eq!(made["payload"]["data"]["createApiKey"]["name"], "before", "{made}");
        let (_, revoked) = app.post_as(Some(&root), "mutation { revokeApiKey(input: { name: \"doomed\" }) { name } }", json!({})).await;
        assert!(revoked.get("errors").is_none(), "{revoked}");
        // The next operation on the open socket is refused, and the socket closed with 4403.
        ws.subscribe("mutation { createApiKey(input: { name: \"after\", role: ADMIN }) { name } }", json!({})).await;
        assert_eq!(ws.closed().await, Some(4403));
        // The socket that only listens is closed too, within the re-check interval.
        let started = Instant::now();
        assert_eq!(listener.closed().await, Some(4403));
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let keys = app.query("{ __typename }", json!({})).await;
        assert_eq!(keys["__typename"], "Query");
        let (code, out, _) = cli(&["keys", "list", "--database-url", &app.database.url]);
        assert_eq!(code, 0);
        assert!(out.contains("before") && !out.contains("after"), "no key was minted by the revoked one: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaged_lists_are_priced_by_what_they_can_return() {
    let app = TestApp::with_samples(Backend::Sqlite).await;
    let network = "agencyNetwork(minSharedReviews: 0, includeCollective: true, includeMentions: true) { nodes { agency { name } reviewCount } edges { source { name } target { name } sharedReviews } }";
    let aliased = (0..10)
        .map(|i| format!("n{i}: {network}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (_, body) = app
        .post_as(None, &format!("{{ {aliased} }}"), json!({}))
        .await;
    assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    // One is fine, and a page of it is cheap enough to alias.
    let one = app.query(&format!("{{ {network} }}"), json!({})).await;
    let edges = one["agencyNetwork"]["edges"].as_array().unwrap().len();
    assert!(edges > 2, "{one}");
    let small = network.replace("includeMentions: true", "includeMentions: true, first: 2");
    let aliased = (0..10)
        .map(|i| format!("n{i}: {small} n{i}t: agencyNetwork(first: 2) {{ truncated }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let data = app.query(&format!("{{ {aliased} }}"), json!({})).await;
    assert_eq!(data["n0"]["edges"].as_array().unwrap().len(), 2);
    // The nodes are those of the edges kept.
    assert!(data["n0"]["nodes"].as_array().unwrap().len() <= 4);
    assert_eq!(data["n0t"]["truncated"], true, "{data}");
    for (q, code) in [
        (
            "{ agencyNetwork(first: 2001) { truncated } }",
            "BAD_USER_INPUT",
        ),
        (
            "{ sectorStats(groupBy: CSP, first: -1) { reviewCount } }",
            "BAD_USER_INPUT",
        ),
    ] {
        let (c, err) = app.error_code(q, json!({})).await;
        assert_eq!(c, code, "{q}: {err}");
    }
    let stats = app.query("{ sectorStats(groupBy: CSP, first: 3) { reviewCount } actionPlanStats(groupBy: AGENCY, first: 2) { total } }", json!({})).await;
    assert_eq!(stats["sectorStats"].as_array().unwrap().len(), 3);
    assert_eq!(stats["actionPlanStats"].as_array().unwrap().len(), 2);
    // Twenty aliases of every statistics list at its most: priced, and refused.
    let stats = (0..20).map(|i| format!("s{i}: sectorStats(groupBy: CSP) {{ sector year reviewCount recommendationCount csp {{ name }} }}")).collect::<Vec<_>>().join(" ");
    let (_, body) = app
        .post_as(None, &format!("{{ {stats} }}"), json!({}))
        .await;
    assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_key_per_request_buys_no_budget() {
    let (_dir, server) = fresh_server(&[
        "--rate-limit-per-minute",
        "60",
        "--rate-limit-burst",
        "20",
        "--auth-failures-per-minute",
        "5",
    ])
    .await;
    let client = reqwest::Client::new();
    let (mut unauthorised, mut limited) = (0, 0);
    for i in 0..40 {
        let resp = client
            .post(format!("http://{}/graphql", server.addr))
            .bearer_auth(format!("dhr_random_{i}_{}", i * 7919))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            401 => unauthorised += 1,
            429 => {
                assert!(resp.headers().get("retry-after").is_some());
                let body: Value = resp.json().await.unwrap();
                assert_eq!(first_code(&body), "RATE_LIMITED", "{body}");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Five look-ups of bad keys, then refused without one; the address's budget ran out too.
    assert_eq!(unauthorised, 5);
    assert_eq!(limited, 35);
    // Anonymous requests from the same address share its budget: 20 burst, all spent.
    let resp = client
        .post(format!("http://{}/graphql", server.addr))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_operations_spend_the_same_budget() {
    let (_dir, server) =
        fresh_server(&["--rate-limit-per-minute", "60", "--rate-limit-burst", "10"]).await;
    let mut ws = WsClient::connect(server.addr, None)
        .await
        .expect("connected");
    let mut answers = Vec::new();
    for _ in 0..15 {
        ws.subscribe("{ __typename }", json!({})).await;
    }
    while let Some(m) = ws.message(Duration::from_secs(2)).await {
        answers.push(m);
        if answers.len() >= 30 {
            break;
        }
    }
    let limited = answers
        .iter()
        .filter(|m| m["type"] == "error" && m["payload"][0]["extensions"]["code"] == "RATE_LIMITED")
        .count();
    let answered = answers.iter().filter(|m| m["type"] == "next").count();
    // The upgrade itself spent one unit of the ten (a second may have refilled meanwhile).
    assert!((9..=10).contains(&answered), "{answers:?}");
    assert_eq!(limited, 15 - answered, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_keep_the_http_bounds() {
    let (_dir, server) = fresh_server(&[
        "--rate-limit-per-minute",
        "0",
        "--ws-max-subscriptions",
        "5",
        "--ws-max-per-caller",
        "3",
    ])
    .await;
    let health = HealthWatch::start(server.addr);
    // A message bigger than the body limit (1 MiB) closes the socket: 1009, message too big.
    let mut big = WsClient::connect(server.addr, None)
        .await
        .expect("connected");
    let huge = format!(
        "{{\"id\":\"1\",\"type\":\"subscribe\",\"payload\":{{\"query\":\"{{ __typename }}\",\"variables\":{{\"x\":\"{}\"}}}}}}",
        "x".repeat(8 * 1024 * 1024)
    );
    // The server may close before the client has sent it all (then the send fails).
    let _ = big.try_send_text(&huge).await;
    let code = big.closed().await;
    assert!(matches!(code, Some(1009) | None), "{code:?}");
    drop(big);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Subscriptions per connection: the sixth is refused, the others live on.
    let mut ws = WsClient::connect(server.addr, None)
        .await
        .expect("connected");
    for _ in 0..5 {
        ws.subscribe("subscription { reviewAdded { title } }", json!({}))
            .await;
    }
    let sixth = ws
        .subscribe("subscription { reviewAdded { title } }", json!({}))
        .await;
    let refused = ws.message(Duration::from_secs(5)).await.expect("a refusal");
    assert_eq!(refused["id"], sixth.as_str());
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
        "{refused}"
    );
    // Completing one makes room.
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    let id = ws.subscribe("{ __typename }", json!({})).await;
    let answer = loop {
        let m = ws.message(Duration::from_secs(5)).await.expect("an answer");
        if m["id"] == id.as_str() {
            break m;
        }
    };
    assert_eq!(answer["type"], "next", "{answer}");
    // Sockets per caller (here: per address): the fourth is closed at connection_init.
    let _two = WsClient::connect(server.addr, None).await.expect("second");
    let _three = WsClient::connect(server.addr, None).await.expect("third");
    let fourth = WsClient::connect(server.addr, None).await;
    assert_eq!(fourth.err(), Some(WsClosed(4429)));
    health.assert_fast().await;
    assert!(server.rss_mb() < RSS_BUDGET_MB);
}

/// A TCP connection from `from` (any loopback address) to the server.
async fn connect_from(
    from: [u8; 4],
    to: std::net::SocketAddr,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((std::net::Ipv4Addr::from(from), 0).into())?;
    socket.connect(to).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_dir, server) = fresh_server(&[
        "--rate-limit-per-minute",
        "0",
        "--max-connections",
        "3000",
        "--max-connections-per-address",
        "1000",
        "--header-timeout-secs",
        "5",
        "--idle-timeout-secs",
        "8",
    ])
    .await;
    let health = HealthWatch::start(server.addr);
    let before = server.rss_mb();
    // 2,500 idle connections from one address (of the 20,000 seen): 1,000 are held, the rest
    // are answered 503 at once, never an accept error.
    let mut held = Vec::new();
    let mut refused = 0;
    for i in 0..2_500 {
        let mut s = connect_from([127, 0, 0, 2], server.addr)
            .await
            .expect("connect");
        let mut buf = [0u8; 12];
        if i < 1_000 {
            // Idle: nothing sent, nothing answered.
            let got = tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await;
            assert!(got.is_err(), "connection {i} was answered: {got:?}");
            held.push(s);
        } else {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let n = tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
                .await
                .expect("answered at once")
                .expect("an answer");
            assert_eq!(&buf[..n], b"HTTP/1.1 503", "connection {i}");
            refused += 1;
        }
    }
    assert_eq!(held.len(), 1_000, "held");
    assert_eq!(refused, 1_500);
    // Another address is served meanwhile.
    health.assert_fast().await;
    let health = HealthWatch::start(server.addr);
    let during = server.rss_mb();
    eprintln!("RSS: {before} MB idle, {during} MB holding 1,000 connections");
    assert!(during < RSS_BUDGET_MB, "{before} MB -> {during} MB");
    // Idle connections are closed by the header timeout (nothing was sent on them).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut closed = 0;
    for s in &mut held {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, held.len(), "every idle connection was closed");
    drop(held);
    // Slow headers: half a request line, then nothing.
    let mut slow = connect_from([127, 0, 0, 3], server.addr).await.unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await
    .expect("closed by the header timeout");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut kept = connect_from([127, 0, 0, 4], server.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match kept.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("closed after going quiet");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "kept alive a while first"
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    health.assert_fast().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_connection_cap_answers_503() {
    let (_dir, server) = fresh_server(&[
        "--max-connections",
        "20",
        "--max-connections-per-address",
        "0",
    ])
    .await;
    let mut held = Vec::new();
    for i in 0..20u8 {
        held.push(connect_from([127, 0, 1, i + 1], server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let resp = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(first_code(&body), "TOO_MANY_CONNECTIONS");
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = reqwest::get(format!("http://{}/healthz", server.addr))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

both! {
    async fn control_characters_are_refused_in_every_string_input(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        let editor = create_key(&app.database.url, "cms", "editor");
        // A filter and a variable: refused before anything runs, on both engines alike.
        let (code, err) = app.error_code("{ recommendations(filter: { textContains: \"a\\u0000b\" }) { totalCount } }", json!({})).await;
        assert_eq!(code, "BAD_USER_INPUT", "{err}");
        let (code, err) = app.error_code("query($q: String!) { search(query: $q) { totalCount } }", json!({ "q": "x\u{0}" })).await;
        assert_eq!(code, "BAD_USER_INPUT", "{err}");
        assert_eq!(err["extensions"]["field"], "$q");
        let upsert = "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) { outcome } }";
        let input = json!({ "input": { "externalRef": "nul-1", "title": "Review\u{0}", "csps": ["Kent"],
            "recommendations": [{ "label": "1", "text": "Train staff.", "agencies": ["kent-police"] }] } });
        let (status, body) = app.post_as(Some(&editor), upsert, input).await;
        assert_eq!(first_code(&body), "BAD_USER_INPUT", "{status} {body}");
        assert!(body["errors"][0]["extensions"]["field"].as_str().unwrap().starts_with("$input.title"), "{body}");
        let reviews = app.query("{ reviews(filter: { textContains: \"Review\" }) { totalCount } }", json!({})).await;
        let _ = reviews;
        // Tab and line breaks are text.
        app.query("{ recommendations(filter: { textContains: \"a\\tb\\nc\" }) { totalCount } }", json!({})).await;
    }
}

both! {
    async fn failed_fields_are_null_in_data_as_the_spec_says(backend: Backend) {
        let app = TestApp::with_samples(backend).await;
        // A non-null root field failed: its parent, `data`, is null.
        let body = app.post("{ a: __typename reviews(first: -1) { totalCount } }", json!({})).await;
        assert_eq!(body["data"], Value::Null, "{body}");
        assert_eq!(body["errors"][0]["path"][0], "reviews");
        // A nullable one is null in place, and the others are kept, in the query's order.
        let resp = app.client().post(app.url("/graphql"))
            .json(&json!({ "query": "{ z: __typename node(id: \"xxx\") { id } a: __typename }" }))
            .send().await.unwrap();
        let text = resp.text().await.unwrap();
        assert!(text.starts_with("{\"data\":{\"z\":\"Query\",\"node\":null,\"a\":\"Query\"}"), "{text}");
        // `nodes` answers null for an id that is none of ours, as its description says.
        let ids = app.query("{ reviews(first: 1) { nodes { id } } }", json!({})).await;
        let id = ids["reviews"]["nodes"][0]["id"].as_str().unwrap().to_owned();
        let data = app.query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ["xxx", id] })).await;
        assert_eq!(data["nodes"][0], Value::Null);
        assert_eq!(data["nodes"][1]["id"], id.as_str());
        // A failure deep inside a list: the nearest nullable ancestor takes the null.
        let body = app.post("{ ok: __typename reviews(first: 1) { nodes { title recommendations(first: -5) { totalCount } } } }", json!({})).await;
        assert_eq!(body["data"], Value::Null, "non-null all the way up: {body}");
        let body = app.post("{ ok: __typename node(id: \"xxx\") { id } agencies(first: 1) { nodes { name } } }", json!({})).await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
        assert!(body["data"]["agencies"]["nodes"].is_array(), "{body}");
        // Keys come in the order asked, not sorted.
        let resp = app.client().post(app.url("/graphql"))
            .json(&json!({ "query": "{ reviews(first: 1) { totalCount nodes { title id } } agencies(first: 1) { totalCount } }" }))
            .send().await.unwrap();
        let text = resp.text().await.unwrap();
        let (r, a) = (text.find("\"reviews\"").unwrap(), text.find("\"agencies\"").unwrap());
        assert!(r < a, "{text}");
        let (t, i) = (text.find("\"title\"").unwrap(), text.find("\"id\"").unwrap());
        assert!(t < i, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_bounded_and_do_not_echo_their_input() {
    let app = TestApp::with_samples(Backend::Sqlite).await;
    let big = "x".repeat(500_000);
    let resp = app.client().post(app.url("/graphql"))
        .json(&json!({ "query": "query($id: ID!) { node(id: $id) { id } }", "variables": { "id": big } }))
        .send().await.unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.len() < 2_000, "{} bytes", text.len());
    // A thousand fields with repeated directives: a bounded list of errors.
    let fields = (0..1000)
        .map(|i| format!("a{i}: __typename @skip(if: false) @skip(if: false)"))
        .collect::<Vec<_>>()
        .join(" ");
    let resp = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({ "query": format!("{{ {fields} }}") }))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.len() <= 21, "{}", errors.len());
    // Nested connections refuse a cursor of another shape (a root list's).
    let page = app
        .query(
            "{ reviews(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = page["reviews"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, err) = app.error_code("query($c: String) { reviews(first: 1) { nodes { recommendations(after: $c) { totalCount } } } }", json!({ "c": cursor })).await;
    assert_eq!(code, "BAD_USER_INPUT", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_names_and_exports_are_checked() {
    let app = TestApp::with_samples(Backend::Sqlite).await;
    let (code, _, err) = cli(&[
        "keys",
        "create",
        "--database-url",
        &app.database.url,
        "--name",
        "bad\u{7}name",
        "--role",
        "reader",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("control characters"), "{err}");
    let admin = create_key(&app.database.url, "root", "admin");
    let (_, body) = app
        .post_as(
            Some(&admin),
            "mutation($n: String!) { createApiKey(input: { name: $n, role: READER }) { name } }",
            json!({ "n": "tab\tname\u{1b}" }),
        )
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");
    // A formula in a pushed recommendation is written to the CSV as text.
    let editor = create_key(&app.database.url, "cms", "editor");
    let (_, body) = app.post_as(Some(&editor), "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) { outcome } }", json!({ "input": {
        "externalRef": "csv-1", "title": "=HYPERLINK(\"http://example.invalid\")", "csps": ["Kent"], "published": "2024-09",
        "recommendations": [{ "label": "1", "text": "+SUM(A1:A9)", "agencies": ["kent-police"] }] } })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (code, csv, err) = cli(&[
        "export",
        "--format",
        "csv",
        "--database-url",
        &app.database.url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        csv.contains("'=HYPERLINK") && csv.contains("'+SUM(A1:A9)"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_fails_before_the_database_is_touched() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.db");
    let (code, _, err) = cli(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        &format!("sqlite://{}", db.display()),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(
        !db.exists(),
        "the database was created before the bind failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_within_its_grace_period() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let mut server =
        ServerProcess::start_with(&url, dir.path(), &["--shutdown-grace-secs", "2"]).await;
    // A request that will never finish (its body never comes) and an open subscription.
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":")
        .await
        .unwrap();
    let mut ws = WsClient::connect(server.addr, None)
        .await
        .expect("connected");
    ws.subscribe("subscription { reviewAdded { title } }", json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "still running after 8 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ws.closed().await, Some(1001));
}
