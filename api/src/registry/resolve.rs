//! What a printed addressee names, and why. The order is issue 12's; the first step that
//! answers wins:
//!
//! 1. the project's curated list (`api/data/agencies.txt`); a curator's decisions in the
//!    database come before this and are applied by the store, which owns the database;
//! 2. register names and aliases by [`name_key`]; an alias of several bodies ("Hampshire")
//!    only by the review's area;
//! 3. abbreviations the review defines inline ("... Partnership Trust (KMPT)");
//! 4. services of a known council ("Kent County Council Adult Social Care");
//! 5. generic names ("Police", "the CCG") in a review whose area is known;
//! 6. rules by the name's form, which set a sector for a new agency and never merge;
//! 7. unresolved, sector `OTHER`.
//!
//! Nothing here is fuzzy: every answer is a key lookup, so two real bodies are never merged by
//! a guess.

use std::collections::HashMap;

use super::{Area, Registry, Strength, registry};
use crate::domain::normalise::{name_key, slugify, tidy};
use crate::domain::{AgencyKind, Method, Scope, Sector};
use crate::ingest::curated::{CuratedAgency, curated};

/// A service a council runs, addressed apart from the council.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    AdultSocialCare,
    ChildrensSocialCare,
    PublicHealth,
    Housing,
    CommunitySafety,
    Education,
}

impl Service {
    pub fn slug(self) -> &'static str {
        match self {
            Service::AdultSocialCare => "adult-social-care",
            Service::ChildrensSocialCare => "childrens-social-care",
            Service::PublicHealth => "public-health",
            Service::Housing => "housing",
            Service::CommunitySafety => "community-safety",
            Service::Education => "education",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Service::AdultSocialCare => "Adult Social Care",
            Service::ChildrensSocialCare => "Children's Social Care",
            Service::PublicHealth => "Public Health",
            Service::Housing => "Housing",
            Service::CommunitySafety => "Community Safety",
            Service::Education => "Education",
        }
    }

    pub fn sector(self) -> Sector {
        match self {
            Service::AdultSocialCare => Sector::AdultSocialCare,
            Service::ChildrensSocialCare => Sector::ChildrensServices,
            Service::PublicHealth => Sector::PublicHealth,
            Service::Housing => Sector::Housing,
            Service::CommunitySafety => Sector::CommunitySafetyPartnership,
            Service::Education => Sector::Education,
        }
    }

    /// Social care and public health are county functions where there are districts;
    /// housing is the district's.
    fn upper_tier(self) -> bool {
        !matches!(self, Service::Housing | Service::CommunitySafety)
    }
}

/// How services are printed after a council's name, or alone (longest first when matched).
const SERVICE_NAMES: &[(&str, Service)] = &[
    ("adult social care and health", Service::AdultSocialCare),
    ("adult social care services", Service::AdultSocialCare),
    ("adult social care", Service::AdultSocialCare),
    ("adults social care", Service::AdultSocialCare),
    ("adult social services", Service::AdultSocialCare),
    ("adult social work", Service::AdultSocialCare),
    ("adult services", Service::AdultSocialCare),
    ("adults services", Service::AdultSocialCare),
    ("adult care services", Service::AdultSocialCare),
    ("adult care", Service::AdultSocialCare),
    ("adults and health", Service::AdultSocialCare),
    ("adult safeguarding", Service::AdultSocialCare),
    // Wales's councils run one social services department for adults and children.
    ("social services", Service::AdultSocialCare),
    ("social services department", Service::AdultSocialCare),
    ("childrens social care", Service::ChildrensSocialCare),
    ("children social care", Service::ChildrensSocialCare),
    (
        "childrens social care services",
        Service::ChildrensSocialCare,
    ),
    ("childrens social services", Service::ChildrensSocialCare),
    (
        "childrens social work services",
        Service::ChildrensSocialCare,
    ),
    ("childrens services", Service::ChildrensSocialCare),
    ("children services", Service::ChildrensSocialCare),
    (
        "specialist childrens services",
        Service::ChildrensSocialCare,
    ),
    (
        "children and families services",
        Service::ChildrensSocialCare,
    ),
    ("children and family services", Service::ChildrensSocialCare),
    ("children and families", Service::ChildrensSocialCare),
    ("childrens safeguarding", Service::ChildrensSocialCare),
    ("early help", Service::ChildrensSocialCare),
    ("public health team", Service::PublicHealth),
    ("public health department", Service::PublicHealth),
    ("public health", Service::PublicHealth),
    ("housing services", Service::Housing),
    ("housing service", Service::Housing),
    ("housing department", Service::Housing),
    ("housing options", Service::Housing),
    ("housing options team", Service::Housing),
    ("housing team", Service::Housing),
    ("housing and homelessness", Service::Housing),
    ("homelessness service", Service::Housing),
    ("housing", Service::Housing),
    ("community safety team", Service::CommunitySafety),
    ("community safety", Service::CommunitySafety),
    ("education services", Service::Education),
    ("education service", Service::Education),
    ("education", Service::Education),
];

/// The service names as keys: [`name_key`] singularises the last word ("Children's
/// Services" is `childrens service`), so the table is compared in the same form.
fn service_keys() -> &'static [(String, Service)] {
    static CELL: std::sync::OnceLock<Vec<(String, Service)>> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        let mut v: Vec<(String, Service)> = SERVICE_NAMES
            .iter()
            .map(|(n, s)| (name_key(n), *s))
            .collect();
        // Longest first, so "adult social care and health" is not read as "... health".
        v.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        v.dedup();
        v
    })
}

fn generic_role(key: &str) -> Option<Role> {
    static CELL: std::sync::OnceLock<HashMap<String, Role>> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        GENERIC_NAMES
            .iter()
            .map(|(n, r)| (name_key(n), *r))
            .collect()
    })
    .get(key)
    .copied()
}

/// What a generic name stands for in its review's area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Police,
    Pcc,
    Icb,
    Ccg,
    HealthBoard,
    Council,
    Csp,
    Probation,
    Ambulance,
    /// The one mental health trust serving the area, where there is one.
    MentalHealthTrust,
    /// The one acute trust serving the area, where there is one.
    Hospital,
}

const GENERIC_NAMES: &[(&str, Role)] = &[
    ("police", Role::Police),
    ("police force", Role::Police),
    ("police service", Role::Police),
    ("local police", Role::Police),
    ("constabulary", Role::Police),
    ("opcc", Role::Pcc),
    ("pcc", Role::Pcc),
    ("opfcc", Role::Pcc),
    ("pfcc", Role::Pcc),
    ("police and crime commissioner", Role::Pcc),
    ("office of the police and crime commissioner", Role::Pcc),
    ("office of police and crime commissioner", Role::Pcc),
    ("police and crime commissioners office", Role::Pcc),
    ("police fire and crime commissioner", Role::Pcc),
    (
        "office of the police fire and crime commissioner",
        Role::Pcc,
    ),
    ("icb", Role::Icb),
    ("integrated care board", Role::Icb),
    ("integrated care system", Role::Icb),
    ("ics", Role::Icb),
    ("local icb", Role::Icb),
    ("ccg", Role::Ccg),
    ("clinical commissioning group", Role::Ccg),
    ("local ccg", Role::Ccg),
    ("health board", Role::HealthBoard),
    ("local health board", Role::HealthBoard),
    ("university health board", Role::HealthBoard),
    ("uhb", Role::HealthBoard),
    ("lhb", Role::HealthBoard),
    ("local authority", Role::Council),
    ("council", Role::Council),
    ("city council", Role::Council),
    ("county council", Role::Council),
    ("borough council", Role::Council),
    ("district council", Role::Council),
    ("unitary authority", Role::Council),
    ("local council", Role::Council),
    ("csp", Role::Csp),
    ("community safety partnership", Role::Csp),
    ("probation", Role::Probation),
    ("ambulance service", Role::Ambulance),
    ("ambulance", Role::Ambulance),
    ("ambulance trust", Role::Ambulance),
    ("local ambulance service", Role::Ambulance),
    ("nhs ambulance service", Role::Ambulance),
    ("ambulance services", Role::Ambulance),
    ("local probation service", Role::Probation),
    ("mental health trust", Role::MentalHealthTrust),
    ("local mental health trust", Role::MentalHealthTrust),
    ("mental health services", Role::MentalHealthTrust),
    ("mental health service", Role::MentalHealthTrust),
    ("secondary mental health services", Role::MentalHealthTrust),
    ("nhs mental health trust", Role::MentalHealthTrust),
    ("hospital", Role::Hospital),
    ("local hospital", Role::Hospital),
    ("hospital trust", Role::Hospital),
    ("acute trust", Role::Hospital),
    ("acute hospital trust", Role::Hospital),
    ("emergency department", Role::Hospital),
    ("a and e", Role::Hospital),
    ("accident and emergency", Role::Hospital),
];

