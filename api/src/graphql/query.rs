//! The `Query` root: entry points into the graph.

use async_graphql::{Context, ID, Object, Result};
use entity::{agency, csp, csp_alias, recommendation, review};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter};

use super::enums::{AgencyOrder, CspOrder, RecommendationOrder, ReviewOrder};
use super::filters::{AgencyFilter, CspFilter, RecommendationFilter, ReviewFilter};
use super::ids::{self, Kind};
use super::loaders::{
    AgencyById, CspById, RecommendationById, ReviewById, ThemeById, ThemeCountRow,
};
use super::page::{Conn, CursorValue, PageArgs, SortKey, keyset_page};
use super::types::{Agency, Csp, Node, Recommendation, Review, SimilarityStatus, Theme, load};
use crate::db::Db;
use crate::domain::normalise::{name_key, slugify};
use crate::error::ApiError;

/// The root of every read: the core lists plus the graph questions.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    CoreQuery,
    super::graph_query::GraphQuery,
    super::plan_query::PlanQuery,
    super::audit_query::AuditQuery,
    super::review_stats::ReviewStatsQuery,
);

#[derive(Default)]
pub struct CoreQuery;

fn key<C: ColumnTrait>(column: C, desc: bool) -> SortKey {
    SortKey::column(column, desc)
}

