//! Typed configuration: every setting is a flag and an environment variable, with defaults
//! that serve the samples on SQLite from a fresh clone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "dhr-graph",
    version,
    about = "GraphQL API over the public record of Domestic Homicide Reviews",
    after_help = "Without a command, `serve` runs with its defaults (a SQLite file \
                  dhr-graph.db, 127.0.0.1:8000, sample data on first start). Its flags belong to it: \
                  `dhr-graph serve --listen 0.0.0.0:8000 --database-url postgres://...`; see \
                  `dhr-graph serve --help`."
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API (migrating the database and loading the samples on first start).
    Serve(ServeConfig),
    /// Ingest review pages (files or folders) into the database.
    Ingest(IngestArgs),
    /// Print the GraphQL schema (SDL).
    Schema(SchemaArgs),
    /// Curate agencies: merge, alias, set a sector, list the uncurated.
    Agencies(AgenciesArgs),
    /// Curate reviews: merge a duplicate listing into the review it repeats.
    Reviews(ReviewsArgs),
    /// Import the DHRD dataset (incidents.csv): reviews with CSP, region, death year, case tags.
    ImportDhrd(ImportDhrdArgs),
    /// Manage API keys: create (the key is printed once), list, revoke.
    Keys(KeysArgs),
    /// Similarity edges: `rebuild` scores every recommendation afresh (writes keep them
    /// current one recommendation at a time).
    Similarity(SimilarityArgs),
    /// Export the graph: JSON (everything needed to rebuild it; no API keys) or CSV (one row
    /// per recommendation).
    Export(ExportArgs),
    /// Import a JSON export into an empty database, rebuilding tags, mentions, search and
    /// similarity; all or nothing.
    Import(ImportArgs),
    /// Write a deterministic synthetic graph (for scale tests and benchmarks) through the
    /// real ingest path, then rebuild similarity and write action-plan history.
    Synth(SynthArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// json (to import elsewhere) or csv (for spreadsheets).
    #[arg(long, value_enum, default_value_t = crate::exchange::ExportFormat::Json)]
    pub format: crate::exchange::ExportFormat,
    /// Write here instead of to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// A file written by `dhr-graph export --format json`.
    pub file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SynthArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// Reviews to write (2,000 is about national scale, 20,000 ten times national).
    #[arg(long, default_value_t = 2_000)]
    pub reviews: usize,
    /// Seed: the same seed writes the same graph.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Pages stored per transaction; 1 stores each page exactly as `ingest` does.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Share of recommendations given an action plan with history (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    pub plan_share: f64,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct KeysArgs {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(subcommand)]
    pub action: KeyAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum KeyAction {
    /// Create a key and print it; only its hash is stored, so it cannot be shown again.
    Create {
        /// Who holds it; recorded as the author of their changes.
        #[arg(long)]
        name: String,
        /// reader, editor, curator or admin.
        #[arg(long)]
        role: String,
        /// The CSP or agency (slug or name) that holds the key: its externalRefs are its own,
        /// and it joins the scope.
        #[arg(long)]
        owner: Option<String>,
        /// A CSP (slug or name) whose reviews the key may write; repeat for more.
        #[arg(long = "csp")]
        csps: Vec<String>,
        /// An agency (slug or name) whose action plans the key may update; repeat for more.
        #[arg(long = "agency")]
        agencies: Vec<String>,
        /// An editor or curator key that may write anywhere.
        #[arg(long)]
        national: bool,
    },
    /// List the keys (names, roles, dates; never the keys).
    List,
    /// Revoke a key by name.
    Revoke { name: String },
}

#[derive(Args, Debug, Clone)]
pub struct SimilarityArgs {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(subcommand)]
    pub action: SimilarityAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum SimilarityAction {
    /// Score every recommendation afresh and replace all edges (a new set of weights).
    Rebuild,
    /// How far the stored edges have drifted from their last full rebuild.
    Status,
}

#[derive(Args, Debug, Clone)]
pub struct ImportDhrdArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// The dataset's `incidents.csv`.
    pub file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ReviewsArgs {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(subcommand)]
    pub action: ReviewAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ReviewAction {
    /// Merge review DROP (a duplicate listing) into KEEP. Ids as the API shows them.
    Merge {
        /// The review that remains.
        keep: String,
        /// The duplicate listing that goes.
        drop: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct AgenciesArgs {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(subcommand)]
    pub action: AgencyAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum AgencyAction {
    /// Merge agency FROM into INTO: links and aliases move, FROM's name stays as an alias.
    Merge {
        /// Slug, name or alias of the agency that goes.
        from: String,
        /// Slug, name or alias of the agency that remains.
        into: String,
    },
    /// Add NAME as another name of AGENCY; later ingests resolve NAME to it.
    Alias {
        /// The new name.
        name: String,
        /// Slug, name or alias of the agency.
        agency: String,
    },
    /// Set the sector of AGENCY (POLICE, PRIMARY_CARE, ..., COLLECTIVE, OTHER).
    SetSector {
        /// Slug, name or alias of the agency.
        agency: String,
        /// The sector code.
        sector: String,
    },
    /// List agencies resolved only by a rule (RULE) or not at all (UNRESOLVED), most
    /// recommendations first, with a registered body each may have meant.
    Unknown,
    /// Show how NAME would resolve, and why: a curator's alias, a register entry, an
    /// abbreviation, a council service, the review's area, a rule, or nothing.
    Explain {
        /// The name as printed in an "Addressed to" cell.
        name: String,
        /// The review's CSP, for generic names ("Police") and ambiguous aliases.
        #[arg(long)]
        csp: Option<String>,
    },
    /// Resolve every stored addressee again with this version's registry and show what would
    /// change (recommendations with a curator's decision are left alone). Nothing is written
    /// without --apply, which writes it all in one transaction.
    Reresolve {
        /// Write the changes.
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DbConfig {
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://dhr-graph.db"
    )]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(
        long,
        global = true,
        env = "DHR_GRAPH_DB_POOL_SIZE",
        default_value_t = 8
    )]
    pub db_pool_size: u32,
}

#[derive(Args, Debug, Clone)]
pub struct ServeConfig {
    #[command(flatten)]
    pub db: DbConfig,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DHR_GRAPH_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Do not load the sample data into an empty database.
    #[arg(long, env = "DHR_GRAPH_NO_SAMPLES")]
    pub no_samples: bool,
    /// Load only the sample review pages, not the 647 DHRD records.
    #[arg(long, env = "DHR_GRAPH_NO_SAMPLE_DHRD")]
    pub no_sample_dhrd: bool,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "DHR_GRAPH_LOG_JSON")]
    pub log_json: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "DHR_GRAPH_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Seconds a request may take before it is answered 408 and dropped.
    #[arg(long, env = "DHR_GRAPH_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Extra microseconds a DataLoader waits for keys after the resolver pass that asked for
    /// them has ended. Batches are complete without it; it exists for experiments.
    #[arg(long, env = "DHR_GRAPH_BATCH_DELAY_US", default_value_t = 0)]
    pub batch_delay_us: u64,
    /// Similarity follows writes one recommendation at a time with the weights of its last
    /// full rebuild; once the recommendations rescored since exceed this fraction of the
    /// ones it scored, it rebuilds in full (in the background).
    #[arg(
        long,
        env = "DHR_GRAPH_SIMILARITY_REBUILD_FRACTION",
        default_value_t = 0.10
    )]
    pub similarity_rebuild_fraction: f64,
    /// Origins allowed by CORS, comma-separated; `*` allows any (reads are public by default).
    #[arg(
        long,
        env = "DHR_GRAPH_CORS_ORIGINS",
        default_value = "*",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Require an API key (any role) for reads too; writes always need one.
    #[arg(long, env = "DHR_GRAPH_REQUIRE_KEY_FOR_READS")]
    pub require_key_for_reads: bool,
    /// Deepest selection a query may nest.
    #[arg(long, env = "DHR_GRAPH_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,
    /// Largest query cost: each field 1, a list field its page size times its children.
    #[arg(long, env = "DHR_GRAPH_MAX_COMPLEXITY", default_value_t = 200_000)]
    pub max_complexity: usize,
    /// Most aliased fields in one document.
    #[arg(long, env = "DHR_GRAPH_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,
    /// Most fields in one document once every fragment spread is expanded (checked before
    /// validation, which walks each spread again).
    #[arg(long, env = "DHR_GRAPH_MAX_SELECTIONS", default_value_t = 5_000)]
    pub max_selections: usize,
    /// Most tokens in one document, counted before it is parsed (a string value is one).
    #[arg(long, env = "DHR_GRAPH_MAX_TOKENS", default_value_t = 20_000)]
    pub max_tokens: usize,
    /// Refuse introspection queries (clients then need the published `schema.graphql`).
    #[arg(long, env = "DHR_GRAPH_NO_INTROSPECTION")]
    pub no_introspection: bool,
    /// Do not serve GraphiQL on `GET /graphql`.
    #[arg(long, env = "DHR_GRAPH_NO_GRAPHIQL")]
    pub no_graphiql: bool,
    /// Requests a minute each API key (or, without a key, each address) may make (0: no limit).
    #[arg(long, env = "DHR_GRAPH_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,
    /// Requests a caller may make at once above the steady rate.
    #[arg(long, env = "DHR_GRAPH_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Largest answer sent, in bytes; a bigger one is replaced by a `RESPONSE_TOO_LARGE` error.
    #[arg(long, env = "DHR_GRAPH_MAX_RESPONSE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_response_bytes: usize,
    /// Open connections in all, websockets included (0: no cap); beyond it, 503.
    #[arg(long, env = "DHR_GRAPH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Open connections from one address, websockets included (0: no cap); beyond it, 503.
    #[arg(
        long,
        env = "DHR_GRAPH_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: usize,
    /// Seconds a client may take to send a request's headers; on HTTP/1 also the longest a
    /// kept-alive connection may wait for its next request.
    #[arg(long, env = "DHR_GRAPH_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a connection (not a websocket) may send and receive nothing before it is closed.
    #[arg(long, env = "DHR_GRAPH_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM; then the process exits anyway.
    #[arg(long, env = "DHR_GRAPH_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Subscriptions one websocket may hold at once.
    #[arg(long, env = "DHR_GRAPH_WS_MAX_SUBSCRIPTIONS", default_value_t = 100)]
    pub ws_max_subscriptions: usize,
    /// Websockets one key (or, without a key, one address) may hold open at once.
    #[arg(long, env = "DHR_GRAPH_WS_MAX_PER_CALLER", default_value_t = 16)]
    pub ws_max_per_caller: usize,
    /// Failed authentications (unknown or revoked keys) an address may make a minute; beyond
    /// it, requests with a key from that address are answered 429 without a look-up.
    #[arg(long, env = "DHR_GRAPH_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
    /// PostgreSQL only: milliseconds a single SQL statement may run (0: no limit).
    #[arg(long, env = "DHR_GRAPH_STATEMENT_TIMEOUT_MS", default_value_t = 10_000)]
    pub statement_timeout_ms: u64,
}

