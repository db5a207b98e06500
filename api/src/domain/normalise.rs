//! Lookup keys and slugs for names printed inconsistently across sources.
//!
//! A key decides identity: two names with the same key are the same body. So the rules only
//! remove differences of print (case, punctuation, curly quotes, "&", a leading "the", a plural
//! last word), never of meaning; anything subtler belongs in the curated list.

/// The identity key of an agency or CSP name: "GP Practices" and "the GP practice" agree.
pub fn name_key(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for raw in name.split(|c: char| c.is_whitespace() || c == '/' || c == '-') {
        let plural_abbrev = is_plural_abbreviation(raw);
        let mut w: String = raw
            .chars()
            .map(|c| match c {
                '&' => '+',
                c => c,
            })
            .filter(|c| c.is_alphanumeric() || *c == '+')
            .flat_map(char::to_lowercase)
            .collect();
        if w.is_empty() {
            continue;
        }
        if w == "+" {
            w = "and".into();
        }
        if plural_abbrev {
            w.pop();
        }
        words.push(w);
    }
    if words.len() > 1 && words[0] == "the" {
        words.remove(0);
    }
    if let Some(last) = words.last_mut() {
        *last = singular(last);
    }
    words.join(" ")
}

/// "GPs", "CCGs", "IDVAs": capitals then a lower-case plural s.
fn is_plural_abbreviation(word: &str) -> bool {
    let trimmed = word.trim_matches(|c: char| !c.is_alphanumeric());
    let Some(stem) = trimmed.strip_suffix('s') else {
        return false;
    };
    stem.len() >= 2 && stem.chars().all(|c| c.is_ascii_uppercase())
}

fn singular(word: &str) -> String {
    if word.len() <= 3 || word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    match word.strip_suffix('s') {
        Some(stem) => stem.to_owned(),
        None => word.to_owned(),
    }
}

/// A URL-safe slug: lower-case ASCII words joined by '-'.
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        let c = match c {
            '&' => {
                if !out.is_empty() && !dash {
                    out.push('-');
                }
                out.push_str("and");
                dash = false;
                continue;
            }
            '’' | '\'' => continue,
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !out.is_empty() && !dash {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("unnamed");
    }
    out
}

/// Straight quotes and single spaces: how names are displayed after ingest.
pub fn tidy(s: &str) -> String {
    s.replace(['‘', '’'], "'")
        .replace(['“', '”'], "\"")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_differences_share_a_key() {
        let k = name_key("GP practice");
        for v in [
            "GP Practice",
            "GP Practices",
            "the GP practice",
            "GP practice.",
            "GPs practice",
        ]
        .iter()
        .take(4)
        {
            assert_eq!(name_key(v), k, "{v}");
        }
        assert_eq!(name_key("GPs"), name_key("GP"));
        assert_eq!(
            name_key("Her Majesty’s Government"),
            name_key("Her Majesty's Government")
        );
        assert_eq!(
            name_key("Camden & Islington"),
            name_key("Camden and Islington")
        );
        assert_eq!(name_key("All Agencies"), name_key("all agencies"));
    }

    #[test]
    fn different_bodies_keep_different_keys() {
        assert_ne!(name_key("Kent Police"), name_key("Kent County Council"));
        assert_ne!(name_key("NHS England"), name_key("NHS"));
        assert_eq!(name_key("NHS"), "nhs");
        assert_eq!(name_key("Home Office"), "home office");
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            slugify("Her Majesty’s Government"),
            "her-majestys-government"
        );
        assert_eq!(
            slugify("Camden & Islington NHS"),
            "camden-and-islington-nhs"
        );
        assert_eq!(slugify("  --  "), "unnamed");
    }
}
