//! How recommendations connect: related recommendations (text, agency, sector, theme) and
//! repeat learning ("has this been recommended before?"). Candidates are the stored text
//! neighbours; every other signal is loaded in batches, so a list of recommendations costs a
//! fixed number of statements.

use std::collections::{BTreeSet, HashMap};

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, Object, Result};
use entity::{agency, recommendation, review};

use super::Recommendation;
use crate::domain::Sector;
use crate::error::ApiError;
use crate::graphql::loaders::{
    AgenciesByRecommendation, Neighbours, RecommendationById, ReviewById, TagRow,
    TagsByRecommendation,
};

/// Why two recommendations are related.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelatedReason {
    /// Addressed to the same agency.
    SameAgency,
    /// Addressed to agencies of the same sector (collective and uncurated sectors aside).
    SameSector,
    /// Carrying a theme in common.
    SharedTheme,
    /// Similar wording (TF-IDF cosine of at least 0.1).
    SimilarText,
}

/// A recommendation related to another, with how strongly and why.
pub struct RelatedRecommendation {
    recommendation: recommendation::Model,
    score: f64,
    reasons: Vec<RelatedReason>,
}

#[Object]
impl RelatedRecommendation {
    async fn recommendation(&self) -> Recommendation {
        Recommendation(self.recommendation.clone())
    }

    /// Text cosine (0 to 1), plus 0.15 for the same agency, 0.05 for the same sector and up to
    /// 0.2 for themes: the share of this recommendation's themes the other also carries.
    /// Higher is closer.
    async fn score(&self) -> f64 {
        self.score
    }

    /// What the two have in common.
    async fn reasons(&self) -> &[RelatedReason] {
        &self.reasons
    }
}

const SIMILAR_TEXT: f64 = 0.1;
/// Text cosine above which an earlier recommendation counts as the same learning repeated.
pub const REPEAT_TEXT: f64 = 0.25;

struct Candidate {
    model: recommendation::Model,
    cosine: f64,
    same_agency: bool,
    same_sector: bool,
    theme_overlap: f64,
}

fn countable_sectors(agencies: &[agency::Model]) -> BTreeSet<&str> {
    agencies
        .iter()
        .map(|a| a.sector.as_str())
        .filter(|s| *s != Sector::Collective.code() && *s != Sector::Other.code())
        .collect()
}

fn theme_set(tags: Option<&Vec<TagRow>>) -> BTreeSet<i32> {
    tags.map(|t| t.iter().map(|t| t.theme_id).collect())
        .unwrap_or_default()
}

/// The stored neighbours of `rec`, with the signals that explain them.
///
/// Every recommendation takes the same steps, in the same order, so that loads of one kind
/// batch together (see `graphql::batch`): first its own neighbours, agencies and themes
/// together; then the neighbours' rows; then their agencies and themes. A recommendation
/// without neighbours asks nothing in the later steps.
async fn candidates(ctx: &Context<'_>, rec: &recommendation::Model) -> Result<Vec<Candidate>> {
    let agencies_loader = ctx.data_unchecked::<DataLoader<AgenciesByRecommendation>>();
    let tags_loader = ctx.data_unchecked::<DataLoader<TagsByRecommendation>>();
    let (neighbours, own_agencies, own_tags) = futures::try_join!(
        ctx.data_unchecked::<DataLoader<Neighbours>>()
            .load_one(rec.id),
        agencies_loader.load_one(rec.id),
        tags_loader.load_one(rec.id),
    )
    .map_err(ApiError::from)?;
    let neighbours = neighbours.unwrap_or_default();
    let ids: Vec<i32> = neighbours.iter().map(|n| n.other_id).collect();
    let others: HashMap<i32, recommendation::Model> = ctx
        .data_unchecked::<DataLoader<RecommendationById>>()
        .load_many(ids.clone())
        .await
        .map_err(ApiError::from)?;
    let (agencies, tags) = futures::try_join!(
        agencies_loader.load_many(ids.clone()),
        tags_loader.load_many(ids),
    )
    .map_err(ApiError::from)?;
    let empty = Vec::new();
    let own_agencies = own_agencies.unwrap_or_default();
    let own_ids: BTreeSet<i32> = own_agencies.iter().map(|a| a.id).collect();
    let own_sectors = countable_sectors(&own_agencies);
    let own_themes = theme_set(own_tags.as_ref());
    Ok(neighbours
        .into_iter()
        .filter_map(|n| {
            let model = others.get(&n.other_id)?.clone();
            let theirs = agencies.get(&n.other_id).unwrap_or(&empty);
            let their_themes = theme_set(tags.get(&n.other_id));
            let shared = own_themes.intersection(&their_themes).count();
            Some(Candidate {
                model,
                cosine: n.score,
                same_agency: theirs.iter().any(|a| own_ids.contains(&a.id)),
                same_sector: !countable_sectors(theirs).is_disjoint(&own_sectors),
                // Coverage of this recommendation's themes: does the other address what this
                // one is about? (Jaccard would penalise a candidate for its other themes.)
                theme_overlap: if own_themes.is_empty() {
                    0.0
                } else {
                    shared as f64 / own_themes.len() as f64
                },
            })
        })
        .collect())
}

