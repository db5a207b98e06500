//! Filter inputs of the root lists, parsed into SQL conditions.
//!
//! Inputs are checked here (months as `YYYY-MM`, non-empty text) and rejected with
//! `BAD_USER_INPUT` naming the field. Relations are expressed as `id IN (subquery)`, which
//! both engines plan as semi-joins over the edge indexes.

use async_graphql::{ID, InputObject};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, DbBackend, Value};

use super::enums::{CaseTag, ReviewSource, Sector};
use super::ids::{self, Kind};
use crate::domain::normalise::{name_key, slugify};
use crate::domain::{self, YearMonth};
use crate::error::{ApiError, ApiResult};
use crate::sql::{contains_pattern, placeholders};
use entity::{agency, recommendation, review};

/// Which reviews to list. All given conditions must hold.
#[derive(InputObject, Default, Clone, Debug)]
pub struct ReviewFilter {
    /// A CSP by slug or name, any case ("bassetlaw", "Bassetlaw").
    pub csp: Option<String>,
    /// Reviews with a recommendation addressed to this agency (slug, or a name it is known
    /// under).
    pub agency: Option<String>,
    /// Reviews with a recommendation addressed to an agency of this sector.
    pub sector: Option<Sector>,
    /// Published in or after this month, `YYYY-MM`.
    pub published_from: Option<String>,
    /// Published in or before this month, `YYYY-MM`.
    pub published_to: Option<String>,
    /// Death in or after this year.
    pub year_of_death_from: Option<i32>,
    /// Death in or before this year.
    pub year_of_death_to: Option<i32>,
    /// Title, summary or a recommendation contains this text (any case).
    pub text_contains: Option<String>,
    /// Only reviews whose page was (or was not) cut short.
    pub incomplete: Option<bool>,
    /// Reviews carrying this case tag (their own, or their linked DHRD record's).
    pub case_tag: Option<CaseTag>,
    /// Reviews of a CSP in this region, by the DHRD's name ("Greater London", "East") or
    /// the registers' ("London", "East of England"), any case.
    pub region: Option<String>,
    /// Pages or DHRD records only. Without it, a DHRD record linked to its page is listed
    /// once, as the page (which carries the record's region, death year and case tags).
    pub source: Option<super::enums::ReviewSource>,
    /// Only reviews with (or without) recommendations that are not withdrawn.
    pub has_recommendations: Option<bool>,
}

/// Which agencies to list.
#[derive(InputObject, Default, Clone, Debug)]
pub struct AgencyFilter {
    /// Agencies of this sector.
    pub sector: Option<Sector>,
    /// Agencies of this kind.
    pub kind: Option<super::enums::AgencyKind>,
    /// Agencies of this scope.
    pub scope: Option<super::enums::Scope>,
    /// Agencies with at least one addressee link resolved this way (`UNRESOLVED`: what is
    /// left to curate).
    pub resolution: Option<super::enums::ResolutionMethod>,
    /// Agencies addressed by reviews of this CSP (slug or name, any case).
    pub csp: Option<String>,
    /// Agencies addressed by reviews published in or after this month, `YYYY-MM`.
    pub published_from: Option<String>,
    /// Agencies addressed by reviews published in or before this month, `YYYY-MM`.
    pub published_to: Option<String>,
    /// Canonical name or an alias contains this text (any case).
    pub text_contains: Option<String>,
}

/// Which CSPs to list.
#[derive(InputObject, Default, Clone, Debug)]
pub struct CspFilter {
    /// Name or an alias contains this text (any case).
    pub text_contains: Option<String>,
}

/// Which recommendations to list.
#[derive(InputObject, Default, Clone, Debug)]
pub struct RecommendationFilter {
    /// Recommendations of this review.
    pub review: Option<ID>,
    /// Recommendations of reviews of this CSP (slug or name, any case).
    pub csp: Option<String>,
    /// Addressed to this agency (slug, or a name it is known under).
    pub agency: Option<String>,
    /// Addressed to an agency of this sector.
    pub sector: Option<Sector>,
    /// Of reviews published in or after this month, `YYYY-MM`.
    pub published_from: Option<String>,
    /// Of reviews published in or before this month, `YYYY-MM`.
    pub published_to: Option<String>,
    /// Of reviews with a death in or after this year.
    pub year_of_death_from: Option<i32>,
    /// Of reviews with a death in or before this year.
    pub year_of_death_to: Option<i32>,
    /// The recommendation's text contains this (any case).
    pub text_contains: Option<String>,
    /// Carrying this theme (slug, as in `themes`).
    pub theme: Option<String>,
    /// Whose action plan is at one of these statuses (no plan yet counts as `NOT_STARTED`).
    pub status: Option<Vec<super::enums::PlanStatus>>,
}

