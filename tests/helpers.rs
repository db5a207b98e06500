//! Shared test helpers: a fresh database per test, the real app on `127.0.0.1:0`, a GraphQL
//! client, the CLI binary, and the fixtures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use dhr_graph_api::config::ServeConfig;
use dhr_graph_api::db::Db;
use dhr_graph_api::server::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// Runs a test body once on SQLite and once on PostgreSQL.
macro_rules! both {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::helpers::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_url().is_some() {
                    run($crate::helpers::Backend::Postgres).await
                }
            }
        }
    };
}
pub(crate) use both;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server to test on. Under CI it is required: a missing one fails loudly
/// rather than skipping.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok() => {
            panic!("CI is set but TEST_DATABASE_URL is not: PostgreSQL tests must run in CI")
        }
        _ => {
            eprintln!("TEST_DATABASE_URL not set: skipping the PostgreSQL run of this test");
            None
        }
    }
}

/// A fresh, empty database; dropped (SQLite: deleted) when this is dropped.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("TEST_DATABASE_URL");
                let name = format!(
                    "dhr_test_{}_{}_{}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                let conn = Database::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg: Some((admin, name)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside async context: a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let conn = Database::connect(&admin).await.ok()?;
                    let _ = conn
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = conn.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}

/// The real app, serving on a random port.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub db: Db,
    pub database: TestDb,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// Starts the app with the samples loaded.
    pub async fn with_samples(backend: Backend) -> Self {
        Self::start(TestDb::new(backend).await, true).await
    }

    /// Starts the app on an empty database.
    pub async fn empty(backend: Backend) -> Self {
        Self::start(TestDb::new(backend).await, false).await
    }

    pub async fn start(database: TestDb, samples: bool) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            dhr_graph_api::telemetry::init(false);
        }
        let mut cfg = ServeConfig::for_database(database.url.clone());
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.no_samples = !samples;
        // Tests count pages; the DHRD records are loaded where a test asks for them.
        cfg.no_sample_dhrd = true;
        cfg.db.db_pool_size = 4;
        // Tests send hundreds of requests from one address; rate limits have their own test.
        cfg.rate_limit_per_minute = 0;
        let app = Application::build(&cfg).await.expect("app starts");
        let addr = app.local_addr();
        let db = app.db.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            db,
            database,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a query; returns the whole response body.
    pub async fn post(&self, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        resp.json().await.expect("JSON body")
    }

    /// POSTs a query that must succeed; returns `data`.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let body = self.post(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// POSTs a query that must fail; returns the first error's `extensions.code`.
    pub async fn error_code(&self, query: &str, variables: Value) -> (String, Value) {
        let body = self.post(query, variables).await;
        let error = body["errors"][0].clone();
        assert!(!error.is_null(), "expected an error: {body:#}");
        (
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            error,
        )
    }

    /// Stops serving and closes the pool.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.db.conn.clone().close().await;
    }

    /// The database, to start another app on it.
    pub fn take_database(&mut self) -> TestDb {
        std::mem::replace(
            &mut self.database,
            TestDb {
                url: String::new(),
                _dir: None,
                pg: None,
            },
        )
    }

    pub fn statements(&self) -> u64 {
        self.db.statements.get()
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/dhr-library")
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// Runs the real `dhr-graph` binary; returns (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dhr-graph"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run dhr-graph");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `dhr-graph ingest --database-url URL PATH...`
pub fn ingest(url: &str, paths: &[&Path]) -> (i32, String, String) {
    let mut args = vec!["ingest", "--quiet", "--database-url", url];
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(shown.iter().map(String::as_str));
    cli(&args)
}

/// The rows of a table-layout page, read with the plainest split: label, text, addressees.
pub fn printed_rows(text: &str) -> Vec<(String, String, Vec<String>)> {
    text.lines()
        .filter(|l| l.starts_with("| ") && l.ends_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.len() >= 3 && cells[0] != "#")
        .map(|cells| (cells[0].clone(), cells[1].clone(), cells[2..].to_vec()))
        .collect()
}

/// `dhr-graph keys create`: a new key of `role` on the database at `url`; an editor or
/// curator key is national (unscoped) here, as tests of other things need.
pub fn create_key(url: &str, name: &str, role: &str) -> String {
    let national: &[&str] = if matches!(role, "editor" | "curator") {
        &["--national"]
    } else {
        &[]
    };
    create_key_with(url, name, role, national)
}

/// `dhr-graph keys create` with scope flags (`--owner`, `--csp`, `--agency`, `--national`).
pub fn create_key_with(url: &str, name: &str, role: &str, flags: &[&str]) -> String {
    let mut args = vec![
        "keys",
        "create",
        "--database-url",
        url,
        "--name",
        name,
        "--role",
        role,
    ];
    args.extend_from_slice(flags);
    let (code, out, err) = cli(&args);
    assert_eq!(code, 0, "keys create: {err}");
    // The key is alone on the last line.
    out.lines().last().unwrap_or_default().trim().to_owned()
}

impl TestApp {
    /// POSTs a query with `Authorization: Bearer KEY` (when given); returns status and body.
    pub async fn post_as(&self, key: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }
}

/// A graphql-transport-ws client over a real socket.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u32,
}

