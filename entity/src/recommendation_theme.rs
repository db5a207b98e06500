//! Edge: a recommendation carries a theme, with the cue that matched (so a tag can be
//! explained and corrected).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recommendation_theme")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub recommendation_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub theme_id: i32,
    /// The cue of the taxonomy that matched the text.
    pub cue: String,
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
    #[sea_orm(
        belongs_to = "super::theme::Entity",
        from = "Column::ThemeId",
        to = "super::theme::Column::Id",
        on_delete = "Cascade"
    )]
    Theme,
}

impl Related<super::recommendation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Recommendation.def()
    }
}

impl Related<super::theme::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Theme.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