/// A custom SQL condition with `?` placeholders, rendered for the engine: sea-query expects
/// `$1, $2, ...` (numbered within the expression) on PostgreSQL and `?` elsewhere.
fn cust<V: Into<Value>>(
    backend: DbBackend,
    sql: impl AsRef<str>,
    values: impl IntoIterator<Item = V>,
) -> Expr {
    Expr::cust_with_values(placeholders(backend, sql.as_ref()), values)
}

fn month(field: &str, v: &Option<String>) -> ApiResult<Option<String>> {
    v.as_deref()
        .map(|m| {
            m.parse::<YearMonth>()
                .map(|m| m.to_string())
                .map_err(|e| ApiError::bad_input(field, e.to_string()))
        })
        .transpose()
}

fn needle(field: &str, v: &Option<String>) -> ApiResult<Option<String>> {
    match v.as_deref().map(str::trim) {
        Some("") => Err(ApiError::bad_input(field, "must not be empty")),
        Some(t) if t.chars().count() > 200 => {
            Err(ApiError::bad_input(field, "at most 200 characters"))
        }
        Some(t) => Ok(Some(contains_pattern(t))),
        None => Ok(None),
    }
}

/// "`{col}` is a review of the CSP named by slug (first value) or name key (second value)".
const CSP_REVIEWS: &str = "{col} IN (SELECT rc.review_id FROM review_csp rc WHERE \
     rc.csp_id IN (SELECT c.id FROM csp c WHERE c.slug = ?) \
     OR rc.csp_id IN (SELECT ca.csp_id FROM csp_alias ca WHERE ca.key = ?))";

/// An agency by its slug or any name it is known under ("GP Practice" finds `gp-practice`),
/// as `agency(slug:)` and the curation commands take it.
const AGENCY_IS: &str =
    "(a.slug = ? OR a.id IN (SELECT al.agency_id FROM agency_alias al WHERE al.key = ?))";

fn agency_values(agency: &str) -> [String; 2] {
    [agency.trim().to_lowercase(), name_key(agency)]
}

fn review_in_csp(backend: DbBackend, col: &str, csp: &str) -> Condition {
    Condition::all().add(cust(
        backend,
        CSP_REVIEWS.replace("{col}", col),
        [slugify(csp), name_key(csp)],
    ))
}

fn sector_code(s: Sector) -> String {
    domain::Sector::from(s).code().to_owned()
}

fn published_range(
    backend: DbBackend,
    col: &str,
    from: &Option<String>,
    to: &Option<String>,
) -> ApiResult<Condition> {
    let mut c = Condition::all();
    if let Some(from) = month("publishedFrom", from)? {
        c = c.add(cust(backend, format!("{col} >= ?"), [from]));
    }
    if let Some(to) = month("publishedTo", to)? {
        c = c.add(cust(backend, format!("{col} <= ?"), [to]));
    }
    Ok(c)
}

