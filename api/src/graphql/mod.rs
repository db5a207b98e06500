//! The GraphQL schema, built in one place and used by the server, the tests and the
//! `schema` command.

pub mod batch;
pub mod enums;
pub mod filters;
pub mod graph_query;
pub mod ids;
pub mod loaders;
pub mod page;
pub mod query;
pub mod types;

use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::extensions::Tracing;
use async_graphql::{EmptyMutation, EmptySubscription, Schema, SchemaBuilder};

use crate::db::Db;
use loaders::*;

pub type AppSchema = Schema<query::Query, EmptyMutation, EmptySubscription>;

/// Query depth beyond which a request is refused before it runs.
pub const MAX_DEPTH: usize = 16;

fn builder() -> SchemaBuilder<query::Query, EmptyMutation, EmptySubscription> {
    Schema::build(query::Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .extension(Tracing)
        .extension(crate::error::ErrorCodes)
}

/// The schema with its data (the database). Loaders are per request: see [`execute`].
pub fn build_schema(db: Db) -> AppSchema {
    builder().data(db).finish()
}

/// Executes a request with its own loaders, batching by poll pass (see [`batch`]).
pub async fn execute(
    schema: &AppSchema,
    db: &Db,
    request: async_graphql::Request,
    extra_delay: Duration,
) -> async_graphql::Response {
    let pass = batch::PassFlag::default();
    let request = with_loaders(request, &db.conn, &pass, extra_delay);
    pass.track(schema.execute(request)).await
}

fn with_loaders(
    request: async_graphql::Request,
    conn: &sea_orm::DatabaseConnection,
    pass: &batch::PassFlag,
    delay: Duration,
) -> async_graphql::Request {
    macro_rules! loader {
        ($l:expr) => {
            DataLoader::new($l, pass.spawner()).delay(delay)
        };
    }
    let c = || conn.clone();
    request
        .data(loader!(ReviewById(c())))
        .data(loader!(CspById(c())))
        .data(loader!(AgencyById(c())))
        .data(loader!(RecommendationById(c())))
        .data(loader!(CspsByReview(c())))
        .data(loader!(AgenciesByRecommendation(c())))
        .data(loader!(AliasesByAgency(c())))
        .data(loader!(ChildPages::<ReviewRecommendations>::new(c())))
        .data(loader!(ChildPages::<ReviewAgencies>::new(c())))
        .data(loader!(ChildPages::<CspReviews>::new(c())))
        .data(loader!(ChildPages::<CspAgencies>::new(c())))
        .data(loader!(ChildPages::<AgencyReviews>::new(c())))
        .data(loader!(ChildPages::<AgencyRecommendations>::new(c())))
        .data(loader!(ChildPages::<AgencyTraceReviews>::new(c())))
        .data(loader!(AddressedInReview(c())))
        .data(loader!(CoAddressed(c())))
        .data(loader!(ThemeById(c())))
        .data(loader!(TagsByRecommendation(c())))
        .data(loader!(MentionsByRecommendation(c())))
        .data(loader!(ThemeCounts(c())))
        .data(loader!(ChildPages::<ThemeRecommendations>::new(c())))
        .data(loader!(Neighbours(c())))
        .data(loader!(PossibleDuplicates(c())))
        .data(loader!(CaseTagsByReview(c())))
        .data(loader!(IncidentByReview(c())))
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
