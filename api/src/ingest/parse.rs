//! Parser of review summary pages (the DHR Library format of accountabilityindex.uk).
//!
//! Two layouts are read: the table layout (header fields on their own lines, a markdown table)
//! and the flat layout a browser's copy gives (header on one line, rows as
//! `<label> <text> <addressee>` with no delimiters). The parser is pure: text in, a
//! [`ParsedPage`] or a [`ParseError`] naming the line out. It never panics on any input.

use serde::Serialize;

use crate::domain::{ReviewType, YearMonth};

/// Trims and collapses runs of whitespace; every other character stays as printed (curly
/// quotes included: texts are quoted back to people, so they must match the report).
fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Upper bounds that keep one hostile page from costing unbounded work or storage.
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_LABEL_CHARS: usize = 40;
pub const MAX_ROWS: usize = 2_000;

/// A page read successfully. Rows keep their printed order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedPage {
    /// The caller's own identifier (`upsertReview`); pages read from text have none.
    pub external_ref: Option<String>,
    pub source_url: Option<String>,
    pub title: String,
    pub review_type: ReviewType,
    /// CSP names as printed; a joint review names several.
    pub csps: Vec<String>,
    pub published: YearMonth,
    pub year_of_death: Option<i32>,
    pub stated_count: Option<i32>,
    pub summary: String,
    pub rows: Vec<ParsedRow>,
    /// Fewer rows than stated, or a row cut mid-text.
    pub incomplete: bool,
    /// Rows that were not stored or not fully understood, for the ingest report.
    #[serde(skip)]
    pub notes: Vec<RowNote>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedRow {
    pub label: String,
    pub text: String,
    /// One entry per "addressed to" cell, as printed (tidied).
    pub addressees: Vec<String>,
    /// The sender's own id of the row (an upsert's); a page has none. Left out of the
    /// content hash when absent, so that pages hash as they always did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(skip)]
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowNote {
    pub line: usize,
    pub kind: NoteKind,
    /// The start of the row, for a person to find it.
    pub excerpt: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// The row was cut mid-text by a truncated page: reported, not stored.
    CutShort,
    /// A flat-layout row whose addressee could not be told apart from its text reliably:
    /// stored with its whole text and no addressee.
    AddresseeNotSplit,
    /// A row with a label but no text: not stored.
    EmptyText,
}

impl std::fmt::Display for NoteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoteKind::CutShort => "row cut short by a truncated page; not stored",
            NoteKind::AddresseeNotSplit => {
                "addressee could not be split from the text reliably; stored without addressee"
            }
            NoteKind::EmptyText => "row has no recommendation text; not stored",
        })
    }
}

/// Why a page could not be read at all. `line` is 1-based; 0 means the page as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

fn err<T>(line: usize, reason: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        reason: reason.into(),
    })
}

const FIELD_LABELS: [&str; 5] = [
    "CSPs:",
    "CSP:",
    "Published:",
    "Year of death:",
    "Extracted:",
];
const FOOTER_PREFIX: &str = "Recommendations extracted from";
const FLAT_TABLE_HEADER: &str = "# Recommendation Addressed to";

