//! One change to a recommendation's action plan: append-only history.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "status_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub recommendation_id: i32,
    /// The plan's version this change produced; (recommendation_id, version) is unique.
    pub version: i32,
    /// The name of the API key (or `cli`) that made the change.
    pub actor: String,
    pub at: DateTimeUtc,
    pub from_status: String,
    pub to_status: String,
    pub note: Option<String>,
    /// The fields changed besides the status, as a JSON object of new values.
    pub changes: Option<String>,
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
