//! Whether PostgreSQL answers, so that requests are refused at once while it does not.
//!
//! Without this, a request during an outage waits out the pool's acquire timeout (sqlx retries
//! a refused connection until then) and is then reported as an internal error. Instead:
//!
//! - anything that suggests the database went away (the event listener losing its connection,
//!   a request failing with a connection error) makes the server *suspect* it;
//! - a suspicion is settled by a probe, one fresh connection outside the pool: if the server
//!   cannot be reached (refused, reset, timed out, shutting down or starting up) the database
//!   is *down*, and the probe repeats every [`PROBE_EVERY`] until a connection succeeds;
//! - while down, GraphQL requests are answered `DATABASE_UNAVAILABLE` (HTTP 503 with
//!   `Retry-After`) without touching the pool, requests already waiting are answered the same
//!   way, and `/readyz` says not ready.
//!
//! A probe that reaches the server but is turned away for another reason (too many
//! connections, authentication) does not mark it down: the pool's open connections may well
//! still work. SQLite (a file in the process) is always up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use tokio::sync::watch;

/// How often a down database is probed.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
/// The longest a probe may take (a host that drops packets answers nothing at all).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// What clients are told to wait before retrying, in seconds (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Clone)]
pub struct Health(Arc<Inner>);

struct Inner {
    /// `None` on SQLite: nothing to probe, always up.
    probe: Option<PgConnectOptions>,
    db_up: watch::Sender<bool>,
    /// PostgreSQL: the event listener is listening (events written now reach subscribers).
    events_up: watch::Sender<bool>,
    probing: AtomicBool,
}

impl Health {
    /// A database that cannot go away on its own (SQLite).
    pub fn always_up() -> Self {
        Self::new(None)
    }

    /// A PostgreSQL server, probed at `url` when suspected.
    pub fn postgres(url: &str) -> Result<Self, sqlx::Error> {
        let options = url.parse::<PgConnectOptions>()?.disable_statement_logging();
        Ok(Self::new(Some(options)))
    }

    fn new(probe: Option<PgConnectOptions>) -> Self {
        Health(Arc::new(Inner {
            probe,
            db_up: watch::Sender::new(true),
            events_up: watch::Sender::new(true),
            probing: AtomicBool::new(false),
        }))
    }

    /// False while the database is known to be unreachable.
    pub fn db_up(&self) -> bool {
        *self.0.db_up.borrow()
    }

    /// False while the PostgreSQL event listener is reconnecting.
    pub fn events_up(&self) -> bool {
        *self.0.events_up.borrow()
    }

    pub(crate) fn set_events_up(&self, up: bool) {
        self.0.events_up.send_replace(up);
    }

    /// Completes when the database is found to be down (never, while it stays up).
    pub async fn lost(&self) {
        let mut rx = self.0.db_up.subscribe();
        if rx.wait_for(|up| !*up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Something suggests the database went away: probe it (once at a time), and if it is
    /// unreachable mark it down until a probe succeeds.
    pub fn suspect(&self) {
        let Some(options) = self.0.probe.clone() else {
            return;
        };
        if self.0.probing.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut down_since: Option<Instant> = None;
            loop {
                match probe(&options).await {
                    Err(e) if is_outage(&e) => {
                        if down_since.is_none() {
                            down_since = Some(Instant::now());
                            this.0.db_up.send_replace(false);
                            tracing::warn!(error = %e, "the database is unreachable: requests are answered DATABASE_UNAVAILABLE until it answers");
                        }
                        tokio::time::sleep(PROBE_EVERY).await;
                    }
                    other => {
                        if let Err(e) = other {
                            tracing::warn!(error = %e, "the database answers but refused a probe connection");
                        }
                        this.0.db_up.send_replace(true);
                        this.0.probing.store(false, Ordering::SeqCst);
                        if let Some(since) = down_since {
                            tracing::info!(
                                down_ms = since.elapsed().as_millis() as u64,
                                "the database answers again"
                            );
                        }
                        return;
                    }
                }
            }
        });
    }
}

async fn probe(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let conn = tokio::time::timeout(PROBE_TIMEOUT, sqlx::PgConnection::connect_with(options))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let _ = conn.close().await;
    Ok(())
}

/// The error says the database server cannot be reached (as opposed to a bad statement, a
/// constraint, or a server that answers but refuses).
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_outage_sqlstate(&c)),
        _ => false,
    }
}

/// SQLSTATEs of a server going away or not there yet: class 08 (connection exception),
/// 57P01 (admin shutdown), 57P02 (crash shutdown), 57P03 (cannot connect now).
pub fn is_outage_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_an_outage_and_sqlite_is_never_probed() {
        // A port nothing listens on: the probe is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let health = Health::postgres(&format!("postgres://nobody@127.0.0.1:{port}/x")).unwrap();
        assert!(health.db_up());
        health.suspect();
        tokio::time::timeout(Duration::from_secs(5), health.lost())
            .await
            .expect("marked down within the probe timeout");
        assert!(!health.db_up());

        let sqlite = Health::always_up();
        sqlite.suspect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(sqlite.db_up());
        assert!(
            tokio::time::timeout(Duration::from_millis(50), sqlite.lost())
                .await
                .is_err()
        );
    }

    #[test]
    fn outage_sqlstates() {
        for code in ["08006", "08001", "57P01", "57P02", "57P03"] {
            assert!(is_outage_sqlstate(code), "{code}");
        }
        for code in ["53300", "28P01", "57014", "23505", "40001"] {
            assert!(!is_outage_sqlstate(code), "{code}");
        }
    }
}