/// Splits one header line into `(label, value)` pairs; a flat page has all of them on one line.
fn header_fields(line: &str) -> Vec<(&'static str, &str)> {
    let mut found: Vec<(usize, &'static str)> = Vec::new();
    for label in FIELD_LABELS {
        let mut from = 0;
        while let Some(pos) = line[from..].find(label) {
            let at = from + pos;
            // A label counts only at a word start, and never inside another label's match.
            let at_word_start = at == 0 || line[..at].ends_with(char::is_whitespace);
            if at_word_start && !found.iter().any(|(p, l)| at >= *p && at < p + l.len()) {
                found.push((at, label));
            }
            from = at + label.len();
        }
    }
    found.sort();
    found
        .iter()
        .enumerate()
        .map(|(i, (at, label))| {
            let end = found.get(i + 1).map_or(line.len(), |(next, _)| *next);
            (*label, line[at + label.len()..end].trim())
        })
        .collect()
}

/// Reads a review page.
pub fn parse_page(text: &str) -> Result<ParsedPage, ParseError> {
    if text.trim().is_empty() {
        return err(0, "the page is empty");
    }
    if text.len() > MAX_PAGE_BYTES {
        return err(
            0,
            format!(
                "page is {} bytes; the limit is {MAX_PAGE_BYTES}",
                text.len()
            ),
        );
    }
    if text.contains('\0') {
        return err(0, "page contains NUL bytes: not a text page");
    }
    // Other control characters carry no meaning in a page, but one inside a footer or a
    // marker hides it (found by the property tests): drop them before reading. Line breaks
    // and tabs stay, so line numbers in errors still match the file.
    let cleaned: String;
    let text = if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        cleaned = text
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
            .collect();
        cleaned.as_str()
    } else {
        text
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let numbered = || lines.iter().enumerate().map(|(i, l)| (i + 1, *l));

    let source_url = numbered()
        .find_map(|(_, l)| l.strip_prefix("SOURCE:"))
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    let kind_line = numbered().find(|(_, l)| l.starts_with("Source ·"));
    let review_type = kind_line.map_or(ReviewType::Dhr, |(_, l)| ReviewType::from_kind_line(l));

    // The header: every line carrying a field label, up to the summary.
    let summary_at = numbered()
        .find(|(_, l)| *l == "Summary")
        .map(|(n, _)| n)
        .unwrap_or(usize::MAX);
    let mut csps = Vec::new();
    let mut published = None;
    let mut year_of_death = None;
    let mut stated_count = None;
    let mut first_header_line = None;
    for (n, line) in numbered().take_while(|(n, _)| *n < summary_at) {
        let fields = header_fields(line);
        if fields.is_empty() || !line.starts_with(fields[0].0) {
            continue;
        }
        first_header_line.get_or_insert(n);
        for (label, value) in fields {
            match label {
                "CSP:" | "CSPs:" => {
                    csps.extend(value.split(';').map(tidy).filter(|s| !s.is_empty()));
                }
                "Published:" => {
                    published = Some(YearMonth::parse_printed(value).map_err(|e| ParseError {
                        line: n,
                        reason: format!("Published: {e}"),
                    })?);
                }
                "Year of death:" => year_of_death = parse_year_of_death(n, value)?,
                "Extracted:" => {
                    let count = value
                        .split_whitespace()
                        .next()
                        .and_then(|c| c.parse::<i32>().ok())
                        .filter(|c| *c >= 0);
                    stated_count = Some(count.ok_or_else(|| ParseError {
                        line: n,
                        reason: format!("Extracted: expected \"N recs\", found {value:?}"),
                    })?);
                }
                _ => {}
            }
        }
    }
    let Some(header_line) = first_header_line else {
        return err(
            1,
            "no review header: expected a line starting with \"CSP:\" before the summary",
        );
    };
    if csps.is_empty() {
        return err(header_line, "no CSP named: \"CSP:\" is empty or missing");
    }
    let Some(published) = published else {
        return err(header_line, "no \"Published:\" month in the header");
    };

    // The title: the last line before the header that is not the kind line.
    let title = lines[..header_line - 1]
        .iter()
        .rev()
        .find(|l| !l.is_empty() && !l.starts_with("Source ·") && !l.starts_with("SOURCE:"))
        .filter(|l| l.len() <= 200 && !l.starts_with("About this page"))
        .map(|l| tidy(l))
        .unwrap_or_else(|| format!("{} review", csps[0]));

    let table_at = numbered()
        .skip(header_line)
        .find(|(_, l)| l.starts_with('|') || *l == FLAT_TABLE_HEADER)
        .map(|(n, _)| n);
    let summary_end = numbered()
        .skip(summary_at.min(lines.len()))
        .find(|(_, l)| *l == "Extracted recommendations")
        .map(|(n, _)| n)
        .or(table_at)
        .unwrap_or(lines.len() + 1);
    let summary = if summary_at == usize::MAX {
        String::new()
    } else {
        lines[summary_at.min(lines.len())..summary_end.saturating_sub(1).max(summary_at)]
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| tidy(l))
            .collect::<Vec<_>>()
            .join("\n\n")
    };

    let mut page = ParsedPage {
        external_ref: None,
        source_url,
        title,
        review_type,
        csps,
        published,
        year_of_death,
        stated_count,
        summary,
        rows: Vec::new(),
        incomplete: false,
        notes: Vec::new(),
    };
    if let Some(start) = table_at {
        let body: Vec<(usize, &str)> = numbered().skip(start - 1).collect();
        if lines[start - 1] == FLAT_TABLE_HEADER {
            parse_flat_rows(&mut page, &body[1..])?;
        } else {
            parse_table_rows(&mut page, &body)?;
        }
    }
    if page.rows.len() > MAX_ROWS {
        return err(0, format!("page has more than {MAX_ROWS} rows"));
    }
    let short = page
        .stated_count
        .is_some_and(|n| (page.rows.len() as i64) < i64::from(n));
    page.incomplete = short || page.notes.iter().any(|n| n.kind == NoteKind::CutShort);
    Ok(page)
}

