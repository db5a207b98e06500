//! The one way to write. Every write (ingest, the mutations, curation, plans, import, the
//! CLI, the samples, synth) runs as a [`Unit`] of work through [`WritePath::run`]:
//!
//! 1. begin (SQLite `BEGIN IMMEDIATE`, so that writers queue at the start instead of failing
//!    on a lock upgrade);
//! 2. run the caller's closure, which writes base tables and says what it touched
//!    ([`Touched`]): reviews before they change, recommendation texts, deletions, status moves,
//!    events;
//! 3. bring everything derived from what was touched up to date, in one place
//!    ([`upkeep`]): themes, mentions, the search index, the DHRD link of the touched reviews,
//!    the write-time aggregates and the agencies' counts;
//! 4. stage events, commit;
//! 5. after commit, publish the events and hand the touched recommendations to the
//!    similarity upkeep ([`crate::similarity::Upkeep`]), which rescores them in the background.
//!
//! A deadlock, a serialization failure or a unique-key race (two writers creating the same
//! CSP) rolls the unit back and runs it again, whole, up to [`ATTEMPTS`] times.
//!
//! The rule for a new derived table: derive it in [`upkeep`] from what [`Touched`] holds
//! (add to `Touched` if it needs more), never in a writer; then add it to the full recompute
//! that `verify` compares against.

pub mod check;
mod touched;
pub mod upkeep;

use futures::future::BoxFuture;
use sea_orm::{DatabaseConnection, DbErr, SqlErr};

pub use touched::{Touched, Unit};

use crate::events::EventBus;
use crate::similarity::Upkeep;

/// Attempts of one unit when the database rolled it back for a deadlock, a serialization
/// failure or a unique-key race.
pub const ATTEMPTS: usize = 3;

/// An error a write can fail with; the write path retries the unit when it is a database
/// error that running again cures.
pub trait WriteError: From<DbErr> {
    fn db_err(&self) -> Option<&DbErr>;
}

impl WriteError for DbErr {
    fn db_err(&self) -> Option<&DbErr> {
        Some(self)
    }
}

