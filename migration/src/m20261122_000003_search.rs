//! Full-text search over recommendation texts and review summaries, in each engine's own
//! engine: an FTS5 table (porter stemming) on SQLite; a stemmed `tsvector` column with a GIN
//! index on PostgreSQL. Both have the same logical shape: a key (`rowid` on SQLite, `id` on
//! PostgreSQL), `kind` ('R' recommendation, 'V' review), `ref_id`, and `body`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE search_index USING fts5(\
                       body, kind UNINDEXED, ref_id UNINDEXED, tokenize = 'porter unicode61')",
                )
                .await?;
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE TABLE search_index (\
                       id BIGINT PRIMARY KEY, kind CHAR(1) NOT NULL, ref_id INTEGER NOT NULL, \
                       body TEXT NOT NULL, \
                       tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', body)) STORED)",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_search_index_tsv ON search_index USING GIN (tsv)",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "search: unsupported backend {other:?}"
                )));
            }
        }
        // Index what an existing database already holds.
        let key = if manager.get_database_backend() == DbBackend::Sqlite {
            "rowid"
        } else {
            "id"
        };
        db.execute_unprepared(&format!(
            "INSERT INTO search_index ({key}, kind, ref_id, body) \
             SELECT id * 2, 'R', id, text FROM recommendation"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO search_index ({key}, kind, ref_id, body) \
             SELECT id * 2 + 1, 'V', id, title || ' ' || summary FROM review"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE search_index")
            .await?;
        Ok(())
    }
}
