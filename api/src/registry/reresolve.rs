//! `dhr-graph agencies reresolve`: what the current registry and resolver would make of every
//! stored addressee, against what is stored. Shown as a dry run by default; applied, it is
//! one unit of work through the write path (so counts, mentions and aggregates follow).
//! A recommendation with a curator's decision among its links is left as it is.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use entity::{agency, recommendation, recommendation_agency, review, review_csp};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::domain::Method;
use crate::domain::normalise::name_key;
use crate::ingest::store::resolve_agencies;
use crate::registry::resolve::ReviewContext;
use crate::write::{Unit, WritePath};

/// One recommendation whose addressees would resolve to other agencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relinked {
    pub review: String,
    pub label: String,
    /// Agency slugs in printed order, as stored and as they would be.
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// What a re-resolution found (and, applied, did).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub recommendations: usize,
    /// Left alone: a curator decided one of their links.
    pub curated: usize,
    pub relinked: Vec<Relinked>,
    pub applied: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReresolveError {
    /// Not an error: how a dry run leaves nothing behind (its unit is rolled back).
    #[error("dry run")]
    DryRun(Report),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl crate::write::WriteError for ReresolveError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            ReresolveError::Db(e) => Some(e),
            ReresolveError::DryRun(_) => None,
        }
    }
}

/// Re-resolves every addressee of every live review; writes the differences if `apply`.
pub async fn reresolve(path: &WritePath, apply: bool) -> Result<Report, DbErr> {
    match path
        .run(&apply, |unit, apply| Box::pin(reresolve_in(unit, *apply)))
        .await
    {
        Ok(report) => Ok(report),
        Err(ReresolveError::DryRun(report)) => Ok(report),
        Err(ReresolveError::Db(e)) => Err(e),
    }
}

async fn reresolve_in(unit: &mut Unit, apply: bool) -> Result<Report, ReresolveError> {
    let mut report = Report {
        applied: apply,
        ..Default::default()
    };
    let db = unit.db();
    let reviews = review::Entity::find()
        .filter(review::Column::DeletedAt.is_null())
        .order_by_asc(review::Column::Id)
        .all(db)
        .await?;
    let slugs: HashMap<i32, String> = agency::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.slug))
        .collect();
    // Per review to change: its recommendations' new links.
    let mut changes: BTreeMap<i32, Vec<(i32, Vec<recommendation_agency::ActiveModel>)>> =
        BTreeMap::new();
    let mut texts: BTreeMap<i32, Vec<(i32, String)>> = BTreeMap::new();
    for r in &reviews {
        let recs = recommendation::Entity::find()
            .filter(recommendation::Column::ReviewId.eq(r.id))
            .filter(recommendation::Column::WithdrawnAt.is_null())
            .order_by_asc(recommendation::Column::Position)
            .all(db)
            .await?;
        if recs.is_empty() {
            continue;
        }
        let csps: Vec<String> = review_csp::Entity::find()
            .filter(review_csp::Column::ReviewId.eq(r.id))
            .order_by_asc(review_csp::Column::Position)
            .find_also_related(entity::csp::Entity)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(_, c)| c.map(|c| c.name))
            .collect();
        let names_of = |rec: &recommendation::Model| -> Vec<String> {
            rec.addressed_to
                .split(" | ")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let names: Vec<String> = recs.iter().flat_map(names_of).collect();
        // The same context an ingest of the page builds.
        let ctx = ReviewContext::new(
            &csps,
            std::iter::once(r.summary.as_str())
                .chain(recs.iter().map(|x| x.text.as_str()))
                .chain(names.iter().map(String::as_str)),
        );
        let (agency_of, _) = resolve_agencies(db, &ctx, &names).await?;
        let ids: Vec<i32> = recs.iter().map(|x| x.id).collect();
        let mut stored: HashMap<i32, Vec<recommendation_agency::Model>> = HashMap::new();
        for link in recommendation_agency::Entity::find()
            .filter(recommendation_agency::Column::RecommendationId.is_in(ids))
            .order_by_asc(recommendation_agency::Column::Position)
            .all(db)
            .await?
        {
            stored.entry(link.recommendation_id).or_default().push(link);
        }
        for rec in &recs {
            report.recommendations += 1;
            let old = stored.remove(&rec.id).unwrap_or_default();
            if old.iter().any(|l| l.method == Method::Curated.code()) {
                report.curated += 1;
                continue;
            }
            let mut seen = BTreeSet::new();
            let mut new = Vec::new();
            for name in names_of(rec) {
                let Some(link) = agency_of.get(&name_key(&name)) else {
                    continue;
                };
                if seen.insert(link.agency_id) {
                    new.push(recommendation_agency::ActiveModel {
                        recommendation_id: Set(rec.id),
                        agency_id: Set(link.agency_id),
                        position: Set(seen.len() as i32),
                        method: Set(link.method.code().to_owned()),
                        reason: Set(link.reason.clone()),
                    });
                }
            }
            let before: Vec<i32> = old.iter().map(|l| l.agency_id).collect();
            let after: Vec<i32> = new.iter().map(|l| *l.agency_id.as_ref()).collect();
            if before == after {
                continue;
            }
            let slug = |id: &i32| {
                slugs
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| format!("(new agency {id})"))
            };
            report.relinked.push(Relinked {
                review: r.title.clone(),
                label: rec.label.clone(),
                before: before.iter().map(slug).collect(),
                after: after.iter().map(slug).collect(),
            });
            changes.entry(r.id).or_default().push((rec.id, new));
            texts
                .entry(r.id)
                .or_default()
                .push((rec.id, rec.text.clone()));
        }
    }
    if !apply {
        return Err(ReresolveError::DryRun(report));
    }
    let changed: Vec<i32> = changes.keys().copied().collect();
    unit.reviews_changing(&changed).await?;
    for (review_id, recs) in changes {
        for (rec, links) in recs {
            recommendation_agency::Entity::delete_many()
                .filter(recommendation_agency::Column::RecommendationId.eq(rec))
                .exec(unit.db())
                .await?;
            if !links.is_empty() {
                recommendation_agency::Entity::insert_many(links)
                    .exec_without_returning(unit.db())
                    .await?;
            }
        }
        // Mentions skip addressed agencies: they follow the new links.
        unit.texts_written(
            review_id,
            texts.remove(&review_id).unwrap_or_default(),
            [],
            &[],
        );
    }
    unit.log(
        "agency.reresolved",
        "graph",
        0,
        Some(
            serde_json::json!({ "recommendations": report.relinked.len(),
            "registry": crate::registry::VERSION }),
        ),
    );
    Ok(report)
}