fn parse_year_of_death(line: usize, value: &str) -> Result<Option<i32>, ParseError> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("unknown") || v.eq_ignore_ascii_case("not known") {
        return Ok(None);
    }
    match v.parse::<i32>() {
        Ok(y) if (1900..=2999).contains(&y) => Ok(Some(y)),
        _ => err(
            line,
            format!("Year of death: expected a year such as 2018, found {v:?}"),
        ),
    }
}

fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(60).collect();
    if e.len() < s.len() {
        e.push('…');
    }
    e
}

fn check_label(line: usize, label: &str) -> Result<(), ParseError> {
    if label.chars().count() > MAX_LABEL_CHARS {
        return err(
            line,
            format!("recommendation label longer than {MAX_LABEL_CHARS} characters"),
        );
    }
    Ok(())
}

fn parse_table_rows(page: &mut ParsedPage, body: &[(usize, &str)]) -> Result<(), ParseError> {
    let last_row_line = body
        .iter()
        .rev()
        .find(|(_, l)| l.starts_with('|'))
        .map(|(n, _)| *n);
    let has_footer = body
        .iter()
        .any(|(_, l)| l.trim_start_matches(['|', ' ']).starts_with(FOOTER_PREFIX));
    for &(n, line) in body {
        if !line.starts_with('|') {
            continue;
        }
        let closed = line.len() > 1 && line.ends_with('|');
        let inner = line.trim_start_matches('|');
        let inner = if closed {
            inner.strip_suffix('|').unwrap_or(inner)
        } else {
            inner
        };
        let mut cells: Vec<&str> = inner.split('|').map(str::trim).collect();
        while cells.last().is_some_and(|c| c.is_empty()) {
            cells.pop();
        }
        let first = cells.first().copied().unwrap_or("");
        let is_separator = cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')));
        if first == "#" || is_separator || first.starts_with(FOOTER_PREFIX) {
            continue;
        }
        let label = tidy(first);
        let text = cells.get(1).map(|t| tidy(t)).unwrap_or_default();
        // A cell with no letter or digit ("—", "-") names nobody.
        let addressees: Vec<String> = cells
            .iter()
            .skip(2)
            .map(|c| tidy(c))
            .filter(|c| c.chars().any(char::is_alphanumeric))
            .flat_map(|c| split_cell(&c))
            .collect();
        // A truncated page ends mid-row: no closing bar, or (cut exactly at a bar) a last row
        // without its addressee on a page that lost its footer.
        let cut = !closed || (Some(n) == last_row_line && !has_footer && addressees.is_empty());
        if cut {
            page.notes.push(RowNote {
                line: n,
                kind: NoteKind::CutShort,
                excerpt: excerpt(&format!("{label} {text}")),
            });
            continue;
        }
        check_label(n, &label)?;
        if text.is_empty() {
            page.notes.push(RowNote {
                line: n,
                kind: NoteKind::EmptyText,
                excerpt: excerpt(&label),
            });
            continue;
        }
        page.rows.push(ParsedRow {
            external_ref: None,
            label,
            text,
            addressees,
            line: n,
        });
    }
    Ok(())
}

/// One cell naming several bodies ("Kent Police; KMPT", "Police / Probation") is several
/// addressees, but only when every part is a name the registry reads and the whole is not
/// ("Kent, Surrey and Sussex CRC" stays one).
fn split_cell(cell: &str) -> Vec<String> {
    use crate::registry::resolve::is_addressee;
    if is_addressee(cell) {
        return vec![cell.to_owned()];
    }
    for sep in ["; ", " / ", ", "] {
        let parts: Vec<&str> = cell
            .split(sep)
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() > 1 && parts.iter().all(|p| is_addressee(p)) {
            return parts.into_iter().map(str::to_owned).collect();
        }
    }
    vec![cell.to_owned()]
}

