//! Curation of agencies: merge two into one, add an alias, set a sector, list the uncurated.
//! Each change is one unit of work (`crate::write`); later ingests honour it because names
//! resolve through the alias table first.

use entity::{agency, agency_alias, recommendation_agency, review, review_alias, review_csp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, NotSet,
    QueryFilter, QueryOrder, Set,
};

use crate::domain::Sector;
use crate::domain::normalise::{name_key, tidy};
use crate::ingest::store::ORIGIN_CURATED;
use crate::write::{Unit, WritePath};

#[derive(Debug, thiserror::Error)]
pub enum CurationError {
    #[error("no agency {0:?} (give a slug, a name or an alias)")]
    NoAgency(String),
    #[error("{0:?} and {1:?} are the same agency")]
    SameAgency(String, String),
    #[error("{alias:?} already names {owner:?}; merge the two agencies instead")]
    AliasTaken { alias: String, owner: String },
    #[error("{0:?} is not a name")]
    EmptyName(String),
    #[error("{0}")]
    BadSector(String),
    #[error("no review {0:?}")]
    NoReview(String),
    #[error("a review cannot be merged into itself")]
    SameReview,
    #[error("review {0} is not deleted")]
    NotDeleted(i32),
    #[error("review {0} was merged into another review; it stays merged")]
    MergedAway(i32),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// An agency by slug, or by any name it is known under.
pub async fn find_agency<C: ConnectionTrait>(
    db: &C,
    wanted: &str,
) -> Result<agency::Model, CurationError> {
    if let Some(a) = agency::Entity::find()
        .filter(agency::Column::Slug.eq(wanted.trim().to_lowercase()))
        .one(db)
        .await?
    {
        return Ok(a);
    }
    let alias = agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.eq(name_key(wanted)))
        .find_also_related(agency::Entity)
        .one(db)
        .await?;
    alias
        .and_then(|(_, a)| a)
        .ok_or_else(|| CurationError::NoAgency(wanted.to_owned()))
}

