use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, Result};
use entity::agency;

use super::{Recommendation, RegisteredBody, Review, child_page, load};
use crate::domain;
use crate::error::ApiError;
use crate::graphql::enums::{AgencyKind, Scope, Sector};
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{
    AddressedInReview, AgencyById, AgencyRecommendations, AgencyReviews, AgencyTraceReviews,
    AliasesByAgency, ChildrenByAgency, CoAddressed, CoAddressedKey, PredecessorsByAgency,
};
use crate::graphql::page::{Conn, PageArgs};
use crate::registry::registry;

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

    /// What kind of body it is, as the registry knows it; `OTHER` when no register holds it.
    async fn kind(&self) -> AgencyKind {
        self.0
            .kind
            .parse::<domain::AgencyKind>()
            .unwrap_or(domain::AgencyKind::Other)
            .into()
    }

    /// The register's code: `ods:RXY` (NHS ODS), `gss:E10000016` (ONS GSS), `force:kent`
    /// (data.police.uk), `gov:home-office`, ...; a council's service adds `/adult-social-care`.
    /// Null when no register holds the body.
    async fn registry_code(&self) -> Option<&str> {
        self.0.registry_code.as_deref()
    }

    /// How far its remit reaches, where the registry knows.
    async fn scope(&self) -> Option<Scope> {
        self.0
            .scope
            .as_deref()
            .and_then(|s| s.parse::<domain::Scope>().ok())
            .map(Into::into)
    }

    /// The body this one is part of (a council, for its adult social care), once a review
    /// has addressed it.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        match self.0.parent_agency_id {
            Some(id) => Ok(load::<AgencyById, _>(ctx, id).await?.map(Agency)),
            None => Ok(None),
        }
    }

    /// The parts of this body that reviews address, by name.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(load::<ChildrenByAgency, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Agency)
            .collect())
    }

    /// The body that took this one over (a CCG's ICB, the NPS's Probation Service).
    async fn successor(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        match self.0.successor_id {
            Some(id) => Ok(load::<AgencyById, _>(ctx, id).await?.map(Agency)),
            None => Ok(None),
        }
    }

    /// The year the successor took over, where known.
    async fn successor_year(&self) -> Option<i32> {
        self.0.successor_year
    }

    /// The local authorities whose area this body serves, from the registers: a force's or an
    /// ICB's councils, a council's own (a county's with its districts), a council service's
    /// council. Empty for a national body or one no register holds.
    async fn area(&self) -> Vec<RegisteredBody> {
        self.0
            .registry_code
            .as_deref()
            .map(|code| RegisteredBody::list(registry().area_of_code(code)))
            .unwrap_or_default()
    }

    /// The bodies this one took over, by name.
    async fn predecessors(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(load::<PredecessorsByAgency, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Agency)
            .collect())
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
            child_page::<AgencyReviews>(ctx, self.0.id, PageArgs::new(after, before, first, last))
                .await?;
        Ok(page.into_connection(Review))
    }

    /// Every review that addressed this agency, oldest first, each with the recommendations
    /// it addressed to the agency: the agency's history across reviews.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn trace(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<TraceEntry>> {
        let page = child_page::<AgencyTraceReviews>(
            ctx,
            self.0.id,
            PageArgs::new(after, before, first, last),
        )
        .await?;
        let agency = self.0.id;
        Ok(page.into_connection(|review| TraceEntry { agency, review }))
    }

    /// Agencies addressed in the same reviews as this one, most shared reviews first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn co_addressed(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(10)")] first: Option<i32>,
        #[graphql(default_with = "Some(false)")] include_collective: Option<bool>,
    ) -> Result<Vec<CoAddressedAgency>> {
        let first = first.unwrap_or(10);
        let include_collective = include_collective.unwrap_or(false);
        if !(0..=100).contains(&first) {
            return Err(ApiError::bad_input("first", "between 0 and 100").into());
        }
        let key = CoAddressedKey {
            agency: self.0.id,
            include_collective,
            first: first as u64,
        };
        let shared = ctx
            .data_unchecked::<DataLoader<CoAddressed>>()
            .load_one(key)
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default();
        Ok(shared.into_iter().map(CoAddressedAgency).collect())
    }

    /// Recommendations addressed to this agency, newest review first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
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

/// One review in an agency's trace, with what it recommended to the agency.
pub struct TraceEntry {
    agency: i32,
    review: entity::review::Model,
}

#[Object]
impl TraceEntry {
    /// The review.
    async fn review(&self) -> Review {
        Review(self.review.clone())
    }

    /// The review's recommendations addressed to the agency, in printed order.
    #[graphql(complexity = "crate::graphql::page::list_cost(None, 20, child_complexity)")]
    async fn recommendations(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        Ok(ctx
            .data_unchecked::<DataLoader<AddressedInReview>>()
            .load_one((self.agency, self.review.id))
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default()
            .into_iter()
            .map(Recommendation)
            .collect())
    }
}

/// An agency addressed in the same reviews as another.
pub struct CoAddressedAgency(crate::graph::Shared);

#[Object]
impl CoAddressedAgency {
    /// The other agency.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.0.other_id).await
    }

    /// Reviews addressing both.
    async fn shared_reviews(&self) -> i64 {
        self.0.shared_reviews
    }
}
