//! The GraphQL schema, built in one place and used by the server, the tests and the
//! `schema` command.

pub mod audit_query;
pub mod batch;
pub mod enums;
pub mod filters;
pub mod graph_query;
pub mod ids;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod nulls;
pub mod page;
pub mod plan_query;
pub mod query;
pub mod review_stats;
mod service_errors;
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
    /// Field types, to put `null` where a failed field was left out (see [`nulls`]).
    types: Arc<nulls::FieldTypes>,
}

/// Documents longer than this are parsed on a blocking thread, off the async workers: a
/// megabyte of query text takes the parser long enough to stall every other request on the
/// worker.
const PARSE_OFF_WORKER_BYTES: usize = 16 * 1024;

impl AppSchema {
    /// The request, parsed and checked against the document limits, or the refusal to answer
    /// instead. A document that does not parse goes on to the schema, which reports the syntax
    /// error itself.
    async fn prepare(&self, request: Request) -> Result<(Request, Option<Doc>), Response> {
        self.prepare_admitted(self.admit(request).await?)
    }

    /// [`AppSchema::prepare`] of a request that has passed [`AppSchema::admit`] already.
    // The refusal is the rare path, and is returned as the answer as it is: boxing it would
    // only move the copy.
    #[allow(clippy::result_large_err)]
    fn prepare_admitted(&self, admitted: Admitted) -> Result<(Request, Option<Doc>), Response> {
        let refused = |e| Response::from_errors(vec![e]);
        let Admitted(mut request) = admitted;
        let doc = match request.parsed_query() {
            Ok(doc) => {
                self.limits.check(doc).map_err(refused)?;
                // Kept for `finish`: the schema consumes the request's own copy.
                Some(Arc::new(doc.clone()))
            }
            Err(_) => None,
        };
        Ok((request, doc))
    }

    /// The checks of the text and variables, and the parse (off the async workers for a big
    /// document; kept in the request). Anything that reads the document before execution (the
    /// HTTP layer's GET check, the metrics' operation name) goes through this first, so that
    /// no document is parsed before its text is checked.
    pub async fn admit(&self, mut request: Request) -> Result<Admitted, Response> {
        let refused = |e| Response::from_errors(vec![e]);
        self.limits.check_text(&request.query).map_err(refused)?;
        limits::check_variables(&request.variables).map_err(refused)?;
        if request.query.len() > PARSE_OFF_WORKER_BYTES {
            request = tokio::task::spawn_blocking(move || {
                let _ = request.parsed_query();
                request
            })
            .await
            .map_err(|_| {
                refused(async_graphql::ServerError::new(
                    "the query could not be read",
                    None,
                ))
            })?;
        }
        Ok(Admitted(request))
    }

    /// Executes a request that has passed [`AppSchema::admit`], without checking it again.
    pub async fn execute_admitted(&self, admitted: Admitted) -> Response {
        let operation = admitted.0.operation_name.clone();
        let (mut response, doc) = match self.prepare_admitted(admitted) {
            Ok((request, doc)) => (self.schema.execute(request).await, doc),
            Err(refused) => (refused, None),
        };
        self.finish(doc.as_ref(), operation.as_deref(), &mut response);
        response
    }

    /// A refusal from [`AppSchema::admit`] as the client sees it (codes set).
    pub fn finish_refusal(&self, mut response: Response) -> Response {
        self.finish(None, None, &mut response);
        response
    }

    /// The answer as the client sees it: keys in the query's order, failed fields placed as
    /// `null` (both by the spec), error codes set, and the error list bounded.
    fn finish(&self, doc: Option<&Doc>, operation: Option<&str>, response: &mut Response) {
        if let Some(doc) = doc {
            if response.errors.iter().any(|e| !e.path.is_empty()) {
                nulls::place_errors(&self.types, doc, operation, response);
            }
            nulls::order_keys(doc, operation, response);
        }
        crate::error::map_errors(response);
    }
}

