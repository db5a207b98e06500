//! The state of the stored similarity edges, shared by every process that writes them:
//! `generation` moves on with every write of the edges, so that a process whose in-memory
//! index was built at another generation knows to rebuild it (another process wrote);
//! `documents` is how many recommendations the last full rebuild scored and `changes` how
//! many have been rescored one by one since, which bounds the drift of the incremental
//! upkeep (`api/src/similarity/upkeep.rs`). `documents = 0` asks for a full rebuild.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE similarity_state (
                id INTEGER NOT NULL PRIMARY KEY,
                generation BIGINT NOT NULL,
                documents INTEGER NOT NULL,
                changes INTEGER NOT NULL,
                rebuilt_at VARCHAR(40))",
        )
        .await?;
        db.execute_unprepared("INSERT INTO similarity_state VALUES (1, 0, 0, 0, NULL)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE similarity_state")
            .await?;
        Ok(())
    }
}