/// Splits `<label> <rest>` where labels look like `5`, `5.1`, `10.4a`, `17.1.1` or `9.1 a`.
fn split_flat_label(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return None;
    }
    while i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        i += 1;
        digits(&mut i);
    }
    if i < bytes.len() && bytes[i].is_ascii_lowercase() {
        i += 1;
    } else if i + 3 < bytes.len()
        && bytes[i] == b' '
        && bytes[i + 1].is_ascii_lowercase()
        && bytes[i + 2] == b' '
        && bytes[i + 3].is_ascii_uppercase()
    {
        // "9.1 a There is...": a sub-letter, then the text starting with a capital.
        i += 2;
    }
    if i < bytes.len() && bytes[i] != b' ' {
        return None;
    }
    Some((&line[..i], line[i..].trim_start()))
}

const CONNECTORS: [&str; 12] = [
    "and", "of", "the", "for", "&", "with", "in", "on", "to", "at", "upon", "de",
];

/// Words after which a capitalised run continues the sentence ("... share with the Council"),
/// so it is not the addressee.
const SENTENCE_WORDS: [&str; 24] = [
    "the",
    "a",
    "an",
    "to",
    "with",
    "by",
    "from",
    "and",
    "or",
    "of",
    "for",
    "in",
    "on",
    "at",
    "that",
    "as",
    "between",
    "within",
    "into",
    "across",
    "including",
    "via",
    "all",
    "both",
];

/// Most words of one addressee name, and of a tail holding several.
const MAX_NAME_WORDS: usize = 14;

/// Capitalised words, connectors, abbreviations: how a name looks.
fn name_shaped(who: &str) -> bool {
    let words: Vec<&str> = who.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= MAX_NAME_WORDS
        && !who.contains(['.', '?', '!', ':'])
        && words[0].chars().next().is_some_and(char::is_uppercase)
        && words.iter().all(|w| {
            CONNECTORS.contains(&w.to_lowercase().as_str())
                || w.chars()
                    .next()
                    .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
                || w.starts_with('(')
        })
}

/// Splits a run of names printed without separators ("Home Office Ministry of Justice") into
/// the fewest names the registry resolves, or `None` when some part is not a known name.
fn segment_names(tail: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = tail.split_whitespace().collect();
    let n = words.len();
    if n == 0 || n > MAX_NAME_WORDS {
        return None;
    }
    // best[i]: the cheapest names covering words[i..] (known names cost less than
    // rule-shaped ones), with where the first one ends.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[n] = Some((0, n));
    for i in (0..n).rev() {
        for j in (i + 1..=n).rev() {
            let Some((rest, _)) = best[j] else { continue };
            let candidate = words[i..j].join(" ");
            let name = candidate.trim_end_matches([',', ';']);
            if let Some(cost) = crate::registry::resolve::name_cost(name)
                && best[i].is_none_or(|(total, _)| rest + cost < total)
            {
                best[i] = Some((rest + cost, j));
            }
        }
    }
    let mut names = Vec::new();
    let mut i = 0;
    while i < n {
        let (_, j) = best[i]?;
        names.push(tidy(words[i..j].join(" ").trim_end_matches([',', ';'])));
        i = j;
    }
    Some(names)
}

/// The addressees at the end of a flat row, if they can be told apart reliably:
/// - a ` | `-separated list (the first name ends the text);
/// - after the last sentence end (`.`, `;`, `?`, `!`, `)`, a bullet), a name-shaped tail,
///   split into the names the registry knows where it holds several;
/// - with no sentence end before them (rows without a full stop, bulleted rows), the longest
///   tail that is wholly known names and does not continue the sentence.
fn split_flat_addressee(rest: &str) -> Option<(&str, Vec<String>)> {
    if let Some(bar) = rest.find(" | ") {
        let (text, mut names) = split_flat_tail(&rest[..bar])?;
        names.extend(
            rest[bar + 3..]
                .split(" | ")
                .map(tidy)
                .filter(|n| n.chars().any(char::is_alphanumeric)),
        );
        return Some((text, names));
    }
    split_flat_tail(rest)
}

