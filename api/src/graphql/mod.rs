//! The GraphQL schema, built in one place and used by the server, the tests and the
//! `schema` command.

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

/// The schema with its data: database and loaders. `batch_delay` is how long a loader
/// gathers keys before it queries: every sibling field of a list must register its key
/// within it for the list to cost one statement.
pub fn build_schema(db: Db, batch_delay: Duration) -> AppSchema {
    let conn = db.conn.clone();
    let spawn = |f| {
        tokio::spawn(f);
    };
    macro_rules! loader {
        ($l:expr) => {
            DataLoader::new($l, spawn).delay(batch_delay)
        };
    }
    builder()
        .data(loader!(ReviewById(conn.clone())))
        .data(loader!(CspById(conn.clone())))
        .data(loader!(AgencyById(conn.clone())))
        .data(loader!(RecommendationById(conn.clone())))
        .data(loader!(CspsByReview(conn.clone())))
        .data(loader!(AgenciesByRecommendation(conn.clone())))
        .data(loader!(AliasesByAgency(conn.clone())))
        .data(loader!(ChildPages::<ReviewRecommendations>::new(
            conn.clone()
        )))
        .data(loader!(ChildPages::<ReviewAgencies>::new(conn.clone())))
        .data(loader!(ChildPages::<CspReviews>::new(conn.clone())))
        .data(loader!(ChildPages::<CspAgencies>::new(conn.clone())))
        .data(loader!(ChildPages::<AgencyReviews>::new(conn.clone())))
        .data(loader!(ChildPages::<AgencyRecommendations>::new(
            conn.clone()
        )))
        .data(loader!(ChildPages::<AgencyTraceReviews>::new(conn.clone())))
        .data(loader!(AddressedInReview(conn.clone())))
        .data(loader!(CoAddressed(conn.clone())))
        .data(loader!(ThemeById(conn.clone())))
        .data(loader!(TagsByRecommendation(conn.clone())))
        .data(loader!(ThemeCounts(conn.clone())))
        .data(loader!(ChildPages::<ThemeRecommendations>::new(
            conn.clone()
        )))
        .data(loader!(Neighbours(conn.clone())))
        .data(loader!(PossibleDuplicates(conn)))
        .data(db)
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}
