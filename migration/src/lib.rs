//! Schema history of the DHR graph: timestamped migrations that run unchanged on SQLite and
//! PostgreSQL. Migrations are append-only: never edit one that has shipped, add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_graph;
mod m20261122_000002_themes;
mod m20261122_000003_search;
mod m20261122_000004_similarity;
mod m20261122_000005_review_alias;
mod m20261122_000006_dhrd;
mod m20261125_000007_mentions;
mod m20261125_000008_action_plans;
mod m20261126_000009_review_order_index;
mod m20261126_000010_derived_graph;
mod m20261201_000011_agency_registry;
mod m20261202_000012_similarity_state;
mod m20261202_000013_history_kept;
mod m20261202_000014_key_scope;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_graph::Migration),
            Box::new(m20261122_000002_themes::Migration),
            Box::new(m20261122_000003_search::Migration),
            Box::new(m20261122_000004_similarity::Migration),
            Box::new(m20261122_000005_review_alias::Migration),
            Box::new(m20261122_000006_dhrd::Migration),
            Box::new(m20261125_000007_mentions::Migration),
            Box::new(m20261125_000008_action_plans::Migration),
            Box::new(m20261126_000009_review_order_index::Migration),
            Box::new(m20261126_000010_derived_graph::Migration),
            Box::new(m20261201_000011_agency_registry::Migration),
            Box::new(m20261202_000012_similarity_state::Migration),
            Box::new(m20261202_000013_history_kept::Migration),
            Box::new(m20261202_000014_key_scope::Migration),
        ]
    }
}
