//! `dhr-graph synth`: a deterministic, realistic synthetic graph for scale tests and
//! benchmarks, written through the real ingest path (parsed pages stored by
//! [`crate::ingest::store::store_page`]), then one similarity rebuild, then action-plan
//! history through [`crate::plans::change`].
//!
//! Shapes follow the public record: CSPs are long-tailed exactly as in the DHRD dataset (its
//! per-CSP review counts are tiled, so at any scale a few CSPs have 20-30 reviews and most
//! one or two); 4 to 60 recommendations a review (log-normal, median about 14, mean about 15);
//! addressees from the curated agency list, a long tail of local bodies named after the CSP,
//! about one row in five addressed collectively, one in eight to several agencies; texts built
//! from clauses that carry the taxonomy's cues, so themes and similarity have work to do.
//!
//! The generator is a hand-rolled SplitMix64, not `rand`: the same seed must give the same
//! graph on every build for ever, and `rand`'s value stability is only promised within a
//! major version (and its distributions have changed between them).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::{PlanStatus, Rag, ReviewType, YearMonth};
use crate::ingest::parse::{ParsedPage, ParsedRow};
use crate::ingest::store::{self, Outcome};
use crate::write::WritePath;

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, full-period, and fixed forever.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// An independent stream for one purpose, so that adding draws to one part of the
    /// generator does not reshuffle every other part.
    pub fn fork(&self, purpose: u64) -> Self {
        let mut r = Rng(self.0 ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // Lemire's multiply-shift: no modulo bias worth speaking of at these sizes.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Recommendations in one review: log-normal around 14, clamped to the 4..=60.
pub const MIN_RECS: usize = 4;
pub const MAX_RECS: usize = 60;

fn recommendation_count(rng: &mut Rng) -> usize {
    let n = (14.0f64.ln() + 0.45 * rng.normal()).exp().round() as usize;
    n.clamp(MIN_RECS, MAX_RECS)
}

/// CSP names in DHRD order of frequency, each with its review count there.
fn dhrd_csp_counts() -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for line in crate::ingest::samples::DHRD_CSV.lines().skip(1) {
        if let Some(csp) = line.split(',').nth(1).filter(|c| !c.is_empty()) {
            *counts.entry(csp.to_owned()).or_default() += 1;
        }
    }
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list
}

const PLACE_PREFIX: &[&str] = &[
    "North", "South", "East", "West", "Upper", "Lower", "Greater", "Mid", "Central", "Old",
];
const PLACE_STEM: &[&str] = &[
    "Ash", "Brad", "Cal", "Dun", "Elm", "Fair", "Glen", "Hart", "Ivy", "Kings", "Lang", "Marl",
    "Nor", "Oak", "Pen", "Queens", "Rye", "Stan", "Thorn", "Ux", "Wick", "Yarn", "Bram", "Cres",
    "Dray", "Hol", "Lud", "Mel", "Red", "Win",
];
const PLACE_SUFFIX: &[&str] = &[
    "ford", "ton", "bury", "field", "ham", "ley", "wick", "borough", "dale", "mouth", "stead",
    "worth", "by", "combe", "minster", "chester",
];

/// The CSP of each review, in review order: DHRD's per-CSP counts tiled over as many CSPs
/// as the scale needs (invented place names past DHRD's 189), shuffled, then cut to size.
fn csp_assignment(rng: &mut Rng, reviews: usize) -> Vec<String> {
    let dhrd = dhrd_csp_counts();
    let mut invented: Vec<String> = Vec::new();
    for p in PLACE_PREFIX {
        for s in PLACE_STEM {
            for x in PLACE_SUFFIX {
                invented.push(format!("{p} {s}{x}"));
            }
        }
    }
    rng.shuffle(&mut invented);
    let mut slots = Vec::with_capacity(reviews + 64);
    let mut i = 0;
    // Whole rounds of the distribution, so that a small graph samples all of it.
    while slots.len() < reviews || i % dhrd.len() != 0 {
        let (real, count) = &dhrd[i % dhrd.len()];
        let name = match i / dhrd.len() {
            0 => real.clone(),
            // Past the real names (and past the invented ones, at absurd scales) a district
            // number keeps names unique.
            round => {
                let k = i - dhrd.len();
                match invented.get(k) {
                    Some(n) => n.clone(),
                    None => format!("{} District {round}", invented[k % invented.len()]),
                }
            }
        };
        slots.extend(std::iter::repeat_n(name, *count));
        i += 1;
    }
    rng.shuffle(&mut slots);
    slots.truncate(reviews);
    slots
}

/// Addressees printed as in real pages: curated national bodies (by the names the curated
/// list knows, aliases included), local bodies named after the CSP, and collective ones.
const NATIONAL: &[(&str, u32)] = &[
    ("GP practice", 30),
    ("GP Practice", 8),
    ("GPs", 4),
    ("Home Office", 12),
    ("NHS England", 8),
    ("National Probation Service", 8),
    ("Probation Service", 4),
    ("HMPPS", 2),
    ("IDVA services", 6),
    ("IDVA service", 2),
    ("MARAC", 8),
    ("Multi-Agency Risk Assessment Conference", 2),
    ("Her Majesty's Government", 3),
    ("Department for Work and Pensions", 3),
    ("DWP", 1),
    ("Ministry of Justice", 2),
    ("Department of Health and Social Care", 2),
    ("Victim Support", 3),
    ("Respect", 2),
    ("Housing Providers", 3),
    ("Safeguarding Children Partnership", 3),
    ("Office of the Police and Crime Commissioner", 3),
    ("Police and Crime Commissioner", 1),
    ("MAPPA Strategic Management Board", 1),
    ("All health professionals with access to a GP record", 1),
];
const COLLECTIVE: &[(&str, u32)] = &[
    ("All Agencies", 10),
    ("All agencies", 4),
    ("All partner agencies", 3),
    ("Multiple Agencies", 3),
    ("Local Agencies", 2),
    ("Commissioners", 1),
    ("Other agencies", 1),
];
/// `{}` is the CSP's name.
const LOCAL: &[(&str, u32)] = &[
    ("{} Police", 12),
    ("{} Constabulary", 3),
    ("{} Council", 8),
    ("{} Adult Social Care", 8),
    ("{} Children's Services", 6),
    ("{} Community Safety Partnership", 8),
    ("{} Domestic Abuse Service", 5),
    ("{} Integrated Care Board", 4),
    ("{} Hospitals NHS Foundation Trust", 4),
    ("{} Mental Health NHS Trust", 4),
    ("{} Homes", 3),
    ("{} Recovery Service", 3),
    ("{} Women's Aid", 2),
    ("{} Safeguarding Adults Board", 2),
    ("{} Ambulance Service", 1),
    ("{} College", 1),
];

fn weighted<'a>(rng: &mut Rng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut at = rng.below(total as usize) as u32;
    for (item, w) in items {
        if at < *w {
            return item;
        }
        at -= w;
    }
    items[0].0
}

