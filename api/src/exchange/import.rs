//! Loads an [`Export`] into an empty database in one transaction, then rebuilds what is
//! derived from it (theme tags, mentions, search index, agency counts, similarity edges)
//! with the functions the ingest uses, in the same transaction: all of it lands, or none.
//!
//! References are checked as rows are written; a bad one aborts the transaction, so what was
//! written before it goes too.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    action_plan, agency, agency_alias, csp, csp_alias, recommendation, recommendation_agency,
    review, review_alias, review_case_tag, review_csp, review_incident, status_event,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, NotSet, PaginatorTrait, Set,
};

use super::ExchangeError;
use super::model::{self, Export, FORMAT, Head};
use crate::domain::{CaseTag, PlanStatus, Rag, ReviewType, Sector, YearMonth};
use crate::write::{Unit, WritePath};

/// Rows per multi-row INSERT, well under either engine's limit on bound values.
const CHUNK: usize = 500;

/// Reads an export; syntax errors carry the line and column serde_json found them at.
pub fn parse(text: &str) -> Result<Export, ExchangeError> {
    refuse_control_escapes(text)?;
    let head: Head = serde_json::from_str(text).map_err(malformed)?;
    if head.format != FORMAT {
        return Err(ExchangeError::Format(head.format));
    }
    serde_json::from_str(text).map_err(malformed)
}

