//! The curated agency list (`api/data/agencies.txt`): canonical names, aliases and sectors.
//!
//! Embedded in the binary so that every install resolves names the same way. The database's
//! own alias table wins over this list, so curation done later (merges, aliases) is honoured.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::domain::Sector;
use crate::domain::normalise::name_key;

const LIST: &str = include_str!("../../data/agencies.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratedAgency {
    pub name: &'static str,
    pub sector: Sector,
    pub aliases: Vec<&'static str>,
}

pub struct CuratedList {
    pub version: u32,
    pub agencies: Vec<CuratedAgency>,
    by_key: HashMap<String, usize>,
}

impl CuratedList {
    /// The canonical entry a printed name belongs to, if curated.
    pub fn lookup(&self, name: &str) -> Option<&CuratedAgency> {
        self.by_key.get(&name_key(name)).map(|i| &self.agencies[*i])
    }
}

/// The embedded list, parsed once. Its format is checked by a unit test, so a bad edit fails
/// the build's tests rather than the server at start.
pub fn curated() -> &'static CuratedList {
    static LIST_CELL: OnceLock<CuratedList> = OnceLock::new();
    LIST_CELL.get_or_init(|| parse(LIST).unwrap_or_else(|e| panic!("api/data/agencies.txt: {e}")))
}

fn parse(text: &'static str) -> Result<CuratedList, String> {
    let mut version = 0;
    let mut agencies = Vec::new();
    let mut by_key = HashMap::new();
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
        let [sector, name, aliases] = parts[..] else {
            return Err(format!("line {n}: expected SECTOR | Name | aliases"));
        };
        let sector: Sector = sector.parse().map_err(|e| format!("line {n}: {e}"))?;
        let aliases: Vec<&str> = aliases
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        let index = agencies.len();
        for key in std::iter::once(name)
            .chain(aliases.iter().copied())
            .map(name_key)
        {
            // An alias that differs from its own entry only in print is redundant, not a clash.
            if let Some(prev) = by_key.insert(key.clone(), index)
                && prev != index
            {
                let prev: &CuratedAgency = &agencies[prev];
                return Err(format!(
                    "line {n}: {key:?} is already an alias of {}",
                    prev.name
                ));
            }
        }
        agencies.push(CuratedAgency {
            name,
            sector,
            aliases,
        });
    }
    Ok(CuratedList {
        version,
        agencies,
        by_key,
    })
}

const CSP_LIST: &str = include_str!("../../data/csps.txt");

/// The canonical name of a CSP printed as `name`, if the curated list knows it.
pub fn canonical_csp(name: &str) -> Option<&'static str> {
    static CELL: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut map = HashMap::new();
        for line in CSP_LIST.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (canonical, aliases) = line.split_once('|').unwrap_or((line, ""));
            let canonical = canonical.trim();
            for alias in std::iter::once(canonical).chain(aliases.split(';').map(str::trim)) {
                if !alias.is_empty() {
                    map.insert(name_key(alias), canonical);
                }
            }
        }
        map
    })
    .get(&name_key(name))
    .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_list_parses_without_clashes() {
        let list = curated();
        assert!(list.version >= 1);
        assert!(list.agencies.len() > 40);
    }

    #[test]
    fn aliases_and_print_variants_resolve() {
        let list = curated();
        assert_eq!(list.lookup("GP Practice").unwrap().name, "GP practice");
        assert_eq!(list.lookup("GPs").unwrap().name, "GP practice");
        assert_eq!(list.lookup("KMPT").unwrap().sector, Sector::MentalHealth);
        assert_eq!(
            list.lookup("Her Majesty’s Government").unwrap().name,
            "Her Majesty's Government"
        );
        assert_eq!(
            list.lookup("all agencies").unwrap().sector,
            Sector::Collective
        );
        assert!(list.lookup("Somewhere Borough Council").is_none());
    }

    #[test]
    fn curated_csp_names() {
        assert_eq!(canonical_csp("Lincoln"), Some("Lincolnshire"));
        assert_eq!(canonical_csp("lincolnshire"), Some("Lincolnshire"));
        assert_eq!(canonical_csp("Kent"), None);
    }

    #[test]
    fn a_clash_is_refused() {
        let e = parse("POLICE | Kent Police |\nPOLICE | Kent Police Force | Kent Police\n")
            .err()
            .unwrap();
        assert!(e.contains("line 2"), "{e}");
    }
}
