//! An agency addressed by recommendations: a canonical body, not a raw string.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// One of the sector codes (`POLICE`, `PRIMARY_CARE`, ..., `COLLECTIVE`, `OTHER`).
    pub sector: String,
    /// Distinct reviews addressing this agency; kept in step by every write so that
    /// "most reviews first" is an index scan, not an aggregate per request.
    pub review_count: i32,
    /// Recommendations addressed to this agency; kept in step like `review_count`.
    pub recommendation_count: i32,
    /// What kind of body (`POLICE_FORCE`, `ICB`, `LOCAL_AUTHORITY_SERVICE`, ..., `OTHER`).
    pub kind: String,
    /// The register's code (`force:kent`, `ods:RXY`, `gss:E10000016`), where one exists.
    #[sea_orm(unique)]
    pub registry_code: Option<String>,
    /// `LOCAL`, `REGIONAL` or `NATIONAL`, where known.
    pub scope: Option<String>,
    /// The body this one is part of (a council for its adult social care).
    pub parent_agency_id: Option<i32>,
    /// The body that took this one over, and the year it did.
    pub successor_id: Option<i32>,
    pub successor_year: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::agency_alias::Entity")]
    Alias,
    #[sea_orm(has_many = "super::recommendation_agency::Entity")]
    RecommendationAgency,
}

impl Related<super::agency_alias::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Alias.def()
    }
}

impl Related<super::recommendation_agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RecommendationAgency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
