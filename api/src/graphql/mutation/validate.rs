//! What a mutation's input must be before anything is written: each check names the field
//! it refused (`BAD_USER_INPUT` with `extensions.field`).

use async_graphql::MaybeUndefined;
use entity::agency;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::inputs::{SetRecommendationStatusInput, UpdateRecommendationInput, UpsertReviewInput};
use crate::domain::{PlanStatus, YearMonth};
use crate::error::ApiError;
use crate::graphql::ids::{Kind, decode_as};
use crate::graphql::plan_query::date;
use crate::ingest::{ParsedPage, parse::ParsedRow};
use crate::plans::PlanChange;

/// Bounds on what a caller may send: generous for real reviews, small enough that one
/// request cannot bloat the database.
pub(super) const MAX_LABEL: usize = 20;
pub(super) const MAX_NAME: usize = 300;
pub(super) const MAX_TEXT: usize = 20_000;
pub(super) const MAX_RECOMMENDATIONS: usize = 500;

pub(super) fn bounded(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

pub(super) fn optional(
    field: &str,
    value: MaybeUndefined<String>,
    max: usize,
) -> Result<Option<Option<String>>, ApiError> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(bounded(field, &v, max)?)),
    })
}

pub(super) fn optional_date(
    field: &str,
    value: MaybeUndefined<String>,
) -> Result<Option<Option<String>>, ApiError> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(date(field, &v)?)),
    })
}

/// The page an `upsertReview` writes: every field bounded, every agency a known slug or a
/// name for the resolver.
pub(super) async fn upsert_page(
    conn: &DatabaseConnection,
    input: UpsertReviewInput,
) -> Result<ParsedPage, ApiError> {
    let external_ref = bounded("input.externalRef", &input.external_ref, 200)?;
    let title = bounded("input.title", &input.title, MAX_NAME)?;
    if input.csps.is_empty() {
        return Err(ApiError::bad_input("input.csps", "name at least one CSP"));
    }
    let csps = input
        .csps
        .iter()
        .enumerate()
        .map(|(i, c)| bounded(&format!("input.csps[{i}]"), c, MAX_NAME))
        .collect::<Result<Vec<_>, _>>()?;
    let published: YearMonth =
        input
            .published
            .parse()
            .map_err(|e: crate::domain::month::BadMonth| {
                ApiError::bad_input("input.published", e.to_string())
            })?;
    let now = chrono::Utc::now().format("%Y-%m").to_string();
    if published.to_string() > now {
        return Err(ApiError::bad_input("input.published", "is in the future"));
    }
    if input.summary.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_input(
            "input.summary",
            format!("longer than {MAX_TEXT} characters"),
        ));
    }
    if input.recommendations.len() > MAX_RECOMMENDATIONS {
        return Err(ApiError::bad_input(
            "input.recommendations",
            format!("more than {MAX_RECOMMENDATIONS}"),
        ));
    }
    let slugs: Vec<String> = input
        .recommendations
        .iter()
        .flat_map(|r| r.agencies.iter().map(|a| a.trim().to_lowercase()))
        .collect();
    let known: std::collections::HashMap<String, String> = agency::Entity::find()
        .filter(agency::Column::Slug.is_in(slugs))
        .all(conn)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|a| (a.slug, a.name))
        .collect();
    let mut rows = Vec::with_capacity(input.recommendations.len());
    let mut refs = std::collections::HashSet::new();
    for (i, r) in input.recommendations.iter().enumerate() {
        let field = |f: &str| format!("input.recommendations[{i}].{f}");
        // A reference names one recommendation: sent twice, the second would take a new id
        // under the same name, and the next upsert could not tell them apart.
        if let Some(x) = &r.external_ref
            && !refs.insert(x.trim())
        {
            return Err(ApiError::bad_input(field("externalRef"), "listed twice"));
        }
        let mut addressees = Vec::new();
        for (j, wanted) in r.agencies.iter().enumerate() {
            let field = format!("input.recommendations[{i}].agencies[{j}]");
            let wanted = bounded(&field, wanted, MAX_NAME)?;
            // A slug names its agency; anything else is a name as a review prints it, which
            // the ingest resolver reads with the review's context. A slug-shaped string that
            // is no agency's slug is a typo, not a new agency called "kent-polic".
            match known.get(&wanted.to_lowercase()) {
                Some(name) => addressees.push(name.clone()),
                None if slug_shaped(&wanted) => {
                    return Err(ApiError::bad_input(
                        field,
                        format!("no agency with slug {wanted:?} (send a name to create one)"),
                    ));
                }
                None => addressees.push(wanted),
            }
        }
        let external_ref = r
            .external_ref
            .as_deref()
            .map(|x| bounded(&field("externalRef"), x, 200))
            .transpose()?;
        rows.push(ParsedRow {
            external_ref,
            label: bounded(&field("label"), &r.label, MAX_LABEL)?,
            text: bounded(&field("text"), &r.text, MAX_TEXT)?,
            addressees,
            line: 0,
        });
    }
    Ok(ParsedPage {
        external_ref: Some(external_ref),
        source_url: input
            .source_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty()),
        title,
        review_type: input.review_type.into(),
        csps,
        published,
        year_of_death: input.year_of_death,
        stated_count: Some(rows.len() as i32),
        summary: input.summary.trim().to_owned(),
        rows,
        incomplete: false,
        notes: Vec::new(),
    })
}

