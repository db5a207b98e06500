//! The sample data shipped in the binary (`data/samples/`), loaded into an empty database on
//! first start so that a new install has a real graph to query.

use entity::review;
use sea_orm::{EntityTrait, PaginatorTrait};

use super::{IngestError, Outcome, ingest_text};
use crate::write::WritePath;

macro_rules! pages {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../../data/samples/dhr-library/", $name)))),+]
    };
}

/// `(file name, text)` of every sample review page.
pub const SAMPLE_PAGES: &[(&str, &str)] = pages![
    "bassetlaw-2023.txt",
    "cardiff-65086afd.txt",
    "kent-6391f1a0.txt",
    "kent-644a9ef9.txt",
    "liverpool-64be8fe3.txt",
    "liverpool-64bf7c27.txt",
    "manchester-64be762c.txt",
    "nottingham-2022.txt",
    "somerset-644be96f.txt",
    "southampton-644aa2ba.txt",
    "southampton-65cf3168.txt",
];

/// The DHRD dataset (Cook & Cook 2026, CC BY 4.0; see `data/samples/README.md`).
pub const DHRD_CSV: &str = include_str!("../../../data/samples/dhrd/incidents.csv");

/// Loads the samples when the database holds no review: the pages, and unless `pages_only`
/// the DHRD records. Returns what became of each page (none when the database had reviews).
pub async fn load_if_empty(db: &WritePath, pages_only: bool) -> Result<Vec<Outcome>, IngestError> {
    if review::Entity::find().count(db.conn()).await? > 0 {
        return Ok(Vec::new());
    }
    let mut outcomes = Vec::with_capacity(SAMPLE_PAGES.len());
    for (name, text) in SAMPLE_PAGES {
        let report = ingest_text(db, text).await.inspect_err(|e| {
            tracing::error!(sample = name, error = %e, "sample page failed to load");
        })?;
        outcomes.push(report.stored.outcome);
    }
    if !pages_only {
        super::dhrd::import(db, DHRD_CSV)
            .await
            .map_err(|e| match e {
                super::dhrd::DhrdError::Db(d) => IngestError::Db(d),
                other => IngestError::Db(sea_orm::DbErr::Custom(format!("sample DHRD: {other}"))),
            })?;
    }
    // Related recommendations answer from the first request, from a full rebuild (the
    // upkeep may have followed the first pages with the weights of fewer).
    db.similarity().rebuild_requested();
    db.settle().await?;
    Ok(outcomes)
}
