//! Source keys of duplicate listings merged into another review.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReviewAlias {
    Table,
    Id,
    SourceKey,
    ReviewId,
}

#[derive(DeriveIden)]
enum Review {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReviewAlias::Table)
                    .col(
                        ColumnDef::new(ReviewAlias::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReviewAlias::SourceKey)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ReviewAlias::ReviewId).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_alias_review")
                            .from(ReviewAlias::Table, ReviewAlias::ReviewId)
                            .to(Review::Table, Review::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_alias_review")
                    .table(ReviewAlias::Table)
                    .col(ReviewAlias::ReviewId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReviewAlias::Table).to_owned())
            .await
    }
}
