//! SeaORM entities of the DHR graph: the data model and nothing else.
//!
//! No business rules, no GraphQL derives, no parsing: the service (`api/`) owns those.
//! The graph is stored as four node tables (`csp`, `review`, `agency`, `recommendation`),
//! two alias tables, and edge tables (`review_csp`, `recommendation_agency`, `recommendation_mention`...).

pub mod action_plan;
pub mod agency;
pub mod agency_alias;
pub mod api_key;
pub mod api_key_scope;
pub mod audit_log;
pub mod csp;
pub mod csp_alias;
pub mod recommendation;
pub mod recommendation_agency;
pub mod recommendation_mention;
pub mod recommendation_similarity;
pub mod recommendation_theme;
pub mod review;
pub mod review_alias;
pub mod review_case_tag;
pub mod review_csp;
pub mod review_incident;
pub mod status_event;
pub mod theme;

pub use sea_orm;