/// Where a name resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A body of the registers.
    Body(usize),
    /// A service of a registered council.
    Service { council: usize, service: Service },
    /// An entry of the project's curated list that no register holds ("All Agencies").
    Listed(&'static CuratedAgency),
    /// A new agency of its own, with the sector its form shows (or `OTHER`).
    New { sector: Sector, kind: AgencyKind },
    /// A generic name ("the hospital") that the review's area does not tell apart: an agency
    /// of that name in that area ("the hospital (Harlow)"), so that the hospitals of two
    /// areas never become one agency.
    Local {
        sector: Sector,
        kind: AgencyKind,
        area: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    pub target: Target,
    pub method: Method,
    pub reason: String,
    /// The same name resolves the same way in every review: the store may remember it as an
    /// alias. Context and inline abbreviations answer for one review only.
    pub context_free: bool,
}

/// What an agency created for a resolution looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub code: Option<String>,
    pub name: String,
    pub sector: Sector,
    pub kind: AgencyKind,
    pub scope: Option<Scope>,
    pub parent_code: Option<String>,
    pub successor: Option<(String, Option<i32>)>,
}

impl Resolution {
    /// The agency this resolution names; `printed` names a new agency.
    pub fn spec(&self, printed: &str) -> Spec {
        let r = registry();
        match &self.target {
            Target::Body(i) => {
                let b = r.body(*i);
                Spec {
                    code: Some(b.code.clone()),
                    name: b.name.clone(),
                    sector: b.sector,
                    kind: b.kind,
                    scope: Some(b.scope),
                    parent_code: b.parent.map(|p| r.body(p).code.clone()),
                    successor: b.successor.map(|(s, y)| (r.body(s).code.clone(), y)),
                }
            }
            Target::Service { council, service } => {
                let c = r.body(*council);
                Spec {
                    code: Some(service_code(&c.code, *service)),
                    name: format!("{} {}", c.name, service.label()),
                    sector: service.sector(),
                    kind: AgencyKind::LocalAuthorityService,
                    scope: Some(Scope::Local),
                    parent_code: Some(c.code.clone()),
                    successor: c
                        .successor
                        .map(|(s, y)| (service_code(&r.body(s).code, *service), y)),
                }
            }
            Target::Listed(entry) => Spec {
                code: Some(format!("dhr:{}", slugify(entry.name))),
                name: entry.name.to_owned(),
                sector: entry.sector,
                kind: if entry.sector == Sector::Collective {
                    AgencyKind::Collective
                } else {
                    AgencyKind::Other
                },
                scope: None,
                parent_code: None,
                successor: None,
            },
            Target::New { sector, kind } => Spec {
                code: None,
                name: tidy(printed),
                sector: *sector,
                kind: *kind,
                scope: None,
                parent_code: None,
                successor: None,
            },
            Target::Local { sector, kind, area } => Spec {
                code: None,
                name: format!("{} ({area})", tidy(printed)),
                sector: *sector,
                kind: *kind,
                scope: Some(Scope::Local),
                parent_code: None,
                successor: None,
            },
        }
    }
}

pub fn service_code(council_code: &str, service: Service) -> String {
    format!("{council_code}/{}", service.slug())
}

/// What a review tells about its names: its area, and the abbreviations it defines.
#[derive(Clone, Debug, Default)]
pub struct ReviewContext {
    pub area: Option<Area>,
    /// Abbreviation key → the full name the review gave it.
    pub abbreviations: HashMap<String, String>,
}

impl ReviewContext {
    pub fn new<'a>(csps: &[String], texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut abbreviations = HashMap::new();
        for text in texts {
            for (abbr, full) in inline_abbreviations(text) {
                abbreviations.entry(name_key(&abbr)).or_insert(full);
            }
        }
        ReviewContext {
            area: registry().area_of_review(csps),
            abbreviations,
        }
    }
}

/// "Kent and Medway NHS and Social Care Partnership Trust (KMPT)" defines KMPT: the
/// capitalised words before a parenthesised abbreviation whose initials spell it, or the
/// longest run of them that the registry knows.
pub fn inline_abbreviations(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find('(').map(|p| p + from) {
        let Some(close) = text[open..].find(')').map(|p| p + open) else {
            break;
        };
        from = close + 1;
        let abbr = text[open + 1..close].trim();
        if !super::is_abbreviation(abbr) {
            continue;
        }
        let before: Vec<&str> = text[..open].split_whitespace().collect();
        let mut run: Vec<&str> = Vec::new();
        for w in before.iter().rev().take(14) {
            let capital = w.chars().next().is_some_and(|c| c.is_uppercase());
            let connector = matches!(*w, "and" | "of" | "the" | "for" | "&" | "in" | "on");
            let ends_sentence = w.ends_with(['.', ',', ';', ':', ')']);
            if ends_sentence || !(capital || connector) {
                break;
            }
            run.push(w);
        }
        run.reverse();
        while run
            .first()
            .is_some_and(|w| !w.starts_with(char::is_uppercase))
        {
            run.remove(0);
        }
        let letters: String = abbr
            .chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect();
        let mut found = None;
        for start in 0..run.len() {
            let candidate = run[start..].join(" ");
            let initials: String = run[start..]
                .iter()
                .filter(|w| w.starts_with(char::is_uppercase))
                .filter_map(|w| w.chars().next())
                .flat_map(char::to_lowercase)
                .collect();
            let known = matches!(
                resolve_free(&candidate).map(|r| r.method),
                Some(Method::Registry | Method::Curated | Method::ServiceOf)
            );
            if known
                || initials == letters
                || (letters.len() >= 3 && initials.starts_with(&letters))
            {
                found = Some(candidate);
                break;
            }
        }
        if let Some(full) = found {
            out.push((abbr.to_owned(), full));
        }
    }
    out
}

/// Resolves without any review context (steps 1, 2 and 4).
fn resolve_free(name: &str) -> Option<Resolution> {
    let key = name_key(name);
    if key.is_empty() {
        return None;
    }
    if let Some(entry) = curated().lookup(name) {
        // A curated entry that a register holds is that register body.
        if entry.name != name
            && let Some(mut r) =
                resolve_free(entry.name).filter(|r| !matches!(r.target, Target::Listed(_)))
        {
            r.method = Method::Curated;
            r.reason = format!("curated alias of {:?}; {}", entry.name, r.reason);
            return Some(r);
        }
        if let Some(body) = registered(&key, None) {
            return Some(Resolution {
                target: Target::Body(body.0),
                method: Method::Curated,
                reason: format!(
                    "curated name of the register entry {:?}",
                    registry().body(body.0).name
                ),
                context_free: true,
            });
        }
        return Some(Resolution {
            target: Target::Listed(entry),
            method: Method::Curated,
            reason: "in the project's curated list (api/data/agencies.txt)".into(),
            context_free: true,
        });
    }
    if let Some((body, abbreviation)) = registered_as(name, &key, None) {
        let b = registry().body(body);
        return Some(Resolution {
            target: Target::Body(body),
            method: if abbreviation {
                Method::Abbreviation
            } else {
                Method::Registry
            },
            reason: format!(
                "{} of {} ({})",
                if abbreviation {
                    "registered abbreviation"
                } else {
                    "register name"
                },
                b.name,
                b.code
            ),
            context_free: true,
        });
    }
    service_of(&key, None).map(|(council, service)| Resolution {
        reason: format!(
            "{} of {} ({})",
            service.label(),
            registry().body(council).name,
            registry().body(council).code
        ),
        target: Target::Service { council, service },
        method: Method::ServiceOf,
        context_free: true,
    })
}