/// How a websocket session ended before it was acknowledged.
#[derive(Debug, PartialEq, Eq)]
pub struct WsClosed(pub u16);

impl WsClient {
    /// Connects to `/graphql/ws` and completes `connection_init` (with the key, if any).
    pub async fn connect(addr: std::net::SocketAddr, key: Option<&str>) -> Result<Self, WsClosed> {
        let mut client = Self::open(addr).await;
        client.init(key).await?;
        Ok(client)
    }

    /// Opens the socket with the graphql-transport-ws subprotocol, and nothing more.
    pub async fn open(addr: std::net::SocketAddr) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap()),
            Some("graphql-transport-ws")
        );
        WsClient { socket, next_id: 0 }
    }

    /// Sends `connection_init`; waits for the ack or the close.
    pub async fn init(&mut self, key: Option<&str>) -> Result<(), WsClosed> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let payload = match key {
            Some(k) => json!({ "Authorization": format!("Bearer {k}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next()).await
            {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    assert_eq!(v["type"], "connection_ack", "{v}");
                    return Ok(());
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Err(WsClosed(frame.map_or(0, |f| u16::from(f.code))));
                }
                Ok(Some(Ok(_))) => continue,
                other => panic!("no answer to connection_init: {other:?}"),
            }
        }
    }

    /// Sends one protocol message as it is.
    pub async fn send(&mut self, message: Value) {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// Sends raw text; the error if the socket failed on the way.
    pub async fn try_send_text(&mut self, text: &str) -> Result<(), String> {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.socket
            .send(Message::text(text.to_owned()))
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends raw text (for malformed messages).
    pub async fn send_text(&mut self, text: &str) {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.socket
            .send(Message::text(text.to_owned()))
            .await
            .unwrap();
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next()).await
            {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Some(frame.map_or(0, |f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Starts a subscription; returns its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.next_id += 1;
        let id = self.next_id.to_string();
        let msg = json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } });
        self.socket
            .send(Message::text(msg.to_string()))
            .await
            .unwrap();
        id
    }

    /// The next `next`, `error` or `complete` message as it came, or `None` if none comes
    /// within `wait`.
    pub async fn message(&mut self, wait: std::time::Duration) -> Option<Value> {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            if let Message::Text(t) = msg.expect("websocket message") {
                let v: Value = serde_json::from_str(&t).unwrap();
                match v["type"].as_str() {
                    Some("next" | "error" | "complete") => return Some(v),
                    Some("ping") => {
                        let pong = json!({ "type": "pong" }).to_string();
                        self.socket.send(Message::text(pong)).await.unwrap();
                    }
                    _ => {}
                }
            }
        }
    }

    /// The next `next` message's payload, or `None` if none comes within `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<Value> {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match msg.expect("websocket message") {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("next") => return Some(v["payload"].clone()),
                        Some("ping") => {
                            let pong = json!({ "type": "pong" }).to_string();
                            self.socket.send(Message::text(pong)).await.unwrap();
                        }
                        Some("error") => panic!("subscription error: {v}"),
                        _ => {}
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }
}

