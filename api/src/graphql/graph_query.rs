//! The graph questions as GraphQL: which agencies recur, how they connect, how sectors spread.
//! Resolvers parse arguments and call `crate::graph`; nested objects load through loaders.

use std::collections::HashMap;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use entity::csp;

use super::enums::{RollUp, Sector};
use super::loaders::{CspById, RecommendationById, ReviewById};
use super::page::{Conn, CursorValue, Page, PageArgs, Total, encode_cursor};
use super::types::{Agency, Csp, Recommendation, Review, load};
use crate::db::Db;
use crate::domain::{self, YearMonth};
use crate::error::{ApiError, ApiResult};
use crate::graph::{self, Scope, StatsBy};

#[derive(Default)]
pub struct GraphQuery;

fn month(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    v.map(|m| {
        m.parse::<YearMonth>()
            .map(|m| m.to_string())
            .map_err(|e| ApiError::bad_input(field, e.to_string()))
    })
    .transpose()
}

/// An agency's place in the recurrence ranking.
pub struct RecurringAgency {
    row: graph::Recurrence,
    csp_ids: Vec<i32>,
}

#[Object]
impl RecurringAgency {
    /// The agency.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.row.agency_id).await
    }

    /// Reviews (in scope) with a recommendation addressed to it.
    async fn review_count(&self) -> i64 {
        self.row.review_count
    }

    /// Recommendations (in scope) addressed to it.
    async fn recommendation_count(&self) -> i64 {
        self.row.recommendation_count
    }

    /// The CSPs of those reviews, by name; at most `first` (default and most: 500).
    #[graphql(
        complexity = "crate::graphql::page::list_cost(first, MAX_LISTED_CSPS, child_complexity)"
    )]
    async fn csps(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Csp>> {
        let first = crate::graphql::page::list_size("first", first, MAX_LISTED_CSPS)?;
        let loader = ctx.data_unchecked::<async_graphql::dataloader::DataLoader<CspById>>();
        let found: HashMap<i32, csp::Model> = loader
            .load_many(self.csp_ids.iter().take(first).copied())
            .await
            .map_err(ApiError::from)?;
        Ok(self
            .csp_ids
            .iter()
            .take(first)
            .filter_map(|id| found.get(id).cloned().map(Csp))
            .collect())
    }

    /// Month of the first of those reviews, `YYYY-MM`.
    async fn first_published(&self) -> &str {
        &self.row.first_published
    }

    /// Month of the last of those reviews, `YYYY-MM`.
    async fn last_published(&self) -> &str {
        &self.row.last_published
    }
}

/// A node of the agency network.
pub struct NetworkNode(graph::NetworkNode);

#[Object]
impl NetworkNode {
    async fn agency(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.0.agency_id).await
    }

    /// Reviews (in scope) addressing the agency.
    async fn review_count(&self) -> i64 {
        self.0.review_count
    }
}

/// An edge of the agency network: two agencies addressed in the same reviews.
pub struct NetworkEdge(graph::NetworkEdge);

#[Object]
impl NetworkEdge {
    /// One agency (the one with the lower id).
    async fn source(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.0.source).await
    }

    /// The other agency.
    async fn target(&self, ctx: &Context<'_>) -> Result<Agency> {
        crate::graphql::types::agency_by_id(ctx, self.0.target).await
    }

    /// Reviews addressing both.
    async fn shared_reviews(&self) -> i64 {
        self.0.shared_reviews
    }
}

/// Agencies as nodes and shared reviews as weighted edges, ready to draw.
#[derive(SimpleObject)]
pub struct AgencyNetwork {
    /// Agencies with at least one edge.
    nodes: Vec<NetworkNode>,
    /// Each pair of agencies once, heaviest first.
    edges: Vec<NetworkEdge>,
    /// Whether more pairs qualified than `first` allowed (the lightest were left out).
    truncated: bool,
}

