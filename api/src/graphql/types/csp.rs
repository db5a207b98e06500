use async_graphql::{Context, ID, Object, Result};
use entity::csp;

use super::{Agency, RegisteredBody, Review, child_page};
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{CspAgencies, CspReviews};
use crate::graphql::page::{Conn, PageArgs};
use crate::registry::{Area, AreaBodies, registry};

/// A Community Safety Partnership: the local body that commissions reviews.
#[derive(Clone)]
pub struct Csp(pub csp::Model);

impl Csp {
    /// The CSP's area as the registers know it, by its name.
    fn area(&self) -> Option<&'static Area> {
        registry().area(&self.0.name)
    }

    fn bodies(&self) -> AreaBodies {
        self.area()
            .map(|a| registry().bodies_of_area(a))
            .unwrap_or_default()
    }
}

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

    /// Region of England, or Wales, when known (from the DHRD record, else the registers).
    async fn region(&self) -> Option<String> {
        self.0
            .region
            .clone()
            .or_else(|| self.area().and_then(|a| a.region.clone()))
    }

    /// The local authorities of the CSP's area, from the registers (current ones first; an
    /// abolished district stays listed beside the unitary council that replaced it). Empty
    /// when the registers do not place the CSP.
    async fn local_authorities(&self) -> Vec<RegisteredBody> {
        RegisteredBody::list(self.bodies().local_authorities)
    }

    /// The police force of the CSP's area, from the registers.
    async fn police_force(&self) -> Option<RegisteredBody> {
        self.bodies().police_force.map(RegisteredBody)
    }

    /// The integrated care board of the CSP's area (England), from the registers.
    async fn icb(&self) -> Option<RegisteredBody> {
        self.bodies().icb.map(RegisteredBody)
    }

    /// The local health board of the CSP's area (Wales), from the registers.
    async fn health_board(&self) -> Option<RegisteredBody> {
        self.bodies().health_board.map(RegisteredBody)
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