/// A string holding a control character (written `\u0000` and the like; JSON refuses them
/// raw) is refused at its line and column: PostgreSQL cannot store NUL in text, and no field
/// of a review needs one, so an export from SQLite that holds one is stopped before any
/// write rather than by the database half-way.
fn refuse_control_escapes(text: &str) -> Result<(), ExchangeError> {
    let bytes = text.as_bytes();
    let (mut line, mut line_start) = (1usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'u')
                    && let Some(hex) = text.get(i + 2..i + 6)
                    && let Ok(code) = u32::from_str_radix(hex, 16)
                    && char::from_u32(code).is_some_and(crate::graphql::limits::is_forbidden_char)
                {
                    return Err(ExchangeError::Malformed {
                        line,
                        column: i - line_start + 1,
                        message: format!(
                            "the string holds the control character U+{code:04X}; remove it \
                             (control characters other than tab and line breaks are not stored)"
                        ),
                    });
                }
                // Whatever follows a backslash is escaped: skip it.
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn malformed(e: serde_json::Error) -> ExchangeError {
    let location = format!(" at line {} column {}", e.line(), e.column());
    let full = e.to_string();
    ExchangeError::Malformed {
        line: e.line(),
        column: e.column(),
        message: full.strip_suffix(&location).unwrap_or(&full).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_at_their_line() {
        let text = "{\n  \"format\": 1,\n  \"csps\": [{ \"name\": \"a\\u0000b\" }]\n}";
        match refuse_control_escapes(text) {
            Err(ExchangeError::Malformed { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.contains("U+0000"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // An escaped backslash before `u0000` is text, and tabs are fine.
        refuse_control_escapes("{\"a\": \"c:\\\\u0000 \\t\"}").unwrap();
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub csps: usize,
    pub agencies: usize,
    pub reviews: usize,
    pub recommendations: usize,
    pub action_plans: usize,
    pub status_events: usize,
    pub similarity_edges: usize,
}

/// Imports an export into an empty database as one unit of work. Similarity is rebuilt
/// after the commit, by the write path's upkeep (`settle` in a batch).
pub async fn import(path: &WritePath, export: &Export) -> Result<ImportSummary, ExchangeError> {
    path.run(export, |unit, export| Box::pin(import_in(unit, export)))
        .await
}

/// [`import`] inside a unit of work.
pub async fn import_in(unit: &mut Unit, export: &Export) -> Result<ImportSummary, ExchangeError> {
    let (summary, written) = write(unit.db(), export).await?;
    for w in written {
        unit.texts_written(
            w.review_id,
            w.recommendations
                .iter()
                .map(|(id, t)| (*id, (*t).to_owned()))
                .collect(),
            [],
            &[],
        );
    }
    unit.wrote_everything();
    unit.log(
        "graph.imported",
        "graph",
        0,
        Some(
            serde_json::json!({ "csps": summary.csps, "agencies": summary.agencies,
            "reviews": summary.reviews, "recommendations": summary.recommendations,
            "statusEvents": summary.status_events }),
        ),
    );
    Ok(summary)
}

impl crate::write::WriteError for ExchangeError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            ExchangeError::Db(e) => Some(e),
            _ => None,
        }
    }
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> ExchangeError {
    ExchangeError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

/// A stored code must be exactly a code of `T`: the domain parsers forgive case and spaces,
/// which would let a hand-edited file store a value no other writer produces.
fn code<T: FromStr<Err = String> + Display>(
    at: &str,
    field: &str,
    value: &str,
) -> Result<(), ExchangeError> {
    match value.parse::<T>() {
        Ok(v) if v.to_string() == value => Ok(()),
        Ok(v) => Err(invalid(
            at,
            format!("{field}: {value:?} should be written {v}"),
        )),
        Err(e) => Err(invalid(at, format!("{field}: {e}"))),
    }
}

fn instant(at: &str, field: &str, value: &str) -> Result<DateTime<Utc>, ExchangeError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            invalid(
                at,
                format!("{field}: {value:?} is not an RFC 3339 time ({e})"),
            )
        })
}

fn date(at: &str, field: &str, value: &Option<String>) -> Result<(), ExchangeError> {
    match value {
        Some(d) if d.len() != 10 || NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() => Err(
            invalid(at, format!("{field}: {d:?} is not a YYYY-MM-DD date")),
        ),
        _ => Ok(()),
    }
}

/// An alias key names one CSP (or one agency) only; checked here to say which, rather than
/// leave it to the unique index.
fn claim_key<'a>(
    seen: &mut HashMap<&'a str, &'a str>,
    at: &str,
    key: &'a str,
    owner: &'a str,
) -> Result<(), ExchangeError> {
    match seen.insert(key, owner) {
        Some(other) if other != owner => Err(invalid(
            at,
            format!("alias key {key:?} is also an alias of {other:?}"),
        )),
        Some(_) => Err(invalid(at, format!("alias key {key:?} is listed twice"))),
        None => Ok(()),
    }
}

async fn ensure_empty<C: ConnectionTrait>(db: &C) -> Result<(), ExchangeError> {
    if db.get_database_backend() == DbBackend::Postgres {
        // Another import or an ingest committing between the check and the inserts would mix
        // two graphs; this mode admits readers and queues every other writer, and itself.
        db.execute_unprepared("LOCK TABLE csp, agency, review IN SHARE ROW EXCLUSIVE MODE")
            .await?;
    }
    let counts = [
        (csp::Entity::find().count(db).await?, "CSPs"),
        (agency::Entity::find().count(db).await?, "agencies"),
        (review::Entity::find().count(db).await?, "reviews"),
    ];
    let held: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if held.is_empty() {
        Ok(())
    } else {
        Err(ExchangeError::NotEmpty(held.join(", ")))
    }
}

async fn insert_chunks<E, A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), ExchangeError>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// A review as written, with what the search index and the taggers need of it.
struct Written<'a> {
    review_id: i32,
    /// Ids and texts of its recommendations.
    recommendations: Vec<(i32, &'a str)>,
}

async fn write<'e, C: ConnectionTrait>(
    db: &C,
    export: &'e Export,
) -> Result<(ImportSummary, Vec<Written<'e>>), ExchangeError> {
    ensure_empty(db).await?;
    let mut summary = ImportSummary::default();

    let mut csp_id: HashMap<&str, i32> = HashMap::new();
    let mut keys = HashMap::new();
    let mut alias_rows = Vec::new();
    for c in &export.csps {
        let at = format!("csps {:?}", c.slug);
        if c.slug.is_empty() || csp_id.contains_key(c.slug.as_str()) {
            return Err(invalid(at, "the slug is empty or listed twice"));
        }
        let id = csp::ActiveModel {
            id: NotSet,
            slug: Set(c.slug.clone()),
            name: Set(c.name.clone()),
            region: Set(c.region.clone()),
            nation: Set(c.nation.clone()),
        }
        .insert(db)
        .await?
        .id;
        csp_id.insert(&c.slug, id);
        for a in &c.aliases {
            claim_key(&mut keys, &at, &a.key, &c.slug)?;
            alias_rows.push(csp_alias::ActiveModel {
                id: NotSet,
                csp_id: Set(id),
                name: Set(a.name.clone()),
                key: Set(a.key.clone()),
            });
        }
    }
    insert_chunks(db, alias_rows).await?;
    summary.csps = csp_id.len();

    let mut agency_id: HashMap<&str, i32> = HashMap::new();
    let mut keys = HashMap::new();
    let mut alias_rows = Vec::new();
    for a in &export.agencies {
        let at = format!("agencies {:?}", a.slug);
        if a.slug.is_empty() || agency_id.contains_key(a.slug.as_str()) {
            return Err(invalid(at, "the slug is empty or listed twice"));
        }
        code::<Sector>(&at, "sector", &a.sector)?;
        let id = agency::ActiveModel {
            id: NotSet,
            slug: Set(a.slug.clone()),
            name: Set(a.name.clone()),
            sector: Set(a.sector.clone()),
            review_count: Set(0),
            recommendation_count: Set(0),
            // The exchange format carries no registry fields: a later `agencies reresolve`
            // or re-ingest fills them in.
            kind: Set(if a.sector == crate::domain::Sector::Collective.code() {
                crate::domain::AgencyKind::Collective.code().to_owned()
            } else {
                crate::domain::AgencyKind::Other.code().to_owned()
            }),
            registry_code: Set(None),
            scope: Set(None),
            parent_agency_id: Set(None),
            successor_id: Set(None),
            successor_year: Set(None),
        }
        .insert(db)
        .await?
        .id;
        agency_id.insert(&a.slug, id);
        for alias in &a.aliases {
            claim_key(&mut keys, &at, &alias.key, &a.slug)?;
            alias_rows.push(agency_alias::ActiveModel {
                id: NotSet,
                agency_id: Set(id),
                name: Set(alias.name.clone()),
                key: Set(alias.key.clone()),
                // An export is a curated graph: its aliases are decisions to keep.
                origin: Set(crate::ingest::store::ORIGIN_CURATED.to_owned()),
            });
        }
    }
    insert_chunks(db, alias_rows).await?;
    summary.agencies = agency_id.len();

    let mut review_id: HashMap<&str, i32> = HashMap::new();
    let mut merged_keys: HashSet<&str> = HashSet::new();
    let mut csp_links = Vec::new();
    let mut tag_rows = Vec::new();
    let mut merged_rows = Vec::new();
    let mut agency_links = Vec::new();
    let mut plan_rows = Vec::new();
    let mut event_rows = Vec::new();
    let mut indexed: Vec<Written> = Vec::new();
    for (i, r) in export.reviews.iter().enumerate() {
        let at = format!("reviews[{i}] {:?}", r.source_key);
        if r.source_key.is_empty() || review_id.contains_key(r.source_key.as_str()) {
            return Err(invalid(at, "the source key is empty or listed twice"));
        }
        if let Some(p) = &r.published
            && p.parse::<YearMonth>().map(|m| m.to_string()).as_ref() != Ok(p)
        {
            return Err(invalid(at, format!("published: {p:?} is not YYYY-MM")));
        }
        code::<ReviewType>(&at, "review_type", &r.review_type)?;
        let review = review::ActiveModel {
            id: NotSet,
            source_key: Set(r.source_key.clone()),
            title: Set(r.title.clone()),
            published: Set(r.published.clone()),
            year_of_death: Set(r.year_of_death),
            summary: Set(r.summary.clone()),
            source_url: Set(r.source_url.clone()),
            stated_recommendation_count: Set(r.stated_recommendation_count),
            recommendation_count: Set(r
                .recommendations
                .iter()
                .filter(|rec| rec.withdrawn_at.is_none())
                .count() as i32),
            incomplete: Set(r.incomplete),
            review_type: Set(r.review_type.clone()),
            content_hash: Set(r.content_hash.clone()),
            created_at: Set(instant(&at, "created_at", &r.created_at)?),
            updated_at: Set(instant(&at, "updated_at", &r.updated_at)?),
            deleted_at: Set(match &r.deleted {
                Some(t) => Some(instant(&at, "deleted.at", &t.at)?),
                None => None,
            }),
            deleted_by: Set(r.deleted.as_ref().map(|t| t.by.clone())),
            deleted_reason: Set(r.deleted.as_ref().and_then(|t| t.reason.clone())),
            deleted_csps: Set(r
                .deleted
                .as_ref()
                .map(|t| serde_json::to_string(&t.csps).unwrap_or_default())),
        }
        .insert(db)
        .await?;
        review_id.insert(&r.source_key, review.id);

        let mut seen = HashSet::new();
        for (n, slug) in r.csps.iter().enumerate() {
            let id = *csp_id
                .get(slug.as_str())
                .ok_or_else(|| invalid(&at, format!("csp {slug:?} is not among the csps")))?;
            if !seen.insert(id) {
                return Err(invalid(&at, format!("csp {slug:?} is listed twice")));
            }
            csp_links.push(review_csp::ActiveModel {
                review_id: Set(review.id),
                csp_id: Set(id),
                position: Set(n as i32 + 1),
            });
        }
        let tags: BTreeSet<&str> = r.case_tags.iter().map(String::as_str).collect();
        for tag in &tags {
            code::<CaseTag>(&at, "case_tags", tag)?;
            tag_rows.push(review_case_tag::ActiveModel {
                review_id: Set(review.id),
                tag: Set((*tag).to_owned()),
            });
        }
        for key in &r.merged_source_keys {
            if !merged_keys.insert(key) {
                return Err(invalid(
                    &at,
                    format!("merged source key {key:?} is listed twice"),
                ));
            }
            merged_rows.push(review_alias::ActiveModel {
                id: NotSet,
                source_key: Set(key.clone()),
                review_id: Set(review.id),
            });
        }

        let mut positions = HashSet::new();
        let mut withdrawn = 0;
        let mut texts = Vec::with_capacity(r.recommendations.len());
        for rec in &r.recommendations {
            let at = format!("{at}, recommendation {}", rec.position);
            let withdrawn_at = match &rec.withdrawn_at {
                Some(w) => Some(instant(&at, "withdrawn_at", w)?),
                None => None,
            };
            // A withdrawn row has left the order (0), unless its review is deleted.
            let placed = withdrawn_at.is_none() || (r.deleted.is_some() && rec.position > 0);
            if withdrawn_at.is_some() && r.deleted.is_none() && rec.position != 0 {
                return Err(invalid(at, "a withdrawn recommendation has position 0"));
            }
            if withdrawn_at.is_none() && r.deleted.is_some() {
                return Err(invalid(
                    at,
                    "a deleted review's recommendations are all withdrawn",
                ));
            }
            if placed && (rec.position < 1 || !positions.insert(rec.position)) {
                return Err(invalid(at, "the position is below 1 or listed twice"));
            }
            if withdrawn_at.is_some() && !rec.agencies.is_empty() {
                return Err(invalid(
                    at,
                    "a withdrawn recommendation has no agency links",
                ));
            }
            let inserted = recommendation::ActiveModel {
                id: NotSet,
                review_id: Set(review.id),
                // Out of the way until its id is known.
                position: Set(if placed {
                    rec.position
                } else {
                    i32::MIN + withdrawn
                }),
                label: Set(rec.label.clone()),
                text: Set(rec.text.clone()),
                addressed_to: Set(rec.addressed_to.clone()),
                withdrawn_at: Set(withdrawn_at),
                external_ref: Set(rec.external_ref.clone()),
            }
            .insert(db)
            .await?;
            let id = inserted.id;
            if !placed {
                withdrawn += 1;
                let mut moved: recommendation::ActiveModel = inserted.into();
                moved.position = Set(-id);
                moved.update(db).await?;
            }
            if withdrawn_at.is_none() {
                texts.push((id, rec.text.as_str()));
            }
            let mut seen = HashSet::new();
            for (n, slug) in rec.agencies.iter().enumerate() {
                let agency = *agency_id.get(slug.as_str()).ok_or_else(|| {
                    invalid(&at, format!("agency {slug:?} is not among the agencies"))
                })?;
                if !seen.insert(agency) {
                    return Err(invalid(&at, format!("agency {slug:?} is listed twice")));
                }
                agency_links.push(recommendation_agency::ActiveModel {
                    recommendation_id: Set(id),
                    agency_id: Set(agency),
                    position: Set(n as i32 + 1),
                    method: Set(crate::domain::Method::Curated.code().to_owned()),
                    reason: Set("imported from an export".to_owned()),
                });
            }
            plan(&at, id, rec, &agency_id, &mut plan_rows, &mut event_rows)?;
        }
        summary.recommendations += texts.len();
        // A tombstone is in no read, search included.
        if r.deleted.is_none() {
            indexed.push(Written {
                review_id: review.id,
                recommendations: texts,
            });
        }
    }
    summary.reviews = review_id.len();

    let mut incident_rows = Vec::new();
    // A merged listing stays as a tombstone under its own key; a live review may not.
    let live: HashSet<&str> = export
        .reviews
        .iter()
        .filter(|r| r.deleted.is_none())
        .map(|r| r.source_key.as_str())
        .collect();
    for (i, r) in export.reviews.iter().enumerate() {
        if let Some(key) = &r
            .merged_source_keys
            .iter()
            .find(|k| live.contains(k.as_str()))
        {
            return Err(invalid(
                format!("reviews[{i}] {:?}", r.source_key),
                format!("merged source key {key:?} is also the key of a review"),
            ));
        }
        if let Some(key) = &r.incident {
            let incident = *review_id.get(key.as_str()).ok_or_else(|| {
                invalid(
                    format!("reviews[{i}] {:?}", r.source_key),
                    format!("incident {key:?} is not among the reviews"),
                )
            })?;
            incident_rows.push(review_incident::ActiveModel {
                review_id: Set(review_id[r.source_key.as_str()]),
                incident_review_id: Set(incident),
            });
        }
    }

    summary.action_plans = plan_rows.len();
    summary.status_events = event_rows.len();
    insert_chunks(db, csp_links).await?;
    insert_chunks(db, tag_rows).await?;
    insert_chunks(db, merged_rows).await?;
    insert_chunks(db, incident_rows).await?;
    insert_chunks(db, agency_links).await?;
    insert_chunks(db, plan_rows).await?;
    insert_chunks(db, event_rows).await?;

    Ok((summary, indexed))
}