impl ReviewFilter {
    pub fn condition(&self, backend: DbBackend) -> ApiResult<Condition> {
        let mut c = published_range(
            backend,
            "review.published",
            &self.published_from,
            &self.published_to,
        )?;
        if let Some(csp) = &self.csp {
            c = c.add(review_in_csp(backend, "review.id", csp));
        }
        if let Some(agency) = &self.agency {
            c = c.add(cust(
                backend,
                format!(
                    "review.id IN (SELECT rec.review_id FROM recommendation rec \
                     JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
                     JOIN agency a ON a.id = ra.agency_id WHERE {AGENCY_IS})"
                ),
                agency_values(agency),
            ));
        }
        if let Some(sector) = self.sector {
            c = c.add(cust(
                backend,
                "review.id IN (SELECT rec.review_id FROM recommendation rec \
                 JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
                 JOIN agency a ON a.id = ra.agency_id WHERE a.sector = ?)",
                [sector_code(sector)],
            ));
        }
        if let Some(y) = self.year_of_death_from {
            c = c.add(review::Column::YearOfDeath.gte(y));
        }
        if let Some(y) = self.year_of_death_to {
            c = c.add(review::Column::YearOfDeath.lte(y));
        }
        if let Some(p) = needle("textContains", &self.text_contains)? {
            c = c.add(cust(
                backend,
                "(LOWER(review.title) LIKE ? ESCAPE '!' OR LOWER(review.summary) LIKE ? ESCAPE '!' \
                 OR review.id IN (SELECT rec.review_id FROM recommendation rec \
                 WHERE LOWER(rec.text) LIKE ? ESCAPE '!' AND rec.withdrawn_at IS NULL))",
                [p.clone(), p.clone(), p],
            ));
        }
        if let Some(i) = self.incomplete {
            c = c.add(review::Column::Incomplete.eq(i));
        }
        if let Some(region) = &self.region {
            let name = crate::registry::dhrd_region(region).ok_or_else(|| {
                ApiError::bad_input(
                    "filter.region",
                    format!(
                        "no region {region:?}; one of {}",
                        crate::registry::REGIONS
                            .iter()
                            .map(|(d, _)| *d)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            c = c.add(cust(
                backend,
                "review.id IN (SELECT rc.review_id FROM review_csp rc \
                 JOIN csp ON csp.id = rc.csp_id WHERE csp.region = ?)",
                [name],
            ));
        }
        // DHRD records are the reviews the dataset import keys "dhrd:<incident id>".
        let record = format!(
            "review.source_key LIKE '{}%'",
            crate::ingest::dhrd::KEY_PREFIX
        );
        match self.source {
            Some(ReviewSource::DhrdRecord) => c = c.add(Expr::cust(record)),
            Some(ReviewSource::Page) => c = c.add(Expr::cust(format!("NOT ({record})"))),
            None => {}
        }
        if let Some(has) = self.has_recommendations {
            c = c.add(Expr::cust(format!(
                "review.id {} (SELECT rec.review_id FROM recommendation rec \
                 WHERE rec.withdrawn_at IS NULL)",
                if has { "IN" } else { "NOT IN" }
            )));
        }
        if let Some(tag) = self.case_tag {
            let code = domain::CaseTag::from(tag).code().to_owned();
            c = c.add(cust(
                backend,
                "(review.id IN (SELECT t.review_id FROM review_case_tag t WHERE t.tag = ?) \
                 OR review.id IN (SELECT ri.review_id FROM review_incident ri \
                 JOIN review_case_tag t ON t.review_id = ri.incident_review_id WHERE t.tag = ?))",
                [code.clone(), code],
            ));
        }
        Ok(c)
    }
}

impl ReviewFilter {
    /// [`ReviewFilter::condition`] for the `reviews` list: without `source`, a DHRD record
    /// linked to its page is left out (the page stands for both).
    pub fn listing_condition(&self, backend: DbBackend) -> ApiResult<Condition> {
        let c = self.condition(backend)?;
        Ok(if self.source.is_none() {
            c.add(cust(
                backend,
                "review.id NOT IN (SELECT ri.incident_review_id FROM review_incident ri)",
                Vec::<Value>::new(),
            ))
        } else {
            c
        })
    }
}

impl AgencyFilter {
    pub fn condition(&self, backend: DbBackend) -> ApiResult<Condition> {
        let mut c = Condition::all();
        if let Some(sector) = self.sector {
            c = c.add(agency::Column::Sector.eq(sector_code(sector)));
        }
        if let Some(kind) = self.kind {
            c = c.add(agency::Column::Kind.eq(domain::AgencyKind::from(kind).code()));
        }
        if let Some(scope) = self.scope {
            c = c.add(agency::Column::Scope.eq(domain::Scope::from(scope).code()));
        }
        if let Some(method) = self.resolution {
            c = c.add(cust(
                backend,
                "agency.id IN (SELECT agency_id FROM recommendation_agency WHERE method = ?)",
                [domain::Method::from(method).code()],
            ));
        }
        // Agencies addressed by the reviews that the CSP and month filters select.
        let mut sql = String::from(
            "agency.id IN (SELECT ra.agency_id FROM recommendation_agency ra \
             JOIN recommendation rec ON rec.id = ra.recommendation_id \
             JOIN review r ON r.id = rec.review_id WHERE 1 = 1",
        );
        let mut values: Vec<String> = Vec::new();
        if let Some(from) = month("publishedFrom", &self.published_from)? {
            sql.push_str(" AND r.published >= ?");
            values.push(from);
        }
        if let Some(to) = month("publishedTo", &self.published_to)? {
            sql.push_str(" AND r.published <= ?");
            values.push(to);
        }
        if let Some(csp) = &self.csp {
            sql.push_str(&format!(" AND {}", CSP_REVIEWS.replace("{col}", "r.id")));
            values.extend([slugify(csp), name_key(csp)]);
        }
        if !values.is_empty() {
            sql.push(')');
            c = c.add(cust(backend, sql, values));
        }
        if let Some(p) = needle("textContains", &self.text_contains)? {
            c = c.add(cust(backend,
                "(LOWER(agency.name) LIKE ? ESCAPE '!' OR agency.id IN \
                 (SELECT al.agency_id FROM agency_alias al WHERE LOWER(al.name) LIKE ? ESCAPE '!'))",
                [p.clone(), p],
            ));
        }
        Ok(c)
    }
}

impl CspFilter {
    pub fn condition(&self, backend: DbBackend) -> ApiResult<Condition> {
        let mut c = Condition::all();
        if let Some(p) = needle("textContains", &self.text_contains)? {
            c = c.add(cust(
                backend,
                "(LOWER(csp.name) LIKE ? ESCAPE '!' OR csp.id IN \
                 (SELECT ca.csp_id FROM csp_alias ca WHERE LOWER(ca.name) LIKE ? ESCAPE '!'))",
                [p.clone(), p],
            ));
        }
        Ok(c)
    }
}

impl RecommendationFilter {
    pub fn condition(&self, backend: DbBackend) -> ApiResult<Condition> {
        let mut c = Condition::all();
        if let Some(id) = &self.review {
            c = c.add(recommendation::Column::ReviewId.eq(ids::decode_as(
                "review",
                id,
                Kind::Review,
            )?));
        }
        let reviews = ReviewFilter {
            csp: self.csp.clone(),
            published_from: self.published_from.clone(),
            published_to: self.published_to.clone(),
            year_of_death_from: self.year_of_death_from,
            year_of_death_to: self.year_of_death_to,
            ..Default::default()
        };
        let review_cond = reviews.condition(backend)?;
        if !review_cond.is_empty() {
            c = c.add(
                recommendation::Column::ReviewId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column((review::Entity, review::Column::Id))
                        .from(review::Entity)
                        .cond_where(review_cond)
                        .to_owned(),
                ),
            );
        }
        if let Some(agency) = &self.agency {
            c = c.add(cust(
                backend,
                format!(
                    "recommendation.id IN (SELECT ra.recommendation_id FROM \
                     recommendation_agency ra JOIN agency a ON a.id = ra.agency_id \
                     WHERE {AGENCY_IS})"
                ),
                agency_values(agency),
            ));
        }
        if let Some(sector) = self.sector {
            c = c.add(cust(
                backend,
                "recommendation.id IN (SELECT ra.recommendation_id FROM recommendation_agency ra \
                 JOIN agency a ON a.id = ra.agency_id WHERE a.sector = ?)",
                [sector_code(sector)],
            ));
        }
        if let Some(p) = needle("textContains", &self.text_contains)? {
            c = c.add(cust(
                backend,
                "LOWER(recommendation.text) LIKE ? ESCAPE '!'",
                [p],
            ));
        }
        if let Some(theme) = &self.theme {
            c = c.add(cust(
                backend,
                "recommendation.id IN (SELECT rt.recommendation_id FROM recommendation_theme rt \
                 JOIN theme t ON t.id = rt.theme_id WHERE t.slug = ?)",
                [theme.trim().to_lowercase()],
            ));
        }
        if let Some(statuses) = &self.status {
            if statuses.is_empty() {
                return Err(ApiError::bad_input(
                    "filter.status",
                    "name at least one status",
                ));
            }
            let codes: Vec<String> = statuses
                .iter()
                .map(|s| crate::domain::PlanStatus::from(*s).code().to_owned())
                .collect();
            let marks = vec!["?"; codes.len()].join(", ");
            c = c.add(cust(
                backend,
                format!(
                    "COALESCE((SELECT ap.status FROM action_plan ap \
                     WHERE ap.recommendation_id = recommendation.id), 'NOT_STARTED') IN ({marks})"
                ),
                codes,
            ));
        }
        Ok(c)
    }
}
