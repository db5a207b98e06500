//! Ingest: review pages in, graph out. Parsing is pure ([`parse`]); storing runs one page per
//! transaction ([`store`]); [`files`] is the command-line front with progress and summary.

pub mod curated;
pub mod dhrd;
pub mod files;
pub mod mentions;
pub mod parse;
pub mod samples;
pub mod store;
pub mod themes;

use sea_orm::{DatabaseConnection, DbErr, SqlErr};

pub use parse::{NoteKind, ParseError, ParsedPage, RowNote, parse_page};
pub use store::{Outcome, Stored};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// What ingesting one page did, with the rows it could not fully take.
#[derive(Debug, Clone)]
pub struct PageReport {
    pub stored: Stored,
    pub notes: Vec<RowNote>,
    /// Events staged with the page's transaction, for [`crate::events::EventBus::committed`].
    pub events: Vec<crate::events::Event>,
}

/// Attempts of one page's transaction when a concurrent writer created the same CSP or
/// agency first (a unique key clash: the retry finds the committed row and uses it), or
/// when PostgreSQL broke a deadlock by rolling it back.
const ATTEMPTS: usize = 3;

/// Parses and stores one page in its own transaction: all of it lands, or none.
pub async fn ingest_text(db: &DatabaseConnection, text: &str) -> Result<PageReport, IngestError> {
    ingest_page(db, parse_page(text)?).await
}

/// Stores one parsed page in its own transaction, staging a `ReviewAdded` event with it.
pub async fn ingest_page(
    db: &DatabaseConnection,
    page: ParsedPage,
) -> Result<PageReport, IngestError> {
    let mut attempt = 1;
    loop {
        let txn = crate::db::begin_write(db).await?;
        let result = async {
            let stored = store::store_page(&txn, &page).await?;
            let events = match stored.outcome {
                Outcome::Added => vec![crate::events::Event::ReviewAdded {
                    review_id: stored.review_id,
                }],
                _ => Vec::new(),
            };
            crate::events::stage(&txn, &events).await?;
            Ok::<_, DbErr>((stored, events))
        }
        .await;
        let result = match result {
            Ok(done) => txn.commit().await.map(|()| done),
            Err(e) => Err(e),
        };
        match result {
            Ok((stored, events)) => {
                return Ok(PageReport {
                    stored,
                    notes: page.notes,
                    events,
                });
            }
            Err(e)
                if attempt < ATTEMPTS
                    && (matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
                        || crate::db::is_deadlock(&e)) =>
            {
                tracing::debug!(attempt, error = %e, "concurrent writer created the same row; retrying");
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
