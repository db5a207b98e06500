//! The GraphQL schema, built in one place and used by the server, the tests and the
//! `schema` command.

pub mod enums;
pub mod filters;
pub mod ids;
pub mod loaders;
pub mod page;
pub mod query;
pub mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::extensions::Tracing;
use async_graphql::{EmptyMutation, EmptySubscription, Schema, SchemaBuilder};

use crate::db::Db;
use loaders::*;

pub type AppSchema = Schema<query::Query, EmptyMutation, EmptySubscription>;

/// Query depth beyond which a request is refused before it runs.
pub const MAX_DEPTH: usize = 16;

fn builder() -> SchemaBuilder<query::Query, EmptyMutation, EmptySubscription> {
    Schema::build(query::Query, EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .extension(Tracing)
        .extension(crate::error::ErrorCodes)
}

/// The schema with its data: database and loaders.
pub fn build_schema(db: Db) -> AppSchema {
    let conn = db.conn.clone();
    let spawn = |f| {
        tokio::spawn(f);
    };
    builder()
        .data(DataLoader::new(ReviewById(conn.clone()), spawn))
        .data(DataLoader::new(CspById(conn.clone()), spawn))
        .data(DataLoader::new(AgencyById(conn.clone()), spawn))
        .data(DataLoader::new(RecommendationById(conn.clone()), spawn))
        .data(DataLoader::new(CspsByReview(conn.clone()), spawn))
        .data(DataLoader::new(AgenciesByRecommendation(conn.clone()), spawn))
        .data(DataLoader::new(AliasesByAgency(conn.clone()), spawn))
        .data(DataLoader::new(ChildPages::<ReviewRecommendations>::new(conn.clone()), spawn))
        .data(DataLoader::new(ChildPages::<ReviewAgencies>::new(conn.clone()), spawn))
        .data(DataLoader::new(ChildPages::<CspReviews>::new(conn.clone()), spawn))
        .data(DataLoader::new(ChildPages::<CspAgencies>::new(conn.clone()), spawn))
        .data(DataLoader::new(ChildPages::<AgencyReviews>::new(conn.clone()), spawn))
        .data(DataLoader::new(ChildPages::<AgencyRecommendations>::new(conn), spawn))
        .data(db)
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
