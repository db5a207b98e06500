use async_graphql::{Context, ID, Object, Result};
use entity::csp;

use super::{Agency, Review, child_page};
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{CspAgencies, CspReviews};
use crate::graphql::page::{Conn, PageArgs};

/// A Community Safety Partnership: the local body that commissions reviews.
#[derive(Clone)]
pub struct Csp(pub csp::Model);

/// A Community Safety Partnership: the local body that commissions reviews.
#[Object]
impl Csp {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode(Kind::Csp, self.0.id)
    }

    /// URL-safe unique name, for `csp(slug:)`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Canonical name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Region of England, or Wales, when known.
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }

    /// The CSP's reviews, newest first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Review>> {
        let page =
            child_page::<CspReviews>(ctx, self.0.id, PageArgs::new(after, before, first, last))
                .await?;
        Ok(page.into_connection(Review))
    }

    /// Agencies addressed by the CSP's reviews, those in most reviews overall first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn agencies(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Agency>> {
        let page =
            child_page::<CspAgencies>(ctx, self.0.id, PageArgs::new(after, before, first, last))
                .await?;
        Ok(page.into_connection(Agency))
    }
}
