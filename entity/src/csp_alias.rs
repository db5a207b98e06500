//! Another name under which a CSP appears in a source ("Lincoln" for Lincolnshire).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "csp_alias")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub csp_id: i32,
    /// The name as first seen.
    pub name: String,
    /// The normalised lookup key; unique across all CSPs.
    #[sea_orm(unique)]
    pub key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::csp::Entity",
        from = "Column::CspId",
        to = "super::csp::Column::Id",
        on_delete = "Cascade"
    )]
    Csp,
}

impl Related<super::csp::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Csp.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