/// `kent-police`, `gp-practice-2`: lower-case words joined by hyphens, as slugs are.
fn slug_shaped(s: &str) -> bool {
    s.contains('-')
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// A `setRecommendationStatus`: the recommendation, and the change.
pub(super) fn status_change(
    input: SetRecommendationStatusInput,
) -> Result<(i32, i32, PlanChange), ApiError> {
    let id = decode_as("input.id", &input.id, Kind::Recommendation)?;
    let status: PlanStatus = input.status.into();
    if input.completion_date.is_some()
        && !matches!(status, PlanStatus::Implemented | PlanStatus::Closed)
    {
        return Err(ApiError::bad_input(
            "input.completionDate",
            format!(
                "a completion date goes with IMPLEMENTED or CLOSED, not {}",
                status.code()
            ),
        ));
    }
    let change = PlanChange {
        status: Some(status),
        completion_date: input
            .completion_date
            .map(|d| date("input.completionDate", &d).map(Some))
            .transpose()?,
        note: input
            .note
            .map(|n| bounded("input.note", &n, MAX_TEXT))
            .transpose()?,
        ..Default::default()
    };
    Ok((id, input.expected_version, change))
}

/// An `updateRecommendation`: the recommendation, and the change.
pub(super) async fn update_change(
    conn: &DatabaseConnection,
    input: UpdateRecommendationInput,
) -> Result<(i32, i32, PlanChange), ApiError> {
    let id = decode_as("input.id", &input.id, Kind::Recommendation)?;
    let lead_agency = match input.lead_agency {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(wanted) => {
            let found = crate::curation::find_agency(conn, &wanted)
                .await
                .map_err(|e| match e {
                    crate::curation::CurationError::Db(d) => ApiError::from(d),
                    _ => ApiError::bad_input(
                        "input.leadAgency",
                        format!("no agency with slug or name {wanted:?}"),
                    ),
                })?;
            Some(Some((found.id, found.slug)))
        }
    };
    let change = PlanChange {
        status: None,
        lead_agency,
        action: optional("input.action", input.action, MAX_TEXT)?,
        target_date: optional_date("input.targetDate", input.target_date)?,
        completion_date: optional_date("input.completionDate", input.completion_date)?,
        outcome_note: optional("input.outcomeNote", input.outcome_note, MAX_TEXT)?,
        rag: match input.rag {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(r) => Some(Some(r.into())),
        },
        sign_off_body: optional("input.signOffBody", input.sign_off_body, MAX_NAME)?,
        note: input
            .note
            .map(|n| bounded("input.note", &n, MAX_TEXT))
            .transpose()?,
    };
    Ok((id, input.expected_version, change))
}
