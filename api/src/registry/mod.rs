//! The agency registry: the public bodies that reviews address, from official registers
//! (`api/data/registry/`, sources and licences in its README), compiled into the binary so
//! that every install resolves names the same way.
//!
//! The registry is read once into hash maps keyed by [`name_key`]; resolving a name is a few
//! lookups, never a scan (ingest speed must not depend on how many bodies are known).
//! [`resolve`] decides what a printed addressee names, in the issue-12 order.

pub mod reresolve;
pub mod resolve;

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use crate::domain::normalise::{name_key, slugify};
use crate::domain::{AgencyKind, Scope, Sector};

/// Bumped whenever a register file or the way it is read changes, so that re-ingest and
/// `agencies reresolve` can tell which registry resolved a link.
pub const VERSION: &str = "2026.12.3";

const POLICE_FORCES: &str = include_str!("../../data/registry/police_forces.csv");
const PCCS: &str = include_str!("../../data/registry/police_and_crime_commissioners.csv");
const ICBS: &str = include_str!("../../data/registry/icbs.csv");
const CCGS_2021: &str = include_str!("../../data/registry/ccgs_2021.csv");
const CCGS_BEFORE: &str = include_str!("../../data/registry/ccgs_before_2021.csv");
const NHS_TRUSTS: &str = include_str!("../../data/registry/nhs_trusts.csv");
const WALES_HEALTH: &str = include_str!("../../data/registry/wales_health_bodies.csv");
const LOCAL_AUTHORITIES: &str = include_str!("../../data/registry/local_authorities.csv");
const NATIONAL: &str = include_str!("../../data/registry/national_bodies.csv");
const PROBATION: &str = include_str!("../../data/registry/probation.csv");
const DA_ORGS: &str = include_str!("../../data/registry/da_organisations.csv");
const CSP_NAMES: &str = include_str!("../../data/registry/csp_names.csv");
const PROVIDERS: &str = include_str!("../../data/registry/providers.csv");
const ALIASES: &str = include_str!("../../data/registry/aliases.csv");

/// One body of a register.
#[derive(Debug, Clone)]
pub struct Body {
    /// Stable and unique: `force:kent`, `ods:RXY`, `gss:E10000016`, `gov:home-office`, ...
    pub code: String,
    pub name: String,
    pub sector: Sector,
    pub kind: AgencyKind,
    pub scope: Scope,
    pub parent: Option<usize>,
    /// The body that took over, and the year it did.
    pub successor: Option<(usize, Option<i32>)>,
    pub current: bool,
    /// Keys of the local authorities (short names) the body serves; empty when national.
    pub areas: Vec<String>,
}

/// How strongly a key names a body: a register's own name beats an alias, an alias beats a
/// mechanical variant. Only candidates of the best strength compete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    Name,
    Alias,
    Weak,
    /// A trust's name without "NHS (Foundation) Trust" when two words or fewer are left
    /// ("Oxleas", "Berkshire Healthcare"): only where nothing else answers, so that a bare
    /// place ("Bolton") stays the council's.
    Stem,
    /// Initials made from a register name ("LYPFT" for Leeds and York Partnership NHS
    /// Foundation Trust): only for a name printed as an abbreviation, only where nothing
    /// registered answers, and never chosen between two bodies but by the area.
    Initials,
}

#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub body: usize,
    pub strength: Strength,
    /// The key is an abbreviation ("GMP", "KMPT"): resolved as `ABBREVIATION`.
    pub abbreviation: bool,
}

/// A local authority with what the registers say about its area.
#[derive(Debug, Clone)]
pub struct La {
    pub body: usize,
    pub short_key: String,
    pub county_key: Option<String>,
    pub district: bool,
    pub county: bool,
    pub force: Option<String>,
    pub icb_ods: Option<String>,
    pub health_board: Option<String>,
    pub region: Option<String>,
    pub replaced_by: Vec<String>,
}

/// What the registers say about the area a review comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Area {
    /// The CSP's name as the registry knows it.
    pub csp: String,
    /// Short-name keys of the area's local authorities (as matched, and their successors).
    pub las: Vec<String>,
    pub force: Option<String>,
    pub icb_ods: Option<String>,
    pub health_board: Option<String>,
    pub region: Option<String>,
    /// The CSP as a registered body.
    pub csp_body: Option<usize>,
}

/// The register bodies serving an area, as indexes into `Registry::bodies`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AreaBodies {
    pub local_authorities: Vec<usize>,
    pub police_force: Option<usize>,
    pub icb: Option<usize>,
    pub health_board: Option<usize>,
}

pub struct Registry {
    pub version: &'static str,
    pub bodies: Vec<Body>,
    by_code: HashMap<String, usize>,
    keys: HashMap<String, Vec<Candidate>>,
    /// Local-authority names only, for "<council> Adult Social Care".
    councils: HashMap<String, Vec<usize>>,
    /// By short-name key.
    las: HashMap<String, La>,
    /// A council body's short-name key, so that no lookup scans the authorities.
    la_of_body: HashMap<usize, String>,
    /// By CSP name key (DHRD names and their ONS names).
    csps: HashMap<String, Area>,
    /// Current police and crime commissioner (or mayoral office) per force id.
    pcc_of_force: HashMap<String, usize>,
    children: HashMap<usize, Vec<usize>>,
    predecessors: HashMap<usize, Vec<usize>>,
}

