//! Which stored recommendation a re-sent or re-ingested row is. A recommendation's id
//! carries its action plan and status history, so a row must find its own stored row
//! whatever moved around it: never by position (a row inserted above would hand every plan
//! below it to its neighbour), but by the sender's reference, then label and text exactly,
//! then text exactly (renumbered), then closely similar text (an edit).

use std::collections::BTreeSet;

use super::parse::ParsedRow;
use crate::domain::normalise::name_key;

/// A stored recommendation as the matcher sees it.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub label: String,
    pub text: String,
    pub external_ref: Option<String>,
    pub withdrawn: bool,
}

/// A same-label edit keeps the row at this word overlap (Dice); one under another label
/// needs more.
const SAME_LABEL: f64 = 0.5;
const ANY_LABEL: f64 = 0.8;

fn words(text: &str) -> BTreeSet<String> {
    name_key(text)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

fn same_text(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// For each row, the index of the stored row it is (`None`: a new recommendation). Each
/// stored row is taken once; among equal candidates a row still in the review wins over a
/// withdrawn one, and the earlier over the later.
pub fn match_rows(stored: &[StoredRow], rows: &[ParsedRow]) -> Vec<Option<usize>> {
    let mut out: Vec<Option<usize>> = vec![None; rows.len()];
    let mut taken = vec![false; stored.len()];
    // Candidates in preference order: active first, then withdrawn, each in stored order.
    let order: Vec<usize> = (0..stored.len())
        .filter(|&i| !stored[i].withdrawn)
        .chain((0..stored.len()).filter(|&i| stored[i].withdrawn))
        .collect();
    let mut pass = |out: &mut Vec<Option<usize>>, same: &dyn Fn(&ParsedRow, &StoredRow) -> bool| {
        for (r, row) in rows.iter().enumerate() {
            if out[r].is_some() {
                continue;
            }
            if let Some(&i) = order.iter().find(|&&i| !taken[i] && same(row, &stored[i])) {
                taken[i] = true;
                out[r] = Some(i);
            }
        }
    };
    pass(&mut out, &|row, s| {
        row.external_ref.is_some() && row.external_ref == s.external_ref
    });
    // A row that names its own reference is that recommendation or a new one: it never
    // takes a row the sender numbered otherwise.
    let unreferenced =
        |row: &ParsedRow, s: &StoredRow| s.external_ref.is_none() || row.external_ref.is_none();
    pass(&mut out, &|row, s| {
        unreferenced(row, s) && row.label == s.label && same_text(&row.text, &s.text)
    });
    pass(&mut out, &|row, s| {
        unreferenced(row, s) && same_text(&row.text, &s.text)
    });

    // Edits: the best remaining pairs first. Word sets only for what is left on both sides:
    // a new review (nothing stored) or an unchanged one (everything matched) costs nothing
    // here, and this was a quarter of ingest's extra cost per page.
    if out.iter().all(Option::is_some) || taken.iter().all(|t| *t) {
        return out;
    }
    let row_words: Vec<BTreeSet<String>> = rows
        .iter()
        .zip(&out)
        .map(|(r, o)| {
            if o.is_none() {
                words(&r.text)
            } else {
                BTreeSet::new()
            }
        })
        .collect();
    let stored_words: Vec<BTreeSet<String>> = stored
        .iter()
        .zip(&taken)
        .map(|(s, t)| if *t { BTreeSet::new() } else { words(&s.text) })
        .collect();
    let mut pairs = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        if out[r].is_some() {
            continue;
        }
        for (rank, &i) in order.iter().enumerate() {
            if taken[i] || !unreferenced(row, &stored[i]) {
                continue;
            }
            let score = dice(&row_words[r], &stored_words[i]);
            let floor = if row.label == stored[i].label {
                SAME_LABEL
            } else {
                ANY_LABEL
            };
            if score >= floor {
                pairs.push((score, row.label == stored[i].label, rank, r, i));
            }
        }
    }
    pairs.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    for (_, _, _, r, i) in pairs {
        if out[r].is_none() && !taken[i] {
            taken[i] = true;
            out[r] = Some(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, text: &str) -> ParsedRow {
        ParsedRow {
            label: label.into(),
            text: text.into(),
            addressees: vec![],
            external_ref: None,
            line: 0,
        }
    }

    fn stored(label: &str, text: &str) -> StoredRow {
        StoredRow {
            label: label.into(),
            text: text.into(),
            external_ref: None,
            withdrawn: false,
        }
    }

    const A: &str = "GP practices to make routine enquiry about domestic abuse.";
    const B: &str = "Police to review DASH risk assessment training for call handlers.";
    const C: &str = "Adult social care to audit carers' assessments.";

    #[test]
    fn an_inserted_row_takes_nobody_else_s_id() {
        let s = [stored("1", A), stored("2", B)];
        let rows = [row("1", A), row("1b", C), row("2", B)];
        assert_eq!(match_rows(&s, &rows), vec![Some(0), None, Some(1)]);
    }

    #[test]
    fn renumbered_and_edited_rows_keep_their_ids() {
        let s = [stored("1", A), stored("2", B), stored("3", C)];
        let edited = "Police to review the DASH risk assessment training given to call handlers.";
        let rows = [row("1", C), row("2", A), row("3", edited)];
        assert_eq!(match_rows(&s, &rows), vec![Some(2), Some(0), Some(1)]);
    }

    #[test]
    fn a_different_text_under_the_same_label_is_a_new_recommendation() {
        let s = [stored("1", A)];
        assert_eq!(match_rows(&s, &[row("1", B)]), vec![None]);
    }

    #[test]
    fn a_withdrawn_row_comes_back_but_an_active_twin_is_preferred() {
        let mut gone = stored("1", A);
        gone.withdrawn = true;
        let s = [gone.clone(), stored("1", A)];
        assert_eq!(match_rows(&s, &[row("1", A)]), vec![Some(1)]);
        assert_eq!(match_rows(&[gone], &[row("1", A)]), vec![Some(0)]);
    }

    #[test]
    fn references_match_first_and_only_their_own() {
        let mut s1 = stored("1", A);
        s1.external_ref = Some("r-1".into());
        let mut s2 = stored("2", B);
        s2.external_ref = Some("r-2".into());
        // The sender swapped the texts of its two references: each keeps its id.
        let mut r1 = row("1", B);
        r1.external_ref = Some("r-1".into());
        let mut r3 = row("3", A);
        r3.external_ref = Some("r-3".into());
        assert_eq!(match_rows(&[s1, s2], &[r1, r3]), vec![Some(0), None]);
    }

    #[test]
    fn duplicate_rows_take_one_stored_row_each() {
        let s = [stored("1", A), stored("2", A)];
        let rows = [row("1", A), row("2", A), row("3", A)];
        assert_eq!(match_rows(&s, &rows), vec![Some(0), Some(1), None]);
    }
}