/// Most edges `agencyNetwork` returns.
pub const MAX_NETWORK_EDGES: usize = 2_000;
/// Most rows `sectorStats` and `actionPlanStats` return.
pub const MAX_STAT_ROWS: usize = 5_000;
/// Most CSPs a recurring agency lists.
pub const MAX_LISTED_CSPS: usize = 500;

/// How `sectorStats` groups.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SectorStatsGroup {
    /// By publication year.
    Year,
    /// By Community Safety Partnership.
    Csp,
    /// By the region of the review's CSPs (the DHRD's names; "" where none is known).
    Region,
}

/// Reviews and recommendations addressed to one sector in one year or CSP.
pub struct SectorStat {
    row: graph::SectorStat,
    by: SectorStatsGroup,
}

#[Object]
impl SectorStat {
    async fn sector(&self) -> Sector {
        self.row
            .sector
            .parse::<domain::Sector>()
            .unwrap_or(domain::Sector::Other)
            .into()
    }

    /// The publication year, when grouped by year.
    async fn year(&self) -> Option<i32> {
        (self.by == SectorStatsGroup::Year)
            .then(|| self.row.bucket.parse().ok())
            .flatten()
    }

    /// The region (the DHRD's name), when grouped by region; empty where none is known.
    async fn region(&self) -> Option<&str> {
        (self.by == SectorStatsGroup::Region).then_some(self.row.bucket.as_str())
    }

    /// The CSP, when grouped by CSP.
    async fn csp(&self, ctx: &Context<'_>) -> Result<Option<Csp>> {
        if self.by != SectorStatsGroup::Csp {
            return Ok(None);
        }
        let Ok(id) = self.row.bucket.trim().parse::<i32>() else {
            return Ok(None);
        };
        Ok(load::<CspById, _>(ctx, id).await?.map(Csp))
    }

    /// Reviews with a recommendation addressed to the sector.
    async fn review_count(&self) -> i64 {
        self.row.review_count
    }

    /// Recommendations addressed to the sector.
    async fn recommendation_count(&self) -> i64 {
        self.row.recommendation_count
    }
}

/// Which part of the graph `sectorStats` counts.
#[derive(InputObject, Default)]
pub struct StatsFilter {
    /// Published in or after this month, `YYYY-MM`.
    pub published_from: Option<String>,
    /// Published in or before this month, `YYYY-MM`.
    pub published_to: Option<String>,
}

/// A search result: a recommendation or a review.
#[derive(async_graphql::Union)]
pub enum SearchHit {
    Recommendation(Recommendation),
    Review(Review),
}

/// What a search edge carries besides its node.
#[derive(SimpleObject)]
pub struct SearchScore {
    /// Relevance by the database's full-text ranking (BM25 on SQLite, length-normalised `ts_rank` on
    /// PostgreSQL); higher is better, comparable within one result list only.
    score: f64,
}

pub type SearchConnection = async_graphql::connection::Connection<
    String,
    SearchHit,
    super::page::ConnectionFields,
    SearchScore,
>;

