//! The CSV export: one row per recommendation, as a spreadsheet user reads an action-plan
//! tracker. Several agencies or CSPs share one cell, joined by "; ", so that counting rows
//! counts recommendations. Reviews without recommendations (DHRD records) have no row.

use std::collections::HashMap;

use super::ExchangeError;
use super::model::Export;
use crate::domain::PlanStatus;

pub const HEADER: [&str; 13] = [
    "Review",
    "CSPs",
    "Published",
    "Label",
    "Text",
    "Agencies",
    "Sectors",
    "Status",
    "Lead agency",
    "Target date",
    "Completion date",
    "RAG",
    "Version",
];

const JOIN: &str = "; ";

/// A cell a spreadsheet would not run as a formula: one that starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return gets a leading apostrophe (OWASP's advice on CSV injection).
/// Recommendation text is written by whoever pushes a review, so it is not trusted here.
pub fn safe_cell(cell: String) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell,
    }
}

/// Rows in the JSON export's order: by review source key, then position.
pub fn to_csv(export: &Export) -> Result<String, ExchangeError> {
    let csp_name: HashMap<&str, &str> = export
        .csps
        .iter()
        .map(|c| (c.slug.as_str(), c.name.as_str()))
        .collect();
    let agency: HashMap<&str, (&str, &str)> = export
        .agencies
        .iter()
        .map(|a| (a.slug.as_str(), (a.name.as_str(), a.sector.as_str())))
        .collect();
    let agency_name = |slug: &str| agency.get(slug).map_or(slug, |a| a.0).to_owned();

    // RFC 4180 line ends: what spreadsheet programs expect of a .csv.
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(HEADER)?;
    // The live graph: a deleted review's tombstone and withdrawn recommendations are kept in
    // the JSON export, not in a sheet of current action plans.
    for review in export.reviews.iter().filter(|r| r.deleted.is_none()) {
        let csps: Vec<&str> = review
            .csps
            .iter()
            .map(|s| csp_name.get(s.as_str()).copied().unwrap_or(s))
            .collect();
        let csps = csps.join(JOIN);
        for rec in review
            .recommendations
            .iter()
            .filter(|r| r.withdrawn_at.is_none())
        {
            let names: Vec<String> = rec.agencies.iter().map(|s| agency_name(s)).collect();
            let mut sectors: Vec<&str> = Vec::new();
            for slug in &rec.agencies {
                if let Some((_, sector)) = agency.get(slug.as_str())
                    && !sectors.contains(sector)
                {
                    sectors.push(sector);
                }
            }
            let plan = rec.action_plan.as_ref();
            let field = |f: fn(&super::model::ActionPlan) -> &Option<String>| {
                plan.and_then(|p| f(p).clone()).unwrap_or_default()
            };
            out.write_record(
                [
                    review.title.clone(),
                    csps.clone(),
                    review.published.clone().unwrap_or_default(),
                    rec.label.clone(),
                    rec.text.clone(),
                    names.join(JOIN),
                    sectors.join(JOIN),
                    plan.map_or(PlanStatus::NotStarted.code(), |p| &p.status)
                        .to_owned(),
                    plan.and_then(|p| p.lead_agency.as_deref())
                        .map(agency_name)
                        .unwrap_or_default(),
                    field(|p| &p.target_date),
                    field(|p| &p.completion_date),
                    field(|p| &p.rag),
                    plan.map_or(0, |p| p.version).to_string(),
                ]
                .map(safe_cell),
            )?;
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // The writer was given only `String`s.
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formula_cells_are_defused() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx"] {
            assert!(safe_cell(bad.to_owned()).starts_with('\''), "{bad}");
        }
        assert_eq!(safe_cell("Kent Police".into()), "Kent Police");
        assert_eq!(safe_cell(String::new()), "");
    }
}