/// The embedded registry, read once. A bad edit of a register file fails the unit tests.
pub fn registry() -> &'static Registry {
    static CELL: OnceLock<Registry> = OnceLock::new();
    CELL.get_or_init(|| Builder::default().build())
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// "GMP", "KMPT", "DfE", "NHSE": short, no spaces, mostly capitals.
/// The regions as the DHRD names them, each with the registers' (ONS) name of the same region.
pub const REGIONS: &[(&str, &str)] = &[
    ("East", "East of England"),
    ("East Midlands", "East Midlands"),
    ("Greater London", "London"),
    ("North East", "North East"),
    ("North West", "North West"),
    ("South East", "South East"),
    ("South West", "South West"),
    ("Wales", "Wales"),
    ("West Midlands", "West Midlands"),
    ("Yorkshire and Humber", "Yorkshire and The Humber"),
];

/// The DHRD's name of a region given by either name, any case: the one a CSP stores.
pub fn dhrd_region(name: &str) -> Option<&'static str> {
    let key = name_key(name);
    REGIONS
        .iter()
        .find(|(dhrd, ons)| name_key(dhrd) == key || name_key(ons) == key)
        .map(|(dhrd, _)| *dhrd)
}

pub fn is_abbreviation(s: &str) -> bool {
    let s = s.trim();
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    let upper = s.chars().filter(|c| c.is_uppercase()).count();
    !s.contains(' ') && (2..=10).contains(&letters) && upper * 3 >= letters * 2 && upper >= 2
}

fn year_of(s: &str) -> Option<i32> {
    s.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 4 && (w.starts_with("19") || w.starts_with("20")))
        .and_then(|w| w.parse().ok())
}

/// The year a body closed on `date` (ISO) handed over: the day after's.
fn day_after(date: &str) -> Option<i32> {
    use chrono::Datelike;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map(|d| d.year())
}

/// "Department of Health (to 2018)" is the name "Department of Health".
fn strip_years(s: &str) -> &str {
    match s.find(" (") {
        Some(i) if s.ends_with(')') && s[i..].chars().any(|c| c.is_ascii_digit()) => &s[..i],
        _ => s,
    }
}

fn rows(text: &'static str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    reader
        .records()
        .filter_map(Result::ok)
        .map(|r| {
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(|v| v.trim().to_owned()))
                .collect()
        })
        .collect()
}

#[derive(Default)]
struct Builder {
    bodies: Vec<Body>,
    by_code: HashMap<String, usize>,
    keys: HashMap<String, Vec<Candidate>>,
    councils: HashMap<String, Vec<usize>>,
    las: HashMap<String, La>,
    la_by_name: HashMap<String, String>,
    csps: HashMap<String, Area>,
    pcc_of_force: HashMap<String, usize>,
    /// (body, parent name or code) and (body, successor name or code, year), linked at the end.
    parent_names: Vec<(usize, String)>,
    successor_names: Vec<(usize, String, Option<i32>)>,
}