/// The register body a key names, and whether the key is an abbreviation. Candidates of the
/// best strength compete; several are told apart by the area, else current beats closed,
/// else nobody is chosen.
fn registered(key: &str, area: Option<&Area>) -> Option<(usize, bool)> {
    registered_as(key, key, area)
}

/// As [`registered`], for a printed name: initials made from register names count only
/// where the name is printed as an abbreviation ("UHL", not "uhl" inside a sentence).
fn registered_as(printed: &str, key: &str, area: Option<&Area>) -> Option<(usize, bool)> {
    let r = registry();
    let initials_ok = super::is_abbreviation(printed);
    let all: Vec<&super::Candidate> = r
        .candidates(key)
        .iter()
        .filter(|c| c.strength != Strength::Initials || initials_ok)
        .collect();
    let best = all.iter().map(|c| c.strength).min()?;
    let top: Vec<_> = all.iter().filter(|c| c.strength == best).collect();
    // Initials are short and reused across the country ("MFT" is Manchester's and Medway's):
    // only a body serving the review's area answers to them.
    if best == Strength::Initials {
        let area = area?;
        let local: Vec<_> = top.iter().filter(|c| r.serves(c.body, area)).collect();
        return (local.len() == 1).then(|| (local[0].body, true));
    }
    if top.len() == 1 {
        return Some((top[0].body, top[0].abbreviation));
    }
    if let Some(area) = area {
        let local: Vec<_> = top
            .iter()
            .filter(|c| r.body(c.body).areas.iter().any(|a| area.las.contains(a)))
            .collect();
        if local.len() == 1 {
            return Some((local[0].body, local[0].abbreviation));
        }
    }
    let current: Vec<_> = top.iter().filter(|c| r.body(c.body).current).collect();
    if current.len() == 1 && best < Strength::Weak {
        return Some((current[0].body, current[0].abbreviation));
    }
    None
}

/// "<council> Adult Social Care": the council's service. With an area, a bare service name
/// ("Adult Social Care") is the area's council's.
fn service_of(key: &str, area: Option<&Area>) -> Option<(usize, Service)> {
    let r = registry();
    let mut best: Option<(usize, Service)> = None;
    for (suffix, service) in service_keys() {
        let prefix = if key == suffix {
            ""
        } else if let Some(p) = key.strip_suffix(suffix).and_then(|p| p.strip_suffix(' ')) {
            p
        } else {
            continue;
        };
        let prefix = prefix.trim();
        if prefix.is_empty() {
            let area = area?;
            let councils = if service.upper_tier() {
                r.upper_tier(area)
            } else {
                r.lower_tier(area)
            };
            if let [council] = councils[..] {
                return Some((council, *service));
            }
            return None;
        }
        // "Kent County Council's" reads as "kent county councils" in a key.
        for p in [
            prefix.to_owned(),
            prefix.strip_suffix('s').unwrap_or(prefix).to_owned(),
            prefix.strip_suffix(" city").unwrap_or(prefix).to_owned(),
            prefix.strip_suffix(" county").unwrap_or(prefix).to_owned(),
        ] {
            let councils = r.councils(&p);
            let chosen = match councils {
                [one] => Some(*one),
                [] => None,
                many => area
                    .and_then(|a| {
                        let local: Vec<usize> = many
                            .iter()
                            .copied()
                            .filter(|b| r.body(*b).areas.iter().any(|x| a.las.contains(x)))
                            .collect();
                        (local.len() == 1).then(|| local[0])
                    })
                    .or_else(|| {
                        let current: Vec<usize> = many
                            .iter()
                            .copied()
                            .filter(|b| r.body(*b).current)
                            .collect();
                        (current.len() == 1).then(|| current[0])
                    }),
            };
            if let Some(c) = chosen {
                best = Some((c, *service));
                break;
            }
        }
        if best.is_some() {
            break;
        }
    }
    best
}

/// Resolves a printed addressee in its review's context.
pub fn resolve(printed: &str, ctx: &ReviewContext) -> Resolution {
    let name = strip_defined_abbreviation(printed);
    let key = name_key(name);
    let area = ctx.area.as_ref();
    if let Some(r) = resolve_free(name) {
        return r;
    }
    // An alias of several bodies, told apart by the review's area.
    if let Some(area) = area
        && let Some((body, abbreviation)) = registered_as(name, &key, Some(area))
    {
        let b = registry().body(body);
        return Resolution {
            target: Target::Body(body),
            method: if abbreviation {
                Method::Abbreviation
            } else {
                Method::Registry
            },
            reason: if abbreviation {
                format!(
                    "{:?} abbreviates {} ({}), which serves this review's area ({})",
                    tidy(name),
                    b.name,
                    b.code,
                    area.csp
                )
            } else {
                format!(
                    "{:?} names several bodies; {} serves this review's area ({})",
                    tidy(name),
                    b.name,
                    area.csp
                )
            },
            context_free: false,
        };
    }
    if let Some(full) = ctx.abbreviations.get(&key) {
        let inner = resolve(
            full,
            &ReviewContext {
                area: ctx.area.clone(),
                abbreviations: HashMap::new(),
            },
        );
        return Resolution {
            reason: format!("defined in this review as {full:?}; {}", inner.reason),
            target: match inner.target {
                // An unknown full name still names one body: the abbreviation joins it.
                Target::New { .. } => Target::New {
                    sector: inner.spec(full).sector,
                    kind: inner.spec(full).kind,
                },
                t => t,
            },
            method: Method::Abbreviation,
            context_free: false,
        };
    }
    if let Some(area) = area {
        if let Some((council, service)) = service_of(&key, Some(area)) {
            let c = registry().body(council);
            return Resolution {
                reason: format!(
                    "{} of this review's area ({}): {}",
                    service.label(),
                    area.csp,
                    c.name
                ),
                target: Target::Service { council, service },
                method: Method::Context,
                context_free: false,
            };
        }
        if let Some(r) = in_context(&key, area) {
            return r;
        }
        if let Some((body, why)) = short_form(name, area) {
            let b = registry().body(body);
            return Resolution {
                target: Target::Body(body),
                method: Method::Abbreviation,
                reason: format!("{why} in this review's area ({}): {}", area.csp, b.name),
                context_free: false,
            };
        }
        if generic_role(&key).is_some() {
            let (sector, kind) = rule(name)
                .map(|(s, k, _)| (s, k))
                .unwrap_or((Sector::Other, AgencyKind::Other));
            return Resolution {
                target: Target::Local {
                    sector,
                    kind,
                    area: area.csp.clone(),
                },
                method: Method::Rule,
                reason: format!(
                    "a generic name that several bodies of this review's area ({}) answer to",
                    area.csp
                ),
                context_free: false,
            };
        }
    }
    if let Some((sector, kind, why)) = rule(name) {
        return Resolution {
            target: Target::New { sector, kind },
            method: Method::Rule,
            reason: format!("by its form: {why}"),
            context_free: true,
        };
    }
    Resolution {
        target: Target::New {
            sector: Sector::Other,
            kind: AgencyKind::Other,
        },
        method: Method::Unresolved,
        reason: "no register, abbreviation, service, context or rule names it".into(),
        context_free: true,
    }
}

