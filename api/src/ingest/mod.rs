//! Ingest: review pages in, graph out. Parsing is pure ([`parse`]); storing runs one page per
//! unit of work ([`store`], [`crate::write`]); [`files`] is the command-line front with progress and summary.

pub mod curated;
pub mod dhrd;
pub mod files;
pub mod identity;
pub mod mentions;
pub mod parse;
pub mod samples;
pub mod store;
pub mod themes;

use sea_orm::DbErr;

use crate::write::WritePath;

pub use parse::{NoteKind, ParseError, ParsedPage, RowNote, parse_page};
pub use store::{Outcome, StoreOptions, Stored};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The page's review was deleted: an admin restores it (`restoreReview`) before it can
    /// be written again.
    #[error("review {review_id} was deleted; an admin can restore it with restoreReview")]
    Deleted { review_id: i32 },
    /// The page leaves out recommendations that carry an action plan or status history.
    #[error(
        "this would withdraw {} recommendation(s) with an action plan or status history, or \
         from a page cut short ({}); send the page again with allow-withdraw to do so",
        withheld.len(),
        withheld.iter().map(|w| format!("{} ({} status events)", w.label, w.status_events)).collect::<Vec<_>>().join(", ")
    )]
    WouldWithdraw {
        review_id: i32,
        withheld: Vec<store::Withheld>,
    },
    /// The writer's key may not write this review.
    #[error("{0}")]
    OutOfScope(String),
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
            _ => None,
        }
    }
}

/// Parses and stores one page as one unit of work: all of it lands, or none.
pub async fn ingest_text(path: &WritePath, text: &str) -> Result<PageReport, IngestError> {
    ingest_page(path, parse_page(text)?).await
}

/// As [`ingest_text`], as `opts` say.
pub async fn ingest_text_with(
    path: &WritePath,
    text: &str,
    opts: &StoreOptions,
) -> Result<PageReport, IngestError> {
    ingest_page_with(path, parse_page(text)?, opts).await
}

/// Stores one parsed page as one unit of work, staging a `ReviewAdded` event with it.
pub async fn ingest_page(path: &WritePath, page: ParsedPage) -> Result<PageReport, IngestError> {
    ingest_page_with(path, page, &StoreOptions::default()).await
}

/// As [`ingest_page`], as `opts` say.
pub async fn ingest_page_with(
    path: &WritePath,
    page: ParsedPage,
    opts: &StoreOptions,
) -> Result<PageReport, IngestError> {
    let stored = path
        .run(&(&page, opts), |unit, (page, opts)| {
            Box::pin(store::store_page(unit, page, opts))
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