/// A request whose text and variables passed the checks, and whose document is parsed (when
/// it parses): only [`AppSchema::admit`] makes one.
pub struct Admitted(Request);

impl Admitted {
    /// The request, to read or to add data to (its query text stays as checked).
    pub fn request(&mut self) -> &mut Request {
        &mut self.0
    }
}

/// A request's parsed document, shared between its execution and its answer's shaping.
type Doc = Arc<async_graphql::parser::types::ExecutableDocument>;

impl Executor for AppSchema {
    async fn execute(&self, request: Request) -> Response {
        match self.admit(request).await {
            Ok(admitted) => self.execute_admitted(admitted).await,
            Err(refused) => self.finish_refusal(refused),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let this = self.clone();
        let operation = request.operation_name.clone();
        futures::stream::once(async move {
            let prepared = this.prepare(request).await;
            (this, prepared)
        })
        .flat_map(move |(this, prepared)| {
            let finisher = this.clone();
            let operation = operation.clone();
            let (stream, doc) = match prepared {
                Ok((request, doc)) => (
                    this.schema.execute_stream_with_session_data(
                        request,
                        session_data.clone().unwrap_or_default(),
                    ),
                    doc,
                ),
                Err(refused) => (futures::stream::once(async move { refused }).boxed(), None),
            };
            stream.map(move |mut response| {
                finisher.finish(doc.as_ref(), operation.as_deref(), &mut response);
                response
            })
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
    /// Fields once fragments are expanded.
    pub selections: usize,
    /// Tokens of the text, before parsing.
    pub tokens: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: MAX_DEPTH,
            complexity: 200_000,
            aliases: 30,
            introspection: true,
            selections: 5_000,
            tokens: 20_000,
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
    /// Where the mutations write; without one, a batch write path over the schema's database
    /// (similarity then follows only when something settles it).
    pub write: Option<crate::write::WritePath>,
    pub metrics: Option<crate::metrics::Metrics>,
    pub limits: Limits,
}

/// The schema with its data (the database, the event bus, the services). Loaders are per
/// request: see [`execute`].
pub fn build_schema(db: Db, bus: crate::events::EventBus, services: Services) -> AppSchema {
    let write = services
        .write
        .unwrap_or_else(|| crate::write::WritePath::batch(db.conn.clone()));
    let mut b = builder(&services.limits).data(db).data(bus).data(write);
    if let Some(m) = services.metrics {
        b = b.data(m);
    }
    let schema = b.finish();
    let types = Arc::new(nulls::FieldTypes::from_sdl(&schema.sdl()));
    AppSchema {
        schema,
        limits: limits::DocumentLimits {
            max_aliases: services.limits.aliases,
            introspection: services.limits.introspection,
            max_selections: services.limits.selections,
            max_tokens: services.limits.tokens,
            ..Default::default()
        },
        types,
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

/// As [`execute`], for a request the caller has admitted already (to read its operation name).
pub async fn execute_admitted(
    schema: &AppSchema,
    db: &Db,
    mut admitted: Admitted,
    extra_delay: Duration,
) -> async_graphql::Response {
    let pass = batch::PassFlag::default();
    insert_loaders(
        &mut admitted.request().data,
        &db.conn,
        || pass.spawner(),
        extra_delay,
    );
    pass.track(schema.execute_admitted(admitted)).await
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
        .data(loader!(AgencyByCode(c())))
        .data(loader!(RecommendationById(c())))
        .data(loader!(CspsByReview(c())))
        .data(loader!(AgenciesByRecommendation(c())))
        .data(loader!(AliasesByAgency(c())))
        .data(loader!(AddresseesByRecommendation(c())))
        .data(loader!(ChildrenByAgency(c())))
        .data(loader!(PredecessorsByAgency(c())))
        .data(loader!(ChildPages::<ReviewRecommendations>::new(c())))
        .data(loader!(
            ChildPages::<ReviewRecommendationsWithWithdrawn>::new(c())
        ))
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
