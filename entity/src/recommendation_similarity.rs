//! Edge: one of a recommendation's nearest neighbours by text, with its cosine similarity.
//! Stored (top k per recommendation) when data changes, never computed per request.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "recommendation_similarity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub recommendation_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub other_id: i32,
    /// Cosine similarity of the two texts' TF-IDF vectors, in (0, 1].
    pub score: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
