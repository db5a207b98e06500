use async_graphql::{Context, ID, Object, Result};
use entity::theme;

use super::{Recommendation, child_page, load};
use crate::error::ApiError;
use crate::graphql::ids::{Kind, encode};
use crate::graphql::loaders::{
    TagRow, ThemeById, ThemeCountRow, ThemeCounts, ThemeRecommendations,
};
use crate::graphql::page::{Conn, PageArgs};

/// A recurring theme of recommendations, from the curated taxonomy ("routine enquiry",
/// "information sharing"). Recommendations are tagged by the theme's cues at ingest.
#[derive(Clone)]
pub struct Theme {
    pub model: theme::Model,
    /// Counts already computed by the query that found the theme, if any.
    pub counts: Option<ThemeCountRow>,
}

impl Theme {
    async fn counts(&self, ctx: &Context<'_>) -> Result<ThemeCountRow> {
        if let Some(c) = &self.counts {
            return Ok(c.clone());
        }
        Ok(load::<ThemeCounts, _>(ctx, self.model.id)
            .await?
            .unwrap_or(ThemeCountRow {
                recommendation_count: 0,
                review_count: 0,
            }))
    }
}

/// A recurring theme of recommendations, from the curated taxonomy ("routine enquiry",
/// "information sharing"). Recommendations are tagged by the theme's cues at ingest.
#[Object]
impl Theme {
    /// Opaque global id.
    pub async fn id(&self) -> ID {
        encode(Kind::Theme, self.model.id)
    }

    /// Stable short name, for `theme(slug:)` and filters.
    async fn slug(&self) -> &str {
        &self.model.slug
    }

    async fn name(&self) -> &str {
        &self.model.name
    }

    /// The cues that tag a recommendation with this theme (whole words; `*` marks a prefix).
    async fn cues(&self) -> Vec<&str> {
        self.model.cues.split("; ").collect()
    }

    /// Recommendations carrying this theme.
    async fn recommendation_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.counts(ctx).await?.recommendation_count)
    }

    /// Reviews with a recommendation carrying this theme.
    async fn review_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.counts(ctx).await?.review_count)
    }

    /// Recommendations carrying this theme, newest review first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn recommendations(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Recommendation>> {
        let page = child_page::<ThemeRecommendations>(
            ctx,
            self.model.id,
            PageArgs::new(after, before, first, last),
        )
        .await?;
        Ok(page.into_connection(Recommendation))
    }
}

/// A theme on a recommendation, with the cue that matched its text.
pub struct ThemeTag(pub TagRow);

#[Object]
impl ThemeTag {
    async fn theme(&self, ctx: &Context<'_>) -> Result<Theme> {
        load::<ThemeById, _>(ctx, self.0.theme_id)
            .await?
            .map(|model| Theme {
                model,
                counts: None,
            })
            .ok_or_else(|| {
                ApiError::NotFound {
                    what: "theme".into(),
                }
                .into()
            })
    }

    /// The cue of the taxonomy that matched, so the tag can be explained.
    async fn cue(&self) -> &str {
        &self.0.cue
    }
}
