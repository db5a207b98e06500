//! Curation of agencies: merge two into one, add an alias, set a sector, list the uncurated.
//! Each change is one transaction; later ingests honour it because names resolve through
//! the alias table first.

use std::collections::BTreeSet;

use entity::{
    agency, agency_alias, recommendation, recommendation_agency, review, review_alias, review_csp,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, NotSet,
    QueryFilter, QueryOrder, Set,
};

use crate::domain::Sector;
use crate::domain::normalise::{name_key, tidy};
use crate::graph::derived::Change;
use crate::ingest::store::{ORIGIN_CURATED, refresh_agency_counts};

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

/// The reviews that address or mention an agency.
async fn reviews_naming<C: ConnectionTrait>(db: &C, agency_id: i32) -> Result<Vec<i32>, DbErr> {
    db.query_all_raw(crate::sql::statement(
        db.get_database_backend(),
        "SELECT review_id FROM agency_review WHERE agency_id = ?",
        vec![agency_id.into()],
    ))
    .await?
    .iter()
    .map(|r| r.try_get("", "review_id"))
    .collect()
}

/// Merges `from` into `into`: every link moves, every alias moves, `from` goes. Returns the
/// agency that remains.
pub async fn merge(
    db: &DatabaseConnection,
    from: &str,
    into: &str,
) -> Result<agency::Model, CurationError> {
    crate::db::retry_deadlocks(|| merge_once(db, from, into), CurationError::db_err).await
}

async fn merge_once(
    db: &DatabaseConnection,
    from: &str,
    into: &str,
) -> Result<agency::Model, CurationError> {
    let txn = crate::db::begin_write(db).await?;
    let source = find_agency(&txn, from).await?;
    let target = find_agency(&txn, into).await?;
    if source.id == target.id {
        return Err(CurationError::SameAgency(from.into(), into.into()));
    }
    let reviews = reviews_naming(&txn, source.id).await?;
    let derived = Change::begin(&txn, &reviews).await?;
    // A recommendation addressed to both keeps one link, to the target.
    let both: Vec<i32> = recommendation_agency::Entity::find()
        .filter(recommendation_agency::Column::AgencyId.eq(target.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| l.recommendation_id)
        .collect();
    recommendation_agency::Entity::delete_many()
        .filter(recommendation_agency::Column::AgencyId.eq(source.id))
        .filter(recommendation_agency::Column::RecommendationId.is_in(both))
        .exec(&txn)
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
        .exec(&txn)
        .await?;
    move_mentions(&txn, source.id, target.id).await?;
    // Every name of the merged agency is now a curator's decision: it must win over the
    // registry at the next ingest, or the merge would come undone.
    agency_alias::Entity::update_many()
        .col_expr(agency_alias::Column::AgencyId, Expr::value(target.id))
        .col_expr(agency_alias::Column::Origin, Expr::value(ORIGIN_CURATED))
        .filter(agency_alias::Column::AgencyId.eq(source.id))
        .exec(&txn)
        .await?;
    // The merged agency's canonical name stays findable.
    let key = name_key(&source.name);
    if agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.eq(key.as_str()))
        .one(&txn)
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
        .insert(&txn)
        .await?;
    }
    // The parts and predecessors of the merged agency now belong to the one that remains.
    for column in [agency::Column::ParentAgencyId, agency::Column::SuccessorId] {
        agency::Entity::update_many()
            .col_expr(column, Expr::value(target.id))
            .filter(column.eq(source.id))
            .exec(&txn)
            .await?;
    }
    derived.finish(&txn, &reviews).await?;
    agency::Entity::delete_by_id(source.id).exec(&txn).await?;
    refresh_agency_counts(&txn, &BTreeSet::from([target.id])).await?;
    let merged = agency::Entity::find_by_id(target.id)
        .one(&txn)
        .await?
        .ok_or_else(|| CurationError::NoAgency(into.to_owned()))?;
    txn.commit().await?;
    Ok(merged)
}

