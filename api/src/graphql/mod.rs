//! The GraphQL schema, built in one place and used by the server, the tests and the
//! `schema` command.

pub mod batch;
pub mod enums;
pub mod filters;
pub mod graph_query;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod page;
pub mod plan_query;
pub mod query;
pub mod subscription;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Data, Executor, Request, Response, Schema, SchemaBuilder};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::db::Db;
use loaders::*;

type Inner = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// The schema, with the document limits checked before and the error codes set after every
/// execution (HTTP, websocket, in-process). These wrap the schema rather than being
/// async-graphql extensions: with any extension installed, async-graphql sends every field
/// of every response through the extension hooks (a registry lookup, type-name strings and a
/// boxed future per field), which cost more than most fields themselves.
#[derive(Clone)]
pub struct AppSchema {
    schema: Inner,
    limits: limits::DocumentLimits,
}

impl AppSchema {
    /// The refusal of the request's document, if it asks too much. A document that does not
    /// parse goes on to the schema, which reports the syntax error itself.
    fn refusal(&self, request: &mut Request) -> Option<Response> {
        let doc = request.parsed_query().ok()?;
        self.limits
            .check(doc)
            .err()
            .map(|refused| Response::from_errors(vec![refused]))
    }
}

impl Executor for AppSchema {
    async fn execute(&self, mut request: Request) -> Response {
        let mut response = match self.refusal(&mut request) {
            None => self.schema.execute(request).await,
            Some(refused) => refused,
        };
        crate::error::map_errors(&mut response);
        response
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let stream = match self.refusal(&mut request) {
            None => self
                .schema
                .execute_stream_with_session_data(request, session_data.unwrap_or_default()),
            Some(refused) => futures::stream::once(async move { refused }).boxed(),
        };
        stream
            .map(|mut response| {
                crate::error::map_errors(&mut response);
                response
            })
            .boxed()
    }
}

/// Query depth beyond which a request is refused before it runs (the default of `Limits`).
pub const MAX_DEPTH: usize = 16;

/// What one request may ask for; each is checked before anything runs.
#[derive(Clone, Debug)]
pub struct Limits {
    pub depth: usize,
    /// Each field costs 1; a list field costs its page size times its children.
    pub complexity: usize,
    pub aliases: usize,
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: MAX_DEPTH,
            complexity: 200_000,
            aliases: 30,
            introspection: true,
        }
    }
}

fn builder(
    limits: &Limits,
) -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    let b = Schema::build(
        query::Query::default(),
        mutation::Mutation,
        subscription::Subscription,
    )
    .limit_depth(limits.depth)
    .limit_complexity(limits.complexity);
    if limits.introspection {
        b
    } else {
        b.disable_introspection()
    }
}

/// Services the schema's resolvers reach besides the database; all optional, so that tools
/// and benchmarks can build a schema without a server around it.
#[derive(Default)]
pub struct Services {
    pub refresher: Option<crate::similarity::Refresher>,
    pub metrics: Option<crate::metrics::Metrics>,
    pub limits: Limits,
}

/// The schema with its data (the database, the event bus, the services). Loaders are per
/// request: see [`execute`].
pub fn build_schema(db: Db, bus: crate::events::EventBus, services: Services) -> AppSchema {
    let mut b = builder(&services.limits).data(db).data(bus);
    if let Some(r) = services.refresher {
        b = b.data(r);
    }
    if let Some(m) = services.metrics {
        b = b.data(m);
    }
    AppSchema {
        schema: b.finish(),
        limits: limits::DocumentLimits {
            max_aliases: services.limits.aliases,
            introspection: services.limits.introspection,
        },
    }
}

/// Executes a request with its own loaders, batching by poll pass (see [`batch`]).
pub async fn execute(
    schema: &AppSchema,
    db: &Db,
    request: async_graphql::Request,
    extra_delay: Duration,
) -> async_graphql::Response {
    let pass = batch::PassFlag::default();
    let mut request = request;
    insert_loaders(&mut request.data, &db.conn, || pass.spawner(), extra_delay);
    pass.track(schema.execute(request)).await
}

/// Loaders for a websocket connection's subscriptions. A subscription's events resolve one
/// at a time outside any request future, so its loaders batch on a short timer instead.
pub fn connection_loaders(db: &Db) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    insert_loaders(
        &mut data,
        &db.conn,
        || {
            |f: BoxFuture<'static, ()>| {
                tokio::spawn(f);
            }
        },
        Duration::from_millis(1),
    );
    data
}

fn insert_loaders<S>(
    data: &mut async_graphql::Data,
    conn: &sea_orm::DatabaseConnection,
    spawner: impl Fn() -> S,
    delay: Duration,
) where
    S: Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
{
    macro_rules! loader {
        ($l:expr) => {
            DataLoader::new($l, spawner()).delay(delay)
        };
    }
    let c = || conn.clone();
    Loaders(data)
        .data(loader!(ReviewById(c())))
        .data(loader!(CspById(c())))
        .data(loader!(AgencyById(c())))
        .data(loader!(RecommendationById(c())))
        .data(loader!(CspsByReview(c())))
        .data(loader!(AgenciesByRecommendation(c())))
        .data(loader!(AliasesByAgency(c())))
        .data(loader!(AddresseesByRecommendation(c())))
        .data(loader!(ChildrenByAgency(c())))
        .data(loader!(PredecessorsByAgency(c())))
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
        .data(loader!(PlanByRecommendation(c())))
        .data(loader!(HistoryByRecommendation(c())))
        .data(loader!(ThemeCounts(c())))
        .data(loader!(ChildPages::<ThemeRecommendations>::new(c())))
        .data(loader!(Neighbours(c())))
        .data(loader!(PossibleDuplicates(c())))
        .data(loader!(CaseTagsByReview(c())))
        .data(loader!(IncidentByReview(c())));
}

/// Chains inserts into a `Data` the way `Request::data` chains them on a request.
struct Loaders<'a>(&'a mut async_graphql::Data);

impl Loaders<'_> {
    fn data<D: std::any::Any + Send + Sync>(self, d: D) -> Self {
        self.0.insert(d);
        self
    }
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder(&Limits::default()).finish().sdl()
}
