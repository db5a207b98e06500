//! Ingest: review pages in, graph out. Parsing is pure ([`parse`]); storing runs one page per
//! transaction ([`store`]); [`files`] is the command-line front with progress and summary.

pub mod curated;
pub mod files;
pub mod parse;
pub mod samples;
pub mod store;
pub mod themes;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};

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
}

/// Parses and stores one page in its own transaction: all of it lands, or none.
pub async fn ingest_text(db: &DatabaseConnection, text: &str) -> Result<PageReport, IngestError> {
    let page = parse_page(text)?;
    let txn = db.begin().await?;
    let stored = store::store_page(&txn, &page).await?;
    txn.commit().await?;
    Ok(PageReport {
        stored,
        notes: page.notes,
    })
}
