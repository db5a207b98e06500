//! The HTTP server: the router, its layers, and the application that binds it.
//!
//! `Application::build` binds the listener and reports the real port, so the binary and the
//! tests start the very same app.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, FromRef, RawQuery, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{self, Caller};
use crate::config::ServeConfig;
use crate::db::{self, Db};
use crate::events::EventBus;
use crate::explorer;
use crate::graphql::{AppSchema, build_schema, execute_admitted};
use crate::health::Health;
use crate::http;
use crate::ingest::samples;
use crate::metrics::{self, Metrics};

#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: Db,
    /// Extra time loaders wait for keys beyond the end of a poll pass (normally none).
    pub batch_delay: Duration,
    pub require_key_for_reads: bool,
    pub graphiql: bool,
    /// Flips to true when the server begins to shut down: websockets close themselves (HTTP
    /// connections are drained by axum, upgraded ones are not).
    pub closing: tokio::sync::watch::Receiver<bool>,
    pub metrics: Metrics,
    /// Whether the database answers (always, on SQLite).
    pub health: Health,
    /// The request timeout: also the longest a websocket may wait before `connection_init`.
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    /// Bounds on websockets: subscriptions each, sockets per caller.
    pub ws: crate::ws::WsLimits,
    /// Requests per key and per address, websocket operations included.
    pub limiter: crate::ratelimit::Limiter,
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("cannot listen for events on PostgreSQL: {0}")]
    Events(sea_orm::DbErr),
    #[error("cannot load the sample data: {0}")]
    Samples(#[from] crate::ingest::IngestError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    pub db: Db,
    /// The PostgreSQL event listener, stopped with the server.
    listener_task: Option<tokio::task::JoinHandle<()>>,
    closing: tokio::sync::watch::Sender<bool>,
    conn_limits: crate::listener::ConnLimits,
    /// How long in-flight requests may take to finish once shutdown begins.
    grace: Duration,
}

impl Application {
    /// Connects, migrates, loads the samples into an empty database (unless told not to),
    /// builds the router and binds the listener.
    pub async fn build(cfg: &ServeConfig) -> Result<Self, StartError> {
        // Bound first: a busy port is reported before the database is migrated or loaded.
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let timeout =
            (cfg.statement_timeout_ms > 0).then(|| Duration::from_millis(cfg.statement_timeout_ms));
        let db = db::connect_with(&cfg.db.database_url, cfg.db.db_pool_size, timeout).await?;
        let metrics = Metrics::new(&db.conn);
        let backend = db.conn.get_database_backend();
        let bus = EventBus::new(backend);
        let upkeep =
            crate::similarity::Upkeep::background(db.conn.clone(), cfg.similarity_policy());
        let write = crate::write::WritePath::serving(
            db.conn.clone(),
            bus.clone(),
            upkeep,
            Some(metrics.clone()),
        );
        crate::write::fill_after_upgrade(&write, &db)
            .await
            .map_err(crate::ingest::IngestError::Db)?;
        if !cfg.no_samples {
            let loaded = samples::load_if_empty(&write, cfg.no_sample_dhrd).await?;
            if !loaded.is_empty() {
                tracing::info!(
                    pages = loaded.len(),
                    "loaded the sample data into an empty database"
                );
            }
        }
        let (health, listener_task) = if backend == sea_orm::DbBackend::Postgres {
            let health = Health::postgres(&cfg.db.database_url).map_err(|e| {
                StartError::Events(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
                    e.to_string(),
                )))
            })?;
            let task = crate::events::listen(&cfg.db.database_url, bus.clone(), health.clone())
                .await
                .map_err(StartError::Events)?;
            (health, Some(task))
        } else {
            (Health::always_up(), None)
        };
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        let router = router(
            cfg,
            AppState {
                schema: build_schema(
                    db.clone(),
                    bus,
                    crate::graphql::Services {
                        write: Some(write),
                        metrics: Some(metrics.clone()),
                        limits: cfg.limits(),
                    },
                ),
                batch_delay: Duration::from_micros(cfg.batch_delay_us),
                db: db.clone(),
                require_key_for_reads: cfg.require_key_for_reads,
                graphiql: !cfg.no_graphiql,
                closing: closing_rx,
                metrics,
                health,
                request_timeout: Duration::from_secs(cfg.request_timeout_secs),
                max_response_bytes: cfg.max_response_bytes,
                ws: crate::ws::WsLimits::new(
                    cfg.ws_max_subscriptions,
                    cfg.ws_max_per_caller,
                    cfg.body_limit,
                ),
                limiter: crate::ratelimit::Limiter::new(
                    cfg.rate_limit_per_minute,
                    cfg.rate_limit_burst,
                    cfg.auth_failures_per_minute,
                ),
            },
        );
        Ok(Self {
            listener,
            router,
            addr,
            db,
            listener_task,
            closing,
            conn_limits: cfg.conn_limits(),
            grace: Duration::from_secs(cfg.shutdown_grace_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes; in-flight requests finish first.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let closing = std::sync::Arc::new(self.closing);
        let signal = closing.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests, closing subscriptions");
            let _ = signal.send(true);
        };
        let served = crate::listener::serve(
            self.listener,
            self.router,
            self.conn_limits,
            shutdown,
            self.grace,
        )
        .await;
        // Websockets are not drained by axum: each holds a receiver until it has sent its
        // close frame, so wait (briefly) for the last one rather than exit under it.
        let _ = tokio::time::timeout(Duration::from_secs(5), closing.closed()).await;
        if let Some(task) = self.listener_task {
            task.abort();
        }
        served
    }

    /// Serves until Ctrl-C or SIGTERM. Once the signal comes, the process exits within the
    /// grace period (plus a second) whatever is still running: a thread outside the runtime
    /// sees the signal too, so a runtime whose workers are all busy cannot keep it alive.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let grace = self.grace;
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
        ]) {
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    std::thread::sleep(grace + Duration::from_secs(1));
                    eprintln!("dhr-graph: still running {grace:?} after the signal; exiting");
                    std::process::exit(0);
                }
            });
        }
        self.run_until(shutdown_signal()).await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

