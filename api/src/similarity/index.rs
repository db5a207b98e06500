//! The in-memory inverted index behind similarity: each recommendation's TF-IDF vector and,
//! per term, the recommendations that hold it. Built whole for a full rebuild; then kept in
//! step one recommendation at a time, so that a write rescores only what it touched.
//!
//! Term weights use the inverse document frequencies of the corpus the index was built from
//! (its *epoch*): a document added later is weighted with them, a term first seen later gets
//! the weight of a term in one document of the epoch. Keeping the weights fixed is what makes
//! every stored vector, and so every stored score, comparable with a new one; the price is
//! drift from what a full rebuild would give as the corpus grows, which the upkeep bounds by
//! rebuilding once enough has changed (see `upkeep`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{MAX_POSTINGS, MIN_SCORE, features};

/// A document's slot in the index.
type Slot = u32;

pub struct Index {
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// Terms left out of scoring: in more than half the epoch's documents, or in more than
    /// [`MAX_POSTINGS`] of them. They say little and cost most.
    skip: Vec<bool>,
    /// Per scored term, the documents holding it and its weight there.
    postings: Vec<Vec<(Slot, f32)>>,
    /// Per slot, the document's scored terms and weights (normalised over all its terms).
    vectors: Vec<Box<[(u32, f32)]>>,
    /// Per slot, the recommendation id (0 for a free slot).
    ids: Vec<i32>,
    slot_of: HashMap<i32, Slot>,
    free: Vec<Slot>,
    /// Documents in the epoch.
    epoch: usize,
}

/// A reusable accumulator for scoring one document against all others.
pub struct Scratch {
    acc: Vec<f64>,
    hit: Vec<Slot>,
}

