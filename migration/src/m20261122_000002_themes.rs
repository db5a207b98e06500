//! Themes and the tags that link recommendations to them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Theme {
    Table,
    Id,
    Slug,
    Name,
    Cues,
}

#[derive(DeriveIden)]
enum RecommendationTheme {
    Table,
    RecommendationId,
    ThemeId,
    Cue,
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
        manager
            .create_table(
                Table::create()
                    .table(Theme::Table)
                    .col(
                        ColumnDef::new(Theme::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Theme::Slug).string().not_null().unique_key())
                    .col(ColumnDef::new(Theme::Name).string().not_null())
                    .col(ColumnDef::new(Theme::Cues).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecommendationTheme::Table)
                    .col(
                        ColumnDef::new(RecommendationTheme::RecommendationId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationTheme::ThemeId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecommendationTheme::Cue).string().not_null())
                    .primary_key(
                        Index::create()
                            .col(RecommendationTheme::RecommendationId)
                            .col(RecommendationTheme::ThemeId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recommendation_theme_recommendation")
                            .from(
                                RecommendationTheme::Table,
                                RecommendationTheme::RecommendationId,
                            )
                            .to(Recommendation::Table, Recommendation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recommendation_theme_theme")
                            .from(RecommendationTheme::Table, RecommendationTheme::ThemeId)
                            .to(Theme::Table, Theme::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recommendation_theme_theme")
                    .table(RecommendationTheme::Table)
                    .col(RecommendationTheme::ThemeId)
                    .col(RecommendationTheme::RecommendationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecommendationTheme::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Theme::Table).to_owned())
            .await
    }
}
