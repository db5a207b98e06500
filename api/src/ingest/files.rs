//! `dhr-graph ingest PATH...`: files and folders in, a report out.
//!
//! Each file is one transaction; a file that fails is reported with its name, line and reason
//! and does not stop the others.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::write::WritePath;
use indicatif::{ProgressBar, ProgressStyle};

use super::{IngestError, Outcome, ingest_text_with};

/// Totals over one ingest run.
#[derive(Debug, Default, Clone)]
pub struct IngestSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub incomplete: usize,
    pub failed: usize,
    pub recommendations: usize,
    pub new_agencies: usize,
    /// `path:line: reason` for each file that changed nothing.
    pub failures: Vec<String>,
    /// `path:line: note` for each row not stored or not fully understood.
    pub notes: Vec<String>,
}

impl IngestSummary {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            let _ = writeln!(out, "error: {f}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let _ = writeln!(
            out,
            "reviews: {} added, {} updated, {} unchanged, {} incomplete, {} failed; \
             recommendations: {}; new agencies: {}",
            self.added,
            self.updated,
            self.unchanged,
            self.incomplete,
            self.failed,
            self.recommendations,
            self.new_agencies
        );
        out
    }
}

/// Expands folders (recursively, `.txt` and `.md` files) and keeps named files as given.
pub fn collect_paths(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir)? {
                    let p = entry?.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("txt") || e.eq_ignore_ascii_case("md")
                    }) {
                        out.push(p);
                    }
                }
            }
        } else {
            out.push(path.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The text of a file, or why it is not a text page (with the line of the first bad byte).
/// Reads a page once, into memory; everything after (parsing, the content hash) works on
/// those bytes. A file that changed while it was read (its length or modification time moved,
/// or the bytes read are not its length) is refused: it is being written, and half a page
/// read as a whole one would withdraw the rest.
fn read_page(path: &Path) -> Result<String, (usize, String)> {
    let stamp = |m: std::fs::Metadata| (m.len(), m.modified().ok());
    let before = std::fs::metadata(path)
        .map(stamp)
        .map_err(|e| (0, format!("cannot read: {e}")))?;
    let bytes = std::fs::read(path).map_err(|e| (0, format!("cannot read: {e}")))?;
    let after = std::fs::metadata(path)
        .map(stamp)
        .map_err(|e| (0, format!("cannot read: {e}")))?;
    if before != after || bytes.len() as u64 != after.0 {
        return Err((
            0,
            "the file changed while it was read; ingest it again once it is complete".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        (
            line,
            format!("not UTF-8 text (invalid byte at offset {at})"),
        )
    })
}

/// Ingests the pages one by one. `show_progress` draws a bar on stderr (hidden off a terminal).
pub async fn ingest_paths(
    db: &WritePath,
    paths: &[PathBuf],
    show_progress: bool,
    opts: &super::StoreOptions,
) -> IngestSummary {
    let bar = if show_progress && paths.len() > 1 {
        let bar = ProgressBar::new(paths.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} pages {elapsed} {wide_msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = IngestSummary::default();
    for path in paths {
        let shown = path.display().to_string();
        bar.set_message(shown.clone());
        let result = match read_page(path) {
            Ok(text) => ingest_text_with(db, &text, opts)
                .await
                .map_err(|e| match e {
                    IngestError::Parse(p) => (p.line, p.reason),
                    IngestError::Db(d) => (0, format!("database error: {d}")),
                    other => (0, other.to_string()),
                }),
            Err(bad) => Err(bad),
        };
        match result {
            Ok(report) => {
                match report.stored.outcome {
                    Outcome::Added => summary.added += 1,
                    Outcome::Updated => summary.updated += 1,
                    Outcome::Unchanged => summary.unchanged += 1,
                    Outcome::Merged => {
                        summary.unchanged += 1;
                        summary.notes.push(format!(
                            "{shown}: a listing merged into another review; not stored again"
                        ));
                    }
                }
                summary.incomplete += usize::from(report.stored.incomplete);
                summary.recommendations += report.stored.recommendations;
                summary.new_agencies += report.stored.new_agencies.len();
                for note in report.notes {
                    summary.notes.push(format!(
                        "{shown}:{}: {}: {}",
                        note.line, note.kind, note.excerpt
                    ));
                }
            }
            Err((line, reason)) => {
                summary.failed += 1;
                summary.failures.push(if line == 0 {
                    format!("{shown}: {reason}")
                } else {
                    format!("{shown}:{line}: {reason}")
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    summary
}
