//! Rate limiting, answered with 429 and `Retry-After`. Every request spends from its
//! address's budget, and a request with a key from the key's budget too, so that a fresh
//! random key per request buys nothing. Failed authentications (unknown or revoked keys) are
//! counted per address: past their budget, requests with a key from that address are refused
//! before the key is looked up. Websocket operations spend from the same budgets as HTTP
//! requests. GCRA from `governor`: a steady rate with a burst allowance, no timers.

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
pub enum Who {
    Key(String),
    Address(IpAddr),
}

#[derive(Clone)]
pub struct Limiter {
    requests: Option<Arc<DefaultKeyedRateLimiter<Who>>>,
    failures: Option<Arc<Failures>>,
}

/// Failed authentications per address in the current minute (a fixed window: looking does
/// not spend, unlike a GCRA cell).
struct Failures {
    per_minute: u32,
    seen: std::sync::Mutex<std::collections::HashMap<IpAddr, (std::time::Instant, u32)>>,
}

const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

impl Failures {
    fn count(&self, ip: IpAddr, add: u32) -> (u32, u64) {
        let now = std::time::Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(add);
        let left = WINDOW.saturating_sub(now.duration_since(entry.0));
        (entry.1, left.as_secs().max(1))
    }
}

/// Forgets idle callers now and then, so a limiter's table holds only recent ones.
fn sweep<K: std::hash::Hash + Eq + Clone + Send + Sync + 'static>(
    limiter: &Arc<DefaultKeyedRateLimiter<K>>,
) {
    let weak = Arc::downgrade(limiter);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match weak.upgrade() {
                Some(l) => l.retain_recent(),
                None => return,
            }
        }
    });
}

/// Seconds until `not_until`, rounded up, at least 1.
fn wait_secs(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limiter {
    /// `per_minute` requests a minute with bursts of `burst` (0 switches request limiting
    /// off), and `failures_per_minute` failed authentications per address (0: not limited).
    pub fn new(per_minute: u32, burst: u32, failures_per_minute: u32) -> Self {
        let requests = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            let l = Arc::new(RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ));
            sweep(&l);
            l
        });
        let failures = (failures_per_minute > 0).then(|| {
            Arc::new(Failures {
                per_minute: failures_per_minute,
                seen: Default::default(),
            })
        });
        Limiter { requests, failures }
    }

    /// Spends one unit from the address's budget and, with a key, from the key's: `Err` is
    /// the seconds to wait.
    pub fn spend(&self, ip: IpAddr, key_hash: Option<&str>) -> Result<(), u64> {
        let Some(l) = &self.requests else {
            return Ok(());
        };
        l.check_key(&Who::Address(ip)).map_err(wait_secs)?;
        if let Some(hash) = key_hash {
            l.check_key(&Who::Key(hash.to_owned())).map_err(wait_secs)?;
        }
        Ok(())
    }

    /// Records a failed authentication from `ip`.
    pub fn failed_auth(&self, ip: IpAddr) {
        if let Some(f) = &self.failures {
            f.count(ip, 1);
        }
    }

    /// The seconds to wait, if `ip` has used up its failed authentications this minute.
    pub fn auth_blocked(&self, ip: IpAddr) -> Option<u64> {
        let f = self.failures.as_ref()?;
        let (n, secs) = f.count(ip, 0);
        (n >= f.per_minute).then_some(secs)
    }
}

/// The 429 answer.
pub fn too_many(secs: u64, what: &str) -> Response {
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(serde_json::json!({
            "errors": [{
                "message": format!("too many {what}; retry in {secs} s"),
                "extensions": { "code": "RATE_LIMITED", "retryAfter": secs }
            }]
        })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// Axum middleware: spends one unit of the caller's budgets, or answers 429.
pub async fn limit(
    State(limiter): State<Limiter>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let key_hash = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::bearer)
        .map(crate::auth::keys::hash);
    match limiter.spend(peer.ip(), key_hash.as_deref()) {
        Ok(()) => next.run(req).await,
        Err(secs) => too_many(secs, "requests"),
    }
}
