use async_graphql::{Context, ID, Object, Result};
use entity::recommendation;

use super::{Agency, Review, ThemeTag, load};
use crate::error::ApiError;
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{AgenciesByRecommendation, ReviewById, TagsByRecommendation};

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

    /// 1-based order within the review.
    async fn position(&self) -> i32 {
        self.0.position
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
    async fn agencies(&self, ctx: &Context<'_>) -> Result<Vec<Agency>> {
        Ok(load::<AgenciesByRecommendation, _>(ctx, self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Agency)
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

    /// The review that makes this recommendation.
    async fn review(&self, ctx: &Context<'_>) -> Result<Review> {
        load::<ReviewById, _>(ctx, self.0.review_id)
            .await?
            .map(Review)
            .ok_or_else(|| {
                ApiError::NotFound {
                    what: "review".into(),
                }
                .into()
            })
    }
}
