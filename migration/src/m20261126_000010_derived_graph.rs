//! Aggregates kept at write time for the graph questions. At ten times national scale
//! (340,000 agency links) `recurringAgencies`, `agencyNetwork`, `actionPlanStats` and the
//! trace of a common agency each read every link per request (0.2 to 3 s on SQLite). These
//! tables hold what those answers are made of, maintained by the same transaction as every
//! write (`api/src/graph/derived.rs`) and filled once when an older database migrates.
//!
//! - `agency_review`: one row per (agency, review) with how many of the review's
//!   recommendations address the agency and how many only mention it; `published` is the
//!   review's month, or '' when unknown, so that a trace pages along an index.
//! - `agency_recurrence`: per agency, the review and recommendation counts, addressed only and
//!   addressed-or-mentioned, indexed in ranking order.
//! - `agency_pair`: per pair of agencies (`agency_id < other_id`), the reviews addressing both,
//!   and the reviews naming both either way.
//! - `plan_stat`: recommendations per (grouping, bucket, status) for `actionPlanStats`.
//!
//! No cascades: the writer removes a review's or an agency's share before the row goes, so a
//! path that forgot to would fail on the foreign key instead of leaving stale counts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE agency_review (
        agency_id INTEGER NOT NULL REFERENCES agency (id),
        review_id INTEGER NOT NULL REFERENCES review (id),
        published VARCHAR(7) NOT NULL,
        addressed_recs INTEGER NOT NULL,
        mentioned_recs INTEGER NOT NULL,
        PRIMARY KEY (agency_id, review_id))",
    "CREATE INDEX idx_agency_review_review ON agency_review (review_id)",
    // With `addressed_recs`, a trace page and its count read the index alone.
    "CREATE INDEX idx_agency_review_order
        ON agency_review (agency_id, published, review_id, addressed_recs)",
    "CREATE TABLE agency_recurrence (
        agency_id INTEGER NOT NULL PRIMARY KEY REFERENCES agency (id),
        addressed_reviews INTEGER NOT NULL,
        addressed_recs INTEGER NOT NULL,
        any_reviews INTEGER NOT NULL,
        any_recs INTEGER NOT NULL)",
    "CREATE INDEX idx_agency_recurrence_addressed
        ON agency_recurrence (addressed_reviews DESC, addressed_recs DESC, agency_id)",
    "CREATE INDEX idx_agency_recurrence_any
        ON agency_recurrence (any_reviews DESC, any_recs DESC, agency_id)",
    "CREATE TABLE agency_pair (
        agency_id INTEGER NOT NULL REFERENCES agency (id),
        other_id INTEGER NOT NULL REFERENCES agency (id),
        addressed_shared INTEGER NOT NULL,
        any_shared INTEGER NOT NULL,
        PRIMARY KEY (agency_id, other_id))",
    "CREATE INDEX idx_agency_pair_other ON agency_pair (other_id)",
    "CREATE INDEX idx_agency_pair_addressed
        ON agency_pair (addressed_shared DESC, agency_id, other_id)",
    "CREATE INDEX idx_agency_pair_any ON agency_pair (any_shared DESC, agency_id, other_id)",
    "CREATE TABLE plan_stat (
        kind VARCHAR(8) NOT NULL,
        bucket VARCHAR(40) NOT NULL,
        status VARCHAR(20) NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (kind, bucket, status))",
];

/// A new agency's slug is checked against `slug LIKE 'base-%'`. PostgreSQL serves a prefix
/// LIKE from a B-tree only under the C collation or with `text_pattern_ops` (a `C.UTF-8`
/// database is not enough): without these, each new agency scanned the agency table
/// (EXPLAIN at ten times national scale: `Seq Scan on agency`, 15.7 ms; ingest 19 pages/s).
const UP_POSTGRES: &[&str] = &[
    "CREATE INDEX idx_agency_slug_pattern ON agency (slug text_pattern_ops)",
    "CREATE INDEX idx_csp_slug_pattern ON csp (slug text_pattern_ops)",
];

const DOWN_POSTGRES: &[&str] = &[
    "DROP INDEX idx_csp_slug_pattern",
    "DROP INDEX idx_agency_slug_pattern",
];

const DOWN: &[&str] = &[
    "DROP TABLE plan_stat",
    "DROP TABLE agency_pair",
    "DROP TABLE agency_recurrence",
    "DROP TABLE agency_review",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            for sql in UP_POSTGRES {
                manager.get_connection().execute_unprepared(sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for sql in DOWN_POSTGRES {
                manager.get_connection().execute_unprepared(sql).await?;
            }
        }
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
