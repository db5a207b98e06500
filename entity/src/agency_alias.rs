//! A name under which an agency is addressed ("GP practice", "GP Practice", "GP Practices").

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_alias")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub agency_id: i32,
    /// The name as first seen.
    pub name: String,
    /// The normalised lookup key; unique across all agencies.
    #[sea_orm(unique)]
    pub key: String,
    /// `CURATED` (a curator's decision: wins over the registry) or `INGEST` (remembered by
    /// ingest for a name that resolves the same way in every review).
    pub origin: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::AgencyId",
        to = "super::agency::Column::Id",
        on_delete = "Cascade"
    )]
    Agency,
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agency.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
