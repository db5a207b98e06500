//! One recommendation row of a review.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recommendation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub review_id: i32,
    /// 1-based order within the review; (review_id, position) is unique. Labels are not keys.
    pub position: i32,
    /// The printed label ("5.1", "10.4a", "9.1 a"); may repeat within a review.
    pub label: String,
    pub text: String,
    /// The raw "addressed to" cells as printed, joined by " | ".
    pub addressed_to: String,
    /// Set when the recommendation left its review (a re-sent review or page without it):
    /// kept with its plan and history, hidden unless asked for, back if it reappears.
    pub withdrawn_at: Option<DateTimeUtc>,
    /// The caller's own id of the recommendation, matched first by an upsert.
    pub external_ref: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::review::Entity",
        from = "Column::ReviewId",
        to = "super::review::Column::Id",
        on_delete = "Cascade"
    )]
    Review,
    #[sea_orm(has_many = "super::recommendation_agency::Entity")]
    RecommendationAgency,
}

impl Related<super::review::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Review.def()
    }
}

impl Related<super::recommendation_agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RecommendationAgency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
