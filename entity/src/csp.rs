//! A Community Safety Partnership: the body that commissions a review.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "csp")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// URL-safe, unique, derived from the canonical name.
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub region: Option<String>,
    pub nation: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::csp_alias::Entity")]
    Alias,
    #[sea_orm(has_many = "super::review_csp::Entity")]
    ReviewCsp,
}

impl Related<super::csp_alias::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Alias.def()
    }
}

impl Related<super::review_csp::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewCsp.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