/// The real binary serving in its own process; its log goes to `log`.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    pub log: std::path::PathBuf,
}

impl ServerProcess {
    pub async fn start(url: &str, dir: &std::path::Path) -> Self {
        Self::start_with(url, dir, &[]).await
    }

    /// As [`ServerProcess::start`], with more `serve` flags.
    pub async fn start_with(url: &str, dir: &std::path::Path, flags: &[&str]) -> Self {
        let log = dir.join("server.log");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_dhr-graph"))
            .args([
                "serve",
                "--no-samples",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                url,
            ])
            .args(flags)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start dhr-graph serve");
        // Owned at once, so that a failed start still kills and reaps it (Drop).
        let mut server = ServerProcess {
            child,
            addr: ([0, 0, 0, 0], 0).into(),
            log,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&server.log).unwrap_or_default();
            if let Some(at) = text.find("serving GraphQL on http://") {
                let rest = &text[at + "serving GraphQL on http://".len()..];
                server.addr = rest[..rest.find("/graphql").unwrap()].parse().unwrap();
                return server;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the second server did not start: {text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// The server's resident memory now, in MB.
    pub fn rss_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    }
}

/// Polls `/healthz` every 25 ms from 127.0.0.1 while an attack runs, keeping the slowest
/// answer; [`HealthWatch::assert_fast`] stops it and checks the budget.
pub struct HealthWatch {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<(std::time::Duration, usize, usize)>,
}

impl HealthWatch {
    pub fn start(addr: std::net::SocketAddr) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            // A fresh connection each time: an attack may hold the kept-alive ones.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap();
            let (mut slowest, mut ok, mut failed) = (std::time::Duration::ZERO, 0, 0);
            while !*stopped.borrow() {
                let started = std::time::Instant::now();
                match client.get(format!("http://{addr}/healthz")).send().await {
                    Ok(r) if r.status().is_success() => ok += 1,
                    _ => failed += 1,
                }
                slowest = slowest.max(started.elapsed());
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(25)) => {}
                    _ = stopped.changed() => {}
                }
            }
            (slowest, ok, failed)
        });
        HealthWatch { stop, task }
    }

    /// Stops watching; `/healthz` must have answered every time, each within 100 ms.
    pub async fn assert_fast(self) {
        let _ = self.stop.send(true);
        let (slowest, ok, failed) = self.task.await.unwrap();
        eprintln!("/healthz during the attack: {ok} answers, slowest {slowest:?}");
        assert_eq!(failed, 0, "/healthz failed {failed} times (answered {ok})");
        assert!(ok > 0, "/healthz was never asked");
        assert!(
            slowest < std::time::Duration::from_millis(100),
            "/healthz took {slowest:?} at its slowest"
        );
    }
}

/// A tiny deterministic generator, for tests that write in a random (but repeatable) order.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// The `data` of a `post_as` answer that must have succeeded.
pub fn ok_data(body: (u16, Value)) -> Value {
    assert_eq!(body.0, 200, "{}", body.1);
    assert!(
        body.1.get("errors").is_none(),
        "unexpected errors: {:#}",
        body.1
    );
    body.1["data"].clone()
}

/// The first error's `extensions.code` of a `post_as` answer ("" when none).
pub fn code_of(body: &(u16, Value)) -> String {
    body.1["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The first column of the first row of a counting statement (`SELECT COUNT(*) ...`).
pub async fn sql_count(conn: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    conn.query_one_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<i64>(0)
    .unwrap()
}
