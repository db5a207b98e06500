//! The theme taxonomy (`api/data/themes.txt`) and the tagger: explainable rules, each tag
//! keeping the cue that matched, so a person can see why and correct the taxonomy.

use std::sync::OnceLock;

use entity::{recommendation_theme, theme};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, QueryFilter, Set};

const LIST: &str = include_str!("../../data/themes.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeDef {
    pub slug: &'static str,
    pub name: &'static str,
    pub cues: Vec<&'static str>,
}

pub struct Taxonomy {
    pub version: u32,
    pub themes: Vec<ThemeDef>,
}

/// The embedded taxonomy, parsed once (a unit test checks its format).
pub fn taxonomy() -> &'static Taxonomy {
    static CELL: OnceLock<Taxonomy> = OnceLock::new();
    CELL.get_or_init(|| parse(LIST).unwrap_or_else(|e| panic!("api/data/themes.txt: {e}")))
}

fn parse(text: &'static str) -> Result<Taxonomy, String> {
    let mut version = 0;
    let mut themes: Vec<ThemeDef> = Vec::new();
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
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [slug, name, cues] = parts[..] else {
            return Err(format!("line {n}: expected slug | Name | cues"));
        };
        if themes.iter().any(|t| t.slug == slug) {
            return Err(format!("line {n}: theme {slug} listed twice"));
        }
        let cues: Vec<&str> = cues
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if cues.is_empty() {
            return Err(format!("line {n}: theme {slug} has no cue"));
        }
        themes.push(ThemeDef { slug, name, cues });
    }
    Ok(Taxonomy { version, themes })
}

/// Lower-case words of a text, with curly quotes straightened and punctuation dropped
/// (apostrophes kept inside words: "children's").
pub(crate) fn words(text: &str) -> Vec<String> {
    text.replace(['‘', '’'], "'")
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Does the cue occur in the words? Whole words, the last one a prefix if the cue ends in `*`.
pub(crate) fn matches(cue: &str, text_words: &[String]) -> bool {
    let (cue, prefix) = match cue.strip_suffix('*') {
        Some(c) => (c, true),
        None => (cue, false),
    };
    let cue_words = words(cue);
    let k = cue_words.len();
    if k == 0 || text_words.len() < k {
        return false;
    }
    text_words.windows(k).any(|w| {
        w.iter().zip(&cue_words).enumerate().all(|(i, (t, c))| {
            if prefix && i == k - 1 {
                t.starts_with(c.as_str())
            } else {
                t == c
            }
        })
    })
}

/// The themes of a text, each with the first of its cues that matched, in taxonomy order.
pub fn tag(text: &str) -> Vec<(&'static ThemeDef, &'static str)> {
    let text_words = words(text);
    taxonomy()
        .themes
        .iter()
        .filter_map(|t| {
            t.cues
                .iter()
                .find(|c| matches(c, &text_words))
                .map(|c| (t, *c))
        })
        .collect()
}

/// Brings the `theme` table in line with the taxonomy: new themes added, names and cues
/// updated. Themes dropped from the taxonomy stay (with their tags) until a curator removes them.
pub async fn sync<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let rows: Vec<theme::ActiveModel> = taxonomy()
        .themes
        .iter()
        .map(|t| theme::ActiveModel {
            id: NotSet,
            slug: Set(t.slug.to_owned()),
            name: Set(t.name.to_owned()),
            cues: Set(t.cues.join("; ")),
        })
        .collect();
    theme::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(theme::Column::Slug)
                .update_columns([theme::Column::Name, theme::Column::Cues])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Replaces the tags of the given recommendations with those their texts earn; `fresh` ones
/// (written by this unit) have none to replace.
pub async fn retag<C: ConnectionTrait>(
    db: &C,
    recs: &[(i32, &str)],
    fresh: &std::collections::BTreeSet<i32>,
) -> Result<(), DbErr> {
    if recs.is_empty() {
        return Ok(());
    }
    let stale: Vec<i32> = recs
        .iter()
        .map(|r| r.0)
        .filter(|id| !fresh.contains(id))
        .collect();
    if !stale.is_empty() {
        recommendation_theme::Entity::delete_many()
            .filter(recommendation_theme::Column::RecommendationId.is_in(stale))
            .exec(db)
            .await?;
    }
    // The theme's id by its slug in the same statement: no read of the theme table per page.
    let tags: Vec<(i32, &str, &str)> = recs
        .iter()
        .flat_map(|(rec, text)| {
            tag(text)
                .into_iter()
                .map(move |(t, cue)| (*rec, t.slug, cue))
        })
        .collect();
    for chunk in tags.chunks(300) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let values: Vec<sea_orm::Value> = chunk
            .iter()
            .flat_map(|(rec, slug, cue)| [(*rec).into(), (*slug).into(), (*cue).into()])
            .collect();
        db.execute_raw(crate::sql::statement(
            db.get_database_backend(),
            &format!(
                "WITH tagged (recommendation_id, slug, cue) AS (VALUES {rows}) \
                 INSERT INTO recommendation_theme (recommendation_id, theme_id, cue) \
                 SELECT tagged.recommendation_id, theme.id, tagged.cue \
                 FROM tagged JOIN theme ON theme.slug = tagged.slug"
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs(text: &str) -> Vec<&'static str> {
        tag(text).into_iter().map(|(t, _)| t.slug).collect()
    }

    #[test]
    fn the_taxonomy_parses() {
        let t = taxonomy();
        assert!(t.version >= 1);
        assert!((25..=30).contains(&t.themes.len()), "{}", t.themes.len());
    }

    #[test]
    fn cues_match_whole_words_and_prefixes() {
        assert!(
            slugs("GPs should make routine enquiries about domestic circumstances")
                .contains(&"routine-enquiry")
        );
        assert!(
            slugs("all MARAC agencies to be reminded that repeat referrals")
                .contains(&"marac-referral")
        );
        let tags = tag(
            "It is recommended that the GP practice considers how routine enquiry could be embedded",
        );
        assert_eq!(tags[0].0.slug, "routine-enquiry");
        assert_eq!(tags[0].1, "routine enquiry");
        // "law" is a word, not a prefix: "lawful" is not law reform.
        assert!(
            !slugs("to ensure data is shared in a safe and lawful way")
                .contains(&"review-process-law")
        );
        assert!(
            slugs("revisits the current laws in relation to image-based abuse")
                .contains(&"review-process-law")
        );
        assert!(
            slugs("revisits the current laws in relation to image-based abuse")
                .contains(&"image-based-abuse")
        );
    }

    #[test]
    fn curly_quotes_and_case_do_not_matter() {
        assert!(
            slugs("‘Routine Enquiry’, pertaining to domestic abuse").contains(&"routine-enquiry")
        );
        assert!(slugs("discuss Clare’s Law").contains(&"perpetrator-management"));
    }

    #[test]
    fn a_bad_taxonomy_is_refused() {
        assert!(parse("a | A | x\na | B | y\n").is_err());
        assert!(parse("a | A |\n").is_err());
    }
}