/// The short forms reviews print for a body of their own area: a council's "Hull CC",
/// "Ashford BC", "Newport CBC"; a London borough's initials ("LBTH", "RBKC"); a body with a
/// qualifier ("ELFT (Bedfordshire)", "Kent Police - Public Protection Unit") or with a unit
/// after its abbreviation ("CNWL Milton Keynes", "MPS East Area BCU"). Each is read only
/// against register bodies, and the area decides between two.
fn short_form(name: &str, area: &Area) -> Option<(usize, &'static str)> {
    let words: Vec<&str> = name.split_whitespace().collect();
    let body_of = |n: &str| registered_as(n, &name_key(n), Some(area)).map(|(b, _)| b);
    if let [rest @ .., last] = &words[..]
        && !rest.is_empty()
    {
        let expansions: &[&str] = match *last {
            "CC" => &["City Council", "County Council"],
            "BC" => &["Borough Council"],
            "DC" => &["District Council"],
            "MBC" => &["Metropolitan Borough Council", "Borough Council"],
            "CBC" => &["County Borough Council", "Borough Council"],
            _ => &[],
        };
        for e in expansions {
            if let Some(b) = body_of(&format!("{} {e}", rest.join(" "))) {
                return Some((b, "a council's short form"));
            }
        }
    }
    if let [one] = &words[..]
        && super::is_abbreviation(one)
        && (one.starts_with("LB") || one.starts_with("RB"))
    {
        for la in &area.las {
            let initials: String = la
                .split_whitespace()
                .filter(|w| !matches!(*w, "and" | "of" | "upon" | "on" | "the"))
                .filter_map(|w| w.chars().next())
                .collect::<String>()
                .to_uppercase();
            if initials.len() >= 2
                && one[2..] == initials
                && let Some(b) = body_of(la)
            {
                return Some((b, "a borough's initials"));
            }
        }
    }
    let t = name.trim();
    let qualified = t
        .rfind(" (")
        .filter(|_| t.ends_with(')'))
        .or_else(|| t.find(" - "))
        .or_else(|| t.find(" – "));
    if let Some(cut) = qualified
        && let Some(b) = body_of(t[..cut].trim())
    {
        return Some((b, "a body with a qualifier"));
    }
    if let [first, rest @ ..] = &words[..]
        && (1..=4).contains(&rest.len())
        && super::is_abbreviation(first)
        && let Some(b) = body_of(first)
    {
        return Some((b, "a body's abbreviation with a unit or place"));
    }
    None
}

/// "Kent and Medway NHS and Social Care Partnership Trust (KMPT)" is the trust.
fn strip_defined_abbreviation(printed: &str) -> &str {
    let t = printed.trim();
    if let Some(open) = t.rfind(" (")
        && t.ends_with(')')
        && super::is_abbreviation(&t[open + 2..t.len() - 1])
    {
        return t[..open].trim();
    }
    t
}

fn in_context(key: &str, area: &Area) -> Option<Resolution> {
    let r = registry();
    let role = GENERIC_NAMES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, r)| *r)?;
    let body = match role {
        Role::Police => r.force_of(area),
        Role::Pcc => area.force.as_ref().and_then(|f| r.pcc_of_force(f)),
        Role::Icb => r.icb_of(area),
        Role::Ccg => r.icb_of(area).and_then(|icb| {
            // Only where one 2021 CCG became the area's ICB is "the CCG" that CCG.
            let ccgs: Vec<usize> = r
                .predecessors(icb)
                .iter()
                .copied()
                .filter(|p| {
                    r.body(*p).kind == AgencyKind::Ccg
                        && r.body(*p).successor.is_some_and(|(_, y)| y == Some(2022))
                })
                .collect();
            (ccgs.len() == 1).then(|| ccgs[0])
        }),
        Role::HealthBoard => r.health_board_of(area),
        Role::Council => {
            let lower = r.lower_tier(area);
            let upper = r.upper_tier(area);
            match (&lower[..], &upper[..]) {
                ([one], _) => Some(*one),
                (_, [one]) => Some(*one),
                _ => None,
            }
        }
        Role::Csp => area.csp_body,
        Role::Probation => area.region.as_ref().and_then(|region| {
            let probation_region = match (region.as_str(), area.force.as_deref()) {
                (_, Some("greater-manchester")) => "Greater Manchester",
                ("South East", Some("kent" | "surrey" | "sussex")) => "Kent, Surrey and Sussex",
                ("South East", _) => "South Central",
                ("Wales", _) => return r.by_code("delius:N03"),
                (other, _) => other,
            };
            r.candidates(&name_key(&format!("{probation_region} Probation Service")))
                .first()
                .map(|c| c.body)
        }),
        Role::Ambulance => ambulance_trust(area).and_then(|name| r.by_name(name)),
        Role::MentalHealthTrust => only_trust(area, Sector::MentalHealth),
        Role::Hospital => only_trust(area, Sector::AcuteHealth),
    }?;
    let b = r.body(body);
    Some(Resolution {
        target: Target::Body(body),
        method: Method::Context,
        reason: format!("generic name in a review of {}: {}", area.csp, b.name),
        context_free: false,
    })
}

