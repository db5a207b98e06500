//! Issue 12, the agency registry: an agency gains what the registers know of it (kind,
//! registry code, scope, parent, successor), an alias records whether a curator made it, and
//! every recommendation-agency link records how its name was resolved and why.
//!
//! An existing database keeps every link, alias and agency. What it had resolved before was
//! either the curated list or a curator's work (any agency with a sector other than `OTHER`)
//! or an unknown name (`OTHER`): links and aliases are marked so, and those decisions keep
//! winning over the registry. Generic names the old list held as one national body
//! ("OPCC") are not kept as curated: the registry resolves them per force area.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// `parent_agency_id`, not `parent_id`: the GraphQL loaders alias their grouping key as
// `parent_id` next to `agency.*`, and two columns of one name would read the wrong one.
const UP: &[&str] = &[
    "ALTER TABLE agency ADD COLUMN kind TEXT NOT NULL DEFAULT 'OTHER'",
    "ALTER TABLE agency ADD COLUMN registry_code TEXT NULL",
    "ALTER TABLE agency ADD COLUMN scope TEXT NULL",
    "ALTER TABLE agency ADD COLUMN parent_agency_id INTEGER NULL",
    "ALTER TABLE agency ADD COLUMN successor_id INTEGER NULL",
    "ALTER TABLE agency ADD COLUMN successor_year INTEGER NULL",
    "CREATE UNIQUE INDEX idx_agency_registry_code ON agency (registry_code)",
    "CREATE INDEX idx_agency_parent ON agency (parent_agency_id)",
    "CREATE INDEX idx_agency_successor ON agency (successor_id)",
    "CREATE INDEX idx_agency_kind ON agency (kind)",
    "ALTER TABLE agency_alias ADD COLUMN origin TEXT NOT NULL DEFAULT 'INGEST'",
    "ALTER TABLE recommendation_agency ADD COLUMN method TEXT NOT NULL DEFAULT 'UNRESOLVED'",
    "ALTER TABLE recommendation_agency ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX idx_recommendation_agency_method ON recommendation_agency (method, agency_id)",
    "UPDATE agency SET kind = 'COLLECTIVE' WHERE sector = 'COLLECTIVE'",
    "UPDATE agency_alias SET origin = 'CURATED' \
       WHERE agency_id IN (SELECT id FROM agency WHERE sector <> 'OTHER') \
       AND key NOT IN ('opcc', 'police and crime commissioner', 'office of the police and crime commissioner')",
    "UPDATE recommendation_agency SET method = 'CURATED', \
       reason = 'resolved before the registry, by the curated list or a curator' \
       WHERE agency_id IN (SELECT id FROM agency WHERE sector <> 'OTHER')",
    "UPDATE recommendation_agency SET reason = 'resolved before the registry: not on the curated list' \
       WHERE method = 'UNRESOLVED'",
];

const DOWN: &[&str] = &[
    "DROP INDEX idx_recommendation_agency_method",
    "ALTER TABLE recommendation_agency DROP COLUMN reason",
    "ALTER TABLE recommendation_agency DROP COLUMN method",
    "ALTER TABLE agency_alias DROP COLUMN origin",
    "DROP INDEX idx_agency_kind",
    "DROP INDEX idx_agency_successor",
    "DROP INDEX idx_agency_parent",
    "DROP INDEX idx_agency_registry_code",
    "ALTER TABLE agency DROP COLUMN successor_year",
    "ALTER TABLE agency DROP COLUMN successor_id",
    "ALTER TABLE agency DROP COLUMN parent_agency_id",
    "ALTER TABLE agency DROP COLUMN scope",
    "ALTER TABLE agency DROP COLUMN registry_code",
    "ALTER TABLE agency DROP COLUMN kind",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in UP {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in DOWN {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
