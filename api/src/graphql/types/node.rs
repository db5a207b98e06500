use async_graphql::{ID, Interface};

use super::{Agency, Csp, Recommendation, Review, Theme};

/// Anything with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    Review(Review),
    Csp(Csp),
    Agency(Agency),
    Recommendation(Recommendation),
    Theme(Theme),
}