/// Entry points into the graph of reviews, CSPs, agencies and recommendations.
#[Object]
impl CoreQuery {
    /// Fetches any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (kind, n) = ids::decode("id", &id)?;
        Ok(match kind {
            Kind::Review => load::<ReviewById, _>(ctx, n)
                .await?
                .map(|m| Node::Review(Review(m))),
            Kind::Csp => load::<CspById, _>(ctx, n).await?.map(|m| Node::Csp(Csp(m))),
            Kind::Agency => load::<AgencyById, _>(ctx, n)
                .await?
                .map(|m| Node::Agency(Agency(m))),
            Kind::Recommendation => load::<RecommendationById, _>(ctx, n)
                .await?
                .map(|m| Node::Recommendation(Recommendation(m))),
            Kind::Theme => load::<ThemeById, _>(ctx, n).await?.map(|model| {
                Node::Theme(Theme {
                    model,
                    counts: None,
                })
            }),
        })
    }

    /// Fetches objects by global id, in the order asked; `null` where none exists (an id
    /// that is not one of this API's is `null` too). At most 100.
    #[graphql(complexity = "crate::graphql::page::list_cost(None, 100, child_complexity)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > super::page::MAX_PAGE_SIZE {
            return Err(ApiError::bad_input("ids", "at most 100 ids per request").into());
        }
        let mut out = Vec::with_capacity(ids.len());
        // Loads are batched by the loaders: awaiting them together costs one query per type.
        let futures = ids.into_iter().map(|id| async move {
            if ids::decode("ids", &id).is_err() {
                return Ok(None);
            }
            self.node(ctx, id).await
        });
        for node in futures::future::join_all(futures).await {
            out.push(node?);
        }
        Ok(out)
    }

    /// Reviews, newest first by default.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        filter: Option<ReviewFilter>,
        order_by: Option<ReviewOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Review>> {
        let db = ctx.data_unchecked::<Db>();
        let window = PageArgs::new(after, before, first, last).window(2)?;
        let select = review::Entity::find()
            .filter(review::Column::DeletedAt.is_null())
            .filter(filter.unwrap_or_default().listing_condition(db.backend())?);
        use review::Column as C;
        let page = match order_by.unwrap_or_default() {
            ReviewOrder::PublishedDesc | ReviewOrder::PublishedAsc => {
                let desc = order_by.unwrap_or_default() == ReviewOrder::PublishedDesc;
                // Unknown months (DHRD records) sort last either way: as the empty string
                // newest first, after every month oldest first.
                let undated = if desc { "" } else { "9999-99" };
                let published = SortKey {
                    expr: sea_orm::sea_query::Expr::cust(format!(
                        "COALESCE(review.published, '{undated}')"
                    )),
                    desc,
                };
                keyset_page(
                    &db.conn,
                    select,
                    &[published, key(C::Id, desc)],
                    &window,
                    |m: &review::Model| {
                        vec![
                            m.published.as_deref().unwrap_or(undated).into(),
                            m.id.into(),
                        ]
                    },
                )
                .await?
            }
            ReviewOrder::RecommendationCountDesc => {
                keyset_page(
                    &db.conn,
                    select,
                    &[key(C::RecommendationCount, true), key(C::Id, true)],
                    &window,
                    |m: &review::Model| vec![m.recommendation_count.into(), m.id.into()],
                )
                .await?
            }
        };
        Ok(page.into_connection(Review))
    }

    /// Community Safety Partnerships, by name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn csps(
        &self,
        ctx: &Context<'_>,
        filter: Option<CspFilter>,
        order_by: Option<CspOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Csp>> {
        let db = ctx.data_unchecked::<Db>();
        let window = PageArgs::new(after, before, first, last).window(2)?;
        let select =
            csp::Entity::find().filter(filter.unwrap_or_default().condition(db.backend())?);
        let CspOrder::NameAsc = order_by.unwrap_or_default();
        let page = keyset_page(
            &db.conn,
            select,
            &[key(csp::Column::Name, false), key(csp::Column::Id, false)],
            &window,
            |m: &csp::Model| vec![m.name.as_str().into(), m.id.into()],
        )
        .await?;
        Ok(page.into_connection(Csp))
    }

    /// One CSP by slug; a name or known alias ("Lincoln") is accepted too.
    async fn csp(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Csp>> {
        let db = ctx.data_unchecked::<Db>();
        if let Some(found) = csp::Entity::find()
            .filter(csp::Column::Slug.eq(slugify(&slug)))
            .one(&db.conn)
            .await
            .map_err(ApiError::from)?
        {
            return Ok(Some(Csp(found)));
        }
        let alias = csp_alias::Entity::find()
            .filter(csp_alias::Column::Key.eq(name_key(&slug)))
            .find_also_related(csp::Entity)
            .one(&db.conn)
            .await
            .map_err(ApiError::from)?;
        Ok(alias.and_then(|(_, c)| c).map(Csp))
    }

    /// Agencies addressed by recommendations, those in most reviews first by default.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn agencies(
        &self,
        ctx: &Context<'_>,
        filter: Option<AgencyFilter>,
        order_by: Option<AgencyOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Agency>> {
        let db = ctx.data_unchecked::<Db>();
        let order = order_by.unwrap_or_default();
        let arity = if order == AgencyOrder::NameAsc { 2 } else { 3 };
        let window = PageArgs::new(after, before, first, last).window(arity)?;
        let select =
            agency::Entity::find().filter(filter.unwrap_or_default().condition(db.backend())?);
        use agency::Column as C;
        let page = match order {
            AgencyOrder::ReviewCountDesc => {
                keyset_page(
                    &db.conn,
                    select,
                    &[
                        key(C::ReviewCount, true),
                        key(C::Name, false),
                        key(C::Id, false),
                    ],
                    &window,
                    |m: &agency::Model| {
                        vec![m.review_count.into(), m.name.as_str().into(), m.id.into()]
                    },
                )
                .await?
            }
            AgencyOrder::RecommendationCountDesc => {
                keyset_page(
                    &db.conn,
                    select,
                    &[
                        key(C::RecommendationCount, true),
                        key(C::Name, false),
                        key(C::Id, false),
                    ],
                    &window,
                    |m: &agency::Model| {
                        vec![
                            m.recommendation_count.into(),
                            m.name.as_str().into(),
                            m.id.into(),
                        ]
                    },
                )
                .await?
            }
            AgencyOrder::NameAsc => {
                keyset_page(
                    &db.conn,
                    select,
                    &[key(C::Name, false), key(C::Id, false)],
                    &window,
                    |m: &agency::Model| vec![m.name.as_str().into(), m.id.into()],
                )
                .await?
            }
        };
        Ok(page.into_connection(Agency))
    }

    /// One agency by slug; a name or alias it is printed as ("GP Practice") is accepted too.
    async fn agency(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Agency>> {
        let db = ctx.data_unchecked::<Db>();
        if let Some(found) = agency::Entity::find()
            .filter(agency::Column::Slug.eq(slug.trim().to_lowercase()))
            .one(&db.conn)
            .await
            .map_err(ApiError::from)?
        {
            return Ok(Some(Agency(found)));
        }
        let alias = entity::agency_alias::Entity::find()
            .filter(entity::agency_alias::Column::Key.eq(name_key(&slug)))
            .find_also_related(agency::Entity)
            .one(&db.conn)
            .await
            .map_err(ApiError::from)?;
        Ok(alias.and_then(|(_, a)| a).map(Agency))
    }

    /// The themes of the taxonomy, most recommendations first.
    #[graphql(complexity = "crate::graphql::page::list_cost(None, 100, child_complexity)")]
    async fn themes(&self, ctx: &Context<'_>) -> Result<Vec<Theme>> {
        let db = ctx.data_unchecked::<Db>();
        let rows = db
            .conn
            .query_all_raw(crate::sql::statement(
                db.backend(),
                "SELECT t.*, COUNT(rt.recommendation_id) AS recommendation_count, \
                   COUNT(DISTINCT rec.review_id) AS review_count \
                 FROM theme t LEFT JOIN recommendation_theme rt ON rt.theme_id = t.id \
                 LEFT JOIN recommendation rec ON rec.id = rt.recommendation_id \
                 GROUP BY t.id, t.slug, t.name, t.cues ORDER BY recommendation_count DESC, t.slug",
                Vec::new(),
            ))
            .await
            .map_err(ApiError::from)?;
        rows.iter()
            .map(|row| {
                Ok(Theme {
                    model: entity::theme::Model::from_query_result(row, "")
                        .map_err(ApiError::from)?,
                    counts: Some(
                        ThemeCountRow::from_query_result(row, "").map_err(ApiError::from)?,
                    ),
                })
            })
            .collect()
    }

    /// One theme by slug ("routine-enquiry").
    async fn theme(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Theme>> {
        let db = ctx.data_unchecked::<Db>();
        Ok(entity::theme::Entity::find()
            .filter(entity::theme::Column::Slug.eq(slug.trim().to_lowercase()))
            .one(&db.conn)
            .await
            .map_err(ApiError::from)?
            .map(|model| Theme {
                model,
                counts: None,
            }))
    }

    /// How far `related` and `repeats` have followed the writes (they are kept in the
    /// background, after each write commits).
    async fn similarity_status(&self, ctx: &Context<'_>) -> Result<SimilarityStatus> {
        let upkeep = ctx.data_unchecked::<crate::write::WritePath>().similarity();
        let now = upkeep.status();
        let db = ctx.data_unchecked::<Db>();
        let stored = crate::similarity::upkeep::stored(&db.conn)
            .await
            .map_err(ApiError::from)?;
        let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(SimilarityStatus {
            current: now.current(),
            pending: int(now.pending),
            rebuilding: now.rebuilding,
            rebuild_scored: int(now.scored),
            rebuild_total: int(now.total),
            documents: int(stored.documents),
            changes_since_rebuild: int(stored.changes),
            rebuilt_at: stored.rebuilt_at,
        })
    }

    /// Recommendations across all reviews; with `includeWithdrawn`, also those that left
    /// their review (kept with their plans and history; not those of deleted reviews).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::page::page_cost(first, last, child_complexity)")]
    async fn recommendations(
        &self,
        ctx: &Context<'_>,
        filter: Option<RecommendationFilter>,
        order_by: Option<RecommendationOrder>,
        #[graphql(default)] include_withdrawn: bool,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<Conn<Recommendation>> {
        let db = ctx.data_unchecked::<Db>();
        let window = PageArgs::new(after, before, first, last).window(2)?;
        let visible = if include_withdrawn {
            recommendation::Column::ReviewId.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(review::Column::Id)
                    .from(review::Entity)
                    .and_where(review::Column::DeletedAt.is_not_null())
                    .to_owned(),
            )
        } else {
            recommendation::Column::WithdrawnAt.is_null()
        };
        let select = recommendation::Entity::find()
            .filter(visible)
            .filter(filter.unwrap_or_default().condition(db.backend())?);
        use recommendation::Column as C;
        let desc = order_by.unwrap_or_default() == RecommendationOrder::ReviewDesc;
        let page = keyset_page(
            &db.conn,
            select,
            &[key(C::ReviewId, desc), key(C::Position, false)],
            &window,
            |m: &recommendation::Model| {
                let v: Vec<CursorValue> = vec![m.review_id.into(), m.position.into()];
                v
            },
        )
        .await?;
        Ok(page.into_connection(Recommendation))
    }
}