/// Mentions follow a merge like addressing does; a recommendation keeps at most one mention
/// of the target, and none where it is now addressed to it.
async fn move_mentions<C: ConnectionTrait>(db: &C, source: i32, target: i32) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for (sql, values) in [
        (
            "DELETE FROM recommendation_mention WHERE agency_id = ? AND recommendation_id IN \
             (SELECT recommendation_id FROM recommendation_mention WHERE agency_id = ? \
              UNION SELECT recommendation_id FROM recommendation_agency WHERE agency_id = ?)",
            vec![source.into(), target.into(), target.into()],
        ),
        (
            "UPDATE recommendation_mention SET agency_id = ? WHERE agency_id = ?",
            vec![target.into(), source.into()],
        ),
        (
            "DELETE FROM recommendation_mention WHERE agency_id = ? AND recommendation_id IN \
             (SELECT recommendation_id FROM recommendation_agency WHERE agency_id = ?)",
            vec![target.into(), target.into()],
        ),
    ] {
        db.execute_raw(crate::sql::statement(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Merges `from` into `into`: every link moves, every alias moves, `from` goes. Returns the
/// agency that remains.
pub async fn merge(
    path: &WritePath,
    from: &str,
    into: &str,
) -> Result<agency::Model, CurationError> {
    let target = path
        .run(&(from, into), |unit, (from, into)| {
            Box::pin(merge_in(unit, from, into))
        })
        .await?;
    // Read again after the commit: the counts are the write path's to keep.
    agency::Entity::find_by_id(target.id)
        .one(path.conn())
        .await?
        .ok_or_else(|| CurationError::NoAgency(into.to_owned()))
}

/// [`merge`] inside a unit of work.
pub async fn merge_in(
    unit: &mut Unit,
    from: &str,
    into: &str,
) -> Result<agency::Model, CurationError> {
    let source = find_agency(unit.db(), from).await?;
    let target = find_agency(unit.db(), into).await?;
    if source.id == target.id {
        return Err(CurationError::SameAgency(from.into(), into.into()));
    }
    unit.agency_changing(source.id).await?;
    let txn = unit.db();
    // A recommendation addressed to both keeps one link, to the target.
    let both: Vec<i32> = recommendation_agency::Entity::find()
        .filter(recommendation_agency::Column::AgencyId.eq(target.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| l.recommendation_id)
        .collect();
    recommendation_agency::Entity::delete_many()
        .filter(recommendation_agency::Column::AgencyId.eq(source.id))
        .filter(recommendation_agency::Column::RecommendationId.is_in(both))
        .exec(txn)
        .await?;
    recommendation_agency::Entity::update_many()
        .col_expr(
            recommendation_agency::Column::AgencyId,
            Expr::value(target.id),
        )
        .col_expr(
            recommendation_agency::Column::Method,
            Expr::value(crate::domain::Method::Curated.code()),
        )
        .col_expr(
            recommendation_agency::Column::Reason,
            Expr::value(format!("merged by a curator into {}", target.name)),
        )
        .filter(recommendation_agency::Column::AgencyId.eq(source.id))
        .exec(txn)
        .await?;
    move_mentions(txn, source.id, target.id).await?;
    // Every name of the merged agency is now a curator's decision: it must win over the
    // registry at the next ingest, or the merge would come undone.
    agency_alias::Entity::update_many()
        .col_expr(agency_alias::Column::AgencyId, Expr::value(target.id))
        .col_expr(agency_alias::Column::Origin, Expr::value(ORIGIN_CURATED))
        .filter(agency_alias::Column::AgencyId.eq(source.id))
        .exec(txn)
        .await?;
    // The merged agency's canonical name stays findable.
    let key = name_key(&source.name);
    if agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.eq(key.as_str()))
        .one(txn)
        .await?
        .is_none()
    {
        agency_alias::ActiveModel {
            id: NotSet,
            agency_id: Set(target.id),
            name: Set(source.name.clone()),
            key: Set(key),
            origin: Set(ORIGIN_CURATED.to_owned()),
        }
        .insert(txn)
        .await?;
    }
    // The parts and predecessors of the merged agency now belong to the one that remains.
    for column in [agency::Column::ParentAgencyId, agency::Column::SuccessorId] {
        agency::Entity::update_many()
            .col_expr(column, Expr::value(target.id))
            .filter(column.eq(source.id))
            .exec(txn)
            .await?;
    }
    // A plan led by the merged agency is led by the one that remains.
    entity::action_plan::Entity::update_many()
        .col_expr(
            entity::action_plan::Column::LeadAgencyId,
            Expr::value(target.id),
        )
        .filter(entity::action_plan::Column::LeadAgencyId.eq(source.id))
        .exec(txn)
        .await?;
    // A key owned by or scoped to the merged agency now stands for the one that remains
    // (a scope row it already had is kept once).
    txn.execute_raw(crate::sql::statement(
        txn.get_database_backend(),
        "DELETE FROM api_key_scope WHERE kind = 'agency' AND ref_id = ? AND key_id IN \
           (SELECT key_id FROM api_key_scope WHERE kind = 'agency' AND ref_id = ?)",
        vec![source.id.into(), target.id.into()],
    ))
    .await?;
    for sql in [
        "UPDATE api_key_scope SET ref_id = ? WHERE kind = 'agency' AND ref_id = ?",
        "UPDATE api_key SET owner_id = ? WHERE owner_kind = 'agency' AND owner_id = ?",
    ] {
        txn.execute_raw(crate::sql::statement(
            txn.get_database_backend(),
            sql,
            vec![target.id.into(), source.id.into()],
        ))
        .await?;
    }
    unit.delete_agency(source.id);
    unit.log(
        "agency.merged",
        "agency",
        target.id,
        Some(
            serde_json::json!({ "from": { "slug": source.slug, "name": source.name },
            "into": { "slug": target.slug, "name": target.name } }),
        ),
    );
    Ok(target)
}

/// Adds `name` as another name of the agency.
pub async fn add_alias(
    path: &WritePath,
    name: &str,
    agency: &str,
) -> Result<agency::Model, CurationError> {
    path.run(&(name, agency), |unit, (name, agency)| {
        Box::pin(add_alias_in(unit, name, agency))
    })
    .await
}

/// [`add_alias`] inside a unit of work. An alias changes no link (later ingests follow it),
/// so it touches nothing derived.
pub async fn add_alias_in(
    unit: &mut Unit,
    name: &str,
    agency: &str,
) -> Result<agency::Model, CurationError> {
    let key = name_key(name);
    if key.is_empty() {
        return Err(CurationError::EmptyName(name.to_owned()));
    }
    let txn = unit.db();
    let target = find_agency(txn, agency).await?;
    if let Some(existing) = agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.eq(key.as_str()))
        .find_also_related(agency::Entity)
        .one(txn)
        .await?
    {
        return match existing.1 {
            Some(owner) if owner.id == target.id => {
                // Confirmed by a curator: from now on it wins over the registry.
                let mut update: agency_alias::ActiveModel = existing.0.into();
                update.origin = Set(ORIGIN_CURATED.to_owned());
                update.update(txn).await?;
                unit.log(
                    "agency.alias_confirmed",
                    "agency",
                    target.id,
                    Some(serde_json::json!({ "alias": name })),
                );
                Ok(target)
            }
            Some(owner) => Err(CurationError::AliasTaken {
                alias: name.to_owned(),
                owner: owner.name,
            }),
            None => Err(CurationError::NoAgency(agency.to_owned())),
        };
    }
    agency_alias::ActiveModel {
        id: NotSet,
        agency_id: Set(target.id),
        name: Set(tidy(name)),
        key: Set(key),
        origin: Set(ORIGIN_CURATED.to_owned()),
    }
    .insert(txn)
    .await?;
    unit.log(
        "agency.alias_added",
        "agency",
        target.id,
        Some(serde_json::json!({ "alias": tidy(name) })),
    );
    Ok(target)
}

/// Sets the agency's sector.
pub async fn set_sector(
    path: &WritePath,
    agency: &str,
    sector: &str,
) -> Result<agency::Model, CurationError> {
    let sector: Sector = sector.parse().map_err(CurationError::BadSector)?;
    path.run(agency, |unit, agency| {
        Box::pin(set_sector_in(unit, agency, sector))
    })
    .await
}

/// [`set_sector`] inside a unit of work.
pub async fn set_sector_in(
    unit: &mut Unit,
    agency: &str,
    sector: Sector,
) -> Result<agency::Model, CurationError> {
    let found = find_agency(unit.db(), agency).await?;
    // The sector buckets of `actionPlanStats` follow the agency.
    unit.agency_changing(found.id).await?;
    let txn = unit.db();
    let id = found.id;
    let was = found.sector.clone();
    let mut update: agency::ActiveModel = found.into();
    update.sector = Set(sector.code().to_owned());
    let updated = update.update(txn).await?;
    // Its links are now a curator's decision, and no longer "unknown".
    recommendation_agency::Entity::update_many()
        .col_expr(
            recommendation_agency::Column::Method,
            Expr::value(crate::domain::Method::Curated.code()),
        )
        .col_expr(
            recommendation_agency::Column::Reason,
            Expr::value(format!("sector set to {} by a curator", sector.code())),
        )
        .filter(recommendation_agency::Column::AgencyId.eq(id))
        .exec(txn)
        .await?;
    unit.log(
        "agency.sector_set",
        "agency",
        id,
        Some(serde_json::json!({ "before": was, "after": sector.code() })),
    );
    Ok(updated)
}

/// An agency whose names no register, abbreviation, service or context resolved.
#[derive(Debug, Clone)]
pub struct Unknown {
    pub agency: agency::Model,
    /// `UNRESOLVED` (sector `OTHER`) or `RULE` (sector from the name's form only).
    pub method: String,
    /// A registered body the name may have meant, for a curator to check: never merged.
    pub suggestion: Option<String>,
}

/// Agencies resolved only by a rule or not at all, and any still of sector `OTHER`, most
/// recommendations first. A curator's decision (alias, merge, sector) takes them off.
pub async fn unknown(db: &DatabaseConnection) -> Result<Vec<Unknown>, CurationError> {
    let methods: std::collections::HashMap<i32, String> = db
        .query_all_raw(crate::sql::statement(
            db.get_database_backend(),
            "SELECT agency_id, MIN(method) AS method FROM recommendation_agency \
             WHERE method IN ('RULE', 'UNRESOLVED') GROUP BY agency_id",
            vec![],
        ))
        .await?
        .iter()
        .filter_map(|r| {
            Some((
                r.try_get::<i32>("", "agency_id").ok()?,
                r.try_get::<String>("", "method").ok()?,
            ))
        })
        .collect();
    let list = agency::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(agency::Column::Sector.eq(Sector::Other.code()))
                .add(agency::Column::Id.is_in(methods.keys().copied())),
        )
        .order_by_desc(agency::Column::RecommendationCount)
        .order_by_desc(agency::Column::ReviewCount)
        .order_by_asc(agency::Column::Name)
        .all(db)
        .await?;
    Ok(list
        .into_iter()
        .map(|a| Unknown {
            method: methods
                .get(&a.id)
                .cloned()
                .unwrap_or_else(|| crate::domain::Method::Unresolved.code().to_owned()),
            suggestion: crate::registry::resolve::suggest(&a.name),
            agency: a,
        })
        .collect())
}

/// Merges the duplicate listing `drop` into `keep`: `keep`'s recommendations stay, `drop`'s
/// CSPs are added to it, `drop` goes, and its source key is remembered so that ingesting its
/// page again is recognised instead of bringing the duplicate back.
pub async fn merge_reviews(
    path: &WritePath,
    keep: i32,
    drop: i32,
) -> Result<review::Model, CurationError> {
    path.run(&(), |unit, _| Box::pin(merge_reviews_in(unit, keep, drop)))
        .await
}

/// [`merge_reviews`] inside a unit of work.
pub async fn merge_reviews_in(
    unit: &mut Unit,
    keep: i32,
    drop: i32,
) -> Result<review::Model, CurationError> {
    if keep == drop {
        return Err(CurationError::SameReview);
    }
    let kept = review::Entity::find_by_id(keep)
        .one(unit.db())
        .await?
        .ok_or_else(|| CurationError::NoReview(keep.to_string()))?;
    let gone = review::Entity::find_by_id(drop)
        .one(unit.db())
        .await?
        .ok_or_else(|| CurationError::NoReview(drop.to_string()))?;
    if kept.deleted_at.is_some() {
        return Err(CurationError::NoReview(keep.to_string()));
    }
    if gone.deleted_at.is_some() {
        return Err(CurationError::NoReview(drop.to_string()));
    }
    unit.reviews_changing(&[keep]).await?;
    // The dropped listing stays as a tombstone: its recommendations' plans and history
    // are kept (withdrawn), and its CSPs are read before the tombstone unlinks them.
    let reason = format!("merged into review {keep}");
    unit.delete_review(drop, Some(&reason)).await?;
    let txn = unit.db();

    let csps_of = |id: i32| {
        review_csp::Entity::find()
            .filter(review_csp::Column::ReviewId.eq(id))
            .order_by_asc(review_csp::Column::Position)
            .all(txn)
    };
    let kept_csps = csps_of(keep).await?;
    let mut position = kept_csps.len() as i32;
    for link in csps_of(drop).await? {
        if !kept_csps.iter().any(|k| k.csp_id == link.csp_id) {
            position += 1;
            review_csp::ActiveModel {
                review_id: Set(keep),
                csp_id: Set(link.csp_id),
                position: Set(position),
            }
            .insert(txn)
            .await?;
        }
    }
    review_alias::Entity::update_many()
        .col_expr(review_alias::Column::ReviewId, Expr::value(keep))
        .filter(review_alias::Column::ReviewId.eq(drop))
        .exec(txn)
        .await?;
    review_alias::ActiveModel {
        id: NotSet,
        source_key: Set(gone.source_key),
        review_id: Set(keep),
    }
    .insert(txn)
    .await?;
    unit.log(
        "review.merged",
        "review",
        keep,
        Some(serde_json::json!({ "dropped": drop })),
    );
    Ok(kept)
}

/// Deletes a review: it becomes a tombstone (who, when, why), hidden from every read; its
/// recommendations are withdrawn with their plans and history kept, and the counts of the
/// agencies it addressed follow. [`restore_review`] undoes it. Returns how many
/// recommendations were withdrawn.
pub async fn delete_review(
    path: &WritePath,
    id: i32,
    reason: Option<&str>,
) -> Result<usize, CurationError> {
    path.run(&reason, |unit, reason| {
        Box::pin(delete_review_in(unit, id, *reason))
    })
    .await
}

/// [`delete_review`] inside a unit of work.
pub async fn delete_review_in(
    unit: &mut Unit,
    id: i32,
    reason: Option<&str>,
) -> Result<usize, CurationError> {
    let found = review::Entity::find_by_id(id)
        .one(unit.db())
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| CurationError::NoReview(id.to_string()))?;
    unit.delete_review(found.id, reason).await?;
    Ok(found.recommendation_count as usize)
}

