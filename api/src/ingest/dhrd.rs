//! Import of the Domestic Homicide Review Dataset (DHRD; Cook & Cook 2026, CC BY 4.0): one
//! review per record, with CSP (and its region), year of death and case tags; then each
//! review page is linked to the record that is the same review, where exactly one record
//! shares its CSP and year of death. Ambiguous matches are listed, never guessed.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use entity::{csp, review, review_case_tag, review_csp, review_incident};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use super::store::resolve_csp;
use crate::domain::CaseTag;
use crate::sql::statement;
use crate::write::{Unit, WritePath};

/// Source keys of DHRD records start with this.
pub const KEY_PREFIX: &str = "dhrd:";

const REQUIRED: [&str; 4] = ["incident_id", "csp", "region", "death_date"];

#[derive(Debug, thiserror::Error)]
pub enum DhrdError {
    #[error("line {line}: {reason}")]
    Bad { line: u64, reason: String },
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl crate::write::WriteError for DhrdError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            DhrdError::Db(e) => Some(e),
            DhrdError::Bad { .. } => None,
        }
    }
}

fn bad<T>(line: u64, reason: impl Into<String>) -> Result<T, DhrdError> {
    Err(DhrdError::Bad {
        line,
        reason: reason.into(),
    })
}

/// One record, checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record {
    pub incident_id: String,
    pub csp: String,
    pub region: String,
    pub year_of_death: Option<i32>,
    pub cause_of_death: String,
    pub location_of_death: String,
    pub tags: Vec<&'static str>,
}