pub fn router(cfg: &ServeConfig, state: AppState) -> Router {
    let cors = if cfg.cors_origins.iter().any(|o| o == "*") {
        CorsLayer::new().allow_origin(AllowOrigin::any())
    } else {
        CorsLayer::new().allow_origin(
            cfg.cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    }
    .allow_methods([Method::GET, Method::POST])
    .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);

    let limiter = state.limiter.clone();
    let api = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            crate::ratelimit::limit,
        ));
    Router::new()
        .merge(api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(|m: State<Metrics>| async move { m.response() }))
        .merge(explorer::routes())
        .merge(crate::graphiql::routes())
        .with_state(state)
        .layer(cors)
        .layer(RequestBodyLimitLayer::new(cfg.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(cfg.request_timeout_secs),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// A refusal before the request runs: a key that is wrong or revoked, none where reads need
/// one, or no database to check it against.
#[derive(Debug)]
enum Refusal {
    Unauthenticated(&'static str),
    Unavailable,
    /// Too many failed authentications from the address: seconds to wait.
    Limited(u64),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated(message) => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({
                    "errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]
                })),
            )
                .into_response(),
            Refusal::Unavailable => http::unavailable(http::MediaType::Json),
            Refusal::Limited(secs) => {
                crate::ratelimit::too_many(secs, "failed authentications from this address")
            }
        }
    }
}

