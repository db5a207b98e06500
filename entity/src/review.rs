//! A Domestic Homicide Review as published.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// What makes two ingests the same review: the source URL when the page has one,
    /// otherwise CSP, publication month and title. Unique.
    #[sea_orm(unique)]
    pub source_key: String,
    /// Title or pseudonym as published ("Bassetlaw review", "Victoria").
    pub title: String,
    /// Publication month as `YYYY-MM` (sorts as text on every engine); unknown for records
    /// imported from the DHRD dataset, which gives none.
    pub published: Option<String>,
    pub year_of_death: Option<i32>,
    pub summary: String,
    pub source_url: Option<String>,
    /// The count the page states (`Extracted: N recs`), which may exceed the rows it holds.
    pub stated_recommendation_count: Option<i32>,
    /// Rows stored; kept in step with `recommendation` by every write.
    pub recommendation_count: i32,
    /// The page was cut short: fewer rows than stated, or a row cut mid-text.
    pub incomplete: bool,
    /// `DHR`, `DARDR` or `JOINT_SAR_DHR`.
    pub review_type: String,
    /// SHA-256 of the parsed content: an unchanged page is detected without a diff.
    pub content_hash: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// A deleted review's tombstone: when, by whom, why, and the CSP names it was linked to
    /// (a JSON list), so that an admin can restore it.
    pub deleted_at: Option<DateTimeUtc>,
    pub deleted_by: Option<String>,
    pub deleted_reason: Option<String>,
    pub deleted_csps: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::recommendation::Entity")]
    Recommendation,
    #[sea_orm(has_many = "super::review_csp::Entity")]
    ReviewCsp,
}

impl Related<super::recommendation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Recommendation.def()
    }
}

impl Related<super::review_csp::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewCsp.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
