//! Agencies a recommendation mentions without addressing them ("GP Practice Staff should..."
//! in a recommendation addressed to a commissioning body).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RecommendationMention {
    Table,
    RecommendationId,
    AgencyId,
    Cue,
}

#[derive(DeriveIden)]
enum Recommendation {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Agency {
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
                    .table(RecommendationMention::Table)
                    .col(
                        ColumnDef::new(RecommendationMention::RecommendationId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationMention::AgencyId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationMention::Cue)
                            .string_len(200)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RecommendationMention::RecommendationId)
                            .col(RecommendationMention::AgencyId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recommendation_mention_recommendation")
                            .from(
                                RecommendationMention::Table,
                                RecommendationMention::RecommendationId,
                            )
                            .to(Recommendation::Table, Recommendation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recommendation_mention_agency")
                            .from(
                                RecommendationMention::Table,
                                RecommendationMention::AgencyId,
                            )
                            .to(Agency::Table, Agency::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Recurrence reads edges by agency.
        manager
            .create_index(
                Index::create()
                    .name("idx_recommendation_mention_agency")
                    .table(RecommendationMention::Table)
                    .col(RecommendationMention::AgencyId)
                    .col(RecommendationMention::RecommendationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecommendationMention::Table).to_owned())
            .await
    }
}
