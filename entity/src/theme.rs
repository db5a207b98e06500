//! A recurring theme of recommendations ("routine enquiry", "information sharing").

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "theme")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// The cues that tag a recommendation with this theme, `; `-separated (from the taxonomy).
    pub cues: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::recommendation_theme::Entity")]
    RecommendationTheme,
}

impl Related<super::recommendation_theme::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RecommendationTheme.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
