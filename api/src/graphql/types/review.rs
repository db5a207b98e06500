use async_graphql::{Context, ID, Object, Result};
use entity::review;

use super::{Agency, Csp, Recommendation, child_page, load};
use crate::domain;
use crate::graphql::enums::{CaseTag, ReviewType};
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{
    CaseTagsByReview, CspsByReview, IncidentByReview, PossibleDuplicates, ReviewAgencies,
    ReviewById, ReviewRecommendations, ReviewRecommendationsWithWithdrawn,
};
use crate::graphql::page::{Conn, PageArgs};

/// A Domestic Homicide Review as published: who commissioned it, when, and what it recommended.
#[derive(Clone)]
pub struct Review(pub review::Model);

/// A Domestic Homicide Review as published: who commissioned it, when, and what it recommended.
#[Object]
impl Review {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode(Kind::Review, self.0.id)
    }

    /// Title or pseudonym as published ("Bassetlaw review", "Victoria").
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The Community Safety Partnerships that commissioned the review, lead first; joint
    /// reviews have several.
    async fn csps(&self, ctx: &Context<'_>) -> Result<Vec<Csp>> {
        Ok(load::<CspsByReview, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Csp)
            .collect())
    }

    /// Publication month, `YYYY-MM`; null when the source does not give it (DHRD records).
    async fn published(&self) -> Option<&str> {
        self.0.published.as_deref()
    }

    /// Year of the death under review, when the page gives it.
    async fn year_of_death(&self) -> Option<i32> {
        self.0.year_of_death
    }

    /// Generated summary of the review's findings. Names are never included.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Where the page came from, when known.
    async fn source_url(&self) -> Option<&str> {
        self.0.source_url.as_deref()
    }

    /// The number of recommendations the page says the report makes (`Extracted: N recs`).
    async fn stated_recommendation_count(&self) -> Option<i32> {
        self.0.stated_recommendation_count
    }

    /// The number of recommendations stored; below the stated count when the page was cut short.
    async fn recommendation_count(&self) -> i32 {
        self.0.recommendation_count
    }

    /// True when the page was cut short: fewer rows than stated, or a row cut mid-text.
    async fn incomplete(&self) -> bool {
        self.0.incomplete
    }

    /// The kind of statutory review.
    async fn review_type(&self) -> ReviewType {
        self.0
            .review_type
            .parse::<domain::ReviewType>()
            .unwrap_or(domain::ReviewType::Dhr)
            .into()
    }

    /// Other listings that may be this same review: reviews whose recommendations largely
    /// repeat this one's word for word. `score` is the share of the smaller review's
    /// recommendations with a near-identical twin in the other.
    async fn possible_duplicates(&self, ctx: &Context<'_>) -> Result<Vec<PossibleDuplicate>> {
        let rows = load::<PossibleDuplicates, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default();
        let ids: Vec<i32> = rows.iter().map(|r| r.other_review_id).collect();
        let reviews = ctx
            .data_unchecked::<async_graphql::dataloader::DataLoader<ReviewById>>()
            .load_many(ids)
            .await
            .map_err(crate::error::ApiError::from)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                reviews.get(&r.other_review_id).map(|m| PossibleDuplicate {
                    review: Review(m.clone()),
                    score: r.score,
                })
            })
            .collect())
    }

    /// Case tags from the Home Office's metadata (via the DHRD dataset): the review's own, or
    /// those of the DHRD record it is linked to.
    async fn case_tags(&self, ctx: &Context<'_>) -> Result<Vec<CaseTag>> {
        Ok(load::<CaseTagsByReview, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.parse::<domain::CaseTag>().ok().map(Into::into))
            .collect())
    }

    /// The DHRD record that is this same review, where exactly one record shares its CSP and
    /// year of death (ambiguous matches are not linked).
    async fn incident(&self, ctx: &Context<'_>) -> Result<Option<Review>> {
        Ok(load::<IncidentByReview, _>(ctx, self.0.id)
            .await?
            .map(Review))
    }

    /// The review's recommendations in printed order. With `includeWithdrawn`, also those
    /// that have left it (a re-sent review or page without them), after the rest: they keep
    /// their plans and history.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn recommendations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_withdrawn: bool,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Recommendation>> {
        let args = PageArgs::new(after, before, first, last);
        let page = if include_withdrawn {
            child_page::<ReviewRecommendationsWithWithdrawn>(ctx, self.0.id, args).await?
        } else {
            child_page::<ReviewRecommendations>(ctx, self.0.id, args).await?
        };
        Ok(page.into_connection(Recommendation))
    }

    /// Every agency the review's recommendations address, by name.
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
            child_page::<ReviewAgencies>(ctx, self.0.id, PageArgs::new(after, before, first, last))
                .await?;
        Ok(page.into_connection(Agency))
    }
}

/// Another listing that may be the same review.
#[derive(async_graphql::SimpleObject)]
pub struct PossibleDuplicate {
    review: Review,
    /// Share of the smaller review's recommendations with a near-identical twin (0 to 1).
    score: f64,
}