/// One addressee: about one in five collective, two in five curated, the rest local.
fn addressee(rng: &mut Rng, csp: &str) -> String {
    let roll = rng.unit();
    if roll < 0.2 {
        weighted(rng, COLLECTIVE).to_owned()
    } else if roll < 0.6 {
        weighted(rng, NATIONAL).to_owned()
    } else {
        weighted(rng, LOCAL).replace("{}", csp)
    }
}

const OPENERS: &[&str] = &[
    "It is recommended that",
    "The review recommends that",
    "",
    "Recommendation:",
    "The panel recommends that",
];
const SUBJECTS: &[&str] = &[
    "the agency",
    "all practitioners",
    "frontline staff",
    "managers",
    "commissioners",
    "the partnership",
    "safeguarding leads",
    "call handlers",
    "health visitors",
    "housing officers",
];
const VERBS: &[&str] = &[
    "should review",
    "should develop",
    "should strengthen",
    "should audit",
    "must improve",
    "should embed",
    "should update",
    "should seek assurance on",
    "should provide",
    "should commission",
];
/// Objects carrying the taxonomy's cues (routine enquiry, MARAC, DASH, training, ...).
const OBJECTS: &[&str] = &[
    "routine enquiry about domestic abuse",
    "the process for making a MARAC referral",
    "the use of the DASH risk assessment",
    "training on coercive control",
    "awareness of economic abuse and financial control",
    "information sharing with partner agencies",
    "record keeping and flagging of domestic abuse",
    "professional curiosity when injuries are seen",
    "the response to stalking and harassment",
    "pathways for alcohol and drug misuse",
    "mental health crisis and discharge planning",
    "suicide risk after separation",
    "support for older victims and carers",
    "the safeguarding of children present in the household",
    "access to interpreters for minoritised communities",
    "the identification of honour-based abuse and forced marriage",
    "the response when victims did not attend appointments",
    "the management of perpetrators through MAPPA and bail conditions",
    "the housing options offered to victims fleeing abuse",
    "supervision of officers attending domestic incidents",
    "public awareness campaigns about healthy relationships",
    "funding and provision of IDVA services",
    "the statutory guidance for domestic homicide reviews",
    "the action plan and audit of this review",
    "the Domestic Violence Disclosure Scheme (Clare's Law)",
    "welfare checks by call handling staff",
    "the identification of adult family violence against parents",
    "counter allegations and the primary aggressor",
    "image-based abuse and online harassment",
    "the disclosure of previous violent offending",
];
const QUALIFIERS: &[&str] = &[
    "",
    "so that risk is recognised early",
    "across all teams",
    "with a report to the partnership board within six months",
    "and share the learning from this review",
    "including for victims with complex needs",
    "in line with national guidance",
    "so that the voice of the victim is heard",
    "and monitor compliance through regular audit",
    "taking account of the victim's protected characteristics",
    "when the victim is seen alone",
    "including referrals to specialist services",
];

