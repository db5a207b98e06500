//! Text similarity between recommendations: TF-IDF over stemmed words and word pairs
//! (so "routine enquiry" counts as a phrase, not two loose words), cosine of L2-normalised
//! vectors, and the top k neighbours of each recommendation stored as weighted edges.
//!
//! Rebuilt when data changes (after an ingest run), never per request.

use std::collections::HashMap;
use std::sync::OnceLock;

use entity::{recommendation, recommendation_similarity};
use rust_stemmers::{Algorithm, Stemmer};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryOrder, QuerySelect,
    Set,
};

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
/// `MIN_SCORE`), best first.
pub fn neighbours(docs: &[(i32, String)], k: usize) -> Vec<(i32, i32, f64)> {
    let n = docs.len();
    let mut vocab: HashMap<String, u32> = HashMap::new();
    let mut tfs: Vec<HashMap<u32, f64>> = Vec::with_capacity(n);
    let mut df: Vec<u32> = Vec::new();
    for (_, text) in docs {
        let mut tf: HashMap<u32, f64> = HashMap::new();
        for f in features(text) {
            let next = vocab.len() as u32;
            let id = *vocab.entry(f).or_insert(next);
            if id as usize == df.len() {
                df.push(0);
            }
            *tf.entry(id).or_insert(0.0) += 1.0;
        }
        for id in tf.keys() {
            df[*id as usize] += 1;
        }
        tfs.push(tf);
    }
    let idf: Vec<f64> = df
        .iter()
        .map(|d| ((n as f64 + 1.0) / (f64::from(*d) + 1.0)).ln() + 1.0)
        .collect();
    // Weighted, normalised vectors and the inverted index of their terms.
    let mut vectors: Vec<Vec<(u32, f64)>> = Vec::with_capacity(n);
    let mut postings: Vec<Vec<(u32, f64)>> = vec![Vec::new(); vocab.len()];
    for (doc, tf) in tfs.iter().enumerate() {
        let mut v: Vec<(u32, f64)> = tf
            .iter()
            .map(|(t, c)| (*t, (1.0 + c.ln()) * idf[*t as usize]))
            .collect();
        let norm = v.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
        if norm == 0.0 {
            v.clear();
        }
        // Term order fixes the order of the floating-point sums below, so a rebuild gives
        // the same scores to the last bit on every run.
        v.sort_unstable_by_key(|(t, _)| *t);
        for (t, w) in &mut v {
            *w /= norm;
            postings[*t as usize].push((doc as u32, *w));
        }
        vectors.push(v);
    }
    drop(tfs);
    // Terms in more than half the documents say little and cost most: skipped. So are terms
    // in more than MAX_POSTINGS documents: scoring costs the sum of the squares of the terms'
    // document counts, and at national scale a handful of phrases ("domestic abuse") would
    // cost more than all the rest while hardly moving a ranking (their idf is low).
    let common = |t: usize| postings[t].len() * 2 > n.max(4) || postings[t].len() > MAX_POSTINGS;
    let skip: Vec<bool> = (0..postings.len()).map(common).collect();
    let score_range = |range: std::ops::Range<usize>| {
        // A dense accumulator and the list of documents it touched: no hashing per pair.
        let mut acc = vec![0.0f64; n];
        let mut touched: Vec<u32> = Vec::new();
        let mut out = Vec::new();
        for doc in range {
            for (t, w) in &vectors[doc] {
                let t = *t as usize;
                if skip[t] {
                    continue;
                }
                for (other, w2) in &postings[t] {
                    let other = *other as usize;
                    if other != doc {
                        if acc[other] == 0.0 {
                            touched.push(other as u32);
                        }
                        acc[other] += w * w2;
                    }
                }
            }
            let mut best: Vec<(usize, f64)> = Vec::new();
            for other in touched.drain(..) {
                let other = other as usize;
                let s = std::mem::take(&mut acc[other]);
                if s >= MIN_SCORE {
                    best.push((other, s.min(1.0)));
                }
            }
            let order = |a: &(usize, f64), b: &(usize, f64)| {
                b.1.total_cmp(&a.1).then(docs[a.0].0.cmp(&docs[b.0].0))
            };
            if best.len() > k && k > 0 {
                best.select_nth_unstable_by(k - 1, order);
            }
            best.truncate(k);
            best.sort_by(order);
            out.extend(
                best.into_iter()
                    .map(|(other, s)| (docs[doc].0, docs[other].0, s)),
            );
        }
        out
    };
    // Documents are scored independently: contiguous ranges on every core, joined in order.
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n / 2_000 + 1);
    if threads <= 1 {
        return score_range(0..n);
    }
    let per = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let range = (i * per).min(n)..((i + 1) * per).min(n);
                scope.spawn(move || score_range(range))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Recomputes every recommendation's neighbours and replaces the stored edges, in one
/// transaction. Returns the number of edges.
pub async fn rebuild(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let edges = rebuild_in(&txn).await?;
    txn.commit().await?;
    Ok(edges)
}

/// [`rebuild`] inside the caller's transaction (an import rebuilds with the rows it writes,
/// so that a failure takes both back).
pub async fn rebuild_in<C: ConnectionTrait>(txn: &C) -> Result<usize, DbErr> {
    // Rebuilds run one at a time, each reading the recommendations under its own lock, so
    // two concurrent ingest runs cannot interleave a delete and another's inserts.
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({REBUILD_LOCK})"))
            .await?;
        // A rebuild is batch work: the server's per-statement timeout is for requests.
        txn.execute_unprepared("SET LOCAL statement_timeout = 0")
            .await?;
    }
    let docs: Vec<(i32, String)> = recommendation::Entity::find()
        .select_only()
        .column(recommendation::Column::Id)
        .column(recommendation::Column::Text)
        .order_by_asc(recommendation::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    // Scoring is seconds of CPU at scale: off the async workers, which keep serving.
    let edges = tokio::task::spawn_blocking(move || neighbours(&docs, TOP_K))
        .await
        .map_err(|e| DbErr::Custom(format!("similarity scoring failed: {e}")))?;
    recommendation_similarity::Entity::delete_many()
        .exec(txn)
        .await?;
    for chunk in edges.chunks(1000) {
        let rows = chunk
            .iter()
            .map(|(a, b, s)| recommendation_similarity::ActiveModel {
                recommendation_id: Set(*a),
                other_id: Set(*b),
                score: Set(*s),
            });
        recommendation_similarity::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(edges.len())
}

/// Key of the PostgreSQL advisory lock that serialises rebuilds ("DHRS" in ASCII).
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

/// Rebuilds similarity edges in the background after writes through the API, so a mutation
/// answers without waiting for it. Requests made during a rebuild coalesce into one more.
#[derive(Clone)]
pub struct Refresher(std::sync::Arc<tokio::sync::Notify>);

impl Refresher {
    pub fn spawn(db: DatabaseConnection) -> Self {
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let worker = wake.clone();
        tokio::spawn(async move {
            loop {
                worker.notified().await;
                match rebuild(&db).await {
                    Ok(edges) => tracing::debug!(edges, "similarity edges rebuilt"),
                    Err(e) => tracing::warn!(error = %e, "similarity rebuild failed"),
                }
            }
        });
        Refresher(wake)
    }

    pub fn request(&self) {
        self.0.notify_one();
    }
}
