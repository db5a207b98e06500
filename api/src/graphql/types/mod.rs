//! The object types of the graph. Each wraps a row and resolves its edges through loaders;
//! none is a database model with GraphQL derives.

mod action_plan;
mod agency;
mod csp;
mod node;
mod recommendation;
mod registered;
mod related;
mod review;
mod similarity;
mod theme;

pub use action_plan::{ActionPlan, StatusEvent};
pub use agency::Agency;
pub use csp::Csp;
pub use node::Node;
pub use recommendation::Recommendation;
pub use registered::RegisteredBody;
pub use related::{RelatedReason, RelatedRecommendation};
pub use review::Review;
pub use similarity::SimilarityStatus;
pub use theme::{Theme, ThemeTag};

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

use super::loaders::{ChildList, ChildPageKey, ChildPages};
use super::page::{Page, PageArgs, Total};
use crate::error::ApiResult;

/// One page of a nested list, through its batching loader.
pub(crate) async fn child_page<L: ChildList>(
    ctx: &Context<'_>,
    parent: i32,
    args: PageArgs,
) -> ApiResult<Page<L::Row>> {
    let window = args.window(1)?;
    // A nested list pages by position: a cursor of any other shape (a root list's, say) is
    // refused rather than read as the start.
    for (field, cursor) in [("after", &window.after), ("before", &window.before)] {
        if let Some(values) = cursor
            && !matches!(values.as_slice(), [super::page::CursorValue::Int(p)] if *p >= 0)
        {
            return Err(crate::error::ApiError::bad_input(
                field,
                "not a cursor returned by this connection",
            ));
        }
    }
    let loader = ctx.data_unchecked::<DataLoader<ChildPages<L>>>();
    Ok(loader
        .load_one(ChildPageKey { parent, window })
        .await?
        .unwrap_or_else(|| Page {
            items: Vec::new(),
            has_previous: false,
            has_next: false,
            total: Total::known(0),
        }))
}

/// An agency that a stored row refers to, through its loader; a dangling id is `NOT_FOUND`.
pub(crate) async fn agency_by_id(
    ctx: &Context<'_>,
    id: i32,
) -> async_graphql::Result<agency::Agency> {
    load::<super::loaders::AgencyById, _>(ctx, id)
        .await?
        .map(agency::Agency)
        .ok_or_else(|| {
            crate::error::ApiError::NotFound {
                what: "agency".into(),
            }
            .into()
        })
}

/// A review that a stored row refers to, through its loader; a dangling id (or a deleted
/// review's tombstone) is `NOT_FOUND`.
pub(crate) async fn review_by_id(
    ctx: &Context<'_>,
    id: i32,
) -> async_graphql::Result<review::Review> {
    load::<super::loaders::ReviewById, _>(ctx, id)
        .await?
        .map(review::Review)
        .ok_or_else(|| {
            crate::error::ApiError::NotFound {
                what: "review".into(),
            }
            .into()
        })
}

/// One value through a keyed loader.
pub(crate) async fn load<L, V>(ctx: &Context<'_>, key: i32) -> ApiResult<Option<V>>
where
    L: Loader<i32, Value = V, Error = super::loaders::LoadError>,
    V: Send + Sync + Clone + 'static,
{
    Ok(ctx.data_unchecked::<DataLoader<L>>().load_one(key).await?)
}
