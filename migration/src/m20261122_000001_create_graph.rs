//! The review graph: CSPs, reviews, agencies, recommendations, their aliases and edges.
//!
//! Every foreign key is indexed (SQLite does not do it implicitly, PostgreSQL neither), and
//! so is every column a filter or an ordering uses.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Csp {
    Table,
    Id,
    Slug,
    Name,
    Region,
    Nation,
}

#[derive(DeriveIden)]
enum CspAlias {
    Table,
    Id,
    CspId,
    Name,
    Key,
}

// Column idens mirror the table's column names, so some start with the table's name.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Review {
    Table,
    Id,
    SourceKey,
    Title,
    Published,
    YearOfDeath,
    Summary,
    SourceUrl,
    StatedRecommendationCount,
    RecommendationCount,
    Incomplete,
    ReviewType,
    ContentHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReviewCsp {
    Table,
    ReviewId,
    CspId,
    Position,
}

#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
    Slug,
    Name,
    Sector,
    ReviewCount,
    RecommendationCount,
}

#[derive(DeriveIden)]
enum AgencyAlias {
    Table,
    Id,
    AgencyId,
    Name,
    Key,
}

#[derive(DeriveIden)]
enum Recommendation {
    Table,
    Id,
    ReviewId,
    Position,
    Label,
    Text,
    AddressedTo,
}

#[derive(DeriveIden)]
enum RecommendationAgency {
    Table,
    RecommendationId,
    AgencyId,
    Position,
}

fn pk(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // DDL is transactional on both engines: a failed first start leaves no half-made schema.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Csp::Table)
                    .col(pk(Csp::Id))
                    .col(ColumnDef::new(Csp::Slug).string().not_null().unique_key())
                    .col(ColumnDef::new(Csp::Name).string().not_null())
                    .col(ColumnDef::new(Csp::Region).string().null())
                    .col(ColumnDef::new(Csp::Nation).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CspAlias::Table)
                    .col(pk(CspAlias::Id))
                    .col(ColumnDef::new(CspAlias::CspId).integer().not_null())
                    .col(ColumnDef::new(CspAlias::Name).string().not_null())
                    .col(
                        ColumnDef::new(CspAlias::Key)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .foreign_key(&mut fk(
                        "fk_csp_alias_csp",
                        (CspAlias::Table, CspAlias::CspId),
                        (Csp::Table, Csp::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_csp_alias_csp",
            CspAlias::Table,
            &["csp_id"],
            false,
        )
        .await?;
        index(manager, "idx_csp_name", Csp::Table, &["name"], false).await?;

        manager
            .create_table(
                Table::create()
                    .table(Review::Table)
                    .col(pk(Review::Id))
                    .col(
                        ColumnDef::new(Review::SourceKey)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Review::Title).string().not_null())
                    .col(ColumnDef::new(Review::Published).string_len(7).null())
                    .col(ColumnDef::new(Review::YearOfDeath).integer().null())
                    .col(ColumnDef::new(Review::Summary).text().not_null())
                    .col(ColumnDef::new(Review::SourceUrl).string().null())
                    .col(
                        ColumnDef::new(Review::StatedRecommendationCount)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Review::RecommendationCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Review::Incomplete)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Review::ReviewType).string().not_null())
                    .col(ColumnDef::new(Review::ContentHash).string().not_null())
                    .col(
                        ColumnDef::new(Review::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Review::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Keyset pagination orders by (key, id): composite indexes serve both directions.
        index(
            manager,
            "idx_review_published",
            Review::Table,
            &["published", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "idx_review_year_of_death",
            Review::Table,
            &["year_of_death", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "idx_review_recommendation_count",
            Review::Table,
            &["recommendation_count", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReviewCsp::Table)
                    .col(ColumnDef::new(ReviewCsp::ReviewId).integer().not_null())
                    .col(ColumnDef::new(ReviewCsp::CspId).integer().not_null())
                    .col(ColumnDef::new(ReviewCsp::Position).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ReviewCsp::ReviewId)
                            .col(ReviewCsp::CspId),
                    )
                    .foreign_key(&mut fk(
                        "fk_review_csp_review",
                        (ReviewCsp::Table, ReviewCsp::ReviewId),
                        (Review::Table, Review::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_review_csp_csp",
                        (ReviewCsp::Table, ReviewCsp::CspId),
                        (Csp::Table, Csp::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_review_csp_csp",
            ReviewCsp::Table,
            &["csp_id", "review_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Agency::Table)
                    .col(pk(Agency::Id))
                    .col(
                        ColumnDef::new(Agency::Slug)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Agency::Name).string().not_null())
                    .col(ColumnDef::new(Agency::Sector).string().not_null())
                    .col(
                        ColumnDef::new(Agency::ReviewCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Agency::RecommendationCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_agency_sector",
            Agency::Table,
            &["sector", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "idx_agency_name",
            Agency::Table,
            &["name", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "idx_agency_review_count",
            Agency::Table,
            &["review_count", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "idx_agency_recommendation_count",
            Agency::Table,
            &["recommendation_count", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AgencyAlias::Table)
                    .col(pk(AgencyAlias::Id))
                    .col(ColumnDef::new(AgencyAlias::AgencyId).integer().not_null())
                    .col(ColumnDef::new(AgencyAlias::Name).string().not_null())
                    .col(
                        ColumnDef::new(AgencyAlias::Key)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .foreign_key(&mut fk(
                        "fk_agency_alias_agency",
                        (AgencyAlias::Table, AgencyAlias::AgencyId),
                        (Agency::Table, Agency::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_agency_alias_agency",
            AgencyAlias::Table,
            &["agency_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Recommendation::Table)
                    .col(pk(Recommendation::Id))
                    .col(
                        ColumnDef::new(Recommendation::ReviewId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Recommendation::Position)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Recommendation::Label).string().not_null())
                    .col(ColumnDef::new(Recommendation::Text).text().not_null())
                    .col(
                        ColumnDef::new(Recommendation::AddressedTo)
                            .text()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "fk_recommendation_review",
                        (Recommendation::Table, Recommendation::ReviewId),
                        (Review::Table, Review::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_recommendation_review_position",
            Recommendation::Table,
            &["review_id", "position"],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecommendationAgency::Table)
                    .col(
                        ColumnDef::new(RecommendationAgency::RecommendationId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationAgency::AgencyId)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecommendationAgency::Position)
                            .integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RecommendationAgency::RecommendationId)
                            .col(RecommendationAgency::AgencyId),
                    )
                    .foreign_key(&mut fk(
                        "fk_recommendation_agency_recommendation",
                        (
                            RecommendationAgency::Table,
                            RecommendationAgency::RecommendationId,
                        ),
                        (Recommendation::Table, Recommendation::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_recommendation_agency_agency",
                        (RecommendationAgency::Table, RecommendationAgency::AgencyId),
                        (Agency::Table, Agency::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_recommendation_agency_agency",
            RecommendationAgency::Table,
            &["agency_id", "recommendation_id"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RecommendationAgency::Table.into_iden(),
            Recommendation::Table.into_iden(),
            AgencyAlias::Table.into_iden(),
            Agency::Table.into_iden(),
            ReviewCsp::Table.into_iden(),
            Review::Table.into_iden(),
            CspAlias::Table.into_iden(),
            Csp::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