fn get<'a>(row: &'a HashMap<String, String>, col: &str) -> &'a str {
    row.get(col).map_or("", String::as_str)
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        code: String,
        name: &str,
        sector: Sector,
        kind: AgencyKind,
        scope: Scope,
        current: bool,
        areas: Vec<String>,
    ) -> usize {
        // The same body listed by two registers (the National Probation Service) is one body.
        if let Some(existing) = self.primary(name) {
            self.by_code.insert(code, existing);
            return existing;
        }
        let index = self.bodies.len();
        self.bodies.push(Body {
            code: code.clone(),
            name: name.to_owned(),
            sector,
            kind,
            scope,
            parent: None,
            successor: None,
            current,
            areas,
        });
        self.by_code.insert(code, index);
        self.key(name, index, Strength::Name);
        index
    }

    /// The body whose register name has this key, if one does.
    fn primary(&self, name: &str) -> Option<usize> {
        self.keys
            .get(&name_key(name))?
            .iter()
            .find(|c| c.strength == Strength::Name)
            .map(|c| c.body)
    }

    fn key(&mut self, name: &str, body: usize, strength: Strength) {
        let key = name_key(name);
        if key.is_empty() {
            return;
        }
        let list = self.keys.entry(key).or_default();
        let abbreviation = is_abbreviation(name);
        match list.iter_mut().find(|c| c.body == body) {
            Some(c) if strength < c.strength => c.strength = strength,
            Some(_) => {}
            None => list.push(Candidate {
                body,
                strength,
                abbreviation,
            }),
        }
    }

    fn build(mut self) -> Registry {
        self.local_authorities();
        self.police();
        self.health();
        self.national();
        self.probation();
        self.da_organisations();
        self.providers();
        self.aliases();
        self.csps();
        for (body, parent) in std::mem::take(&mut self.parent_names) {
            if let Some(p) = self.by_code.get(&parent).copied().or(self.primary(&parent))
                && p != body
            {
                self.bodies[body].parent = Some(p);
            }
        }
        for (body, successor, year) in std::mem::take(&mut self.successor_names) {
            if let Some(s) = self
                .by_code
                .get(&successor)
                .copied()
                .or(self.primary(&successor))
                .or_else(|| self.unique_alias(&successor))
                && s != body
            {
                self.bodies[body].successor = Some((s, year));
            }
        }
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut predecessors: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, b) in self.bodies.iter().enumerate() {
            if let Some(p) = b.parent {
                children.entry(p).or_default().push(i);
            }
            if let Some((s, _)) = b.successor {
                predecessors.entry(s).or_default().push(i);
            }
        }
        Registry {
            version: VERSION,
            bodies: self.bodies,
            by_code: self.by_code,
            keys: self.keys,
            councils: self.councils,
            la_of_body: self.las.iter().map(|(k, l)| (l.body, k.clone())).collect(),
            las: self.las,
            csps: self.csps,
            pcc_of_force: self.pcc_of_force,
            children,
            predecessors,
        }
    }

    fn unique_alias(&self, name: &str) -> Option<usize> {
        let list = self.keys.get(&name_key(name))?;
        let bodies: BTreeSet<usize> = list.iter().map(|c| c.body).collect();
        (bodies.len() == 1).then(|| list[0].body)
    }

    fn local_authorities(&mut self) {
        let all = rows(LOCAL_AUTHORITIES);
        for row in &all {
            let name = get(row, "name");
            let short = get(row, "short_name");
            let short_key = name_key(short);
            self.la_by_name.insert(name_key(name), short_key.clone());
            self.la_by_name.insert(short_key.clone(), short_key.clone());
        }
        for row in &all {
            let name = get(row, "name");
            let short = get(row, "short_name");
            let kind = get(row, "type");
            let short_key = name_key(short);
            let current = get(row, "abolished").is_empty();
            let county = kind == "county";
            let mut areas = vec![short_key.clone()];
            if county {
                areas.extend(
                    all.iter()
                        .filter(|r| name_key(get(r, "county")) == short_key)
                        .map(|r| name_key(get(r, "short_name"))),
                );
            }
            let body = self.add(
                format!("gss:{}", get(row, "gss_code")),
                name,
                Sector::LocalAuthority,
                AgencyKind::LocalAuthority,
                Scope::Local,
                current,
                areas,
            );
            let mut names: Vec<String> = vec![name.to_owned()];
            for alias in split_list(get(row, "aliases")) {
                self.key(alias, body, Strength::Alias);
                names.push(alias.to_owned());
            }
            // "Kent Council", "Nottingham City Council": how councils are printed.
            for variant in [
                format!("{short} Council"),
                format!("{short} City Council"),
                format!("{short} County Council"),
                format!("{short} Borough Council"),
                format!("{short} District Council"),
                format!("{short} Metropolitan Borough Council"),
                format!("{short} County Borough Council"),
                format!("{short} Council (LA)"),
            ] {
                self.key(&variant, body, Strength::Weak);
                names.push(variant);
            }
            // A bare place name ("Hampshire") names the council only when nothing stronger does.
            self.key(short, body, Strength::Weak);
            names.push(short.to_owned());
            for n in names {
                let list = self.councils.entry(name_key(&n)).or_default();
                if !list.contains(&body) {
                    list.push(body);
                }
            }
            let replaced_by: Vec<String> = split_list(get(row, "replaced_by"))
                .map(|r| {
                    self.la_by_name
                        .get(&name_key(r))
                        .cloned()
                        .unwrap_or_else(|| name_key(r))
                })
                .collect();
            if let Some(first) = split_list(get(row, "replaced_by")).next() {
                self.successor_names
                    .push((body, first.to_owned(), year_of(get(row, "abolished"))));
            }
            let la = La {
                body,
                short_key: short_key.clone(),
                county_key: Some(name_key(get(row, "county"))).filter(|k| !k.is_empty()),
                district: kind == "district",
                county,
                force: Some(get(row, "police_force_short_id").to_owned()).filter(|s| !s.is_empty()),
                icb_ods: Some(get(row, "icb_ods").to_owned())
                    .filter(|s| !s.is_empty() && !s.contains(';')),
                health_board: Some(get(row, "welsh_health_board").to_owned())
                    .filter(|s| !s.is_empty()),
                region: Some(get(row, "region").to_owned()).filter(|s| !s.is_empty()),
                replaced_by,
            };
            // A current authority wins its short name over an abolished one of the same name.
            if current || !self.las.contains_key(&short_key) {
                self.las.insert(short_key, la);
            }
        }
    }

    fn police(&mut self) {
        for row in rows(POLICE_FORCES) {
            let id = get(&row, "short_id");
            let areas: Vec<String> = split_list(get(&row, "police_area_local_authorities"))
                .map(name_key)
                .collect();
            let scope = if get(&row, "kind") == "territorial" {
                Scope::Local
            } else {
                Scope::National
            };
            let body = self.add(
                format!("force:{id}"),
                get(&row, "name"),
                Sector::Police,
                AgencyKind::PoliceForce,
                scope,
                true,
                areas,
            );
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
            }
            let pfa = get(&row, "ons_pfa_name");
            if !pfa.is_empty() {
                for variant in [
                    format!("{pfa} Police"),
                    format!("{pfa} Constabulary"),
                    format!("{pfa} Police Force"),
                    format!("{pfa} Police Service"),
                ] {
                    self.key(&variant, body, Strength::Weak);
                }
            }
        }
        for row in rows(PCCS) {
            let force = get(&row, "force_short_id");
            let current = get(&row, "status") == "current";
            let areas = self
                .by_code
                .get(&format!("force:{force}"))
                .map(|b| self.bodies[*b].areas.clone())
                .unwrap_or_default();
            let name = get(&row, "name");
            let body = self.add(
                format!("pcc:{}", slugify(name)),
                name,
                Sector::PolicingOversight,
                AgencyKind::Pcc,
                if areas.is_empty() {
                    Scope::National
                } else {
                    Scope::Local
                },
                current,
                areas,
            );
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
            }
            if current && !force.is_empty() {
                self.pcc_of_force.entry(force.to_owned()).or_insert(body);
            }
        }
    }

    fn areas_of_icb(&self, ods: &str) -> Vec<String> {
        self.by_code
            .get(&format!("ods:{ods}"))
            .map(|b| self.bodies[*b].areas.clone())
            .unwrap_or_default()
    }

    fn health(&mut self) {
        for row in rows(ICBS) {
            let areas: Vec<String> = split_list(get(&row, "local_authorities"))
                .map(name_key)
                .collect();
            let body = self.add(
                format!("ods:{}", get(&row, "ods_code")),
                get(&row, "name"),
                Sector::HealthCommissioning,
                AgencyKind::Icb,
                Scope::Regional,
                true,
                areas,
            );
            // "NHS Kent and Medway" is how an ICB signs itself: as strong as its full name.
            self.key(get(&row, "short_name"), body, Strength::Name);
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
            }
        }
        for (text, before) in [(CCGS_2021, false), (CCGS_BEFORE, true)] {
            for row in rows(text) {
                let icb = get(&row, "successor_icb_ods");
                let areas = self.areas_of_icb(icb);
                let body = self.add(
                    format!("ods:{}", get(&row, "ods_code")),
                    get(&row, "name"),
                    Sector::HealthCommissioning,
                    AgencyKind::Ccg,
                    Scope::Local,
                    false,
                    areas,
                );
                for alias in split_list(get(&row, "aliases")) {
                    // "NHS Kent and Medway" without "CCG" is also the ICB's name; the ICB's
                    // own name is stronger, so the bare form only names a CCG with no ICB.
                    let strength = if name_key(alias).ends_with("ccg")
                        || name_key(alias).contains("clinical commissioning")
                    {
                        Strength::Alias
                    } else {
                        Strength::Weak
                    };
                    self.key(alias, body, strength);
                }
                let year = day_after(get(&row, "closed"));
                let next = if before {
                    get(&row, "successor_ccg_2021_ods")
                } else {
                    ""
                };
                let next = if next.is_empty() { icb } else { next };
                if !next.is_empty() {
                    self.successor_names
                        .push((body, format!("ods:{next}"), year.or(Some(2022))));
                }
            }
        }
        for row in rows(NHS_TRUSTS) {
            let name = get(&row, "name_display");
            let sector = trust_sector(get(&row, "kind"), name);
            let areas = self.areas_of_icb(get(&row, "icb_ods"));
            let body = self.add(
                format!("ods:{}", get(&row, "ods_code")),
                name,
                sector,
                AgencyKind::NhsTrust,
                Scope::Regional,
                get(&row, "status") == "current",
                areas,
            );
            for alias in split_list(get(&row, "abbreviation")) {
                self.key(alias, body, Strength::Alias);
            }
            for initials in trust_initials(name) {
                self.key(&initials, body, Strength::Initials);
            }
            for alias in split_list(get(&row, "former_names")) {
                self.key(alias, body, Strength::Alias);
            }
            // "Central North West London NHS Foundation Trust": the "and" is often dropped.
            if name.contains(" and ") {
                self.key(&name.replace(" and ", " "), body, Strength::Weak);
            }
            // Reviews swap "NHS Foundation Trust" and "NHS Trust" freely.
            for (from, to) in [
                ("NHS Foundation Trust", "NHS Trust"),
                ("NHS Trust", "NHS Foundation Trust"),
                ("NHS Foundation Trust", "Foundation Trust"),
                ("NHS Foundation Trust", ""),
                ("NHS Trust", ""),
            ] {
                if let Some(stem) = name.strip_suffix(from) {
                    let variant = format!("{}{to}", stem);
                    // A trust name minus "NHS Trust" must still say what it is.
                    let strength = if to.is_empty() && stem.split_whitespace().count() < 3 {
                        Strength::Stem
                    } else {
                        Strength::Weak
                    };
                    self.key(variant.trim(), body, strength);
                }
            }
        }
        for row in rows(WALES_HEALTH) {
            let name = get(&row, "name");
            let kind = get(&row, "kind");
            let aliases: Vec<&str> = split_list(get(&row, "aliases"))
                .chain(split_list(get(&row, "abbreviation")))
                .collect();
            // Public Health Wales is also a national body: one body, not two.
            if let Some(existing) = aliases.iter().find_map(|a| self.primary(a)) {
                self.key(name, existing, Strength::Alias);
                continue;
            }
            let (sector, agency_kind, scope) = match kind {
                "local health board" => (
                    Sector::HealthCommissioning,
                    AgencyKind::HealthBoard,
                    Scope::Regional,
                ),
                "NHS trust" => (Sector::AcuteHealth, AgencyKind::NhsTrust, Scope::National),
                _ => (Sector::Other, AgencyKind::NationalBody, Scope::National),
            };
            let code = match get(&row, "ods_code") {
                "" => format!("wales:{}", slugify(name)),
                ods => format!("ods:{ods}"),
            };
            let body = self.add(
                code,
                name,
                sector,
                agency_kind,
                scope,
                get(&row, "status") == "current",
                split_list(get(&row, "local_authorities"))
                    .map(name_key)
                    .collect(),
            );
            for alias in aliases {
                self.key(alias, body, Strength::Alias);
            }
            if let Some(stem) = name.strip_suffix(" University Health Board") {
                self.key(&format!("{stem} UHB"), body, Strength::Weak);
                self.key(&format!("{stem} Health Board"), body, Strength::Weak);
            }
            if let Some(successor) = get(&row, "status").strip_prefix("replaced ") {
                // The 2019 boundary change: ABMU became Swansea Bay, Cwm Taf became CTM.
                let next = if name.starts_with("Abertawe") {
                    "Swansea Bay University Health Board"
                } else {
                    "Cwm Taf Morgannwg University Health Board"
                };
                self.successor_names
                    .push((body, next.to_owned(), year_of(successor)));
            }
        }
    }

    fn national(&mut self) {
        for row in rows(NATIONAL) {
            let name = get(&row, "name");
            let sector: Sector = get(&row, "sector").parse().unwrap_or(Sector::Other);
            let status = get(&row, "status");
            let body = self.add(
                format!("gov:{}", slugify(name)),
                name,
                sector,
                AgencyKind::NationalBody,
                Scope::National,
                !status.starts_with("abolished"),
                Vec::new(),
            );
            for alias in split_list(get(&row, "aliases")) {
                self.key(strip_years(alias), body, Strength::Alias);
            }
            for former in split_list(get(&row, "former_names")) {
                self.key(strip_years(former), body, Strength::Alias);
            }
            let parent = get(&row, "parent");
            if !parent.is_empty() {
                self.parent_names.push((body, parent.to_owned()));
            }
            // "succeeded by the Probation Service", "replaced by the IOPC in 2018",
            // "merged into NHS England (2022)", "replaced by UKHSA and OHID": the first named.
            let text = get(&row, "predecessor_successor");
            for cue in ["succeeded by ", "replaced by ", "merged into "] {
                if let Some(at) = text.find(cue) {
                    let rest = &text[at + cue.len()..];
                    let rest = rest.strip_prefix("the ").unwrap_or(rest);
                    let end = rest
                        .find([' ', '(', ',', ';'])
                        .map(|_| {
                            [" and ", " in ", " (", ",", ";"]
                                .iter()
                                .filter_map(|s| rest.find(s))
                                .min()
                                .unwrap_or(rest.len())
                        })
                        .unwrap_or(rest.len());
                    let year = year_of(status).or_else(|| year_of(text));
                    self.successor_names
                        .push((body, rest[..end].trim().to_owned(), year));
                    break;
                }
            }
        }
    }

    fn probation(&mut self) {
        for row in rows(PROBATION) {
            let name = get(&row, "name");
            let kind = get(&row, "kind");
            let region = kind.starts_with("Probation Service region");
            let crc = kind.starts_with("Community Rehabilitation");
            let code = match get(&row, "delius_code") {
                "" => format!("gov:{}", slugify(name)),
                c => format!("delius:{c}"),
            };
            let body = self.add(
                code,
                name,
                Sector::ProbationCriminalJustice,
                AgencyKind::Probation,
                if region || crc {
                    Scope::Regional
                } else {
                    Scope::National
                },
                get(&row, "status") == "current",
                Vec::new(),
            );
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
            }
            if region {
                self.parent_names.push((body, "Probation Service".into()));
            }
            if crc {
                self.successor_names
                    .push((body, "Probation Service".into(), Some(2021)));
            }
        }
    }

    fn da_organisations(&mut self) {
        for row in rows(DA_ORGS) {
            let name = get(&row, "name");
            let scope = if get(&row, "scope").starts_with("regional") {
                Scope::Regional
            } else {
                Scope::National
            };
            let body = self.add(
                format!("da:{}", slugify(name)),
                name,
                Sector::SpecialistDomesticAbuse,
                AgencyKind::DomesticAbuseOrganisation,
                scope,
                true,
                Vec::new(),
            );
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
            }
        }
    }

    /// Providers no official register here lists: housing associations and ALMOs, local
    /// domestic-abuse services, drug and alcohol treatment providers, community interest
    /// companies delivering NHS community services, children's services companies. Curated
    /// by the project (README of `api/data/registry/`): without them, the names reviews
    /// print most after the statutory bodies' fall to `OTHER`.
    fn providers(&mut self) {
        for row in rows(PROVIDERS) {
            let name = get(&row, "name");
            let sector: Sector = get(&row, "sector").parse().unwrap_or(Sector::Other);
            let kind = match get(&row, "kind") {
                "nhs trust" => AgencyKind::NhsTrust,
                "domestic abuse organisation" => AgencyKind::DomesticAbuseOrganisation,
                "national body" => AgencyKind::NationalBody,
                "probation" => AgencyKind::Probation,
                _ => AgencyKind::Provider,
            };
            let scope = match get(&row, "scope") {
                "local" => Scope::Local,
                "regional" => Scope::Regional,
                _ => Scope::National,
            };
            let areas: Vec<String> = split_list(get(&row, "areas")).map(name_key).collect();
            let body = self.add(
                format!("provider:{}", slugify(name)),
                name,
                sector,
                kind,
                scope,
                !get(&row, "note").contains("(until ") && !get(&row, "note").contains("(closed "),
                areas,
            );
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
            }
        }
    }

    /// Names the registers leave out of their own bodies: the abbreviations trusts and ICBs
    /// go by (AWP, TEWV, BNSSG), Welsh names (Heddlu Gogledd Cymru, Cyngor Gwynedd), a
    /// city's short name (Hull), and a sector where the register's does not fit the body
    /// (the Department for Education is national government, not a school).
    fn aliases(&mut self) {
        for row in rows(ALIASES) {
            let name = get(&row, "name");
            let Some(body) = self.primary(name) else {
                continue;
            };
            if let Ok(sector) = get(&row, "sector").parse::<Sector>() {
                self.bodies[body].sector = sector;
            }
            let council = self.bodies[body].kind == AgencyKind::LocalAuthority;
            for alias in split_list(get(&row, "aliases")) {
                self.key(alias, body, Strength::Alias);
                if council {
                    // So that a CSP printed by the short name ("Hull") finds its area.
                    let list = self.councils.entry(name_key(alias)).or_default();
                    if !list.contains(&body) {
                        list.push(body);
                    }
                }
            }
        }
    }

    /// The area of a set of local authorities (short keys), with their successors.
    fn area_of(&self, csp: &str, las: Vec<String>, force: Option<String>) -> Area {
        let mut keys: Vec<String> = Vec::new();
        for la in las {
            if let Some(info) = self.las.get(&la) {
                keys.extend(info.replaced_by.iter().cloned());
            }
            keys.push(la);
        }
        keys.dedup();
        let unique = |f: &dyn Fn(&La) -> Option<String>| {
            let values: BTreeSet<String> = keys
                .iter()
                .filter_map(|k| self.las.get(k))
                .filter_map(f)
                .collect();
            (values.len() == 1)
                .then(|| values.into_iter().next())
                .flatten()
        };
        Area {
            csp: csp.to_owned(),
            force: force.or_else(|| unique(&|l| l.force.clone())),
            icb_ods: unique(&|l| l.icb_ods.clone()),
            health_board: unique(&|l| l.health_board.clone()),
            region: unique(&|l| l.region.clone()),
            las: keys,
            csp_body: None,
        }
    }

    fn csp_body(&mut self, csp: &str, areas: Vec<String>) -> usize {
        let name = format!("{csp} Community Safety Partnership");
        let body = self.add(
            format!("csp:{}", slugify(csp)),
            &name,
            Sector::CommunitySafetyPartnership,
            AgencyKind::Csp,
            Scope::Local,
            true,
            areas,
        );
        for variant in [
            format!("{csp} CSP"),
            format!("Safer {csp} Partnership"),
            format!("Safe {csp} Partnership"),
            format!("{csp} Safer Partnership"),
            format!("{csp} Community Safety Partnership Board"),
            format!("Safer {csp}"),
        ] {
            self.key(&variant, body, Strength::Weak);
        }
        body
    }

    fn csps(&mut self) {
        for row in rows(CSP_NAMES) {
            let csp = get(&row, "csp");
            let las: Vec<String> = split_list(get(&row, "local_authorities"))
                .filter_map(|n| self.la_by_name.get(&name_key(n)).cloned())
                .collect();
            let force =
                Some(get(&row, "police_force_short_id").to_owned()).filter(|s| !s.is_empty());
            let mut area = self.area_of(csp, las, force);
            let body = self.csp_body(csp, area.las.clone());
            area.csp_body = Some(body);
            for name in [csp, get(&row, "ons_csp19_name")] {
                if !name.is_empty() {
                    self.csps
                        .entry(name_key(name))
                        .or_insert_with(|| area.clone());
                }
            }
        }
        // Every current authority is a CSP area of its own, for reviews of CSPs the DHRD has
        // not seen yet (a county's CSP covers its districts).
        let mut las: Vec<(String, String, bool)> = self
            .las
            .values()
            .filter(|l| self.bodies[l.body].current)
            .map(|l| {
                let short = self.bodies[l.body].name.clone();
                (l.short_key.clone(), short, l.county)
            })
            .collect();
        las.sort();
        for (key, _, _) in las {
            if self.csps.contains_key(&key) {
                continue;
            }
            let mut keys = vec![key.clone()];
            if let Some(l) = self.las.get(&key)
                && l.county
            {
                keys = self.bodies[l.body].areas.clone();
            }
            let printed = self
                .las
                .get(&key)
                .map(|l| display_short(&self.bodies[l.body].name))
                .unwrap_or_else(|| key.clone());
            let mut area = self.area_of(&printed, keys, None);
            let body = self.csp_body(&printed, area.las.clone());
            area.csp_body = Some(body);
            self.csps.insert(key, area);
        }
    }
}