/// The one current NHS trust of a sector serving the area (an ICB's mental health trust is
/// usually one; acute trusts often several, and then nobody is chosen). Ambulance trusts are
/// not hospitals.
fn only_trust(area: &Area, sector: Sector) -> Option<usize> {
    let r = registry();
    let mut found = r.bodies.iter().enumerate().filter(|(i, b)| {
        b.kind == AgencyKind::NhsTrust
            && b.current
            && b.sector == sector
            && !b.name.contains("Ambulance")
            && r.serves(*i, area)
    });
    match (found.next(), found.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// The ambulance trust of an area. Ambulance trusts serve NHS regions, not the ICBs the trust
/// register files them under, so the region (and in the South East the force area) decides;
/// the Lincolnshire unitaries of Yorkshire and the Humber are East Midlands Ambulance's.
fn ambulance_trust(area: &Area) -> Option<&'static str> {
    let all =
        |keys: &[&str]| !area.las.is_empty() && area.las.iter().all(|l| keys.contains(&l.as_str()));
    if all(&["isle of wight"]) {
        return Some("Isle of Wight NHS Trust");
    }
    if all(&["north lincolnshire", "north east lincolnshire"]) {
        return Some("East Midlands Ambulance Service NHS Trust");
    }
    Some(match (area.region.as_deref()?, area.force.as_deref()) {
        ("North East", _) => "North East Ambulance Service NHS Foundation Trust",
        ("North West", _) => "North West Ambulance Service NHS Trust",
        ("Yorkshire and The Humber", _) => "Yorkshire Ambulance Service NHS Trust",
        ("East Midlands", _) => "East Midlands Ambulance Service NHS Trust",
        ("West Midlands", _) => "West Midlands Ambulance Service University NHS Foundation Trust",
        ("East of England", _) => "East of England Ambulance Service NHS Trust",
        ("London", _) => "London Ambulance Service NHS Trust",
        ("South West", _) => "South Western Ambulance Service NHS Foundation Trust",
        ("South East", Some("kent" | "surrey" | "sussex")) => {
            "South East Coast Ambulance Service NHS Foundation Trust"
        }
        ("South East", Some(_)) => "South Central Ambulance Service NHS Foundation Trust",
        ("Wales", _) => "Welsh Ambulance Services NHS Trust",
        _ => return None,
    })
}

/// The sector a name's form shows. Matched on whole words at the end (or start) of the
/// lower-cased name; the first rule that matches wins, so the specific come first.
fn rule(name: &str) -> Option<(Sector, AgencyKind, &'static str)> {
    let n = format!(
        " {} ",
        tidy(name)
            .to_lowercase()
            .replace(['’', '\''], "")
            .replace('&', "and")
    );
    let n = n.replace([',', '.', '(', ')'], " ");
    let n = format!(" {} ", n.split_whitespace().collect::<Vec<_>>().join(" "));
    // Whole words of the space-padded name, without allocating: ingest runs these for
    // every name no register holds.
    let bytes = n.as_bytes();
    let word_at =
        |i: usize, w: &str| i > 0 && bytes[i - 1] == b' ' && bytes.get(i + w.len()) == Some(&b' ');
    let has = |w: &str| n.match_indices(w).any(|(i, _)| word_at(i, w));
    let ends = |w: &str| {
        n.len() > w.len() + 1 && word_at(n.len() - 1 - w.len(), w) && n[..n.len() - 1].ends_with(w)
    };
    let starts = |w: &str| n[1..].starts_with(w) && word_at(1, w);
    use AgencyKind as K;
    use Sector as S;
    // "All GP practices" are primary care, not a collective of every agency.
    if let Some(rest) = n.strip_prefix(" all ")
        && let Some((sector, kind, why)) = rule(rest)
        && sector != S::Collective
    {
        return Some((sector, kind, why));
    }
    let rules: [(bool, S, K, &'static str); 35] = [
        (
            n.split_whitespace().next() == Some("all")
                || ends("agencies")
                || ends("partners")
                || ends("partner agencies")
                || ends("organisations")
                || ends("professionals")
                || ends("services") && starts("all")
                || starts("each") && (ends("agency") || ends("agencies"))
                || starts("each agency")
                || starts("every agency"),
            S::Collective,
            K::Collective,
            "a collective (\"All ...\", \"... agencies\")",
        ),
        (
            has("police and crime commissioner")
                || has("police fire and crime commissioner")
                || has("opcc")
                || has("pcc")
                || has("mopac")
                || has("policing and crime"),
            S::PolicingOversight,
            K::Pcc,
            "\"... Police and Crime Commissioner\"",
        ),
        (
            has("community safety partnership")
                || ends("csp")
                || (starts("safer") || starts("safe"))
                    && (ends("partnership") || ends("board") || ends("partnership board"))
                || has("crime and drugs partnership")
                || has("crime reduction partnership")
                || has("safer partnership")
                || has("community safety"),
            S::CommunitySafetyPartnership,
            K::Csp,
            "\"... Community Safety Partnership\", \"Safer ... Partnership\", \"... CSP\"",
        ),
        (
            has("safeguarding adults board")
                || has("safeguarding adult board")
                || has("safeguarding adults partnership")
                || ends("sab")
                || n.trim_end().ends_with("lsab"),
            S::AdultSocialCare,
            K::Other,
            "\"... Safeguarding Adults Board\"",
        ),
        (
            has("safeguarding children")
                || has("safeguarding childrens")
                || ends("lscb")
                || ends("lscp"),
            S::ChildrensServices,
            K::Other,
            "\"... Safeguarding Children Partnership/Board\"",
        ),
        (
            has("marac")
                || has("matac")
                || has("mash")
                || has("multi agency safeguarding hub")
                || has("multi-agency safeguarding hub"),
            S::MaracPartnership,
            K::Other,
            "\"MARAC\", \"MATAC\", \"MASH\"",
        ),
        (
            // Boards of several agencies: the Welsh regional safeguarding boards (adults and
            // children), the Domestic Abuse Act's local partnership boards.
            has("safeguarding board")
                || ends("partnership board")
                || has("local partnership board")
                || (ends("board") || ends("partnership"))
                    && (has("domestic abuse") || has("domestic violence")),
            S::MaracPartnership,
            K::Other,
            "a multi-agency board (\"... Safeguarding Board\", \"... Partnership Board\")",
        ),
        (
            has("mappa")
                || has("criminal justice board")
                || has("youth offending")
                || has("youth justice")
                || has("prison")
                || has("hmp")
                || has("court")
                || has("courts"),
            S::ProbationCriminalJustice,
            K::Other,
            "criminal justice (\"MAPPA\", \"HMP\", \"Youth Offending\")",
        ),
        (
            has("probation")
                || has("community rehabilitation company")
                || ends("crc")
                || has("hmpps"),
            S::ProbationCriminalJustice,
            K::Probation,
            "\"... Probation\", \"... CRC\"",
        ),
        (
            ends("police")
                || starts("heddlu")
                || ends("constabulary")
                || ends("police service")
                || ends("police force")
                || starts("police") && n.split_whitespace().count() <= 3,
            S::Police,
            K::PoliceForce,
            "\"... Police\", \"... Constabulary\"",
        ),
        (
            ends("ambulance service") || has("ambulance service") || has("ambulance"),
            S::AcuteHealth,
            K::NhsTrust,
            "\"... Ambulance Service\"",
        ),
        (
            has("mental health")
                || has("psychiatric")
                || has("psychiatry")
                || has("crisis team")
                || has("crisis resolution")
                || has("home treatment")
                || has("early intervention in psychosis")
                || has("camhs")
                || has("cmht")
                || has("iapt")
                || has("talking therapies"),
            S::MentalHealth,
            K::Other,
            "mental health (\"... Mental Health ...\")",
        ),
        (
            has("community health")
                || has("community healthcare")
                || has("health visiting")
                || has("health visitor")
                || has("health visitors")
                || has("district nursing")
                || has("district nurses")
                || has("school nursing")
                || has("school nurses")
                || has("speech and language")
                || ends("salt")
                || has("sexual health"),
            S::CommunityHealth,
            K::Other,
            "community health (\"... Community Health ...\", health visiting)",
        ),
        (
            (ends("nhs trust") || ends("nhs foundation trust") || ends("foundation trust"))
                && (has("partnership") || has("health and care") || has("social care")),
            S::MentalHealth,
            K::NhsTrust,
            "a partnership NHS trust (mental health and social care)",
        ),
        (
            ends("nhs trust")
                || ends("nhs foundation trust")
                || ends("foundation trust")
                || ends("university hospitals")
                || ends("hospitals")
                || ends("hospital")
                || has("hospital")
                || has("university hospitals")
                || has("infirmary")
                || starts("ysbyty")
                || has("emergency department")
                || ends("a and e")
                || has("aande")
                || has("maternity"),
            S::AcuteHealth,
            K::NhsTrust,
            "\"... NHS (Foundation) Trust\", \"... Hospital(s)\"",
        ),
        (
            ends("health board") || ends("uhb") || ends("lhb") || starts("bwrdd iechyd"),
            S::HealthCommissioning,
            K::HealthBoard,
            "\"... Health Board\"",
        ),
        (
            ends("icb")
                || ends("integrated care board")
                || ends("integrated care system")
                || ends("ics")
                || ends("ccg")
                || has("clinical commissioning")
                // "NHS Kent and Medway" is an ICB; "NHS 111" a service.
                || starts("nhs") && !n[5..].starts_with(|c: char| c.is_ascii_digit())
                || ends("commissioning")
                || ends("commissioners"),
            S::HealthCommissioning,
            K::Icb,
            "\"... ICB\", \"... CCG\", \"NHS <area>\"",
        ),
        (
            has("gp")
                || has("gps")
                || ends("surgery")
                || ends("medical practice")
                || ends("medical centre")
                || ends("health centre")
                || has("general practice")
                || has("primary care"),
            S::PrimaryCare,
            K::Other,
            "primary care (\"GP ...\", \"... Surgery\")",
        ),
        (
            has("adult social care")
                || has("adult services")
                || has("adults services")
                || has("adult social services")
                || has("adult care")
                || has("adults health and care")
                || has("adult health and care")
                || has("adults and communities")
                || has("adult safeguarding")
                || has("care home")
                || has("care homes")
                || has("nursing home")
                || has("nursing homes"),
            S::AdultSocialCare,
            K::LocalAuthorityService,
            "\"... Adult Social Care\"",
        ),
        (
            has("childrens social care")
                || has("childrens services")
                || has("children services")
                || has("children and families")
                || has("childrens social work")
                || has("early help")
                || has("childrens trust")
                || has("children and young peoples")
                || has("child and family")
                || has("children social care")
                || has("childrens care")
                || has("children and family")
                || ends("children first")
                || ends("lado"),
            S::ChildrensServices,
            K::LocalAuthorityService,
            "\"... Children's Social Care/Services\"",
        ),
        (
            has("public health"),
            S::PublicHealth,
            K::Other,
            "\"... Public Health\"",
        ),
        (
            has("drug")
                || has("alcohol")
                || has("substance")
                || has("recovery")
                || has("addiction")
                || has("drugs"),
            S::SubstanceMisuse,
            K::Other,
            "substance misuse (\"drug\", \"alcohol\", \"recovery\")",
        ),
        (
            has("womens aid")
                || has("idva")
                || has("idvas")
                || has("domestic abuse")
                || has("domestic violence")
                || has("refuge")
                || has("stalking")
                || has("isva")
                || has("rape crisis")
                || has("sexual violence")
                || has("without abuse")
                || has("women in need")
                || has("womens centre")
                || has("family justice centre")
                || has("womens and childrens aid")
                || has("womens resource centre")
                || ends("dvs"),
            S::SpecialistDomesticAbuse,
            K::DomesticAbuseOrganisation,
            "specialist domestic abuse (\"Women's Aid\", \"IDVA\", \"Domestic Abuse ...\")",
        ),
        (
            ends("housing")
                || ends("homes")
                || has("housing association")
                || has("housing trust")
                || has("housing group")
                || ends("housing partnership")
                || has("homelessness")
                || ends("living") && has("housing")
                || has("housing")
                || has("homes") && !has("care homes") && !has("nursing homes")
                || ends("at home") && !has("care")
                || has("tmo")
                || has("tenant management organisation")
                || has("harca")
                || has("almo"),
            S::Housing,
            K::Other,
            "\"... Housing\", \"... Homes\"",
        ),
        (
            ends("city council")
                || ends("county council")
                || ends("borough council")
                || ends("district council")
                || ends("council")
                || ends("borough")
                || starts("london borough of")
                || starts("royal borough of")
                || starts("cyngor")
                || has("revenues and benefits")
                || has("council tax")
                || ends("combined authority")
                || has("local authority")
                || has("local authorities"),
            S::LocalAuthority,
            K::LocalAuthority,
            "\"... City/County/Borough Council\"",
        ),
        (
            starts("department for")
                || starts("department of")
                || starts("home office")
                || has("immigration")
                || has("border force")
                || starts("ministry of")
                || starts("hm")
                || starts("his majestys")
                || starts("her majestys")
                || has("government")
                || ends("office") && has("home")
                || has("secretary of state")
                || has("hmrc")
                || has("child maintenance")
                || has("parliament")
                || has("cabinet"),
            S::NationalGovernment,
            K::NationalBody,
            "national government (\"Department for ...\", \"Ministry of ...\", \"Government\")",
        ),
        (
            ends("university")
                || ends("colleges")
                || ends("universities")
                || ends("college")
                || ends("school")
                || ends("schools")
                || starts("university of")
                || has("academy")
                || has("education"),
            S::Education,
            K::Other,
            "education (\"... University\", \"... College\", \"... School\")",
        ),
        (
            has("fire and rescue") || has("fire service"),
            S::Other,
            K::Other,
            "fire and rescue service",
        ),
        (
            has("social care") || has("social services") || has("social work"),
            S::AdultSocialCare,
            K::LocalAuthorityService,
            "\"... Social Care\"",
        ),
        (
            ends("partnership") && has("safeguarding"),
            S::MaracPartnership,
            K::Other,
            "a safeguarding partnership",
        ),
        (
            has("multi agency") || has("multiagency") || has("mash"),
            S::MaracPartnership,
            K::Other,
            "multi-agency (\"MASH\", \"Multi-Agency ...\")",
        ),
        (has("nhs"), S::AcuteHealth, K::Other, "an NHS body"),
        (
            has("dwp") || has("jobcentre") || has("job centre"),
            S::NationalGovernment,
            K::NationalBody,
            "DWP / Jobcentre",
        ),
        (
            has("nurse") || has("nursing") || has("midwife") || has("midwifery"),
            S::CommunityHealth,
            K::Other,
            "nursing / midwifery",
        ),
        (has("commissioner"), S::Other, K::Other, "a commissioner"),
    ];
    rules
        .into_iter()
        .find(|(hit, ..)| *hit)
        .filter(|(_, s, ..)| *s != Sector::Other)
        .map(|(_, s, k, why)| (s, k, why))
}

/// How surely `name` is one addressee, as a cost for splitting runs of names: 1 for a name
/// the registry, curated list or generic names hold, 4 for one only a rule reads (so that
/// three known names beat one long rule-shaped string), `None` for no name.
pub fn name_cost(name: &str) -> Option<usize> {
    let name = strip_defined_abbreviation(name);
    let key = name_key(name);
    if key.is_empty() {
        return None;
    }
    if resolve_free(name).is_some()
        || generic_role(&key).is_some()
        || service_keys().iter().any(|(k, _)| *k == key)
        || registry()
            .candidates(&key)
            .iter()
            .any(|c| c.strength != Strength::Initials || super::is_abbreviation(name))
    {
        Some(1)
    } else if rule(name).is_some() {
        Some(4)
    } else {
        None
    }
}

/// Whether `name` reads as an addressee on its own: the parser splits a flat row's tail off
/// only where it does. Context-free (no area), and never by the unresolved fallback.
pub fn is_addressee(name: &str) -> bool {
    let name = strip_defined_abbreviation(name);
    let key = name_key(name);
    if key.is_empty() {
        return false;
    }
    resolve_free(name).is_some()
        || generic_role(&key).is_some()
        || service_keys().iter().any(|(k, _)| *k == key)
        || registry()
            .candidates(&key)
            .iter()
            .any(|c| c.strength != Strength::Initials || super::is_abbreviation(name))
        || rule(name).is_some()
}

/// The registry as a whole, for callers that need its version or bodies.
pub fn the_registry() -> &'static Registry {
    registry()
}

/// The registry codes of a body's children, and of its predecessors with the year they
/// handed over: what to link when the body's agency is created. A council's services are
/// children by code (`gss:X/adult-social-care`); a service's predecessors are the same
/// services of the predecessor councils.
pub fn relatives_of(code: &str) -> (Vec<String>, Vec<(String, Option<i32>)>) {
    let r = registry();
    let (base, service) = match code.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (code, None),
    };
    let Some(index) = r.by_code(base) else {
        return (Vec::new(), Vec::new());
    };
    let with_service = |c: &str| match service {
        Some(s) => format!("{c}/{s}"),
        None => c.to_owned(),
    };
    let predecessors = r
        .predecessors(index)
        .iter()
        .map(|p| {
            let b = r.body(*p);
            (with_service(&b.code), b.successor.and_then(|(_, y)| y))
        })
        .collect();
    let mut children: Vec<String> = Vec::new();
    if service.is_none() {
        children.extend(r.children(index).iter().map(|c| r.body(*c).code.clone()));
        for (_, s) in SERVICE_NAMES {
            let c = service_code(code, *s);
            if !children.contains(&c) {
                children.push(c);
            }
        }
    }
    (children, predecessors)
}

