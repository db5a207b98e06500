//! The database: connect (SQLite or PostgreSQL, chosen by the URL), migrate, count statements.
//!
//! SQLite is the embedded default: the file is created on first start, put in WAL mode with a
//! busy timeout so that readers never block the writer. Every statement is counted, so tests
//! can assert that a GraphQL request costs a bounded number of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot connect to the database: {}", plain(.0))]
    Connect(#[source] DbErr),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] DbErr),
}

/// A driver's error as a person reads it: without the layers' prefixes ("Connection Error:
/// error returned from database:") and PostgreSQL's note of the line of its own C source
/// ("at line 948"), which says nothing about the user's setup.
fn plain(e: &DbErr) -> String {
    let mut s = e.to_string();
    for prefix in ["Connection Error: ", "error returned from database: "] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
        }
    }
    if let Some(at) = s.rfind(" at line ")
        && s[at + " at line ".len()..]
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        s.truncate(at);
    }
    if s.contains("does not exist") && s.starts_with("database ") {
        s.push_str(
            " (create it first, e.g. `createdb NAME`, or point --database-url at one that exists)",
        );
    }
    s
}

/// Counts SQL statements executed through one connection pool.
#[derive(Clone, Default, Debug)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A migrated connection pool and its statement counter.
#[derive(Clone, Debug)]
pub struct Db {
    pub conn: DatabaseConnection,
    pub statements: StatementCounter,
    /// This start applied a migration that creates derived tables: they are filled from the
    /// base tables by [`crate::write::fill_after_upgrade`], through the write path.
    pub needs_fill: bool,
}

impl Db {
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
}

pub fn is_supported_url(url: &str) -> bool {
    url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Connects and applies pending migrations.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
    connect_with(url, max_connections, None).await
}

/// As [`connect`], with a PostgreSQL statement timeout on every connection: the server sets
/// one so that no single request can hold the database for long; batch commands do not.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> Result<Db, DbError> {
    if !is_supported_url(url) {
        return Err(DbError::UnsupportedUrl(url.to_owned()));
    }
    // Migrations are batch work: on a connection of their own, without the requests' timeout.
    let needs_fill = match statement_timeout {
        Some(_) if !url.starts_with("sqlite:") => {
            let conn = Database::connect(options(url, 1, None))
                .await
                .map_err(DbError::Connect)?;
            let needs_fill = migrate(&conn).await?;
            let _ = conn.close().await;
            Some(needs_fill)
        }
        _ => None,
    };
    let options = options(url, max_connections, statement_timeout);
    let mut conn = Database::connect(options).await.map_err(DbError::Connect)?;
    let statements = StatementCounter::default();
    let counter = statements.0.clone();
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let needs_fill = match needs_fill {
        Some(n) => n,
        None => migrate(&conn).await?,
    };
    Ok(Db {
        conn,
        statements,
        needs_fill,
    })
}

fn options(url: &str, max_connections: u32, statement_timeout: Option<Duration>) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // A SQLite file has no server to drop a connection: pinging it before every statement
        // was one more round trip to the connection's worker thread per statement.
        .test_before_acquire(!url.starts_with("sqlite:"))
        .map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        })
        .map_sqlx_postgres_opts(move |o| match statement_timeout {
            Some(t) => o.options([("statement_timeout", t.as_millis().to_string())]),
            None => o,
        });
    options
}

/// Applies pending migrations and syncs the theme rows. Returns whether this applied a
/// migration that creates derived tables in a database that had rows to derive them from:
/// derived tables are filled by Rust code, which the migrations cannot call, so the caller
/// fills them as one unit of work.
async fn migrate(conn: &DatabaseConnection) -> Result<bool, DbError> {
    let pending = Migrator::get_pending_migrations(conn)
        .await
        .map_err(DbError::Migrate)?;
    // A new database (nothing applied yet) has no base rows to derive from.
    let fresh = pending.len() == Migrator::migrations().len();
    let needs_fill = !fresh
        && pending
            .iter()
            .any(|m| m.name() == MENTIONS_MIGRATION || m.name() == DERIVED_MIGRATION);
    Migrator::up(conn, None).await.map_err(DbError::Migrate)?;
    // Reference data, not derived data: the theme rows tags point at, from the taxonomy.
    crate::ingest::themes::sync(conn)
        .await
        .map_err(DbError::Migrate)?;
    Ok(needs_fill)
}

const MENTIONS_MIGRATION: &str = "m20261125_000007_mentions";
const DERIVED_MIGRATION: &str = "m20261126_000010_derived_graph";

/// True when every migration this binary knows has been applied.
pub async fn migrations_applied(conn: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(conn).await?.is_empty())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that upgrades later can fail with "database is
/// locked" whatever the busy timeout, while one that waits at `BEGIN` just queues.
pub async fn begin_write(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mode = (conn.get_database_backend() == DbBackend::Sqlite)
        .then_some(SqliteTransactionMode::Immediate);
    conn.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: mode,
        ..Default::default()
    })
    .await
}

/// PostgreSQL rolled the transaction back to break a deadlock (40P01) or a serialization
/// failure (40001): running it again is the documented remedy.
pub fn is_deadlock(e: &DbErr) -> bool {
    let sqlx = match e {
        DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    sqlx.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "40P01" || c == "40001")
}