impl ServeConfig {
    /// When the similarity upkeep rebuilds in full.
    pub fn similarity_policy(&self) -> crate::similarity::Policy {
        crate::similarity::Policy {
            rebuild_fraction: self.similarity_rebuild_fraction.max(0.0),
            ..Default::default()
        }
    }

    /// The request limits the schema enforces.
    pub fn limits(&self) -> crate::graphql::Limits {
        crate::graphql::Limits {
            depth: self.max_depth,
            complexity: self.max_complexity,
            aliases: self.max_aliases,
            introspection: !self.no_introspection,
            selections: self.max_selections,
            tokens: self.max_tokens,
        }
    }

    /// The connection bounds the accept loop keeps.
    pub fn conn_limits(&self) -> crate::listener::ConnLimits {
        crate::listener::ConnLimits {
            max: self.max_connections,
            per_address: self.max_connections_per_address,
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
        }
    }

    /// Settings for a given database with every other value at its default (tests, tools).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut cfg = ServeConfig::parse_from_defaults();
        cfg.db.database_url = database_url.into();
        cfg
    }

    fn parse_from_defaults() -> Self {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            inner: ServeConfig,
        }
        // Defaults only: no arguments, and environment variables are read as in production.
        Wrapper::parse_from(["dhr-graph"]).inner
    }
}

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// Review page files, or folders of them (`.txt`, `.md`, searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Let a page that leaves out recommendations with an action plan or status history
    /// withdraw them (they are kept, hidden, with their plan and history). Without it such a
    /// page is refused and its review left as it was.
    #[arg(long)]
    pub allow_withdraw: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SchemaArgs {
    /// Accepted for symmetry with the other commands; the schema does not depend on it.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://dhr-graph.db")]
    pub database_url: String,
}
