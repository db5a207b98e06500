use async_graphql::{Context, ID, Object, Result};
use entity::agency;

use super::{Recommendation, Review, child_page, load};
use crate::domain;
use crate::graphql::enums::Sector;
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{AgencyRecommendations, AgencyReviews, AliasesByAgency};
use crate::graphql::page::{Conn, PageArgs};

/// An agency addressed by recommendations: a canonical body ("GP practice"), under which the
/// names it is printed as are gathered as aliases.
#[derive(Clone)]
pub struct Agency(pub agency::Model);

/// An agency addressed by recommendations: a canonical body ("GP practice"), under which the
/// names it is printed as are gathered as aliases.
#[Object]
impl Agency {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode(Kind::Agency, self.0.id)
    }

    /// URL-safe unique name, for `agency(slug:)` and filters.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Canonical name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The agency's sector; `OTHER` until curated.
    async fn sector(&self) -> Sector {
        self.0
            .sector
            .parse::<domain::Sector>()
            .unwrap_or(domain::Sector::Other)
            .into()
    }

    /// Names this agency has been printed as, in any review.
    async fn aliases(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(load::<AliasesByAgency, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default())
    }

    /// How many reviews address this agency.
    async fn review_count(&self) -> i32 {
        self.0.review_count
    }

    /// How many recommendations address this agency.
    async fn recommendation_count(&self) -> i32 {
        self.0.recommendation_count
    }

    /// Reviews with a recommendation addressed to this agency, newest first.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Review>> {
        let page =
            child_page::<AgencyReviews>(ctx, self.0.id, PageArgs::new(after, before, first, last))
                .await?;
        Ok(page.into_connection(Review))
    }

    /// Recommendations addressed to this agency, newest review first.
    async fn recommendations(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Recommendation>> {
        let page = child_page::<AgencyRecommendations>(
            ctx,
            self.0.id,
            PageArgs::new(after, before, first, last),
        )
        .await?;
        Ok(page.into_connection(Recommendation))
    }
}
