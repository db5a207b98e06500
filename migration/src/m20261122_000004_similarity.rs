//! Text-similarity edges between recommendations (top k per recommendation).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RecommendationSimilarity {
    Table,
    RecommendationId,
    OtherId,
    Score,
}

#[derive(DeriveIden)]
enum Recommendation {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let fk = |name: &str, col: RecommendationSimilarity| {
            ForeignKey::create()
                .name(name)
                .from(RecommendationSimilarity::Table, col)
                .to(Recommendation::Table, Recommendation::Id)
                .on_delete(ForeignKeyAction::Cascade)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(RecommendationSimilarity::Table)
                    .col(
                        ColumnDef::new(RecommendationSimilarity::RecommendationId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationSimilarity::OtherId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationSimilarity::Score)
                            .double()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RecommendationSimilarity::RecommendationId)
                            .col(RecommendationSimilarity::OtherId),
                    )
                    .foreign_key(&mut fk(
                        "fk_similarity_recommendation",
                        RecommendationSimilarity::RecommendationId,
                    ))
                    .foreign_key(&mut fk(
                        "fk_similarity_other",
                        RecommendationSimilarity::OtherId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_similarity_other")
                    .table(RecommendationSimilarity::Table)
                    .col(RecommendationSimilarity::OtherId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(RecommendationSimilarity::Table)
                    .to_owned(),
            )
            .await
    }
}
