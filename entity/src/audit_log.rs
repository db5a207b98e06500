//! Append-only record of what writes did to what carries history: a recommendation edited,
//! withdrawn or restored, a review deleted or restored. No write deletes from it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub at: DateTimeUtc,
    /// The API key's name, or `cli`.
    pub actor: String,
    /// What happened, as `kind.verb` (`recommendation.withdrawn`).
    pub action: String,
    /// `review` or `recommendation`, and its id (kept after the row itself is gone).
    pub subject_kind: String,
    pub subject_id: i32,
    /// Before and after of what changed, as a JSON object.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