/// Reads the CSV; the first bad line fails the whole file (nothing is written).
pub fn parse(text: &str) -> Result<Vec<Record>, DhrdError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DhrdError::Bad {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    for name in REQUIRED {
        if col(name).is_none() {
            return bad(1, format!("no {name:?} column"));
        }
    }
    let tag_cols: Vec<(usize, &'static str)> = CaseTag::ALL
        .iter()
        .filter_map(|t| col(&t.code().to_ascii_lowercase()).map(|i| (i, t.code())))
        .collect();
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| DhrdError::Bad {
            line: e.position().map_or(0, |p| p.line()),
            reason: e.to_string(),
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let get = |name: &str| {
            col(name)
                .and_then(|i| row.get(i))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let incident_id = get("incident_id");
        if incident_id.is_empty() {
            return bad(line, "empty incident_id");
        }
        let csp = get("csp");
        if csp.is_empty() {
            return bad(line, format!("{incident_id}: empty csp"));
        }
        let death = get("death_date");
        let year_of_death = match death.split_whitespace().last() {
            None => None,
            Some(y) => match y.parse::<i32>() {
                Ok(y) if (1900..=2999).contains(&y) => Some(y),
                _ => {
                    return bad(
                        line,
                        format!("{incident_id}: death_date {death:?} has no year"),
                    );
                }
            },
        };
        let mut tags = Vec::new();
        for (i, code) in &tag_cols {
            match row.get(*i).map(str::trim) {
                Some("True") | Some("true") => tags.push(*code),
                Some("False") | Some("false") | Some("") | None => {}
                Some(other) => {
                    return bad(
                        line,
                        format!("{incident_id}: {other:?} is not True or False"),
                    );
                }
            }
        }
        out.push(Record {
            incident_id,
            csp,
            region: get("region"),
            year_of_death,
            cause_of_death: get("cause_of_death"),
            location_of_death: get("location_of_death").replace('_', " "),
            tags,
        });
    }
    Ok(out)
}

#[derive(Debug, Default, Clone)]
pub struct ImportSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub linked: usize,
    /// `page review: candidate records` where several records match.
    pub ambiguous: Vec<String>,
}

/// Imports the records as one unit of work; the write path then links the pages that share
/// a CSP with a record written.
pub async fn import(path: &WritePath, text: &str) -> Result<ImportSummary, DhrdError> {
    let records = parse(text)?;
    let (mut summary, done) = path
        .run_reported(&records[..], |unit, records| {
            Box::pin(import_in(unit, records))
        })
        .await?;
    summary.linked = done.linked;
    summary.ambiguous = done.ambiguous;
    Ok(summary)
}

async fn import_in(unit: &mut Unit, records: &[Record]) -> Result<ImportSummary, DhrdError> {
    let mut summary = ImportSummary::default();
    let mut csp_ids: HashMap<String, i32> = HashMap::new();
    for rec in records {
        let key = format!("{KEY_PREFIX}{}", rec.incident_id);
        let hash: String = Sha256::digest(serde_json::to_vec(rec).unwrap_or_default())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let existing = review::Entity::find()
            .filter(review::Column::SourceKey.eq(key.as_str()))
            .one(unit.db())
            .await?;
        if existing.as_ref().is_some_and(|e| e.content_hash == hash) {
            summary.unchanged += 1;
            continue;
        }
        let now = Utc::now();
        let fields = review::ActiveModel {
            id: NotSet,
            source_key: Set(key),
            title: Set(format!("{} review ({})", rec.csp, rec.incident_id)),
            published: Set(None),
            year_of_death: Set(rec.year_of_death),
            summary: Set(format!(
                "Record {} of the Domestic Homicide Review Dataset. Cause of death: {}; location: {}.",
                rec.incident_id, rec.cause_of_death, rec.location_of_death
            )),
            source_url: Set(None),
            stated_recommendation_count: Set(None),
            recommendation_count: Set(0),
            incomplete: Set(false),
            review_type: Set("DHR".into()),
            content_hash: Set(hash),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: NotSet,
            deleted_by: NotSet,
            deleted_reason: NotSet,
            deleted_csps: NotSet,
        };
        let review_id = match existing {
            Some(found) => {
                unit.reviews_changing(&[found.id]).await?;
                let mut update = fields;
                update.id = Set(found.id);
                update.created_at = NotSet;
                update.update(unit.db()).await?;
                summary.updated += 1;
                found.id
            }
            None => {
                summary.added += 1;
                let id = fields.insert(unit.db()).await?.id;
                unit.review_created(id);
                id
            }
        };
        let txn = unit.db();
        let csp_id = match csp_ids.get(&rec.csp) {
            Some(id) => *id,
            None => {
                let id = resolve_csp(txn, &rec.csp).await?;
                if !rec.region.is_empty() {
                    csp::Entity::update_many()
                        .col_expr(csp::Column::Region, Expr::value(rec.region.clone()))
                        .filter(csp::Column::Id.eq(id))
                        .filter(csp::Column::Region.is_null())
                        .exec(txn)
                        .await?;
                }
                csp_ids.insert(rec.csp.clone(), id);
                id
            }
        };
        review_csp::Entity::delete_many()
            .filter(review_csp::Column::ReviewId.eq(review_id))
            .exec(txn)
            .await?;
        review_csp::ActiveModel {
            review_id: Set(review_id),
            csp_id: Set(csp_id),
            position: Set(1),
        }
        .insert(txn)
        .await?;
        review_case_tag::Entity::delete_many()
            .filter(review_case_tag::Column::ReviewId.eq(review_id))
            .exec(txn)
            .await?;
        review_case_tag::Entity::insert_many(rec.tags.iter().map(|t| {
            review_case_tag::ActiveModel {
                review_id: Set(review_id),
                tag: Set((*t).to_owned()),
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    if summary.added + summary.updated > 0 {
        unit.log(
            "dhrd.imported",
            "graph",
            0,
            Some(serde_json::json!({ "added": summary.added, "updated": summary.updated })),
        );
    }
    Ok(summary)
}

/// Links each review page to the DHRD record of the same CSP and year of death, where there
/// is exactly one; with `scope`, only pages and records among those reviews (what a write
/// touched). Returns how many pages are linked, and the ambiguous ones.
pub async fn link<C: ConnectionTrait>(
    db: &C,
    scope: Option<&[i32]>,
) -> Result<(usize, Vec<String>), DbErr> {
    if scope.is_some_and(|s| s.is_empty()) {
        return Ok((0, Vec::new()));
    }
    // A scope past this size is most of the graph: one pass over all of it is cheaper.
    let scope = scope.filter(|s| s.len() <= 5_000);
    let (filter, values) = match scope {
        Some(ids) => {
            let (list, mut values) = crate::sql::in_list(ids);
            values.extend(values.clone());
            // Pages in scope, and pages sharing a CSP with a record in scope: each with all
            // its candidate records, in scope or not, so that "exactly one" means one.
            (
                format!(
                    "AND (p.id IN ({list}) OR p.id IN (SELECT pc2.review_id FROM review_csp pc2 \
                     JOIN review_csp dc2 ON dc2.csp_id = pc2.csp_id WHERE dc2.review_id IN ({list})))"
                ),
                values,
            )
        }
        None => (String::new(), Vec::new()),
    };
    let sql = format!(
        "SELECT p.id AS page_id, p.title, p.published, d.id AS incident_id, d.source_key \
         FROM review p JOIN review_csp pc ON pc.review_id = p.id \
         JOIN review_csp dc ON dc.csp_id = pc.csp_id JOIN review d ON d.id = dc.review_id \
         WHERE p.source_key NOT LIKE 'dhrd:%' AND d.source_key LIKE 'dhrd:%' \
           AND d.year_of_death = p.year_of_death {filter} \
         ORDER BY p.id, d.id"
    );
    let rows = db
        .query_all_raw(statement(db.get_database_backend(), &sql, values))
        .await?;
    let mut candidates: BTreeMap<i32, (String, Vec<(i32, String)>)> = BTreeMap::new();
    for row in rows {
        let page: i32 = row.try_get("", "page_id")?;
        let title: String = row.try_get("", "title")?;
        let published: Option<String> = row.try_get("", "published")?;
        let entry = candidates.entry(page).or_insert_with(|| {
            (
                format!("{title} ({})", published.unwrap_or_default()),
                Vec::new(),
            )
        });
        let incident: i32 = row.try_get("", "incident_id")?;
        let key: String = row.try_get("", "source_key")?;
        if !entry.1.iter().any(|(i, _)| *i == incident) {
            entry
                .1
                .push((incident, key.trim_start_matches(KEY_PREFIX).to_owned()));
        }
    }
    let mut linked = 0;
    let mut ambiguous = Vec::new();
    for (page, (shown, found)) in candidates {
        if let [(incident, _)] = found[..] {
            review_incident::Entity::insert(review_incident::ActiveModel {
                review_id: Set(page),
                incident_review_id: Set(incident),
            })
            .on_conflict(
                OnConflict::column(review_incident::Column::ReviewId)
                    .update_column(review_incident::Column::IncidentReviewId)
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
            linked += 1;
        } else {
            let ids: Vec<&str> = found.iter().map(|(_, k)| k.as_str()).collect();
            ambiguous.push(format!("{shown}: {}", ids.join(", ")));
        }
    }
    Ok((linked, ambiguous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dataset_parses() {
        let records = parse(include_str!("../../../data/samples/dhrd/incidents.csv")).unwrap();
        assert_eq!(records.len(), 647);
        let lincoln = &records[0];
        assert_eq!(lincoln.csp, "Lincoln");
        assert_eq!(lincoln.year_of_death, Some(2018));
        assert!(lincoln.tags.contains(&"COERCIVE_CONTROL"));
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse(
            "incident_id,csp,region,death_date,stalking\nA,X,East,2019,True\nB,Y,East,soon,False\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("line 3:"), "{e}");
        let e = parse("incident_id,csp,death_date\n").unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
        let e =
            parse("incident_id,csp,region,death_date,stalking\nA,X,East,2019,maybe\n").unwrap_err();
        assert!(e.to_string().contains("maybe"), "{e}");
    }
}