/// Who sent the request. A key that is sent must be valid, whatever the operation: a client
/// with a revoked key learns it at once rather than reading on anonymously.
async fn caller_of(state: &AppState, ip: IpAddr, token: Option<&str>) -> Result<Caller, Refusal> {
    let caller = match token {
        None => Caller::Anonymous,
        // An address that keeps sending bad keys is not given more look-ups.
        Some(_) if let Some(secs) = state.limiter.auth_blocked(ip) => {
            return Err(Refusal::Limited(secs));
        }
        Some(token) => match auth::keys::authenticate(&state.db.conn, token).await {
            Ok(Some(caller)) => caller,
            Ok(None) => {
                state.limiter.failed_auth(ip);
                return Err(Refusal::Unauthenticated(
                    "the API key is not valid (unknown or revoked)",
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check an API key");
                return Err(Refusal::Unavailable);
            }
        },
    };
    if state.require_key_for_reads && caller == Caller::Anonymous {
        return Err(Refusal::Unauthenticated(
            "this server needs an API key: send `Authorization: Bearer KEY`",
        ));
    }
    Ok(caller)
}

/// The caller of an HTTP request, from its `Authorization` header.
async fn http_caller(state: &AppState, ip: IpAddr, headers: &HeaderMap) -> Result<Caller, Refusal> {
    let token =
        match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => Some(v.to_str().ok().and_then(auth::bearer).ok_or(
                Refusal::Unauthenticated("the Authorization header must be `Bearer KEY`"),
            )?),
        };
    caller_of(state, ip, token).await
}

async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let media = http::MediaType::negotiate(&headers);
    let req = match http::read_post(&headers, &body) {
        Ok(r) => r,
        Err(rejected) => return rejected.into_response(media),
    };
    match admit(&state, media, req).await {
        Ok(admitted) => serve_request(&state, peer.ip(), media, &headers, admitted).await,
        Err(refused) => refused,
    }
}

/// The request checked and parsed (see [`AppSchema::admit`]), or the answer refusing it.
/// Whatever reads the document before execution (the GET mutation check, the metrics'
/// operation name) reads it only after this, so that no document is parsed before its text
/// is checked, nor on an async worker when it is big.
async fn admit(
    state: &AppState,
    media: http::MediaType,
    req: async_graphql::Request,
) -> Result<crate::graphql::Admitted, Response> {
    state.schema.admit(req).await.map_err(|refused| {
        state
            .metrics
            .graphql_request("invalid", false, Duration::ZERO);
        http::respond(
            media,
            state.schema.finish_refusal(refused),
            state.max_response_bytes,
        )
    })
}

/// Authenticates and runs a GraphQL request, unless the database is known to be down. A
/// request still waiting for the database when it is found down is answered then, rather
/// than when the pool gives up (its acquire timeout); one that failed for want of the
/// database makes the server check whether it is down.
async fn serve_request(
    state: &AppState,
    ip: IpAddr,
    media: http::MediaType,
    headers: &HeaderMap,
    mut admitted: crate::graphql::Admitted,
) -> Response {
    if !state.health.db_up() {
        return http::unavailable(media);
    }
    let work = async {
        let caller = http_caller(state, ip, headers).await?;
        admitted.request().data.insert(caller);
        Ok::<_, Refusal>(run(state, admitted).await)
    };
    let outcome = tokio::select! {
        out = work => out,
        () = state.health.lost() => Err(Refusal::Unavailable),
    };
    match outcome {
        Ok(resp) => {
            let unavailable = resp.errors.iter().any(|e| {
                e.extensions.as_ref().and_then(|x| x.get("code"))
                    == Some(&async_graphql::Value::from(
                        crate::error::DATABASE_UNAVAILABLE,
                    ))
            });
            if unavailable {
                state.health.suspect();
            }
            http::respond(media, resp, state.max_response_bytes)
        }
        Err(Refusal::Unavailable) => {
            state.health.suspect();
            http::unavailable(media)
        }
        Err(refused) => refused.into_response(),
    }
}

/// Subscriptions over graphql-transport-ws (and the older graphql-ws). The key, if any,
/// comes in the `connection_init` payload: `{"Authorization": "Bearer KEY"}`; it is checked
/// again before every operation and every few seconds between them.
async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = crate::ws::protocol(&headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "ask for the graphql-transport-ws subprotocol",
        )
            .into_response();
    };
    let ip = peer.ip();
    let max = state.ws.max_message_bytes;
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let schema = state.schema.clone();
            let closing = state.closing.clone();
            let init_timeout = state.request_timeout;
            let limits = state.ws.clone();
            crate::ws::serve(
                socket,
                schema,
                protocol,
                closing,
                init_timeout,
                limits,
                move |payload| accept_ws(state, ip, payload),
            )
        })
}

