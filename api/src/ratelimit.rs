//! Rate limiting per API key (per address for anonymous requests), answered with 429 and
//! `Retry-After`. GCRA from `governor`: a steady rate with a burst allowance, no timers.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Whose budget a request spends: a key's (by its hash, never the key itself) or an address's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Who {
    Key(String),
    Address(IpAddr),
}

#[derive(Clone)]
pub struct Limiter(Option<Arc<DefaultKeyedRateLimiter<Who>>>);

impl Limiter {
    /// `per_minute` requests a minute with bursts of `burst`; 0 switches limiting off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let Some(rate) = NonZeroU32::new(per_minute) else {
            return Limiter(None);
        };
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        let limiter = Arc::new(RateLimiter::keyed(
            Quota::per_minute(rate).allow_burst(burst),
        ));
        // Forget idle callers now and then, so the table holds only recent ones.
        let sweep = Arc::downgrade(&limiter);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                match sweep.upgrade() {
                    Some(l) => l.retain_recent(),
                    None => return,
                }
            }
        });
        Limiter(Some(limiter))
    }
}

/// Axum middleware: spends one unit of the caller's budget, or answers 429.
pub async fn limit(
    State(limiter): State<Limiter>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let Some(l) = &limiter.0 else {
        return next.run(req).await;
    };
    let who = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer)
    {
        Some(token) => Who::Key(crate::auth::keys::hash(token)),
        None => Who::Address(peer.ip()),
    };
    match l.check_key(&who) {
        Ok(()) => next.run(req).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(serde_json::json!({
                    "errors": [{
                        "message": format!("too many requests; retry in {secs} s"),
                        "extensions": { "code": "RATE_LIMITED", "retryAfter": secs }
                    }]
                })),
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            resp
        }
    }
}