#[Object]
impl GraphQuery {
    /// Full-text search over recommendation texts and review summaries, most relevant first.
    /// Words are stemmed ("enquiries" finds "enquiry"); any word may match, and results
    /// matching more of them rank higher.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<SearchConnection> {
        let db = ctx.data_unchecked::<Db>();
        let terms = crate::search::terms(&query);
        if terms.is_empty() {
            return Err(ApiError::bad_input("query", "needs at least one word").into());
        }
        let window = PageArgs::new(after, None, first, None).window(1)?;
        let offset = match window.after.as_deref() {
            Some([CursorValue::Int(n)]) if *n >= 0 => *n as u64,
            None => 0,
            _ => return Err(ApiError::bad_input("after", "not a cursor of this list").into()),
        };
        let limit = window.first.unwrap_or(super::page::DEFAULT_PAGE_SIZE) as u64;
        let mut hits = crate::search::search(&db.conn, &terms, offset, limit + 1)
            .await
            .map_err(ApiError::from)?;
        let has_next = hits.len() as u64 > limit;
        hits.truncate(limit as usize);
        let rec_ids: Vec<i32> = hits
            .iter()
            .filter(|h| h.kind == crate::search::HitKind::Recommendation)
            .map(|h| h.ref_id)
            .collect();
        let review_ids: Vec<i32> = hits
            .iter()
            .filter(|h| h.kind == crate::search::HitKind::Review)
            .map(|h| h.ref_id)
            .collect();
        let recs = ctx
            .data_unchecked::<async_graphql::dataloader::DataLoader<RecommendationById>>()
            .load_many(rec_ids)
            .await
            .map_err(ApiError::from)?;
        let reviews = ctx
            .data_unchecked::<async_graphql::dataloader::DataLoader<ReviewById>>()
            .load_many(review_ids)
            .await
            .map_err(ApiError::from)?;
        let (count_db, count_terms) = (db.conn.clone(), terms.clone());
        let mut conn = SearchConnection::with_additional_fields(
            offset > 0,
            has_next,
            super::page::ConnectionFields::new(Total::lazy(move || {
                let (db, terms) = (count_db.clone(), count_terms.clone());
                Box::pin(async move { crate::search::count(&db, &terms).await })
            })),
        );
        for (i, hit) in hits.into_iter().enumerate() {
            let node = match hit.kind {
                crate::search::HitKind::Recommendation => recs
                    .get(&hit.ref_id)
                    .cloned()
                    .map(|m| SearchHit::Recommendation(Recommendation(m))),
                crate::search::HitKind::Review => reviews
                    .get(&hit.ref_id)
                    .cloned()
                    .map(|m| SearchHit::Review(Review(m))),
            };
            if let Some(node) = node {
                conn.edges
                    .push(async_graphql::connection::Edge::with_additional_fields(
                        encode_cursor(&[CursorValue::Int((offset + i as u64 + 1) as i64)]),
                        node,
                        SearchScore { score: hit.score },
                    ));
            }
        }
        Ok(conn)
    }

    /// Agencies addressed by at least `minReviews` reviews, most reviews first. Collective
    /// addressees ("All Agencies") are left out unless `includeCollective`. With
    /// `includeMentions`, an agency also counts where a recommendation names it without being
    /// addressed to it (`Recommendation.mentions`).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn recurring_agencies(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(2)")] min_reviews: Option<i32>,
        sector: Option<Sector>,
        #[graphql(default_with = "Some(false)")] include_collective: Option<bool>,
        published_from: Option<String>,
        published_to: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] include_mentions: Option<bool>,
        #[graphql(
            default_with = "Some(RollUp::None)",
            desc = "Count each agency under its successor or the body it is part of. Filters \
                    choose the agencies counted before they are rolled up; a recommendation \
                    addressed to two agencies of one group counts once."
        )]
        roll_up: Option<RollUp>,
    ) -> Result<Conn<RecurringAgency>> {
        let db = ctx.data_unchecked::<Db>();
        let window = PageArgs::new(after, None, first, None).window(1)?;
        let offset = match window.after.as_deref() {
            Some([CursorValue::Int(n)]) if *n >= 0 => *n as u64,
            None => 0,
            _ => return Err(ApiError::bad_input("after", "not a cursor of this list").into()),
        };
        let limit = window.first.unwrap_or(super::page::DEFAULT_PAGE_SIZE) as u64;
        let scope = Scope {
            sector: sector.map(Into::into),
            include_collective: include_collective.unwrap_or(false),
            published_from: month("publishedFrom", published_from)?,
            published_to: month("publishedTo", published_to)?,
            include_mentions: include_mentions.unwrap_or(false),
            roll_up: roll_up.unwrap_or(RollUp::None).into(),
        };
        let min = i64::from(min_reviews.unwrap_or(2).max(1));
        let mut rows = graph::recurring_agencies(&db.conn, &scope, min, offset, limit + 1)
            .await
            .map_err(ApiError::from)?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let look = ctx.look_ahead();
        let wants_csps = look.field("nodes").field("csps").exists()
            || look.field("edges").field("node").field("csps").exists();
        let mut csps = if wants_csps {
            let ids: Vec<i32> = rows.iter().map(|r| r.agency_id).collect();
            graph::csps_of_agencies(&db.conn, &scope, &ids)
                .await
                .map_err(ApiError::from)?
        } else {
            HashMap::new()
        };
        let (count_db, count_scope) = (db.conn.clone(), scope.clone());
        let page = Page {
            items: rows
                .into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let csp_ids = csps.remove(&row.agency_id).unwrap_or_default();
                    (
                        encode_cursor(&[CursorValue::Int((offset + i as u64 + 1) as i64)]),
                        RecurringAgency { row, csp_ids },
                    )
                })
                .collect(),
            has_previous: offset > 0,
            has_next,
            total: Total::lazy(move || {
                let (db, scope) = (count_db.clone(), count_scope.clone());
                Box::pin(async move { graph::count_recurring_agencies(&db, &scope, min).await })
            }),
        };
        Ok(page.into_connection(|r| r))
    }

    /// The network of agencies addressed in the same reviews: an edge for each pair sharing
    /// at least `minSharedReviews` reviews, heaviest first, at most `first` edges (default and
    /// most: 2,000; `truncated` says whether more pairs qualified). `includeMentions` as in
    /// `recurringAgencies`.
    #[graphql(
        complexity = "crate::graphql::page::list_cost(first, MAX_NETWORK_EDGES, child_complexity)"
    )]
    async fn agency_network(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(1)")] min_shared_reviews: Option<i32>,
        sector: Option<Sector>,
        #[graphql(default_with = "Some(false)")] include_collective: Option<bool>,
        #[graphql(default_with = "Some(false)")] include_mentions: Option<bool>,
        first: Option<i32>,
    ) -> Result<AgencyNetwork> {
        let first = crate::graphql::page::list_size("first", first, MAX_NETWORK_EDGES)?;
        let db = ctx.data_unchecked::<Db>();
        let scope = Scope {
            sector: sector.map(Into::into),
            include_collective: include_collective.unwrap_or(false),
            include_mentions: include_mentions.unwrap_or(false),
            ..Default::default()
        };
        let (nodes, edges, truncated) = graph::agency_network(
            &db.conn,
            &scope,
            i64::from(min_shared_reviews.unwrap_or(1).max(1)),
            first,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(AgencyNetwork {
            nodes: nodes.into_iter().map(NetworkNode).collect(),
            edges: edges.into_iter().map(NetworkEdge).collect(),
            truncated,
        })
    }

    /// Reviews and recommendations addressed to each sector, per year or per CSP; at most
    /// `first` rows (default and most: 5,000).
    #[graphql(
        complexity = "crate::graphql::page::list_cost(first, MAX_STAT_ROWS, child_complexity)"
    )]
    async fn sector_stats(
        &self,
        ctx: &Context<'_>,
        group_by: SectorStatsGroup,
        filter: Option<StatsFilter>,
        first: Option<i32>,
    ) -> Result<Vec<SectorStat>> {
        let first = crate::graphql::page::list_size("first", first, MAX_STAT_ROWS)?;
        let db = ctx.data_unchecked::<Db>();
        let filter = filter.unwrap_or_default();
        let scope = Scope {
            include_collective: true,
            published_from: month("publishedFrom", filter.published_from)?,
            published_to: month("publishedTo", filter.published_to)?,
            ..Default::default()
        };
        let by = match group_by {
            SectorStatsGroup::Year => StatsBy::Year,
            SectorStatsGroup::Csp => StatsBy::Csp,
            SectorStatsGroup::Region => StatsBy::Region,
        };
        Ok(graph::sector_stats(&db.conn, &scope, by)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .take(first)
            .map(|row| SectorStat { row, by: group_by })
            .collect())
    }
}
