//! Change events for subscriptions.
//!
//! A writer *stages* its events inside its transaction and *publishes* them after commit.
//! On PostgreSQL staging is `pg_notify`, which the server delivers only when (and if) the
//! transaction commits, to every server process listening on the database: one process's
//! write reaches subscribers connected to another. On SQLite (one process) publishing hands
//! the events to the in-process bus.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::{
    self,
    postgres::{PgListener, PgPool, PgPoolOptions},
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::sql::statement;

/// The PostgreSQL channel the events travel on.
pub const CHANNEL: &str = "dhr_graph_events";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    StatusChanged(StatusChange),
    ReviewAdded { review_id: i32 },
}

/// One change to a recommendation's action plan, with what subscribers filter on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub event_id: i32,
    pub recommendation_id: i32,
    pub from_status: String,
    pub to_status: String,
    pub version: i32,
    pub actor: String,
    /// RFC 3339.
    pub at: String,
    pub note: Option<String>,
    /// Slugs of the agencies the recommendation is addressed to.
    pub agencies: Vec<String>,
    /// Slugs of the CSPs of its review.
    pub csps: Vec<String>,
}

/// Stages events in the writer's transaction (PostgreSQL: delivered at commit).
pub async fn stage<C: ConnectionTrait>(db: &C, events: &[Event]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    for event in events {
        // Serialising plain strings and numbers cannot fail.
        let payload = serde_json::to_string(event).unwrap_or_default();
        db.execute_raw(statement(
            backend,
            "SELECT pg_notify(?, ?)",
            vec![CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The in-process fan-out to subscribers.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    backend: DbBackend,
}

impl EventBus {
    pub fn new(backend: DbBackend) -> Self {
        // A subscriber more than this many events behind skips ahead (it is told, see
        // `subscribe`), rather than holding memory for a stalled client.
        let (tx, _) = broadcast::channel(1024);
        EventBus { tx, backend }
    }

    /// Publishes events whose transaction has committed. On PostgreSQL they arrive through
    /// the listener instead (see [`listen`]), so publishing here would deliver them twice.
    pub fn committed(&self, events: Vec<Event>) {
        if self.backend == DbBackend::Postgres {
            return;
        }
        for e in events {
            self.deliver(e);
        }
    }

    fn deliver(&self, event: Event) {
        // No subscriber is not an error.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

/// Listens on PostgreSQL for events written by any process and hands them to the bus.
/// Returns once listening, so that a client subscribing after start-up misses nothing.
///
/// A lost connection (PostgreSQL restarted, the session killed) is reported to `health`,
/// which marks events down until the listener listens again on a new connection, and makes
/// it probe the database. Notifications sent while no listener was connected are lost:
/// PostgreSQL keeps none for absent listeners.
pub async fn listen(
    url: &str,
    bus: EventBus,
    health: crate::health::Health,
) -> Result<tokio::task::JoinHandle<()>, DbErr> {
    let conn_err = |e: sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string()));
    // The listener's own connection, reconnected here rather than inside `PgListener`: a
    // short acquire timeout so that a reconnection is retried every `RELISTEN_EVERY`, not
    // after sqlx's 30 s default (its backoff grows to a fifth of that).
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy(url)
        .map_err(conn_err)?;
    let mut listener = subscribe(&pool).await.map_err(conn_err)?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<Event>(n.payload()) {
                    Ok(event) => bus.deliver(event),
                    Err(e) => tracing::warn!(error = %e, "unreadable event notification"),
                },
                lost => {
                    health.set_events_up(false);
                    health.suspect();
                    let error = lost.err().map(|e| e.to_string());
                    tracing::warn!(?error, "event listener lost its connection; reconnecting");
                    drop(listener);
                    let since = std::time::Instant::now();
                    listener = loop {
                        match subscribe(&pool).await {
                            Ok(l) => break l,
                            Err(e) => {
                                tracing::debug!(error = %e, "event listener cannot reconnect yet");
                                tokio::time::sleep(RELISTEN_EVERY).await;
                            }
                        }
                    };
                    health.set_events_up(true);
                    tracing::info!(
                        after_ms = since.elapsed().as_millis() as u64,
                        "event listener listening again"
                    );
                }
            }
        }
    }))
}

/// How often a lost listener tries to connect again.
const RELISTEN_EVERY: Duration = Duration::from_millis(250);

/// A listener on [`CHANNEL`] over a connection from `pool`. It does not reconnect by itself
/// (`try_recv` answers `None` when its connection is lost), so that the loss is seen.
async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