fn recommendation_text(rng: &mut Rng, csp: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for p in [rng.pick(OPENERS), rng.pick(SUBJECTS), rng.pick(VERBS)] {
        if !p.is_empty() {
            parts.push((*p).to_owned());
        }
    }
    parts.push(rng.pick(OBJECTS).to_string());
    if rng.chance(0.35) {
        parts.push(format!("and {}", rng.pick(OBJECTS)));
    }
    let q = rng.pick(QUALIFIERS);
    if !q.is_empty() {
        parts.push((*q).to_owned());
    }
    // Real recommendations name their place and local bodies: the rare words that tell one
    // partnership's recommendations from another's (and keep term frequencies long-tailed).
    if rng.chance(0.5) {
        parts.push(format!("in {csp}"));
    }
    if rng.chance(0.3) {
        parts.push(format!(
            "working with {}",
            weighted(rng, LOCAL).replace("{}", csp)
        ));
    }
    let mut text = parts.join(" ");
    if let Some(first) = text.get(..1) {
        text = first.to_uppercase() + &text[1..];
    }
    text.push('.');
    text
}

/// Label schemes seen in real reports: `1`, `5.1`, `10.4a`, `17.1.1`.
fn labels(rng: &mut Rng, n: usize) -> Vec<String> {
    let section = 3 + rng.below(15);
    match rng.below(4) {
        0 => (1..=n).map(|i| i.to_string()).collect(),
        1 => (1..=n).map(|i| format!("{section}.{i}")).collect(),
        2 => (0..n)
            .map(|i| {
                let letter = (b'a' + (i % 4) as u8) as char;
                format!("{section}.{}{letter}", i / 4 + 1)
            })
            .collect(),
        _ => (1..=n).map(|i| format!("{section}.1.{i}")).collect(),
    }
}

const SUMMARY_TOPICS: &[&str] = &[
    "coercive control",
    "economic abuse",
    "missed opportunities for routine enquiry",
    "the victim's separation from the perpetrator",
    "alcohol misuse",
    "the perpetrator's mental health",
    "stalking after the relationship ended",
    "the victim's caring responsibilities",
    "information held by several agencies that was never shared",
];