/// A deadlock (40P01) or serialization failure (40001) on PostgreSQL, or a unique key that
/// a concurrent writer took first: the documented remedy is to run the transaction again,
/// and the second run finds the other writer's committed row.
pub fn is_retryable(e: &DbErr) -> bool {
    crate::db::is_deadlock(e) || matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// The write path of one database: where writes begin, and what happens after they commit.
#[derive(Clone)]
pub struct WritePath {
    conn: DatabaseConnection,
    bus: Option<EventBus>,
    similarity: Upkeep,
    metrics: Option<crate::metrics::Metrics>,
    /// Who writes, for the audit log (`cli` unless [`WritePath::acting_as`] says).
    actor: std::sync::Arc<str>,
}

/// What a committed unit's upkeep did besides the writer's own result.
#[derive(Debug, Default, Clone)]
pub struct Committed {
    /// Events published.
    pub events: usize,
    /// Recommendations handed to the similarity upkeep.
    pub rescore: usize,
    /// Pages linked to their DHRD record, and pages with several candidate records.
    pub linked: usize,
    pub ambiguous: Vec<String>,
}

impl WritePath {
    /// A write path for a batch: similarity upkeep waits for [`WritePath::settle`].
    pub fn batch(conn: DatabaseConnection) -> Self {
        let similarity = Upkeep::deferred(conn.clone());
        Self::with_upkeep(conn, similarity)
    }

    /// A batch write path with the given similarity upkeep.
    pub fn with_upkeep(conn: DatabaseConnection, similarity: Upkeep) -> Self {
        WritePath {
            conn,
            bus: None,
            similarity,
            metrics: None,
            actor: "cli".into(),
        }
    }

    /// The server's write path: events reach subscribers, similarity follows in the
    /// background.
    pub fn serving(
        conn: DatabaseConnection,
        bus: EventBus,
        similarity: Upkeep,
        metrics: Option<crate::metrics::Metrics>,
    ) -> Self {
        WritePath {
            conn,
            bus: Some(bus),
            similarity,
            metrics,
            actor: "cli".into(),
        }
    }

    /// The same write path, writing as `actor` (an API key's name): every unit it runs
    /// records that actor in the audit log.
    pub fn acting_as(&self, actor: &str) -> WritePath {
        WritePath {
            actor: actor.into(),
            ..self.clone()
        }
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn similarity(&self) -> &Upkeep {
        &self.similarity
    }

    pub fn metrics(&self) -> Option<&crate::metrics::Metrics> {
        self.metrics.as_ref()
    }

    /// Runs `write` as one unit of work: all of it and everything it derives lands, or none.
    ///
    /// `write` gets the unit and `args` (what it needs from the caller: passing it by
    /// reference lets the future borrow it, which a capture could not), and may run more
    /// than once.
    pub async fn run<A, T, E, F>(&self, args: &A, write: F) -> Result<T, E>
    where
        A: Sync + ?Sized,
        E: WriteError,
        F: for<'u> FnMut(&'u mut Unit, &'u A) -> BoxFuture<'u, Result<T, E>>,
    {
        Ok(self.run_reported(args, write).await?.0)
    }

    /// As [`WritePath::run`], with what the upkeep did.
    pub async fn run_reported<A, T, E, F>(
        &self,
        args: &A,
        mut write: F,
    ) -> Result<(T, Committed), E>
    where
        A: Sync + ?Sized,
        E: WriteError,
        F: for<'u> FnMut(&'u mut Unit, &'u A) -> BoxFuture<'u, Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            match self.attempt(args, &mut write).await {
                Err(e) if attempt < ATTEMPTS && e.db_err().is_some_and(is_retryable) => {
                    tracing::debug!(attempt, error = ?e.db_err(), "write rolled back; running it again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt<A, T, E, F>(&self, args: &A, write: &mut F) -> Result<(T, Committed), E>
    where
        A: Sync + ?Sized,
        E: WriteError,
        F: for<'u> FnMut(&'u mut Unit, &'u A) -> BoxFuture<'u, Result<T, E>>,
    {
        let txn = crate::db::begin_write(&self.conn).await?;
        let mut unit = Unit::new(txn, self.actor.clone());
        let value = match write(&mut unit, args).await {
            Ok(v) => v,
            Err(e) => {
                // Dropping the transaction rolls it back too; saying so keeps the error ours.
                unit.into_txn().rollback().await?;
                return Err(e);
            }
        };
        let (txn, touched) = unit.into_parts();
        let done = upkeep::settle(&txn, touched).await?;
        txn.commit().await?;
        Ok((value, self.after_commit(done)))
    }

    fn after_commit(&self, done: upkeep::Settled) -> Committed {
        let report = Committed {
            events: done.events.len(),
            rescore: done.rescore.len(),
            linked: done.linked,
            ambiguous: done.ambiguous,
        };
        if let Some(bus) = &self.bus {
            bus.committed(done.events);
        }
        if done.rebuild_similarity {
            self.similarity.rebuild_requested();
        } else {
            self.similarity.relist(done.relist);
            self.similarity.touched(done.rescore);
        }
        report
    }

    /// Brings similarity up to date with every write so far (a batch's last step; a server
    /// does it in the background).
    pub async fn settle(&self) -> Result<crate::similarity::Settled, DbErr> {
        self.similarity.settle().await
    }
}

/// Fills the derived tables of a database that predates them (see [`crate::db::Db`]), as
/// one unit: mentions from the rules, then every aggregate and count, then similarity.
pub async fn fill_after_upgrade(path: &WritePath, db: &crate::db::Db) -> Result<(), DbErr> {
    if !db.needs_fill {
        return Ok(());
    }
    path.run(&(), |unit, _| {
        Box::pin(async move {
            crate::ingest::mentions::backfill(unit.db()).await?;
            unit.wrote_everything();
            Ok::<_, DbErr>(())
        })
    })
    .await?;
    path.settle().await?;
    tracing::info!("filled the derived tables of an upgraded database");
    Ok(())
}

impl std::fmt::Debug for WritePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritePath").finish_non_exhaustive()
    }
}
