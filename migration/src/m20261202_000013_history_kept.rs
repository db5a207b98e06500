//! Nothing with history is deleted by a write.
//!
//! - `recommendation.withdrawn_at`: a recommendation that disappears from a re-sent review or
//!   page is withdrawn, not deleted, so that its action plan and status history survive; it
//!   comes back (same id) if it reappears. A withdrawn row keeps its review but no position
//!   in it (`position = -id`, unique like the rest), and no derived rows.
//! - `recommendation.external_ref`: the caller's own id of a recommendation, which an upsert
//!   matches before label and text.
//! - `review.deleted_*`: `deleteReview` leaves a tombstone (who, when, why, and the CSPs it
//!   was linked to) that an admin can restore.
//! - `audit_log`: what those writes did, who did it and when; append-only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Recommendation {
    Table,
    WithdrawnAt,
    ExternalRef,
}

#[derive(DeriveIden)]
enum Review {
    Table,
    DeletedAt,
    DeletedBy,
    DeletedReason,
    DeletedCsps,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Action,
    SubjectKind,
    SubjectId,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let add = |table: TableRef, column: ColumnDef| {
            let mut t = Table::alter();
            t.table(table).add_column(column);
            t.to_owned()
        };
        for column in [
            ColumnDef::new(Recommendation::WithdrawnAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Recommendation::ExternalRef)
                .string_len(200)
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(add(Recommendation::Table.into_table_ref(), column))
                .await?;
        }
        for column in [
            ColumnDef::new(Review::DeletedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Review::DeletedBy)
                .string_len(200)
                .null()
                .to_owned(),
            ColumnDef::new(Review::DeletedReason)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Review::DeletedCsps).text().null().to_owned(),
        ] {
            manager
                .alter_table(add(Review::Table.into_table_ref(), column))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(
                        ColumnDef::new(AuditLog::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditLog::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLog::Actor).string_len(200).not_null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(60).not_null())
                    .col(
                        ColumnDef::new(AuditLog::SubjectKind)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLog::SubjectId).integer().not_null())
                    .col(ColumnDef::new(AuditLog::Detail).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_subject")
                    .table(AuditLog::Table)
                    .col(AuditLog::SubjectKind)
                    .col(AuditLog::SubjectId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        for column in [Recommendation::WithdrawnAt, Recommendation::ExternalRef] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recommendation::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Review::DeletedAt,
            Review::DeletedBy,
            Review::DeletedReason,
            Review::DeletedCsps,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Review::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