impl Index {
    /// Builds the index of `docs` (the epoch).
    pub fn build(docs: &[(i32, String)]) -> Index {
        let n = docs.len();
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut tfs: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n);
        let mut df: Vec<u32> = Vec::new();
        for (_, text) in docs {
            let tf = term_counts(&mut vocab, &mut df, text);
            for (id, _) in &tf {
                df[*id as usize] += 1;
            }
            tfs.push(tf);
        }
        let idf: Vec<f32> = df.iter().map(|d| idf(n, *d as usize)).collect();
        let skip: Vec<bool> = df
            .iter()
            .map(|d| (*d as usize) * 2 > n.max(4) || *d as usize > MAX_POSTINGS)
            .collect();
        let mut index = Index {
            postings: vec![Vec::new(); vocab.len()],
            vocab,
            idf,
            skip,
            vectors: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            slot_of: HashMap::with_capacity(n),
            free: Vec::new(),
            epoch: n,
        };
        for ((id, _), tf) in docs.iter().zip(tfs) {
            index.place(*id, &tf);
        }
        // Grown one push at a time, a posting list holds up to twice its length; the server
        // keeps the index for as long as it runs.
        for p in &mut index.postings {
            p.shrink_to_fit();
        }
        index.vocab.shrink_to_fit();
        index
    }

    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Documents in the corpus the weights come from.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    pub fn contains(&self, id: i32) -> bool {
        self.slot_of.contains_key(&id)
    }

    /// Adds (or replaces) a document, weighted with the epoch's frequencies.
    pub fn insert(&mut self, id: i32, text: &str) {
        self.remove(id);
        let mut df = vec![0; self.idf.len()];
        let tf = term_counts(&mut self.vocab, &mut df, text);
        while self.idf.len() < self.vocab.len() {
            // A term the epoch never saw: weighted as a term of one document, and scored.
            self.idf.push(idf(self.epoch, 1));
            self.skip.push(false);
            self.postings.push(Vec::new());
        }
        self.place(id, &tf);
    }

    /// Removes a document; an unknown id is not an error.
    pub fn remove(&mut self, id: i32) {
        let Some(slot) = self.slot_of.remove(&id) else {
            return;
        };
        let vector = std::mem::take(&mut self.vectors[slot as usize]);
        for (t, _) in vector.iter() {
            self.postings[*t as usize].retain(|(s, _)| *s != slot);
        }
        self.ids[slot as usize] = 0;
        self.free.push(slot);
    }

    fn place(&mut self, id: i32, tf: &[(u32, f32)]) {
        let mut v: Vec<(u32, f32)> = tf
            .iter()
            .map(|(t, c)| (*t, (1.0 + c.ln()) * self.idf[*t as usize]))
            .collect();
        let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm == 0.0 {
            v.clear();
        }
        v.retain(|(t, _)| !self.skip[*t as usize]);
        // Term order fixes the order of the floating-point sums in scoring, so that a
        // rebuild gives the same scores to the last bit on every run.
        v.sort_unstable_by_key(|(t, _)| *t);
        for (_, w) in &mut v {
            *w /= norm;
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.ids[s as usize] = id;
                self.vectors[s as usize] = v.into_boxed_slice();
                s
            }
            None => {
                self.ids.push(id);
                self.vectors.push(v.into_boxed_slice());
                (self.ids.len() - 1) as Slot
            }
        };
        for (t, w) in self.vectors[slot as usize].iter() {
            self.postings[*t as usize].push((slot, *w));
        }
        self.slot_of.insert(id, slot);
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            acc: vec![0.0; self.ids.len()],
            hit: Vec::new(),
        }
    }

    /// Every other document scoring at least [`MIN_SCORE`] against `id`, unordered.
    pub fn scores(&self, id: i32, scratch: &mut Scratch) -> Vec<(i32, f64)> {
        let Some(&slot) = self.slot_of.get(&id) else {
            return Vec::new();
        };
        self.scores_of_slot(slot, scratch)
    }

    fn scores_of_slot(&self, slot: Slot, scratch: &mut Scratch) -> Vec<(i32, f64)> {
        if scratch.acc.len() < self.ids.len() {
            scratch.acc.resize(self.ids.len(), 0.0);
        }
        for (t, w) in self.vectors[slot as usize].iter() {
            for (other, w2) in &self.postings[*t as usize] {
                if *other != slot {
                    let a = &mut scratch.acc[*other as usize];
                    if *a == 0.0 {
                        scratch.hit.push(*other);
                    }
                    *a += f64::from(*w) * f64::from(*w2);
                }
            }
        }
        let mut out = Vec::with_capacity(scratch.hit.len());
        for other in scratch.hit.drain(..) {
            let s = std::mem::take(&mut scratch.acc[other as usize]);
            if s >= MIN_SCORE {
                out.push((self.ids[other as usize], s.min(1.0)));
            }
        }
        out
    }

    /// The `k` nearest documents to `id`, best first (ties by id).
    pub fn top(&self, id: i32, k: usize, scratch: &mut Scratch) -> Vec<(i32, f64)> {
        top_k(self.scores(id, scratch), k)
    }

    /// Every document's `k` nearest, as `(id, other, score)` in id order of `id`, on up to
    /// `threads` threads; `progress` counts documents scored.
    pub fn all_top(
        &self,
        k: usize,
        threads: usize,
        progress: &AtomicUsize,
    ) -> Vec<(i32, i32, f64)> {
        let mut slots: Vec<Slot> = self.slot_of.values().copied().collect();
        slots.sort_unstable_by_key(|s| self.ids[*s as usize]);
        let score = |part: &[Slot]| {
            let mut scratch = self.scratch();
            let mut out = Vec::new();
            for slot in part {
                let id = self.ids[*slot as usize];
                let best = top_k(self.scores_of_slot(*slot, &mut scratch), k);
                out.extend(best.into_iter().map(|(other, s)| (id, other, s)));
                progress.fetch_add(1, Ordering::Relaxed);
            }
            out
        };
        let threads = threads.clamp(1, slots.len() / 2_000 + 1);
        if threads == 1 {
            return score(&slots);
        }
        let per = slots.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = slots
                .chunks(per)
                .map(|part| scope.spawn(move || score(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }
}

/// Best first, ties by id, at most `k`.
pub fn top_k(mut best: Vec<(i32, f64)>, k: usize) -> Vec<(i32, f64)> {
    let order = |a: &(i32, f64), b: &(i32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k == 0 {
        return Vec::new();
    }
    if best.len() > k {
        best.select_nth_unstable_by(k - 1, order);
        best.truncate(k);
    }
    best.sort_by(order);
    best
}

fn idf(n: usize, df: usize) -> f32 {
    (((n as f64 + 1.0) / (df as f64 + 1.0)).ln() + 1.0) as f32
}

/// The document's term ids (new terms enter the vocabulary) and their counts, by term id.
fn term_counts(vocab: &mut HashMap<String, u32>, df: &mut Vec<u32>, text: &str) -> Vec<(u32, f32)> {
    let mut tf: HashMap<u32, f32> = HashMap::new();
    for f in features(text) {
        let next = vocab.len() as u32;
        let id = *vocab.entry(f).or_insert(next);
        if id as usize == df.len() {
            df.push(0);
        }
        *tf.entry(id).or_insert(0.0) += 1.0;
    }
    // In term order: the norm is summed in this order, and a hash map's order differs from
    // one map to the next, which moved scores in their last bits between a rebuild and an
    // insert of the same text.
    let mut out: Vec<(u32, f32)> = tf.into_iter().collect();
    out.sort_unstable_by_key(|(t, _)| *t);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<(i32, String)> {
        [
            "GP practices should make routine enquiry about domestic abuse",
            "Routine enquiry about domestic abuse by GP practice staff",
            "Police should review bail conditions for perpetrators",
            "Probation should review bail and licence conditions",
            "Housing providers should confirm identities at properties",
            "Adult social care should train staff in coercive control",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| (i as i32 + 1, (*t).to_owned()))
        .collect()
    }

    #[test]
    fn removing_and_inserting_again_gives_the_same_scores() {
        let d = docs();
        let built = Index::build(&d);
        let mut edited = Index::build(&d);
        edited.remove(2);
        assert!(!edited.contains(2));
        assert!(
            edited
                .top(1, 5, &mut edited.scratch())
                .iter()
                .all(|(o, _)| *o != 2)
        );
        edited.insert(2, &d[1].1);
        let a = built.top(1, 5, &mut built.scratch());
        let b = edited.top(1, 5, &mut edited.scratch());
        assert_eq!(a, b);
        assert_eq!(a.first().map(|x| x.0), Some(2));
    }

    #[test]
    fn a_new_document_is_found_by_its_neighbours() {
        let mut index = Index::build(&docs());
        index.insert(
            7,
            "Police forces should review bail conditions at every arrest",
        );
        let top = index.top(7, 3, &mut index.scratch());
        assert_eq!(top.first().map(|x| x.0), Some(3), "{top:?}");
        let of3 = index.top(3, 3, &mut index.scratch());
        assert!(of3.iter().any(|(o, _)| *o == 7), "{of3:?}");
    }
}