/// Restores a deleted review: its CSPs, and the recommendations the delete withdrew (not
/// those withdrawn before it), with their plans and history; everything derived follows.
pub async fn restore_review(path: &WritePath, id: i32) -> Result<review::Model, CurationError> {
    path.run(&(), |unit, _| Box::pin(restore_review_in(unit, id)))
        .await
}

/// [`restore_review`] inside a unit of work.
pub async fn restore_review_in(unit: &mut Unit, id: i32) -> Result<review::Model, CurationError> {
    let found = review::Entity::find_by_id(id)
        .one(unit.db())
        .await?
        .ok_or_else(|| CurationError::NoReview(id.to_string()))?;
    let Some(deleted_at) = found.deleted_at else {
        return Err(CurationError::NotDeleted(id));
    };
    if entity::review_alias::Entity::find()
        .filter(entity::review_alias::Column::SourceKey.eq(found.source_key.as_str()))
        .one(unit.db())
        .await?
        .is_some()
    {
        return Err(CurationError::MergedAway(id));
    }
    let csps: Vec<String> = found
        .deleted_csps
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let recs = entity::recommendation::Entity::find()
        .filter(entity::recommendation::Column::ReviewId.eq(id))
        .filter(entity::recommendation::Column::WithdrawnAt.eq(deleted_at))
        .order_by_asc(entity::recommendation::Column::Position)
        .all(unit.db())
        .await?;
    let mut restored: review::ActiveModel = found.clone().into();
    restored.deleted_at = Set(None);
    restored.deleted_by = Set(None);
    restored.deleted_reason = Set(None);
    restored.deleted_csps = Set(None);
    let restored = restored.update(unit.db()).await?;
    // Back as it was: a review whose share of the aggregates starts from nothing, written
    // again from its own rows (which re-resolves their addressees and re-derives the rest).
    unit.review_created(id);
    crate::ingest::store::rewrite_review(unit, &restored, &csps, &recs).await?;
    unit.log("review.restored", "review", id, None);
    Ok(restored)
}

