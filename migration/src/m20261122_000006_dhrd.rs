//! Case tags of reviews and links from review pages to DHRD records.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReviewCaseTag {
    Table,
    ReviewId,
    Tag,
}

#[derive(DeriveIden)]
enum ReviewIncident {
    Table,
    ReviewId,
    IncidentReviewId,
}

#[derive(DeriveIden)]
enum Review {
    Table,
    Id,
}

fn to_review(name: &str, table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Review::Table, Review::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
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
                    .table(ReviewCaseTag::Table)
                    .col(ColumnDef::new(ReviewCaseTag::ReviewId).integer().not_null())
                    .col(ColumnDef::new(ReviewCaseTag::Tag).string_len(40).not_null())
                    .primary_key(
                        Index::create()
                            .col(ReviewCaseTag::ReviewId)
                            .col(ReviewCaseTag::Tag),
                    )
                    .foreign_key(&mut to_review(
                        "fk_review_case_tag_review",
                        ReviewCaseTag::Table,
                        ReviewCaseTag::ReviewId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_case_tag_tag")
                    .table(ReviewCaseTag::Table)
                    .col(ReviewCaseTag::Tag)
                    .col(ReviewCaseTag::ReviewId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReviewIncident::Table)
                    .col(
                        ColumnDef::new(ReviewIncident::ReviewId)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ReviewIncident::IncidentReviewId)
                            .integer()
                            .not_null(),
                    )
                    .foreign_key(&mut to_review(
                        "fk_review_incident_review",
                        ReviewIncident::Table,
                        ReviewIncident::ReviewId,
                    ))
                    .foreign_key(&mut to_review(
                        "fk_review_incident_incident",
                        ReviewIncident::Table,
                        ReviewIncident::IncidentReviewId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_incident_incident")
                    .table(ReviewIncident::Table)
                    .col(ReviewIncident::IncidentReviewId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReviewIncident::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ReviewCaseTag::Table).to_owned())
            .await
    }
}