/// The synthetic page of review `index` (0-based) in CSP `csp`.
fn page(rng: &mut Rng, seed: u64, index: usize, csp: &str, joint_with: Option<&str>) -> ParsedPage {
    let n = recommendation_count(rng);
    let year = 2011 + rng.below(15) as i32;
    let published =
        YearMonth::new(year, 1 + rng.below(12) as u32).unwrap_or(YearMonth { year, month: 1 });
    let year_of_death = rng.chance(0.9).then(|| year - 1 - rng.below(3) as i32);
    let review_type = match rng.below(20) {
        0 => ReviewType::Dardr,
        1 => ReviewType::JointSarDhr,
        _ => ReviewType::Dhr,
    };
    let labels = labels(rng, n);
    let rows = labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| {
            let mut addressees = vec![addressee(rng, csp)];
            if rng.chance(0.12) {
                for _ in 0..1 + rng.below(2) {
                    let other = addressee(rng, csp);
                    if !addressees.contains(&other) {
                        addressees.push(other);
                    }
                }
            }
            ParsedRow {
                external_ref: None,
                label,
                text: recommendation_text(rng, csp),
                addressees,
                line: 20 + i,
            }
        })
        .collect();
    let mut csps = vec![csp.to_owned()];
    csps.extend(joint_with.map(str::to_owned));
    ParsedPage {
        external_ref: None,
        source_url: Some(format!(
            "https://synth.dhr-graph.invalid/{seed}/review/{index}"
        )),
        title: format!("{csp} review {}", index + 1),
        review_type,
        csps,
        published,
        year_of_death,
        stated_count: Some(n as i32),
        summary: format!(
            "The review found {} and {}, and agencies that did not see the whole picture.",
            rng.pick(SUMMARY_TOPICS),
            rng.pick(SUMMARY_TOPICS)
        ),
        rows,
        incomplete: false,
        notes: Vec::new(),
    }
}

