use async_graphql::{Context, ID, Object, Result};
use entity::recommendation;

use super::{ActionPlan, Agency, RelatedRecommendation, Review, StatusEvent, ThemeTag, load};
use crate::error::ApiError;
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{
    AgenciesByRecommendation, HistoryByRecommendation, MentionRow, MentionsByRecommendation,
    PlanByRecommendation, TagsByRecommendation,
};

/// Whether a recommendation is still in its review.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecommendationState {
    /// In its review.
    Active,
    /// Left its review; kept with its action plan and status history.
    Withdrawn,
}

/// One recommendation of a review, with the agencies it is addressed to.
#[derive(Clone)]
pub struct Recommendation(pub recommendation::Model);

/// One recommendation of a review, with the agencies it is addressed to.
#[Object]
impl Recommendation {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode(Kind::Recommendation, self.0.id)
    }

    /// The label as printed ("5.1", "10.4a", "9.1 a"). Labels can repeat within a review.
    async fn label(&self) -> &str {
        &self.0.label
    }

    /// 1-based order within the review; 0 for a withdrawn recommendation.
    async fn position(&self) -> i32 {
        self.0.position.max(0)
    }

    /// `ACTIVE`, or `WITHDRAWN`: it left its review (a re-sent review or page without it, or
    /// the review deleted), and is kept with its plan and history.
    async fn state(&self) -> RecommendationState {
        if self.0.withdrawn_at.is_some() {
            RecommendationState::Withdrawn
        } else {
            RecommendationState::Active
        }
    }

    /// When it was withdrawn (RFC 3339); null while active.
    async fn withdrawn_at(&self) -> Option<String> {
        self.0.withdrawn_at.map(|t| t.to_rfc3339())
    }

    /// The sender's own identifier of the recommendation (`upsertReview`), if it gave one.
    async fn external_ref(&self) -> Option<&str> {
        self.0.external_ref.as_deref()
    }

    /// The recommendation's text.
    async fn text(&self) -> &str {
        &self.0.text
    }

    /// The "addressed to" cells as printed, joined by " | "; empty when none could be read.
    async fn addressed_to(&self) -> &str {
        &self.0.addressed_to
    }

    /// The canonical agencies it is addressed to, in printed order.
    #[graphql(complexity = "crate::graphql::page::list_cost(None, 3, child_complexity)")]
    async fn agencies(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(load::<AgenciesByRecommendation, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Agency)
            .collect())
    }

    /// The agencies it is addressed to, in printed order, each with how its printed name
    /// was resolved and why: what a curator checks and corrects.
    async fn addressees(&self, ctx: &Context<'_>) -> Result<Vec<Addressee>> {
        Ok(
            load::<crate::graphql::loaders::AddresseesByRecommendation, _>(ctx, self.0.id)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(Addressee)
                .collect(),
        )
    }

    /// Agencies the text names without the recommendation being addressed to them ("all GP
    /// Practice Staff" in a recommendation to a commissioning body), each with the words that
    /// named it. Curated cues only (`api/data/mentions.txt`), never a fuzzy guess.
    async fn mentions(&self, ctx: &Context<'_>) -> Result<Vec<AgencyMention>> {
        Ok(load::<MentionsByRecommendation, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(AgencyMention)
            .collect())
    }

    /// The themes this recommendation carries, each with the cue of the taxonomy that matched.
    async fn themes(&self, ctx: &Context<'_>) -> Result<Vec<ThemeTag>> {
        Ok(load::<TagsByRecommendation, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(ThemeTag)
            .collect())
    }

    /// Recommendations elsewhere that resemble this one, closest first: similar wording, the
    /// same agency or sector, shared themes. Same-review recommendations only if asked.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn related(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(10)")] first: Option<i32>,
        #[graphql(default_with = "Some(false)")] include_same_review: Option<bool>,
    ) -> Result<Vec<RelatedRecommendation>> {
        let first = bounded_first(first.unwrap_or(10))?;
        super::related::related_to(ctx, &self.0, first, include_same_review.unwrap_or(false)).await
    }

    /// "Has this been recommended before?": earlier recommendations (by publication) to the
    /// same agency or sector with closely similar wording, closest first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn repeats(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(10)")] first: Option<i32>,
    ) -> Result<Vec<RelatedRecommendation>> {
        super::related::repeats_of(ctx, &self.0, bounded_first(first.unwrap_or(10))?).await
    }

    /// What is being done about it: status, owner, dates, rating, version.
    async fn action_plan(&self, ctx: &Context<'_>) -> Result<ActionPlan> {
        Ok(ActionPlan(
            load::<PlanByRecommendation, _>(ctx, self.0.id)
                .await?
                .unwrap_or_else(|| crate::plans::unstarted(self.0.id)),
        ))
    }

    /// Every change to its action plan, oldest first.
    #[graphql(complexity = "crate::graphql::page::list_cost(None, 10, child_complexity)")]
    async fn status_history(&self, ctx: &Context<'_>) -> Result<Vec<StatusEvent>> {
        Ok(load::<HistoryByRecommendation, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(StatusEvent)
            .collect())
    }

    /// The review that makes this recommendation.
    async fn review(&self, ctx: &Context<'_>) -> Result<Review> {
        super::review_by_id(ctx, self.0.review_id).await
    }
}

/// An agency named in a recommendation's text, and the cue that named it.
pub struct AgencyMention(MentionRow);

/// An agency named in a recommendation's text, and the cue that named it.
#[Object]
impl AgencyMention {
    /// The agency named.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.0.agency_id).await
    }

    /// The cue of `api/data/mentions.txt` that matched, so the link can be explained.
    async fn cue(&self) -> &str {
        &self.0.cue
    }
}

fn bounded_first(first: i32) -> Result<usize> {
    if (0..=100).contains(&first) {
        Ok(first as usize)
    } else {
        Err(ApiError::bad_input("first", "between 0 and 100").into())
    }
}

/// An agency a recommendation is addressed to, with how the printed name was resolved.
pub struct Addressee(crate::graphql::loaders::AddresseeRow);

#[Object]
impl Addressee {
    /// The agency.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.0.agency_id).await
    }

    /// Order of the addressee in the row, from 1.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// How the printed name was resolved.
    async fn resolution(&self) -> Resolution {
        Resolution {
            method: self
                .0
                .method
                .parse::<crate::domain::Method>()
                .unwrap_or(crate::domain::Method::Unresolved)
                .into(),
            reason: self.0.reason.clone(),
        }
    }
}

/// How a printed addressee was resolved to its agency, and why.
#[derive(async_graphql::SimpleObject)]
pub struct Resolution {
    /// The step of the resolver that answered.
    pub method: crate::graphql::enums::ResolutionMethod,
    /// Why, in words: the register entry, the area, the rule.
    pub reason: String,
}