fn split_flat_tail(rest: &str) -> Option<(&str, Vec<String>)> {
    let rest = rest.trim_end();
    let ends = [
        ". ", ".) ", "? ", "! ", ".” ", ".\" ", ".’ ", ".' ", ") ", "; ", "• ", ": ",
    ];
    if let Some((cut, end_len)) = ends
        .iter()
        .filter_map(|e| rest.rfind(e).map(|p| (p, e.len())))
        .max_by_key(|(p, _)| *p)
    {
        let text = rest[..cut + end_len - 1].trim();
        let who = rest[cut + end_len..].trim();
        let cost = crate::registry::resolve::name_cost(who);
        let shaped = name_shaped(who) || (cost.is_some() && !who.contains(['.', '?', '!']));
        if shaped && !text.is_empty() && !text.ends_with(['•', ':']) {
            let names = if cost == Some(1) {
                vec![tidy(who)]
            } else {
                segment_names(who).unwrap_or_else(|| vec![tidy(who)])
            };
            return Some((text, names));
        }
    }
    let starts: Vec<usize> = rest
        .char_indices()
        .filter(|(i, c)| {
            !c.is_whitespace() && (*i == 0 || rest[..*i].ends_with(char::is_whitespace))
        })
        .map(|(i, _)| i)
        .collect();
    // At least three words of text must stay: a row is a recommendation first.
    let most = starts.len().saturating_sub(3).min(MAX_NAME_WORDS);
    for k in (1..=most).rev() {
        let at = starts[starts.len() - k];
        let tail = &rest[at..];
        if !name_shaped(tail) {
            continue;
        }
        let before = rest[..at].trim_end();
        let prev = before
            .rsplit(char::is_whitespace)
            .next()
            .unwrap_or("")
            .to_lowercase();
        if SENTENCE_WORDS.contains(&prev.as_str()) {
            continue;
        }
        if let Some(names) = segment_names(tail) {
            return Some((before.trim_end_matches([',', '•']).trim(), names));
        }
    }
    None
}

