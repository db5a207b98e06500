//! Ingest: review pages in, graph out. Parsing is pure ([`parse`]); storing runs one page per
//! unit of work ([`store`], [`crate::write`]); [`files`] is the command-line front with progress and summary.

pub mod curated;
pub mod dhrd;
pub mod files;
pub mod mentions;
pub mod parse;
pub mod samples;
pub mod store;
pub mod themes;

use sea_orm::DbErr;

use crate::write::WritePath;

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

impl crate::write::WriteError for IngestError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            IngestError::Db(e) => Some(e),
            IngestError::Parse(_) => None,
        }
    }
}

/// Parses and stores one page as one unit of work: all of it lands, or none.
pub async fn ingest_text(path: &WritePath, text: &str) -> Result<PageReport, IngestError> {
    ingest_page(path, parse_page(text)?).await
}

/// Stores one parsed page as one unit of work, staging a `ReviewAdded` event with it.
pub async fn ingest_page(path: &WritePath, page: ParsedPage) -> Result<PageReport, IngestError> {
    let stored = path
        .run(&page, |unit, page| {
            Box::pin(async move { Ok::<_, IngestError>(store::store_page(unit, page).await?) })
        })
        .await?;
    if let Some(m) = path.metrics() {
        m.page_ingested(stored.outcome);
    }
    Ok(PageReport {
        stored,
        notes: page.notes,
    })
}
