//! Change events for subscriptions.
//!
//! A writer *stages* its events inside its transaction and *publishes* them after commit.
//! On PostgreSQL staging is `pg_notify`, which the server delivers only when (and if) the
//! transaction commits, to every server process listening on the database: one process's
//! write reaches subscribers connected to another. On SQLite (one process) publishing hands
//! the events to the in-process bus.

use std::sync::Arc;

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
pub async fn listen(url: &str, bus: EventBus) -> Result<tokio::task::JoinHandle<()>, DbErr> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url)
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string())))?;
    listener
        .listen(CHANNEL)
        .await
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string())))?;
    Ok(tokio::spawn(async move {
        loop {
            // `recv` reconnects by itself after a lost connection (notifications sent
            // meanwhile are lost: PostgreSQL keeps none for absent listeners).
            match listener.recv().await {
                Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                    Ok(event) => bus.deliver(event),
                    Err(e) => tracing::warn!(error = %e, "unreadable event notification"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "event listener lost its connection; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }))
}