fn related(c: Candidate) -> RelatedRecommendation {
    let mut reasons = Vec::new();
    if c.same_agency {
        reasons.push(RelatedReason::SameAgency);
    }
    if c.same_sector {
        reasons.push(RelatedReason::SameSector);
    }
    if c.theme_overlap > 0.0 {
        reasons.push(RelatedReason::SharedTheme);
    }
    if c.cosine >= SIMILAR_TEXT {
        reasons.push(RelatedReason::SimilarText);
    }
    let score = c.cosine
        + if c.same_agency { 0.15 } else { 0.0 }
        + if c.same_sector { 0.05 } else { 0.0 }
        + 0.2 * c.theme_overlap;
    RelatedRecommendation {
        recommendation: c.model,
        score,
        reasons,
    }
}

fn ranked(mut list: Vec<RelatedRecommendation>, first: usize) -> Vec<RelatedRecommendation> {
    list.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.recommendation.id.cmp(&b.recommendation.id))
    });
    list.truncate(first);
    list
}

/// `Recommendation.related`.
pub async fn related_to(
    ctx: &Context<'_>,
    rec: &recommendation::Model,
    first: usize,
    include_same_review: bool,
) -> Result<Vec<RelatedRecommendation>> {
    let list = candidates(ctx, rec)
        .await?
        .into_iter()
        .filter(|c| include_same_review || c.model.review_id != rec.review_id)
        .map(related)
        .collect();
    Ok(ranked(list, first))
}

/// `Recommendation.repeats`: earlier recommendations (by publication) to the same agency or
/// sector, with closely similar text.
pub async fn repeats_of(
    ctx: &Context<'_>,
    rec: &recommendation::Model,
    first: usize,
) -> Result<Vec<RelatedRecommendation>> {
    let candidates: Vec<Candidate> = candidates(ctx, rec)
        .await?
        .into_iter()
        .filter(|c| {
            c.model.review_id != rec.review_id
                && c.cosine >= REPEAT_TEXT
                && (c.same_agency || c.same_sector)
        })
        .collect();
    // Nothing to date: ask nothing more (a later load would batch apart from the others').
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut review_ids: Vec<i32> = candidates.iter().map(|c| c.model.review_id).collect();
    review_ids.push(rec.review_id);
    let reviews: HashMap<i32, review::Model> = ctx
        .data_unchecked::<DataLoader<ReviewById>>()
        .load_many(review_ids)
        .await
        .map_err(ApiError::from)?;
    let Some(own) = reviews.get(&rec.review_id) else {
        return Ok(Vec::new());
    };
    let list = candidates
        .into_iter()
        .filter(|c| {
            reviews
                .get(&c.model.review_id)
                .is_some_and(|r| match (&r.published, &own.published) {
                    (Some(theirs), Some(ours)) => theirs < ours,
                    _ => false,
                })
        })
        .map(related)
        .collect();
    Ok(ranked(list, first))
}
