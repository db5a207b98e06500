//! The action plan of one recommendation, as DHR action plans record it. A recommendation
//! without a row has not been started (version 0).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "action_plan")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub recommendation_id: i32,
    /// `NOT_STARTED`, `IN_PROGRESS`, `IMPLEMENTED`, `NOT_ACCEPTED` or `CLOSED`.
    pub status: String,
    /// The agency that owns the action.
    pub lead_agency_id: Option<i32>,
    pub action: Option<String>,
    /// `YYYY-MM-DD`.
    pub target_date: Option<String>,
    /// `YYYY-MM-DD`.
    pub completion_date: Option<String>,
    pub outcome_note: Option<String>,
    /// `RED`, `AMBER` or `GREEN`.
    pub rag: Option<String>,
    pub sign_off_body: Option<String>,
    /// Bumped by every change; writers name the version they read (optimistic concurrency).
    pub version: i32,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::recommendation::Entity",
        from = "Column::RecommendationId",
        to = "super::recommendation::Column::Id",
        on_delete = "Cascade"
    )]
    Recommendation,
}

impl Related<super::recommendation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Recommendation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