/// "Kent County Council" → "Kent": the place a council is named after.
/// The initials reviews abbreviate a trust by, made from its register name the way trusts
/// abbreviate themselves: the stem's capitalised words ("of", "the" left out; "and" left out
/// or as "a"), with or without the "FT" or "T" of "(NHS) Foundation Trust" / "NHS Trust":
/// LYPFT, NNUH, SLaM, RDaSH, TEWV, UHL, RCHT. At least three letters.
pub fn trust_initials(name: &str) -> Vec<String> {
    let (stem, suffix) = if let Some(stem) = name.strip_suffix(" NHS Foundation Trust") {
        (stem, "FT")
    } else if let Some(stem) = name.strip_suffix(" NHS Trust") {
        (stem, "T")
    } else {
        return Vec::new();
    };
    let words: Vec<&str> = stem
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    let initials = |with_and: bool| -> String {
        words
            .iter()
            .filter_map(|w| match w.to_lowercase().as_str() {
                "of" | "the" | "&" => None,
                "and" => with_and.then_some('A'),
                _ => w.chars().next().filter(|c| c.is_alphabetic()),
            })
            .flat_map(char::to_uppercase)
            .collect()
    };
    // Trusts that became university or teaching trusts mostly kept their initials (SWFT for
    // South Warwickshire University NHS FT).
    let plain: String = words
        .iter()
        .filter(|w| {
            !matches!(
                w.to_lowercase().as_str(),
                "of" | "the" | "&" | "and" | "university" | "teaching"
            )
        })
        .filter_map(|w| w.chars().next().filter(|c| c.is_alphabetic()))
        .flat_map(char::to_uppercase)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for core in [initials(false), initials(true), plain] {
        for form in [core.clone(), format!("{core}{suffix}")] {
            if form.chars().count() >= 3 && !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out
}

fn display_short(name: &str) -> String {
    let mut s = name;
    for suffix in [
        " Metropolitan Borough Council",
        " County Borough Council",
        " Borough Council",
        " County Council",
        " District Council",
        " City Council",
        " Council",
    ] {
        if let Some(stem) = s.strip_suffix(suffix) {
            s = stem;
            break;
        }
    }
    s.strip_prefix("City of ").unwrap_or(s).to_owned()
}

fn trust_sector(kind: &str, name: &str) -> Sector {
    match kind {
        "acute" | "specialist" | "ambulance" => Sector::AcuteHealth,
        "mental health" | "care trust" => Sector::MentalHealth,
        "community" => Sector::CommunityHealth,
        _ => {
            // Trusts created since the ERIC 2016/17 return carry no type: read the name.
            let n = name.to_ascii_lowercase();
            if n.contains("mental health")
                || n.contains("partnership")
                || n.contains("health and care")
                || n.contains("social care")
            {
                Sector::MentalHealth
            } else if n.contains("community") {
                Sector::CommunityHealth
            } else {
                Sector::AcuteHealth
            }
        }
    }
}

impl Registry {
    pub fn body(&self, index: usize) -> &Body {
        &self.bodies[index]
    }

    pub fn by_code(&self, code: &str) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    /// The body a register names so (its own name, not an alias).
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.candidates(&name_key(name))
            .iter()
            .find(|c| c.strength == Strength::Name)
            .map(|c| c.body)
    }

    pub fn candidates(&self, key: &str) -> &[Candidate] {
        self.keys.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn councils(&self, key: &str) -> &[usize] {
        self.councils.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn la(&self, short_key: &str) -> Option<&La> {
        self.las.get(short_key)
    }

    pub fn pcc_of_force(&self, force: &str) -> Option<usize> {
        self.pcc_of_force.get(force).copied()
    }

    pub fn children(&self, index: usize) -> &[usize] {
        self.children.get(&index).map_or(&[], Vec::as_slice)
    }

    pub fn predecessors(&self, index: usize) -> &[usize] {
        self.predecessors.get(&index).map_or(&[], Vec::as_slice)
    }

    /// The area of a CSP as a page prints it: "Dudley", "Safe and Sound (the Dudley
    /// Community Safety Partnership)", "Lincoln", "Kent and Medway".
    pub fn area(&self, printed: &str) -> Option<&Area> {
        let mut tries: Vec<String> = vec![printed.to_owned()];
        if let (Some(open), Some(close)) = (printed.find('('), printed.rfind(')'))
            && open < close
        {
            tries.push(printed[open + 1..close].to_owned());
            tries.push(printed[..open].to_owned());
        }
        for t in tries {
            let key = name_key(&t);
            if let Some(a) = self.csps.get(&key) {
                return Some(a);
            }
            let mut stripped = key.clone();
            for suffix in [
                " community safety partnership board",
                " community safety partnership",
                " safer partnership",
                " partnership",
                " csp",
            ] {
                if let Some(s) = stripped.strip_suffix(suffix) {
                    stripped = s.to_owned();
                    break;
                }
            }
            for prefix in ["safer ", "safe "] {
                if let Some(s) = stripped.strip_prefix(prefix) {
                    stripped = s.to_owned();
                }
            }
            if let Some(a) = self.csps.get(&stripped) {
                return Some(a);
            }
            if let Some(la) = self
                .councils(&stripped)
                .first()
                .and_then(|b| self.la_of_body.get(b))
                .and_then(|k| self.las.get(k))
                && let Some(a) = self.csps.get(&la.short_key)
            {
                return Some(a);
            }
        }
        None
    }

    /// The area of a review's CSPs: what they share (a joint review of two areas of one
    /// force keeps the force, not one CSP).
    pub fn area_of_review(&self, csps: &[String]) -> Option<Area> {
        let areas: Vec<&Area> = csps.iter().filter_map(|c| self.area(c)).collect();
        let first = (*areas.first()?).clone();
        if areas.len() == 1 {
            return Some(first);
        }
        let same = |f: &dyn Fn(&Area) -> Option<String>| {
            let v = f(areas[0]);
            areas.iter().all(|a| f(a) == v).then_some(v).flatten()
        };
        Some(Area {
            csp: areas
                .iter()
                .map(|a| a.csp.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            las: areas.iter().flat_map(|a| a.las.iter().cloned()).collect(),
            force: same(&|a| a.force.clone()),
            icb_ods: same(&|a| a.icb_ods.clone()),
            health_board: same(&|a| a.health_board.clone()),
            region: same(&|a| a.region.clone()),
            csp_body: None,
        })
    }

    /// Whether a body serves an area: they share a local authority, or the body serves a
    /// district of a county the area names (an ICB lists districts, a county CSP the county).
    pub fn serves(&self, body: usize, area: &Area) -> bool {
        self.bodies[body].areas.iter().any(|key| {
            area.las.contains(key)
                || self
                    .las
                    .get(key)
                    .and_then(|la| la.county_key.as_ref())
                    .is_some_and(|county| area.las.contains(county))
        })
    }

    /// The register bodies an area is served by: its local authorities (current ones first),
    /// police force, ICB and Welsh health board.
    pub fn bodies_of_area(&self, area: &Area) -> AreaBodies {
        let mut local_authorities: Vec<usize> = Vec::new();
        for key in &area.las {
            if let Some(la) = self.las.get(key)
                && !local_authorities.contains(&la.body)
            {
                local_authorities.push(la.body);
            }
        }
        self.current_first(&mut local_authorities);
        AreaBodies {
            local_authorities,
            police_force: self.force_of(area),
            icb: self.icb_of(area),
            health_board: self.health_board_of(area),
        }
    }

    /// The area's police force.
    pub fn force_of(&self, area: &Area) -> Option<usize> {
        area.force
            .as_ref()
            .and_then(|f| self.by_code(&format!("force:{f}")))
    }

    /// The area's integrated care board (England).
    pub fn icb_of(&self, area: &Area) -> Option<usize> {
        area.icb_ods
            .as_ref()
            .and_then(|o| self.by_code(&format!("ods:{o}")))
    }

    /// The area's local health board (Wales).
    pub fn health_board_of(&self, area: &Area) -> Option<usize> {
        area.health_board.as_ref().and_then(|h| {
            self.candidates(&name_key(h))
                .iter()
                .find(|c| c.strength == Strength::Name)
                .map(|c| c.body)
        })
    }

    /// Current bodies first, then by name: how lists of an area's bodies are shown.
    fn current_first(&self, bodies: &mut [usize]) {
        bodies.sort_by_key(|b| (!self.bodies[*b].current, self.bodies[*b].name.clone()));
    }

    /// The local authorities a registered body serves (a force's, an ICB's, a council's own),
    /// by the body's code; a council service's code (`gss:E10000016/adult-social-care`) serves
    /// its council's area. Empty for a national body or an unknown code.
    pub fn area_of_code(&self, code: &str) -> Vec<usize> {
        let body = self
            .by_code(code)
            .or_else(|| code.split_once('/').and_then(|(c, _)| self.by_code(c)));
        let Some(body) = body else {
            return Vec::new();
        };
        let mut out: Vec<usize> = Vec::new();
        for key in &self.bodies[body].areas {
            let Some(la) = self.las.get(key) else {
                continue;
            };
            // A register that lists districts serves their county council's area too.
            let county = la
                .county_key
                .as_ref()
                .filter(|_| la.district)
                .and_then(|c| self.las.get(c))
                .map(|c| c.body);
            for b in [Some(la.body), county].into_iter().flatten() {
                if !out.contains(&b) {
                    out.push(b);
                }
            }
        }
        if out.is_empty()
            && let Some(key) = self.la_of_body.get(&body)
            && self.las.contains_key(key)
        {
            out.push(body);
        }
        self.current_first(&mut out);
        out
    }

    /// The councils (upper tier: social services, public health) of an area.
    pub fn upper_tier(&self, area: &Area) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for key in &area.las {
            let Some(la) = self.las.get(key) else {
                continue;
            };
            if !self.bodies[la.body].current {
                continue;
            }
            let body = match (&la.county_key, la.district) {
                (Some(county), true) => self.las.get(county).map(|c| c.body),
                _ => Some(la.body),
            };
            if let Some(b) = body
                && !out.contains(&b)
            {
                out.push(b);
            }
        }
        // A county-wide area lists the county and its districts: the county serves them all.
        if out.len() > 1
            && let Some(county) = out.iter().copied().find(|b| {
                self.bodies[*b].kind == AgencyKind::LocalAuthority
                    && self
                        .la_of_body
                        .get(b)
                        .and_then(|k| self.las.get(k))
                        .is_some_and(|l| l.county && l.body == *b)
            })
        {
            return vec![county];
        }
        out
    }

    /// The councils (lower tier: housing) of an area.
    pub fn lower_tier(&self, area: &Area) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for key in &area.las {
            if let Some(la) = self.las.get(key)
                && self.bodies[la.body].current
                && !la.county
                && !out.contains(&la.body)
            {
                out.push(la.body);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_register_is_read() {
        let r = registry();
        let count = |k: AgencyKind| r.bodies.iter().filter(|b| b.kind == k).count();
        assert_eq!(count(AgencyKind::PoliceForce), 46);
        assert_eq!(count(AgencyKind::Icb), 42);
        assert!(
            count(AgencyKind::NhsTrust) > 270,
            "{}",
            count(AgencyKind::NhsTrust)
        );
        assert!(count(AgencyKind::LocalAuthority) > 380);
        assert!(count(AgencyKind::Csp) > 300);
        assert!(count(AgencyKind::Ccg) > 240);
        let codes: BTreeSet<&str> = r.bodies.iter().map(|b| b.code.as_str()).collect();
        assert_eq!(codes.len(), r.bodies.len(), "codes are unique");
    }

    #[test]
    fn successions_and_parents() {
        let r = registry();
        let body = |name: &str| {
            r.bodies
                .iter()
                .position(|b| b.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let successor = |name: &str| {
            r.body(body(name))
                .successor
                .map(|(s, y)| (r.body(s).name.as_str(), y))
        };
        assert_eq!(
            successor("National Probation Service"),
            Some(("Probation Service", Some(2021)))
        );
        assert_eq!(
            successor("Public Health England"),
            Some(("UK Health Security Agency", Some(2021)))
        );
        assert_eq!(
            successor("NHS Kent and Medway CCG"),
            Some(("NHS Kent and Medway Integrated Care Board", Some(2022)))
        );
        let northants = successor("Northamptonshire County Council").unwrap();
        assert!(northants.0.contains("Northamptonshire"), "{northants:?}");
        assert_eq!(northants.1, Some(2021));
        let parent = r.body(body("Probation Service")).parent.unwrap();
        assert_eq!(r.body(parent).name, "HM Prison and Probation Service");
    }

    #[test]
    fn csp_areas_carry_force_and_icb() {
        let r = registry();
        let kent = r.area("Kent").unwrap();
        assert_eq!(kent.force.as_deref(), Some("kent"));
        assert_eq!(kent.icb_ods.as_deref(), Some("QKS"));
        let dudley = r
            .area("Safe and Sound (the Dudley Community Safety Partnership)")
            .unwrap();
        assert_eq!(dudley.force.as_deref(), Some("west-midlands"));
        assert_eq!(
            r.area("Lincoln").unwrap().force.as_deref(),
            Some("lincolnshire")
        );
        // Not in the DHRD: every current authority is an area.
        assert_eq!(
            r.area("Wigan Community Safety Partnership")
                .unwrap()
                .force
                .as_deref(),
            Some("greater-manchester")
        );
        assert!(r.area("Atlantis").is_none());
    }
}
