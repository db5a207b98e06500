//! DHR Graph: a GraphQL API over the public record of Domestic Homicide Reviews.
//!
//! The service split by concern: `config` (typed settings), `db` (connection, migrations),
//! `domain` (values parsed once), `ingest` (pages in), `graphql` (schema, types, loaders),
//! `server` (HTTP), `listener` (the accept loop and its connection bounds), `health` (whether PostgreSQL answers), `metrics` (Prometheus), `explorer`
//! (the page at `/`), `exchange` (export and import), `cli` (commands). `entity` and
//! `migration` are sibling crates.

pub mod auth;
pub mod cli;
pub mod config;
pub mod curation;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod exchange;
pub mod explorer;
pub mod graph;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod http;
pub mod ingest;
pub mod listener;
pub mod metrics;
pub mod plans;
pub mod ratelimit;
pub mod registry;
pub mod search;
pub mod server;
pub mod similarity;
pub mod sql;
pub mod synth;
pub mod telemetry;
pub mod write;
pub mod ws;
