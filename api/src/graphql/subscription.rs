//! The `Subscription` root: changes as they happen, over graphql-transport-ws at
//! `/graphql/ws`. Events come from the bus (`crate::events`), which on PostgreSQL carries
//! changes written through any server process.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, Subscription as SubscriptionRoot};
use entity::review;
use futures::{Stream, StreamExt};
use sea_orm::EntityTrait;
use tokio::sync::broadcast::error::RecvError;

use super::enums::PlanStatus;
use super::ids::{Kind, encode};
use super::loaders::RecommendationById;
use super::types::{Recommendation, Review, load};
use crate::db::Db;
use crate::error::ApiError;
use crate::events::{Event, EventBus, StatusChange};

#[derive(Default)]
pub struct Subscription;

/// A change to a recommendation's action plan, as it happened.
pub struct RecommendationStatusChange(Arc<StatusChange>);

/// A change to a recommendation's action plan, as it happened.
#[Object]
impl RecommendationStatusChange {
    /// The recommendation, as it is now.
    async fn recommendation(&self, ctx: &Context<'_>) -> Result<Recommendation> {
        load::<RecommendationById, _>(ctx, self.0.recommendation_id)
            .await?
            .map(Recommendation)
            .ok_or_else(|| {
                ApiError::NotFound {
                    what: "recommendation".into(),
                }
                .into()
            })
    }

    /// Its global id (usable even if it was deleted since).
    async fn recommendation_id(&self) -> async_graphql::ID {
        encode(Kind::Recommendation, self.0.recommendation_id)
    }

    async fn from(&self) -> PlanStatus {
        PlanStatus::from_code(&self.0.from_status)
    }

    async fn to(&self) -> PlanStatus {
        PlanStatus::from_code(&self.0.to_status)
    }

    /// The plan version the change produced.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Who made it (the name of their API key).
    async fn by(&self) -> &str {
        &self.0.actor
    }

    /// When (RFC 3339).
    async fn at(&self) -> &str {
        &self.0.at
    }

    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

fn events(ctx: &Context<'_>) -> Result<tokio::sync::broadcast::Receiver<Arc<Event>>> {
    Ok(ctx.data::<EventBus>()?.subscribe())
}

/// The next event the filter keeps; a subscriber that fell behind skips what it missed.
async fn next_matching<T>(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
    keep: impl Fn(&Event) -> Option<T>,
) -> Option<T> {
    loop {
        match rx.recv().await {
            Ok(event) => {
                if let Some(t) = keep(&event) {
                    return Some(t);
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "a subscriber fell behind; events skipped");
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Changes as they happen.
#[SubscriptionRoot]
impl Subscription {
    /// Every change to an action plan, optionally only of recommendations addressed to one
    /// agency or made by reviews of one CSP (slugs, or names they are known under). An
    /// agency or CSP that does not exist is refused (`BAD_USER_INPUT`), not waited on for ever.
    async fn recommendation_status_changed(
        &self,
        ctx: &Context<'_>,
        agency: Option<String>,
        csp: Option<String>,
    ) -> Result<impl Stream<Item = RecommendationStatusChange>> {
        let db = &ctx.data::<Db>()?.conn;
        let agency = match agency {
            None => None,
            Some(a) => Some(
                crate::curation::find_agency(db, &a)
                    .await
                    .map_err(|e| match e {
                        crate::curation::CurationError::Db(d) => ApiError::from(d),
                        _ => ApiError::bad_input(
                            "agency",
                            format!("no agency with slug or name {a:?}"),
                        ),
                    })?
                    .slug,
            ),
        };
        let csp = match csp {
            None => None,
            Some(c) => {
                let id = crate::ingest::store::find_csp(db, &c)
                    .await
                    .map_err(ApiError::from)?
                    .ok_or_else(|| {
                        ApiError::bad_input("csp", format!("no CSP with slug or name {c:?}"))
                    })?;
                entity::csp::Entity::find_by_id(id)
                    .one(db)
                    .await
                    .map_err(ApiError::from)?
                    .map(|c| c.slug)
            }
        };
        let rx = events(ctx)?;
        Ok(futures::stream::unfold(rx, move |mut rx| {
            let (agency, csp) = (agency.clone(), csp.clone());
            async move {
                let change = next_matching(&mut rx, |e| match e {
                    Event::StatusChanged(c)
                        if agency.as_ref().is_none_or(|a| c.agencies.contains(a))
                            && csp.as_ref().is_none_or(|s| c.csps.contains(s)) =>
                    {
                        Some(Arc::new(c.clone()))
                    }
                    _ => None,
                })
                .await?;
                Some((RecommendationStatusChange(change), rx))
            }
        }))
    }

    /// Every review added, by any writer (ingest, `upsertReview`, `ingestReviewPage`).
    async fn review_added(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Review>> {
        let rx = events(ctx)?;
        let db = ctx.data::<Db>()?.conn.clone();
        Ok(futures::stream::unfold(rx, move |mut rx| {
            let db = db.clone();
            async move {
                loop {
                    let id = next_matching(&mut rx, |e| match e {
                        Event::ReviewAdded { review_id } => Some(*review_id),
                        _ => None,
                    })
                    .await?;
                    // A review deleted before we read it is not announced.
                    match review::Entity::find_by_id(id).one(&db).await {
                        Ok(Some(model)) => return Some((Review(model), rx)),
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not read an added review");
                            continue;
                        }
                    }
                }
            }
        })
        .boxed())
    }
}