/// Checks and stages a recommendation's action plan and history.
fn plan(
    at: &str,
    recommendation_id: i32,
    rec: &model::Recommendation,
    agency_id: &HashMap<&str, i32>,
    plan_rows: &mut Vec<action_plan::ActiveModel>,
    event_rows: &mut Vec<status_event::ActiveModel>,
) -> Result<(), ExchangeError> {
    let mut last = 0;
    for e in &rec.history {
        let at = format!("{at}, history version {}", e.version);
        // The next write expects the plan's version and appends version + 1: a gap or
        // repeat here would make that append clash with an imported event.
        if e.version != last + 1 {
            return Err(invalid(at, format!("expected version {}", last + 1)));
        }
        last = e.version;
        code::<PlanStatus>(&at, "from_status", &e.from_status)?;
        code::<PlanStatus>(&at, "to_status", &e.to_status)?;
        if let Some(c) = &e.changes
            && !serde_json::from_str::<serde_json::Value>(c).is_ok_and(|v| v.is_object())
        {
            return Err(invalid(at, "changes: not a JSON object"));
        }
        event_rows.push(status_event::ActiveModel {
            id: NotSet,
            recommendation_id: Set(recommendation_id),
            version: Set(e.version),
            actor: Set(e.actor.clone()),
            at: Set(instant(&at, "at", &e.at)?),
            from_status: Set(e.from_status.clone()),
            to_status: Set(e.to_status.clone()),
            note: Set(e.note.clone()),
            changes: Set(e.changes.clone()),
        });
    }
    let Some(p) = &rec.action_plan else {
        return match last {
            0 => Ok(()),
            _ => Err(invalid(at, "a status history without an action plan")),
        };
    };
    let at = format!("{at}, action plan");
    if p.version != last {
        return Err(invalid(
            at,
            format!(
                "version {} but the history ends at version {last}",
                p.version
            ),
        ));
    }
    code::<PlanStatus>(&at, "status", &p.status)?;
    if let Some(r) = &p.rag {
        code::<Rag>(&at, "rag", r)?;
    }
    date(&at, "target_date", &p.target_date)?;
    date(&at, "completion_date", &p.completion_date)?;
    let lead = match &p.lead_agency {
        Some(slug) => Some(*agency_id.get(slug.as_str()).ok_or_else(|| {
            invalid(
                &at,
                format!("lead agency {slug:?} is not among the agencies"),
            )
        })?),
        None => None,
    };
    plan_rows.push(action_plan::ActiveModel {
        recommendation_id: Set(recommendation_id),
        status: Set(p.status.clone()),
        lead_agency_id: Set(lead),
        action: Set(p.action.clone()),
        target_date: Set(p.target_date.clone()),
        completion_date: Set(p.completion_date.clone()),
        outcome_note: Set(p.outcome_note.clone()),
        rag: Set(p.rag.clone()),
        sign_off_body: Set(p.sign_off_body.clone()),
        version: Set(p.version),
        updated_at: Set(instant(&at, "updated_at", &p.updated_at)?),
        updated_by: Set(p.updated_by.clone()),
    });
    Ok(())
}
