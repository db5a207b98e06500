//! Agencies a recommendation mentions without being addressed to them, by curated cues
//! (`api/data/mentions.txt`). Explainable like themes: the cue that matched is kept.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use entity::{recommendation, recommendation_agency, recommendation_mention};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use super::curated::curated;
use super::themes::{matches, words};

const LIST: &str = include_str!("../../data/mentions.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionDef {
    pub agency: &'static str,
    pub cues: Vec<&'static str>,
}

pub struct MentionList {
    pub version: u32,
    pub defs: Vec<MentionDef>,
}

/// The embedded list, parsed once; a unit test checks it, so a bad edit fails the tests.
pub fn mention_list() -> &'static MentionList {
    static CELL: OnceLock<MentionList> = OnceLock::new();
    CELL.get_or_init(|| parse(LIST).unwrap_or_else(|e| panic!("api/data/mentions.txt: {e}")))
}

fn parse(text: &'static str) -> Result<MentionList, String> {
    let mut version = 0;
    let mut defs = Vec::new();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if let Some(v) = line.strip_prefix("# version:") {
            version = v
                .trim()
                .parse()
                .map_err(|_| format!("line {n}: bad version"))?;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((agency, cues)) = line.split_once('|') else {
            return Err(format!("line {n}: expected Agency name | cue; cue"));
        };
        let agency = agency.trim();
        // Mentions join curated agencies only: a typo must not create a stray agency.
        if curated().lookup(agency).is_none_or(|c| c.name != agency) {
            return Err(format!(
                "line {n}: {agency:?} is not a canonical name of agencies.txt"
            ));
        }
        let cues: Vec<&str> = cues
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if cues.is_empty() {
            return Err(format!("line {n}: {agency} has no cue"));
        }
        defs.push(MentionDef { agency, cues });
    }
    Ok(MentionList { version, defs })
}

/// The agencies a text mentions, each with the first of its cues that matched.
pub fn mentions(text: &str) -> Vec<(&'static str, &'static str)> {
    let text_words = words(text);
    mention_list()
        .defs
        .iter()
        .filter_map(|d| {
            d.cues
                .iter()
                .find(|c| matches(c, &text_words))
                .map(|c| (d.agency, *c))
        })
        .collect()
}

/// Replaces the mentions of the given recommendations with those their texts earn. A
/// recommendation addressed to an agency does not also mention it. `fresh` ones (written by
/// this unit) have none to replace.
pub async fn remention<C: ConnectionTrait>(
    db: &C,
    recs: &[(i32, &str)],
    fresh: &std::collections::BTreeSet<i32>,
) -> Result<(), DbErr> {
    if recs.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = recs.iter().map(|r| r.0).collect();
    let stale: Vec<i32> = ids
        .iter()
        .filter(|id| !fresh.contains(id))
        .copied()
        .collect();
    if !stale.is_empty() {
        recommendation_mention::Entity::delete_many()
            .filter(recommendation_mention::Column::RecommendationId.is_in(stale))
            .exec(db)
            .await?;
    }
    let found: Vec<(i32, &str, &str)> = recs
        .iter()
        .flat_map(|(id, text)| mentions(text).into_iter().map(|(a, c)| (*id, a, c)))
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = found.iter().map(|f| f.1.to_owned()).collect();
    let (agency_of, _) = super::store::resolve_agencies(
        db,
        &crate::registry::resolve::ReviewContext::default(),
        &names,
    )
    .await?;
    let addressed: HashSet<(i32, i32)> = recommendation_agency::Entity::find()
        .filter(recommendation_agency::Column::RecommendationId.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.recommendation_id, l.agency_id))
        .collect();
    let mut seen = HashSet::new();
    let rows: Vec<recommendation_mention::ActiveModel> = found
        .into_iter()
        .filter_map(|(rec, name, cue)| {
            let agency = agency_of
                .get(&crate::domain::normalise::name_key(name))?
                .agency_id;
            (!addressed.contains(&(rec, agency)) && seen.insert((rec, agency))).then(|| {
                recommendation_mention::ActiveModel {
                    recommendation_id: Set(rec),
                    agency_id: Set(agency),
                    cue: Set(cue.to_owned()),
                }
            })
        })
        .collect();
    // Two servers back-filling one new database at once write the same rows.
    recommendation_mention::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Fills mentions for a database migrated from before they existed (or emptied of them):
/// every recommendation is read once.
pub async fn backfill<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let recs = recommendation::Entity::find()
        .filter(recommendation::Column::WithdrawnAt.is_null())
        .all(db)
        .await?;
    let texts: HashMap<i32, &str> = recs.iter().map(|r| (r.id, r.text.as_str())).collect();
    for chunk in texts.into_iter().collect::<Vec<_>>().chunks(500) {
        remention(db, chunk, &Default::default()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_and_names_curated_agencies() {
        let list = mention_list();
        assert!(list.version >= 1);
        assert!(list.defs.iter().any(|d| d.agency == "GP practice"));
    }

    #[test]
    fn gp_staff_in_a_commissioning_recommendation_mention_gp_practice() {
        let text = "‘Routine Enquiry’, pertaining to domestic abuse should always take place by \
                    all GP Practice Staff when it is known that an individual is ‘At Risk’.";
        assert_eq!(mentions(text), vec![("GP practice", "GP practice*")]);
        assert!(mentions("Police to review the use of DASH").is_empty());
        assert_eq!(
            mentions("General Practitioners to record disclosures"),
            vec![("GP practice", "general practitioner*")]
        );
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let err = parse("# version: 1\nNo Such Body | cue\n")
            .err()
            .expect("unknown agency rejected");
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