/// A registered body a name that resolved only by its form may have meant: "Ashford County
/// Council" (no such council) suggests Kent County Council and Ashford Borough Council, the
/// councils of the place it names. Shown to a curator; never merged.
pub fn suggest(name: &str) -> Option<String> {
    let r = registry();
    let words: Vec<&str> = name.split_whitespace().collect();
    for cut in (1..words.len()).rev() {
        let place = words[..cut].join(" ");
        if let Some(area) = r.area(&place) {
            let mut names: Vec<&str> = r
                .upper_tier(area)
                .into_iter()
                .chain(r.lower_tier(area))
                .map(|b| r.body(b).name.as_str())
                .collect();
            names.dedup();
            if names.is_empty() || names.iter().any(|n| name_key(n) == name_key(name)) {
                return None;
            }
            return Some(format!("did you mean {}?", names.join(" or ")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(csp: &str) -> ReviewContext {
        ReviewContext::new(&[csp.to_owned()], [])
    }

    fn none() -> ReviewContext {
        ReviewContext::default()
    }

    fn resolved(name: &str, c: &ReviewContext) -> (String, Sector, Method) {
        let r = resolve(name, c);
        let spec = r.spec(name);
        (spec.name, spec.sector, r.method)
    }

    #[test]
    fn step_curated_list_wins() {
        let (name, sector, method) = resolved("All Agencies", &none());
        assert_eq!(
            (name.as_str(), sector, method),
            ("All Agencies", Sector::Collective, Method::Curated)
        );
        let (_, sector, method) = resolved("GP Practice", &none());
        assert_eq!((sector, method), (Sector::PrimaryCare, Method::Curated));
    }

    #[test]
    fn step_register_names_and_aliases() {
        for (printed, want, sector) in [
            (
                "Lancashire Constabulary",
                "Lancashire Constabulary",
                Sector::Police,
            ),
            (
                "West Yorkshire Police",
                "West Yorkshire Police",
                Sector::Police,
            ),
            ("GMP", "Greater Manchester Police", Sector::Police),
            (
                "NHS Greater Manchester",
                "NHS Greater Manchester Integrated Care Board",
                Sector::HealthCommissioning,
            ),
            (
                "NHS Sussex ICB",
                "NHS Sussex Integrated Care Board",
                Sector::HealthCommissioning,
            ),
            (
                "Sussex Community NHS Foundation Trust",
                "Sussex Community NHS Foundation Trust",
                Sector::CommunityHealth,
            ),
            (
                "Leeds Teaching Hospitals NHS Trust",
                "Leeds Teaching Hospitals NHS Trust",
                Sector::AcuteHealth,
            ),
            (
                "Cardiff and Vale University Health Board",
                "Cardiff and Vale University Health Board",
                Sector::HealthCommissioning,
            ),
            (
                "Surrey County Council",
                "Surrey County Council",
                Sector::LocalAuthority,
            ),
            (
                "Public Health England",
                "Public Health England",
                Sector::PublicHealth,
            ),
            (
                "Probation Service North West region",
                "Probation Service North West region",
                Sector::ProbationCriminalJustice,
            ),
            ("SafeLives", "SafeLives", Sector::SpecialistDomesticAbuse),
            (
                "Department for Education",
                "Department for Education",
                Sector::NationalGovernment,
            ),
        ] {
            let (name, s, method) = resolved(printed, &none());
            assert_eq!((name.as_str(), s), (want, sector), "{printed}");
            assert!(
                matches!(
                    method,
                    Method::Registry | Method::Abbreviation | Method::Curated
                ),
                "{printed}: {method}"
            );
        }
    }

    #[test]
    fn step_an_ambiguous_alias_needs_the_area() {
        // "Hampshire" is the county council's place name and part of other bodies' names;
        // without an area nobody is chosen by a guess.
        let r = resolve("Sussex", &none());
        assert_ne!(r.method, Method::Registry, "{r:?}");
    }

    #[test]
    fn step_inline_abbreviations() {
        let c = ReviewContext::new(
            &["Kent".to_owned()],
            [
                "The review met Kent and Medway NHS and Social Care Partnership Trust (KMPT) staff.",
                "Refer to the Wessex Recovery Partnership (WRP) at once.",
            ],
        );
        assert_eq!(
            c.abbreviations.get("wrp").map(String::as_str),
            Some("Wessex Recovery Partnership")
        );
        let r = resolve("WRP", &c);
        assert_eq!(r.method, Method::Abbreviation);
        assert_eq!(r.spec("WRP").sector, Sector::SubstanceMisuse);
        assert!(!r.context_free);
        // Without the review's definition, WRP is nobody.
        assert_eq!(resolve("WRP", &none()).method, Method::Unresolved);
    }

    #[test]
    fn abbreviations_welsh_names_and_providers_no_register_lists() {
        for (printed, csp, want, sector) in [
            // The abbreviations trusts and ICBs go by, wherever the review is from.
            (
                "EPUT",
                None,
                "Essex Partnership University",
                Sector::MentalHealth,
            ),
            (
                "SECAmb",
                None,
                "South East Coast Ambulance",
                Sector::AcuteHealth,
            ),
            (
                "BOB ICB",
                None,
                "Berkshire West",
                Sector::HealthCommissioning,
            ),
            // One abbreviation, two trusts: the review's area decides.
            (
                "MFT",
                Some("Manchester"),
                "Manchester University",
                Sector::AcuteHealth,
            ),
            ("MFT", Some("Medway"), "Medway NHS", Sector::AcuteHealth),
            // Welsh names; a city's short name as a CSP.
            (
                "Heddlu De Cymru",
                None,
                "South Wales Police",
                Sector::Police,
            ),
            (
                "Cyngor Sir Penfro",
                None,
                "Pembrokeshire",
                Sector::LocalAuthority,
            ),
            (
                "Council",
                Some("Hull"),
                "Hull City Council",
                Sector::LocalAuthority,
            ),
            // Providers no official register holds.
            ("Riverside", None, "Riverside", Sector::Housing),
            (
                "Phoenix Futures",
                None,
                "Phoenix Futures",
                Sector::SubstanceMisuse,
            ),
            ("Locala", None, "Locala", Sector::CommunityHealth),
            (
                "Standing Together",
                None,
                "Standing Together",
                Sector::SpecialistDomesticAbuse,
            ),
            // A register's sector that does not fit the body is corrected.
            (
                "DfE",
                None,
                "Department for Education",
                Sector::NationalGovernment,
            ),
        ] {
            let c = csp.map_or_else(none, ctx);
            let (name, s, method) = resolved(printed, &c);
            assert!(name.contains(want), "{printed} in {csp:?}: {name}");
            assert_eq!(s, sector, "{printed}");
            assert_ne!(method, Method::Unresolved, "{printed}");
        }
        // Without an area, an abbreviation two trusts share names neither.
        assert_eq!(resolved("MFT", &none()).2, Method::Unresolved);
    }

    #[test]
    fn the_ambulance_service_of_the_area() {
        for (csp, want) in [
            ("Leeds", "Yorkshire Ambulance"),
            ("Kent", "South East Coast Ambulance"),
            ("Oxford", "South Central Ambulance"),
            ("North Lincolnshire", "East Midlands Ambulance"),
            ("Cardiff", "Welsh Ambulance"),
            ("Isle of Wight", "Isle of Wight NHS Trust"),
        ] {
            let (name, sector, method) = resolved("the Ambulance Service", &ctx(csp));
            assert!(name.contains(want), "{csp}: {name}");
            assert_eq!((sector, method), (Sector::AcuteHealth, Method::Context));
        }
        assert_eq!(resolved("Ambulance Service", &none()).2, Method::Rule);
    }

    #[test]
    fn step_trust_initials_only_in_their_area() {
        assert_eq!(
            crate::registry::trust_initials("Leeds and York Partnership NHS Foundation Trust"),
            vec!["LYP", "LYPFT", "LAYP", "LAYPFT"]
        );
        assert!(crate::registry::trust_initials("Kent County Council").is_empty());
        let (agency, sector, method) = resolved("SLaM", &ctx("Lambeth"));
        assert_eq!(agency, "South London and Maudsley NHS Foundation Trust");
        assert_eq!(
            (sector, method),
            (Sector::MentalHealth, Method::Abbreviation)
        );
        assert_eq!(
            resolved("UHL", &ctx("Leicester")).0,
            "University Hospitals of Leicester NHS Trust"
        );
        // Outside the trust's area, or with no area, initials name nothing.
        assert_eq!(resolved("UHL", &ctx("Cornwall")).2, Method::Unresolved);
        assert_eq!(resolved("LYPFT", &none()).2, Method::Unresolved);
        // Printed as a word, not an abbreviation: not initials.
        assert_ne!(resolved("Lypft", &ctx("Leeds")).2, Method::Abbreviation);
    }

    #[test]
    fn step_services_of_a_council() {
        let r = resolve("Kent County Council Adult Social Care", &none());
        assert_eq!(r.method, Method::ServiceOf);
        let spec = r.spec("");
        assert_eq!(spec.sector, Sector::AdultSocialCare);
        assert_eq!(spec.kind, AgencyKind::LocalAuthorityService);
        assert_eq!(spec.parent_code.as_deref(), Some("gss:E10000016"));
        let spec = resolve("Lancashire County Council Children's Social Care", &none()).spec("");
        assert_eq!(spec.sector, Sector::ChildrensServices);
        assert_eq!(
            spec.name,
            "Lancashire County Council Children's Social Care"
        );
        assert_eq!(
            resolve("Derbyshire Public Health", &none()).spec("").sector,
            Sector::PublicHealth
        );
        assert_eq!(
            resolve("Leeds City Council Housing", &none())
                .spec("")
                .sector,
            Sector::Housing
        );
    }

    #[test]
    fn step_generic_names_in_context() {
        let kent = ctx("Kent");
        assert_eq!(
            resolved("Police", &kent),
            ("Kent Police".into(), Sector::Police, Method::Context)
        );
        let (name, sector, method) = resolved("the CCG", &kent);
        assert_eq!(
            (sector, method),
            (Sector::HealthCommissioning, Method::Context)
        );
        assert_eq!(name, "NHS Kent and Medway CCG");
        assert_eq!(
            resolved("ICB", &kent).0,
            "NHS Kent and Medway Integrated Care Board"
        );
        let (name, sector, _) = resolved("Adult Social Care", &kent);
        assert_eq!(
            (name.as_str(), sector),
            (
                "Kent County Council Adult Social Care",
                Sector::AdultSocialCare
            )
        );
        let (opcc_kent, s, m) = resolved("OPCC", &kent);
        assert_eq!((s, m), (Sector::PolicingOversight, Method::Context));
        let (opcc_wm, ..) = resolved("OPCC", &ctx("Dudley"));
        assert_ne!(opcc_kent, opcc_wm, "one OPCC per force area");
        assert_eq!(resolved("Police", &ctx("Dudley")).0, "West Midlands Police");
        assert_eq!(
            resolved("Health Board", &ctx("Cardiff")).0,
            "Cardiff and Vale University Health Board"
        );
        // A district's children's social care is the county's.
        assert_eq!(
            resolved("Children's Social Care", &ctx("Ashford")).0,
            "Kent County Council Children's Social Care"
        );
        // Without an area, a generic name is only a sector.
        let r = resolve("Police", &none());
        assert_eq!(
            (r.method, r.spec("Police").sector),
            (Method::Rule, Sector::Police)
        );
    }

    #[test]
    fn step_rules_by_form() {
        for (printed, sector) in [
            ("Borsetshire Constabulary", Sector::Police),
            (
                "Safer Ambridge Partnership",
                Sector::CommunitySafetyPartnership,
            ),
            ("Ambridge CSP", Sector::CommunitySafetyPartnership),
            (
                "Borchester Community Safety Partnership",
                Sector::CommunitySafetyPartnership,
            ),
            (
                "Borsetshire Partnership NHS Foundation Trust",
                Sector::MentalHealth,
            ),
            ("Felpersham University Hospitals", Sector::AcuteHealth),
            ("Borchester Borough Council", Sector::LocalAuthority),
            ("Ambridge Homes", Sector::Housing),
            ("Felpersham Housing", Sector::Housing),
            ("Borsetshire ICB", Sector::HealthCommissioning),
            ("NHS Borsetshire", Sector::HealthCommissioning),
            ("Borsetshire Women's Aid", Sector::SpecialistDomesticAbuse),
            ("National Government", Sector::NationalGovernment),
            (
                "Home Office Immigration Enforcement Unit",
                Sector::NationalGovernment,
            ),
        ] {
            let r = resolve(printed, &none());
            assert_eq!(r.method, Method::Rule, "{printed}: {r:?}");
            assert_eq!(r.spec(printed).sector, sector, "{printed}");
            assert_eq!(r.spec(printed).name, printed, "rules never rename or merge");
        }
    }

    #[test]
    fn rules_for_boards_services_and_housing_forms() {
        for (printed, sector) in [
            ("West Wales Safeguarding Board", Sector::MaracPartnership),
            (
                "Domestic Abuse Local Partnership Board",
                Sector::MaracPartnership,
            ),
            ("Crisis Resolution Team", Sector::MentalHealth),
            ("Liaison Psychiatry Service", Sector::MentalHealth),
            ("School Nurses", Sector::CommunityHealth),
            ("Speech and Language Therapy", Sector::CommunityHealth),
            ("Homes for Anywhere", Sector::Housing),
            ("Anytown at Home", Sector::Housing),
            ("Anytown TMO", Sector::Housing),
            ("NHS Anywhere", Sector::HealthCommissioning),
        ] {
            let (_, s, method) = resolved(printed, &none());
            assert_eq!((s, method), (sector, Method::Rule), "{printed}");
        }
        // Care homes are care, not housing; a numbered NHS service is not an ICB.
        assert_eq!(
            resolved("Anytown Care Homes", &none()).1,
            Sector::AdultSocialCare
        );
        assert_ne!(resolved("NHS 119", &none()).1, Sector::HealthCommissioning);
    }

    #[test]
    fn short_forms_of_an_areas_bodies() {
        for (printed, csp, expected) in [
            ("Hull CC", "Kingston upon Hull", "Hull City Council"),
            ("LBTH", "Tower Hamlets", "Tower Hamlets"),
            ("LBHF", "Hammersmith and Fulham", "Hammersmith"),
            (
                "ELFT (Bedfordshire)",
                "Bedford",
                "East London NHS Foundation Trust",
            ),
            (
                "CNWL Milton Keynes",
                "Milton Keynes",
                "Central and North West London",
            ),
        ] {
            let (name, _, method) = resolved(printed, &ctx(csp));
            assert_eq!(method, Method::Abbreviation, "{printed}: {name}");
            assert!(name.contains(expected), "{printed} in {csp}: {name}");
        }
        // Initials of another area's borough are not read.
        assert_ne!(resolved("LBTH", &ctx("Kent")).2, Method::Abbreviation);
        // A dropped "and" still names the trust.
        let (name, sector, _) = resolved("Central North West London NHS Foundation Trust", &none());
        assert!(name.starts_with("Central and North West London"), "{name}");
        assert_ne!(sector, Sector::AcuteHealth);
    }

    #[test]
    fn generic_trust_names_are_the_areas_only_trust_or_stay_in_their_area() {
        // Oxford has one mental health trust; "Mental Health Services" there is it.
        let (name, _, method) = resolved("Mental Health Services", &ctx("Oxford"));
        assert_eq!(method, Method::Context);
        assert!(name.contains("Oxford Health"), "{name}");
        // Several acute trusts serve Harlow: "the hospital" is Harlow's, never another
        // area's hospital.
        let (harlow, sector, _) = resolved("the hospital", &ctx("Harlow"));
        let (nuneaton, ..) = resolved("the hospital", &ctx("Nuneaton and Bedworth"));
        assert_eq!(sector, Sector::AcuteHealth);
        assert_ne!(harlow, nuneaton);
        assert!(!resolve("the hospital", &ctx("Harlow")).context_free);
        // Wales's social services are the council's.
        let (name, sector, method) = resolved("Social Services", &ctx("Carmarthenshire"));
        assert_eq!((sector, method), (Sector::AdultSocialCare, Method::Context));
        assert!(name.contains("Carmarthenshire"), "{name}");
    }

    #[test]
    fn rules_for_all_of_one_kind_infirmaries_schools_and_policing_and_crime() {
        for (printed, sector) in [
            ("All GP practices", Sector::PrimaryCare),
            ("All agencies", Sector::Collective),
            ("Anytown Royal Infirmary", Sector::AcuteHealth),
            ("Ysbyty Anytown", Sector::AcuteHealth),
            ("Schools and colleges", Sector::Education),
            (
                "Mayor of Anyshire (Policing and Crime)",
                Sector::PolicingOversight,
            ),
        ] {
            assert_eq!(resolved(printed, &none()).1, sector, "{printed}");
        }
    }

    #[test]
    fn national_providers_in_the_curated_list() {
        let (_, sector, method) = resolved("CGL", &none());
        assert_eq!((sector, method), (Sector::SubstanceMisuse, Method::Curated));
        assert_eq!(resolved("Peabody", &none()).1, Sector::Housing);
    }

    #[test]
    fn step_unresolved() {
        let r = resolve("The Ambridge Trust", &none());
        assert_eq!(r.method, Method::Unresolved);
        assert_eq!(r.spec("The Ambridge Trust").sector, Sector::Other);
    }

    #[test]
    fn addressee_shapes_for_the_parser() {
        assert!(is_addressee("Kent Police"));
        assert!(is_addressee("Home Office"));
        assert!(is_addressee("Police"));
        assert!(!is_addressee("do it now"));
        assert!(!is_addressee("Ambridge"));
    }
}
