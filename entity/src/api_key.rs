//! A key a client sends as `Authorization: Bearer KEY`. Only its SHA-256 is stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Who holds the key; recorded as the actor of every change made with it.
    #[sea_orm(unique)]
    pub name: String,
    /// `reader`, `editor`, `curator` or `admin`.
    pub role: String,
    /// SHA-256 of the key, lower-case hex.
    #[sea_orm(unique)]
    pub key_hash: String,
    pub created_at: DateTimeUtc,
    /// Set when revoked; a revoked key authenticates nobody.
    pub revoked_at: Option<DateTimeUtc>,
    /// The organisation that holds the key: `csp` or `agency`, and its id.
    pub owner_kind: Option<String>,
    pub owner_id: Option<i32>,
    /// An editor or curator key that may write anywhere (an admin asked for it).
    pub national: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