impl crate::write::WriteError for CurationError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            CurationError::Db(e) => Some(e),
            _ => None,
        }
    }
}

/// How `name` would resolve in a review of `csp`, and why, as lines for a person: what a
/// curator's alias in this database says first, else what the registry says.
pub async fn explain(
    db: &DatabaseConnection,
    name: &str,
    csp: Option<&str>,
) -> Result<String, CurationError> {
    use crate::registry::resolve::{ReviewContext, resolve};
    let key = name_key(name);
    if key.is_empty() {
        return Err(CurationError::EmptyName(name.to_owned()));
    }
    let mut out = format!(
        "name\t{}\nregistry\t{}\n",
        tidy(name),
        crate::registry::VERSION
    );
    if let Some((alias, Some(a))) = agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.eq(key.as_str()))
        .find_also_related(agency::Entity)
        .one(db)
        .await?
        && alias.origin == crate::ingest::store::ORIGIN_CURATED
    {
        out.push_str(&format!(
            "method\tCURATED\nagency\t{} ({})\nsector\t{}\nreason\ta curator's alias in this database\n",
            a.name, a.slug, a.sector
        ));
        return Ok(out.trim_end().to_owned());
    }
    let csps: Vec<String> = csp.map(|c| vec![c.to_owned()]).unwrap_or_default();
    let ctx = ReviewContext::new(&csps, [name]);
    if let Some(c) = csp {
        out.push_str(&match &ctx.area {
            Some(a) => format!(
                "area\t{} (force {}, ICB {})\n",
                a.csp,
                a.force.as_deref().unwrap_or("-"),
                a.icb_ods.as_deref().unwrap_or("-")
            ),
            None => format!("area\t{c:?} is not a CSP the registry knows\n"),
        });
    }
    let r = resolve(name, &ctx);
    let spec = r.spec(name);
    out.push_str(&format!(
        "method\t{}\nagency\t{}\nsector\t{}\nkind\t{}\ncode\t{}\nreason\t{}",
        r.method,
        spec.name,
        spec.sector,
        spec.kind,
        spec.code.as_deref().unwrap_or("-"),
        r.reason
    ));
    if let Some(p) = &spec.parent_code {
        out.push_str(&format!("\nparent\t{p}"));
    }
    if let Some((s, y)) = &spec.successor {
        out.push_str(&format!(
            "\nsuccessor\t{s}{}",
            y.map(|y| format!(" ({y})")).unwrap_or_default()
        ));
    }
    Ok(out)
}