/// The pages of a synthetic graph of `reviews` reviews; the same for the same seed, always.
pub fn pages(reviews: usize, seed: u64) -> Vec<ParsedPage> {
    let root = Rng::new(seed);
    let csps = csp_assignment(&mut root.fork(1), reviews);
    let mut rng = root.fork(2);
    (0..reviews)
        .map(|i| {
            // About one review in thirty is joint between two partnerships.
            let joint = rng
                .chance(1.0 / 30.0)
                .then(|| csps[rng.below(csps.len())].clone())
                .filter(|other| *other != csps[i]);
            page(&mut rng, seed, i, &csps[i], joint.as_deref())
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct SynthOptions {
    pub reviews: usize,
    pub seed: u64,
    /// Pages stored per transaction; 1 is exactly the `ingest` path (`ingest_page`).
    pub batch: usize,
    /// Share of recommendations that get an action plan and history.
    pub plan_share: f64,
    pub progress: bool,
    /// The pool's statement counter, for statements per page (machine-independent, unlike
    /// pages/s).
    pub statements: crate::db::StatementCounter,
}

#[derive(Clone, Debug, Default)]
pub struct SynthReport {
    pub reviews: usize,
    pub recommendations: usize,
    pub new_agencies: usize,
    pub ingest: Duration,
    pub ingest_statements: u64,
    pub similarity_edges: usize,
    pub similarity: Duration,
    pub plans: usize,
    pub plan_changes: usize,
    pub plan_time: Duration,
}

impl SynthReport {
    pub fn render(&self) -> String {
        let secs = |d: Duration| d.as_secs_f64();
        format!(
            "reviews: {}; recommendations: {}; new agencies: {}\n\
             ingest: {:.2} s ({:.0} pages/s, {:.0} recommendations/s, {:.1} statements a page)\n\
             similarity: {} edges in {:.2} s\n\
             action plans: {} plans, {} changes in {:.2} s ({:.0} changes/s)\n",
            self.reviews,
            self.recommendations,
            self.new_agencies,
            secs(self.ingest),
            self.reviews as f64 / secs(self.ingest).max(1e-9),
            self.recommendations as f64 / secs(self.ingest).max(1e-9),
            self.ingest_statements as f64 / self.reviews.max(1) as f64,
            self.similarity_edges,
            secs(self.similarity),
            self.plans,
            self.plan_changes,
            secs(self.plan_time),
            self.plan_changes as f64 / secs(self.plan_time).max(1e-9),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("{0}")]
    Other(String),
    #[error("review {index} was not added ({outcome:?}): synth needs a database without it")]
    NotAdded { index: usize, outcome: Outcome },
}

fn bar(show: bool, len: usize, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Generates and stores the graph, rebuilds similarity once, then writes plan history.
pub async fn run(path: &WritePath, opts: &SynthOptions) -> Result<SynthReport, SynthError> {
    let db = path.conn();
    let mut report = SynthReport::default();
    let pages = pages(opts.reviews, opts.seed);
    let progress = bar(opts.progress, pages.len(), "reviews");
    let started = Instant::now();
    let statements_before = opts.statements.get();
    for (chunk_no, chunk) in pages.chunks(opts.batch.max(1)).enumerate() {
        let stored = if opts.batch <= 1 {
            let page = chunk[0].clone();
            let r = crate::ingest::ingest_page(path, page)
                .await
                .map_err(synth_error)?;
            vec![r.stored]
        } else {
            // Many pages a unit: the same store code, fewer commits (each an fsync).
            path.run(chunk, |unit, chunk| {
                Box::pin(async move {
                    let opts = store::StoreOptions::default();
                    let mut out = Vec::with_capacity(chunk.len());
                    for page in chunk {
                        out.push(store::store_page(unit, page, &opts).await?);
                    }
                    Ok::<_, crate::ingest::IngestError>(out)
                })
            })
            .await
            .map_err(synth_error)?
        };
        for (i, s) in stored.into_iter().enumerate() {
            if s.outcome != Outcome::Added {
                return Err(SynthError::NotAdded {
                    index: chunk_no * opts.batch.max(1) + i,
                    outcome: s.outcome,
                });
            }
            report.reviews += 1;
            report.recommendations += s.recommendations;
            report.new_agencies += s.new_agencies.len();
        }
        progress.set_position(report.reviews as u64);
    }
    progress.finish_and_clear();
    report.ingest = started.elapsed();
    report.ingest_statements = opts.statements.get() - statements_before;

    // A bulk load leaves PostgreSQL without planner statistics until autovacuum gets to it
    // (never, where it is switched off): every later statement was planned as a scan of a
    // small table (15-60 ms each at ten times national scale, 0.2-0.3 ms after ANALYZE).
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        sea_orm::ConnectionTrait::execute_unprepared(db, "ANALYZE").await?;
    }
    let started = Instant::now();
    if opts.progress {
        eprintln!(
            "similarity: rebuilding edges for {} recommendations",
            report.recommendations
        );
    }
    report.similarity_edges = path.settle().await?.edges;
    report.similarity = started.elapsed();

    let started = Instant::now();
    let (plans, changes) = plan_history(path, opts).await?;
    report.plans = plans;
    report.plan_changes = changes;
    report.plan_time = started.elapsed();
    Ok(report)
}

/// Status paths a plan takes, as boards record them; each step is one `plans::change`.
const PATHS: &[&[PlanStatus]] = &[
    &[PlanStatus::InProgress],
    &[PlanStatus::InProgress, PlanStatus::Implemented],
    &[
        PlanStatus::InProgress,
        PlanStatus::Implemented,
        PlanStatus::Closed,
    ],
    &[PlanStatus::NotAccepted],
    &[PlanStatus::InProgress, PlanStatus::InProgress],
    &[PlanStatus::NotStarted],
];

/// Action plans for a seeded share of this run's recommendations. Returns (plans, changes).
async fn plan_history(path: &WritePath, opts: &SynthOptions) -> Result<(usize, usize), SynthError> {
    let db = path.conn();
    use entity::{recommendation, review};
    let prefix = format!("url:https://synth.dhr-graph.invalid/{}/", opts.seed);
    let ids: Vec<i32> = recommendation::Entity::find()
        .select_only()
        .column(recommendation::Column::Id)
        .inner_join(review::Entity)
        .filter(review::Column::SourceKey.starts_with(prefix.as_str()))
        .order_by_asc(recommendation::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut rng = Rng::new(opts.seed).fork(3);
    let chosen: Vec<i32> = ids
        .into_iter()
        .filter(|_| rng.chance(opts.plan_share))
        .collect();
    let progress = bar(opts.progress, chosen.len(), "plans");
    let mut changes = 0;
    for (n, id) in chosen.iter().enumerate() {
        let steps = rng.pick(PATHS);
        let year = 2020 + rng.below(6);
        let target = format!("{year}-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28));
        for (version, status) in steps.iter().enumerate() {
            let mut change = crate::plans::PlanChange {
                status: Some(*status),
                ..Default::default()
            };
            if version == 0 {
                change.action = Some(Some("Action agreed by the partnership board".to_owned()));
                change.target_date = Some(Some(target.clone()));
                change.rag = Some(Some(*rng.pick(&[Rag::Red, Rag::Amber, Rag::Green])));
            }
            if version > 0 && steps[version - 1] == *status {
                change.note = Some("Reviewed by the board: still in progress".to_owned());
            }
            if *status == PlanStatus::Implemented {
                change.completion_date = Some(Some(format!("{}-06-30", year + 1)));
                change.rag = Some(Some(Rag::Green));
            }
            crate::plans::change(path, *id, version as i32, change, "synth")
                .await
                .map_err(|e| SynthError::Other(e.to_string()))?;
            changes += 1;
        }
        progress.set_position(n as u64 + 1);
    }
    progress.finish_and_clear();
    Ok((chosen.len(), changes))
}

fn synth_error(e: crate::ingest::IngestError) -> SynthError {
    match e {
        crate::ingest::IngestError::Db(d) => SynthError::Db(d),
        other => SynthError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_pages() {
        assert_eq!(pages(40, 7), pages(40, 7));
        assert_ne!(pages(40, 7), pages(40, 8));
    }

    #[test]
    fn shapes_follow_the_record() {
        let ps = pages(2000, 1);
        let recs: Vec<usize> = ps.iter().map(|p| p.rows.len()).collect();
        assert!(recs.iter().all(|n| (MIN_RECS..=MAX_RECS).contains(n)));
        let total: usize = recs.iter().sum();
        let mut sorted = recs.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        assert!((12..=17).contains(&median), "median {median}");
        assert!((26_000..=34_000).contains(&total), "total {total}");

        let rows = ps.iter().flat_map(|p| &p.rows);
        let (mut collective, mut addressed, mut multi, mut n) = (0, 0, 0, 0);
        for row in rows {
            n += 1;
            multi += usize::from(row.addressees.len() > 1);
            for a in &row.addressees {
                addressed += 1;
                let c = crate::ingest::curated::curated().lookup(a);
                collective +=
                    usize::from(c.is_some_and(|c| c.sector == crate::domain::Sector::Collective));
            }
        }
        let share = collective as f64 / addressed as f64;
        assert!((0.15..=0.25).contains(&share), "collective share {share}");
        assert!(multi * 20 > n, "multi-addressee rows {multi} of {n}");

        let mut per_csp: std::collections::HashMap<&str, usize> = Default::default();
        for p in &ps {
            *per_csp.entry(p.csps[0].as_str()).or_default() += 1;
        }
        let max = per_csp.values().max().copied().unwrap_or(0);
        let small = per_csp.values().filter(|c| **c <= 2).count();
        assert!((15..=40).contains(&max), "largest CSP {max}");
        assert!(
            small * 3 > per_csp.len(),
            "{small} of {} CSPs with one or two",
            per_csp.len()
        );
    }
}
