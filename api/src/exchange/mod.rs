//! Exchange: the graph out as JSON (everything needed to rebuild it elsewhere) or as CSV (one
//! row per recommendation, for spreadsheets), and a JSON export back into an empty database.
//!
//! The JSON export holds CSPs, agencies (with their aliases and sectors), reviews (every
//! stored column, CSPs in order, case tags, merged listings, the DHRD record a page is
//! linked to) and recommendations (agencies in order, action plan, status history).
//!
//! Left out on purpose:
//! - API keys. They are credentials (the hash of a bearer key is enough to recognise a
//!   guessed or leaked key), and an export file travels further than a database does. Keys
//!   are issued afresh on the target with `dhr-graph keys create`.
//! - Derived data: theme tags, mentions, similarity edges, the search index and the
//!   agencies' counts. Import recomputes them with the ingest's own functions, so they follow
//!   the taxonomy and rules of the binary that imports. The `theme` table itself is synced
//!   from the taxonomy whenever a database is opened.

mod export;
mod import;
pub mod model;
mod table;

use sea_orm::{DatabaseConnection, DbErr};

pub use import::{ImportSummary, import, parse};
pub use model::{Export, FORMAT};
pub use table::HEADER as CSV_HEADER;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The whole graph, to import elsewhere.
    Json,
    /// One row per recommendation, for spreadsheets.
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("line {line}, column {column}: {message}")]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("export format {0} is not one this dhr-graph reads (it reads format {FORMAT})")]
    Format(u32),
    #[error("{at}: {reason}")]
    Invalid { at: String, reason: String },
    #[error("the database is not empty (it holds {0}); import only into an empty database")]
    NotEmpty(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Reads the whole graph in one snapshot.
pub async fn snapshot(conn: &DatabaseConnection) -> Result<Export, DbErr> {
    export::snapshot(conn).await
}

/// The export as pretty JSON ending in a newline: the same graph gives the same bytes.
pub fn to_json(export: &Export) -> String {
    // A tree of strings, numbers and options serialises without error.
    let mut text = serde_json::to_string_pretty(export).unwrap_or_default();
    text.push('\n');
    text
}

pub fn to_csv(export: &Export) -> Result<String, ExchangeError> {
    table::to_csv(export)
}

/// Exports the graph in `format`.
pub async fn export_as(
    conn: &DatabaseConnection,
    format: ExportFormat,
) -> Result<String, ExchangeError> {
    let export = snapshot(conn).await?;
    match format {
        ExportFormat::Json => Ok(to_json(&export)),
        ExportFormat::Csv => to_csv(&export),
    }
}
