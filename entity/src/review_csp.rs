//! Edge: a review belongs to one or more CSPs (joint reviews exist).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_csp")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub review_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub csp_id: i32,
    /// Order in which the page names the CSPs (the lead partnership first).
    pub position: i32,
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
    #[sea_orm(
        belongs_to = "super::csp::Entity",
        from = "Column::CspId",
        to = "super::csp::Column::Id",
        on_delete = "Cascade"
    )]
    Csp,
}

impl Related<super::review::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Review.def()
    }
}

impl Related<super::csp::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Csp.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
