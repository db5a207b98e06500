//! One integration-test binary. Every test in `api`, `ingest` and `queries` runs twice, on a
//! fresh SQLite file and on a fresh PostgreSQL database (when `TEST_DATABASE_URL` is set;
//! under CI it must be), against the real app over HTTP on a random port.

mod helpers;
mod limits;
mod pg_cluster;

mod attacks;
mod curation;
mod derived;
mod dhrd;
mod exchange;
mod graph;
mod history;
mod ingest;
mod national;
mod ops;
mod papercuts;
mod queries;
mod registry;
mod related;
mod reliability;
mod schema;
mod scope;
mod search;
mod server;
mod synth;
mod themes;
mod write;
mod writes;