fn parse_flat_rows(page: &mut ParsedPage, body: &[(usize, &str)]) -> Result<(), ParseError> {
    let has_footer = body.iter().any(|(_, l)| l.starts_with(FOOTER_PREFIX));
    let rows: Vec<(usize, &str)> = body
        .iter()
        .copied()
        .take_while(|(_, l)| !l.starts_with(FOOTER_PREFIX))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let stated = page.stated_count.map_or(usize::MAX, |c| c as usize);
    for (i, &(n, line)) in rows.iter().enumerate() {
        let Some((label, rest)) = split_flat_label(line) else {
            // Not a row start: "4 recommendations pulled from the report" style prose is
            // skipped; anything else is the cut tail of a page.
            continue;
        };
        if rest
            .to_ascii_lowercase()
            .starts_with("recommendations pulled")
        {
            continue;
        }
        check_label(n, label)?;
        let is_last = i + 1 == rows.len();
        // A page cut mid-row loses its footer and the rows after: the last row is the cut one.
        if is_last && !has_footer && page.rows.len() < stated && page.stated_count.is_some() {
            let complete_count = page.rows.len() + 1 == stated;
            if !complete_count || split_flat_addressee(rest).is_none() {
                page.notes.push(RowNote {
                    line: n,
                    kind: NoteKind::CutShort,
                    excerpt: excerpt(line),
                });
                continue;
            }
        }
        let (text, addressees) = match split_flat_addressee(rest) {
            Some((text, who)) => (tidy(text), who),
            None => {
                page.notes.push(RowNote {
                    line: n,
                    kind: NoteKind::AddresseeNotSplit,
                    excerpt: excerpt(line),
                });
                (tidy(rest), Vec::new())
            }
        };
        // A label with nothing after it (or only an addressee) is no recommendation.
        if text.is_empty() {
            page.notes.push(RowNote {
                line: n,
                kind: NoteKind::EmptyText,
                excerpt: excerpt(line),
            });
            continue;
        }
        page.rows.push(ParsedRow {
            external_ref: None,
            label: tidy(label),
            text,
            addressees,
            line: n,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Source · Domestic Homicide Review\nTown review\nCSP: Town\nPublished: June 2023\nYear of death: 2018\nExtracted: 2 recs\nSummary\nA summary.\nExtracted recommendations\n| # | Recommendation | Addressed to |\n|---|---|---|\n| 1 | Do a thing. | GP practice |\n| 1 | Do another. | Kent Police | KMPT |\n| Recommendations extracted from the published report. | ||\n";

    #[test]
    fn reads_a_table_page() {
        let p = parse_page(TABLE).unwrap();
        assert_eq!(p.title, "Town review");
        assert_eq!(p.csps, vec!["Town"]);
        assert_eq!(p.published.to_string(), "2023-06");
        assert_eq!(p.year_of_death, Some(2018));
        assert_eq!(p.summary, "A summary.");
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[1].addressees, vec!["Kent Police", "KMPT"]);
        assert!(!p.incomplete);
    }

    #[test]
    fn a_cut_row_is_reported_not_stored() {
        let cut = TABLE.replace(
            "| 1 | Do another. | Kent Police | KMPT |\n| Recommendations extracted from the published report. | ||\n",
            "| 2 | Do anoth",
        );
        let p = parse_page(&cut).unwrap();
        assert_eq!(p.rows.len(), 1);
        assert!(p.incomplete);
        assert_eq!(p.notes[0].kind, NoteKind::CutShort);
        assert_eq!(p.notes[0].line, 13);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_page("hello\nworld\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_page(&TABLE.replace("June 2023", "Juned 2023")).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.reason.contains("Published"), "{e}");
        let e = parse_page(&TABLE.replace("CSP: Town", "CSP:")).unwrap_err();
        assert!(e.reason.contains("CSP"), "{e}");
    }

    #[test]
    fn flat_labels() {
        assert_eq!(
            split_flat_label("9.1 a There is"),
            Some(("9.1 a", "There is"))
        );
        assert_eq!(
            split_flat_label("10.4a GP practices"),
            Some(("10.4a", "GP practices"))
        );
        assert_eq!(
            split_flat_label("1 a lead agency"),
            Some(("1", "a lead agency"))
        );
        assert_eq!(split_flat_label("Summary"), None);
    }

    #[test]
    fn flat_addressee_split_only_when_name_shaped() {
        assert_eq!(
            split_flat_addressee("Do it now. This matters. Kent and Medway CCG"),
            Some((
                "Do it now. This matters.",
                vec!["Kent and Medway CCG".to_owned()]
            ))
        );
        assert_eq!(
            split_flat_addressee("Do it now. then more words here"),
            None
        );
        assert_eq!(split_flat_addressee("No sentence end at all"), None);
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flat_rows_keep_every_addressee() {
        // A ` | `-separated cell list.
        assert_eq!(
            split_flat_addressee("Review the guidance. Home Office | Ministry of Justice"),
            Some((
                "Review the guidance.",
                names(&["Home Office", "Ministry of Justice"])
            ))
        );
        // Several names printed without separators, split where the registry knows them.
        assert_eq!(
            split_flat_addressee(
                "Share the learning. Lancashire Constabulary Blackpool Council NHS Lancashire and South Cumbria"
            ),
            Some((
                "Share the learning.",
                names(&[
                    "Lancashire Constabulary",
                    "Blackpool Council",
                    "NHS Lancashire and South Cumbria"
                ])
            ))
        );
        // A row ending in ';' before its addressee.
        assert_eq!(
            split_flat_addressee(
                "Agencies should: train staff; audit cases; West Yorkshire Police"
            ),
            Some((
                "Agencies should: train staff; audit cases;",
                names(&["West Yorkshire Police"])
            ))
        );
        // No full stop at all, and bullets.
        assert_eq!(
            split_flat_addressee(
                "Agencies should • train all staff in routine enquiry • audit their records Surrey County Council Adult Social Care"
            ),
            Some((
                "Agencies should • train all staff in routine enquiry • audit their records",
                names(&["Surrey County Council Adult Social Care"])
            ))
        );
        // A capitalised run that continues the sentence is not an addressee.
        assert_eq!(
            split_flat_addressee("Staff should share risk information with the Local Authority"),
            None
        );
        // An unknown name after a full stop is still taken whole (the old rule).
        assert_eq!(
            split_flat_addressee("Do it. Ambridge Support Hub"),
            Some(("Do it.", names(&["Ambridge Support Hub"])))
        );
    }

    #[test]
    fn a_cell_naming_several_bodies_is_split_only_when_all_are_known() {
        assert_eq!(
            split_cell("Kent Police; KMPT"),
            names(&["Kent Police", "KMPT"])
        );
        assert_eq!(
            split_cell("Kent, Surrey and Sussex Community Rehabilitation Company"),
            names(&["Kent, Surrey and Sussex Community Rehabilitation Company"])
        );
        assert_eq!(
            split_cell("Ambridge, Borchester"),
            names(&["Ambridge, Borchester"])
        );
    }

    #[test]
    fn a_dash_names_nobody() {
        let p = parse_page(&TABLE.replace("| GP practice |", "| — |")).unwrap();
        assert!(p.rows[0].addressees.is_empty());
    }

    /// Real captures are cut anywhere: every prefix of every sample page parses or fails
    /// cleanly, and a page that parses never holds more rows than it states.
    #[test]
    fn every_truncation_of_the_samples_is_safe() {
        for (name, text) in crate::ingest::samples::SAMPLE_PAGES {
            let mut cases = 0;
            for (cut, _) in text.char_indices().step_by(3) {
                cases += 1;
                if let Ok(page) = parse_page(&text[..cut]) {
                    if let Some(stated) = page.stated_count {
                        assert!(page.rows.len() <= stated as usize, "{name} cut at {cut}");
                    }
                    assert!(
                        page.rows.iter().all(|r| !r.text.is_empty()),
                        "{name} cut at {cut}"
                    );
                }
            }
            assert!(cases > 100, "{name}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            "|",
            "||||",
            "CSP:",
            "CSP: X\nPublished: June 2023\n|",
            "\u{feff}CSP: é\n",
        ] {
            let _ = parse_page(s);
        }
    }
}

/// Property tests: the parser never panics and never hangs, whatever it is given. Cases per
/// property: `PROPTEST_CASES` (256 by default; `docs/RELIABILITY.md` records a long run).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::parse_page;

    /// What a parse returns is checked by the other tests; here: it returns, and every row it
    /// accepts has a text. (Edits can make odd rows that are still rows: a footer with a typo
    /// reads as one more row, a stray `|` shifts the cells of one; those are kept as printed.)
    fn check(text: &str) {
        if let Ok(page) = parse_page(text) {
            assert!(page.rows.iter().all(|r| !r.text.trim().is_empty()));
        }
    }

    fn sample() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(
            crate::ingest::samples::SAMPLE_PAGES
                .iter()
                .map(|(_, t)| *t)
                .collect::<Vec<_>>(),
        )
    }

    /// An edit of a real page: a cut, a splice of arbitrary text (control characters and
    /// table syntax included), or a cell blown up to a huge size.
    #[derive(Debug, Clone)]
    enum Edit {
        Cut(usize),
        Splice(usize, String),
        Huge(usize, usize),
        Delete(usize, usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            any::<usize>().prop_map(Edit::Cut),
            (any::<usize>(), "(\\PC|[\\x00-\\x1f|\\n#:-]){0,40}")
                .prop_map(|(a, s)| Edit::Splice(a, s)),
            (any::<usize>(), 1usize..20_000).prop_map(|(a, n)| Edit::Huge(a, n)),
            (any::<usize>(), 0usize..400).prop_map(|(a, n)| Edit::Delete(a, n)),
        ]
    }

    fn at(text: &str, pos: usize) -> usize {
        let mut p = pos % (text.len() + 1);
        while !text.is_char_boundary(p) {
            p -= 1;
        }
        p
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut t = text.to_owned();
        for e in edits {
            match e {
                Edit::Cut(p) => t.truncate(at(&t, *p)),
                Edit::Splice(p, s) => t.insert_str(at(&t, *p), s),
                Edit::Huge(p, n) => t.insert_str(at(&t, *p), &"x".repeat(*n)),
                Edit::Delete(p, n) => {
                    let a = at(&t, *p);
                    let b = at(&t, a.saturating_add(*n));
                    if b > a {
                        t.replace_range(a..b, "");
                    }
                }
            }
        }
        t
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "(\\PC|[\\x00-\\x1f])*") {
            check(&text);
        }

        #[test]
        fn edited_sample_pages_never_panic(page in sample(), edits in proptest::collection::vec(edit(), 1..6)) {
            check(&apply(page, &edits));
        }

        #[test]
        fn wrong_encodings_never_panic(page in sample(), bytes in proptest::collection::vec(any::<u8>(), 0..64), pos in any::<usize>()) {
            // Latin-1 or Windows-1252 bytes read as UTF-8 arrive as replacement characters.
            let mut raw = page.as_bytes().to_vec();
            let p = pos % (raw.len() + 1);
            raw.splice(p..p, bytes);
            check(&String::from_utf8_lossy(&raw));
        }
    }
}