/// The `connection_init` of a websocket: who it is, its share of sockets, and the gate each
/// of its operations passes.
async fn accept_ws(
    state: AppState,
    ip: IpAddr,
    payload: serde_json::Value,
) -> Result<crate::ws::Accepted, crate::ws::Refused> {
    use crate::ws::{Refused, Verdict};
    let token = match ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(k).and_then(|v| v.as_str()))
    {
        None => None,
        Some(v) => Some(
            auth::bearer(v)
                .map(str::to_owned)
                .ok_or_else(|| Refused(4403, "Authorization must be `Bearer KEY`".into()))?,
        ),
    };
    let caller =
        caller_of(&state, ip, token.as_deref())
            .await
            .map_err(|refused| match refused {
                Refusal::Unavailable => {
                    state.health.suspect();
                    Refused(
                        1011,
                        "the database is unavailable; retry in a moment".into(),
                    )
                }
                Refusal::Unauthenticated(_) => Refused(
                    4403,
                    "Forbidden: the API key is missing or not valid".into(),
                ),
                Refusal::Limited(secs) => Refused(
                    4429,
                    format!("too many failed authentications; retry in {secs} s"),
                ),
            })?;
    let key_hash = token.as_deref().map(auth::keys::hash);
    let who = match &key_hash {
        Some(h) => format!("key:{h}"),
        None => format!("address:{ip}"),
    };
    let slot = state.ws.socket(who).ok_or_else(|| {
        Refused(
            4429,
            format!(
                "this caller has {} websockets open already",
                state.ws.max_per_caller
            ),
        )
    })?;
    let mut data = crate::graphql::connection_loaders(&state.db);
    data.insert(caller);
    let keyed = token.is_some();
    let gate_state = state.clone();
    let gate: crate::ws::Gate = std::sync::Arc::new(move |spend: bool| {
        let state = gate_state.clone();
        let token = token.clone();
        let key_hash = key_hash.clone();
        Box::pin(async move {
            if spend && let Err(secs) = state.limiter.spend(ip, key_hash.as_deref()) {
                return Verdict::Limited(secs);
            }
            let Some(token) = token else {
                return Verdict::Go;
            };
            match auth::keys::authenticate(&state.db.conn, &token).await {
                Ok(Some(_)) => Verdict::Go,
                Ok(None) => Verdict::Revoked,
                // The database is away: the operation will say so itself.
                Err(_) => Verdict::Go,
            }
        })
    });
    Ok(crate::ws::Accepted {
        data,
        gate,
        slot,
        keyed,
    })
}

/// Executes a request, recording its operation, outcome and latency.
async fn run(state: &AppState, mut admitted: crate::graphql::Admitted) -> async_graphql::Response {
    let started = Instant::now();
    let operation = metrics::operation_name(admitted.request());
    let resp = execute_admitted(&state.schema, &state.db, admitted, state.batch_delay).await;
    state
        .metrics
        .graphql_request(&operation, resp.is_ok(), started.elapsed());
    resp
}

/// GET runs a query from the URL; a browser asking for the page without a query gets GraphiQL.
async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let query = query.unwrap_or_default();
    if wants_html && !query.contains("query=") && state.graphiql {
        return crate::graphiql::page();
    }
    let media = http::MediaType::negotiate(&headers);
    let req = match http::read_get(&query) {
        Ok(r) => r,
        Err(rejected) => return rejected.into_response(media),
    };
    let mut admitted = match admit(&state, media, req).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    if let Err(rejected) = http::check_get(admitted.request()) {
        return rejected.into_response(media);
    }
    serve_request(&state, peer.ip(), media, &headers, admitted).await
}

/// Ready: the database answers and is migrated, and (PostgreSQL) the event listener is
/// listening, so that a change written now reaches subscribers.
async fn readyz(State(state): State<AppState>) -> Response {
    let unreachable = || (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response();
    if !state.health.db_up() {
        return unreachable();
    }
    let checked = tokio::select! {
        checked = db::migrations_applied(&state.db.conn) => checked,
        () = state.health.lost() => return unreachable(),
    };
    match checked {
        Ok(true) if !state.health.events_up() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "event listener reconnecting",
        )
            .into_response(),
        Ok(true) => (StatusCode::OK, "ready").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            state.health.suspect();
            unreachable()
        }
    }
}
