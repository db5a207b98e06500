//! Text similarity between recommendations: TF-IDF over stemmed words and word pairs
//! (so "routine enquiry" counts as a phrase, not two loose words), cosine of L2-normalised
//! vectors, and the top k neighbours of each recommendation stored as weighted edges.
//!
//! Kept by the write path: a write hands the recommendations it touched to the [`Upkeep`],
//! which rescores them and the neighbours they enter or leave ([`index`], [`upkeep`]), never
//! per request.

pub mod index;
pub mod upkeep;

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use sea_orm::{DatabaseConnection, DbErr};

pub use upkeep::{Policy, Settled, Status, Upkeep};

/// Neighbours kept per recommendation.
pub const TOP_K: usize = 20;
/// Below this cosine a neighbour is noise, not similarity.
pub const MIN_SCORE: f64 = 0.05;
/// Terms in more documents than this are left out of scoring (see [`neighbours`]).
pub const MAX_POSTINGS: usize = 2_000;

const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "do",
    "does",
    "each",
    "for",
    "from",
    "had",
    "has",
    "have",
    "how",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "may",
    "more",
    "must",
    "no",
    "not",
    "of",
    "on",
    "or",
    "other",
    "our",
    "should",
    "so",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "under",
    "up",
    "upon",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "will",
    "with",
    "within",
    "would",
    "recommended",
    "recommendation",
    "ensure",
    "consider",
    "considers",
    "review",
];

fn stemmer() -> &'static Stemmer {
    static S: OnceLock<Stemmer> = OnceLock::new();
    S.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// The features of a text: stems of its content words, and each adjacent pair of them.
pub fn features(text: &str) -> Vec<String> {
    let stems: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .map(|w| {
            // "GPs", "CCGs": the plural of an abbreviation, which no stemmer knows.
            let singular = match w.strip_suffix('s') {
                Some(stem) if stem.len() >= 2 && stem.chars().all(|c| c.is_ascii_uppercase()) => {
                    stem
                }
                _ => w,
            };
            singular.to_lowercase()
        })
        .filter(|w| w.len() > 1 && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stemmer().stem(&w).into_owned())
        .collect();
    let mut out = stems.clone();
    out.extend(stems.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

/// For each document, its nearest other documents by cosine (at most `k`, at least
/// `MIN_SCORE`), best first: a full build of the index, every document scored.
pub fn neighbours(docs: &[(i32, String)], k: usize) -> Vec<(i32, i32, f64)> {
    let index = index::Index::build(docs);
    index.all_top(k, threads(), &std::sync::atomic::AtomicUsize::new(0))
}

/// Cores for a full rebuild: documents are scored independently.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |p| p.get())
}

/// Recomputes every recommendation's neighbours and replaces the stored edges (a full
/// pass: `dhr-graph similarity rebuild`). Returns the number of edges.
pub async fn rebuild(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let upkeep = Upkeep::deferred(db.clone());
    upkeep.rebuild_requested();
    Ok(upkeep.settle().await?.edges)
}

/// Key of the PostgreSQL advisory lock that serialises writers of the edges ("DHRS" in
/// ASCII).
const REBUILD_LOCK: i64 = 0x4448_5253;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_stemmed_words_and_pairs() {
        let f = features("GPs should make routine enquiries");
        assert!(f.contains(&"gp".to_owned()), "{f:?}");
        assert!(f.contains(&"routin".to_owned()), "{f:?}");
        assert!(f.contains(&"routin enquiri".to_owned()), "{f:?}");
        assert!(!f.iter().any(|w| w == "should"));
    }

    #[test]
    fn nearest_texts_come_first() {
        let docs = vec![
            (
                1,
                "GP practices should make routine enquiry about domestic abuse".to_owned(),
            ),
            (
                2,
                "Routine enquiry about domestic abuse by GP practice staff".to_owned(),
            ),
            (
                3,
                "Police should review bail conditions for perpetrators".to_owned(),
            ),
            (
                4,
                "Housing providers should confirm identities at properties".to_owned(),
            ),
            (
                5,
                "Probation should review bail and licence conditions".to_owned(),
            ),
        ];
        let n = neighbours(&docs, 2);
        let of = |id: i32| -> Vec<i32> { n.iter().filter(|e| e.0 == id).map(|e| e.1).collect() };
        assert_eq!(of(1).first(), Some(&2));
        assert_eq!(of(3).first(), Some(&5));
        assert!(n.iter().all(|e| e.2 > 0.0 && e.2 <= 1.0 && e.0 != e.1));
        assert!(
            of(4).is_empty(),
            "nothing shares words with the housing text"
        );
    }
}