/// Adds `name` as another name of the agency.
pub async fn add_alias(
    db: &DatabaseConnection,
    name: &str,
    agency: &str,
) -> Result<agency::Model, CurationError> {
    let key = name_key(name);
    if key.is_empty() {
        return Err(CurationError::EmptyName(name.to_owned()));
    }
    let txn = crate::db::begin_write(db).await?;
    let target = find_agency(&txn, agency).await?;
    if let Some(existing) = agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.eq(key.as_str()))
        .find_also_related(agency::Entity)
        .one(&txn)
        .await?
    {
        return match existing.1 {
            Some(owner) if owner.id == target.id => {
                // Confirmed by a curator: from now on it wins over the registry.
                let mut update: agency_alias::ActiveModel = existing.0.into();
                update.origin = Set(ORIGIN_CURATED.to_owned());
                update.update(&txn).await?;
                txn.commit().await?;
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
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(target)
}

/// Sets the agency's sector.
pub async fn set_sector(
    db: &DatabaseConnection,
    agency: &str,
    sector: &str,
) -> Result<agency::Model, CurationError> {
    crate::db::retry_deadlocks(
        || set_sector_once(db, agency, sector),
        CurationError::db_err,
    )
    .await
}

async fn set_sector_once(
    db: &DatabaseConnection,
    agency: &str,
    sector: &str,
) -> Result<agency::Model, CurationError> {
    let sector: Sector = sector.parse().map_err(CurationError::BadSector)?;
    let txn = crate::db::begin_write(db).await?;
    let found = find_agency(&txn, agency).await?;
    // The sector buckets of `actionPlanStats` follow the agency.
    let reviews = reviews_naming(&txn, found.id).await?;
    let derived = Change::begin(&txn, &reviews).await?;
    let id = found.id;
    let mut update: agency::ActiveModel = found.into();
    update.sector = Set(sector.code().to_owned());
    let updated = update.update(&txn).await?;
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
        .exec(&txn)
        .await?;
    derived.finish(&txn, &reviews).await?;
    txn.commit().await?;
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
    db: &DatabaseConnection,
    keep: i32,
    drop: i32,
) -> Result<review::Model, CurationError> {
    crate::db::retry_deadlocks(|| merge_reviews_once(db, keep, drop), CurationError::db_err).await
}

async fn merge_reviews_once(
    db: &DatabaseConnection,
    keep: i32,
    drop: i32,
) -> Result<review::Model, CurationError> {
    if keep == drop {
        return Err(CurationError::SameReview);
    }
    let txn = crate::db::begin_write(db).await?;
    let derived = Change::begin(&txn, &[keep, drop]).await?;
    let kept = review::Entity::find_by_id(keep)
        .one(&txn)
        .await?
        .ok_or_else(|| CurationError::NoReview(keep.to_string()))?;
    let gone = review::Entity::find_by_id(drop)
        .one(&txn)
        .await?
        .ok_or_else(|| CurationError::NoReview(drop.to_string()))?;

    let csps_of = |id: i32| {
        review_csp::Entity::find()
            .filter(review_csp::Column::ReviewId.eq(id))
            .order_by_asc(review_csp::Column::Position)
            .all(&txn)
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
            .insert(&txn)
            .await?;
        }
    }

    let recs: Vec<i32> = recommendation::Entity::find()
        .filter(recommendation::Column::ReviewId.eq(drop))
        .all(&txn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let touched: BTreeSet<i32> = recommendation_agency::Entity::find()
        .filter(recommendation_agency::Column::RecommendationId.is_in(recs.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| l.agency_id)
        .collect();
    crate::search::remove_review(&txn, drop, &recs).await?;
    review_alias::Entity::update_many()
        .col_expr(review_alias::Column::ReviewId, Expr::value(keep))
        .filter(review_alias::Column::ReviewId.eq(drop))
        .exec(&txn)
        .await?;
    derived.finish(&txn, &[keep]).await?;
    review::Entity::delete_by_id(drop).exec(&txn).await?;
    review_alias::ActiveModel {
        id: NotSet,
        source_key: Set(gone.source_key),
        review_id: Set(keep),
    }
    .insert(&txn)
    .await?;
    refresh_agency_counts(&txn, &touched).await?;
    txn.commit().await?;
    Ok(kept)
}

/// Deletes a review with its recommendations, their plans and history, and its links; the
/// counts of the agencies it addressed follow. Returns how many recommendations went.
pub async fn delete_review(db: &DatabaseConnection, id: i32) -> Result<usize, CurationError> {
    crate::db::retry_deadlocks(|| delete_review_once(db, id), CurationError::db_err).await
}

async fn delete_review_once(db: &DatabaseConnection, id: i32) -> Result<usize, CurationError> {
    let txn = crate::db::begin_write(db).await?;
    review::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| CurationError::NoReview(id.to_string()))?;
    let recs: Vec<i32> = recommendation::Entity::find()
        .filter(recommendation::Column::ReviewId.eq(id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let touched: BTreeSet<i32> = recommendation_agency::Entity::find()
        .filter(recommendation_agency::Column::RecommendationId.is_in(recs.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| l.agency_id)
        .collect();
    crate::search::remove_review(&txn, id, &recs).await?;
    Change::begin(&txn, &[id]).await?.finish(&txn, &[]).await?;
    review::Entity::delete_by_id(id).exec(&txn).await?;
    refresh_agency_counts(&txn, &touched).await?;
    txn.commit().await?;
    Ok(recs.len())
}

impl CurationError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            CurationError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CurationError> for crate::error::ApiError {
    fn from(e: CurationError) -> Self {
        use crate::error::ApiError;
        match e {
            CurationError::NoAgency(name) => ApiError::NotFound {
                what: format!("agency {name:?}"),
            },
            CurationError::NoReview(_) => ApiError::NotFound {
                what: "review".into(),
            },
            CurationError::Db(d) => d.into(),
            other => ApiError::bad_input("input", other.to_string()),
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
