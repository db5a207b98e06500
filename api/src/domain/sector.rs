//! The sector of an agency and the type of a review: closed vocabularies stored as text.

use std::fmt;
use std::str::FromStr;

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in the database and used by the curated lists.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim().to_ascii_uppercase().replace([' ', '-'], "_");
                match wanted.as_str() {
                    $($code => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} {:?}; expected one of {}",
                        stringify!($name).to_lowercase(),
                        s,
                        [$($code),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum! {
    /// The sector of an agency, as in `DOMAIN.md`.
    Sector {
        Police => "POLICE",
        PolicingOversight => "POLICING_OVERSIGHT",
        PrimaryCare => "PRIMARY_CARE",
        HealthCommissioning => "HEALTH_COMMISSIONING",
        AcuteHealth => "ACUTE_HEALTH",
        MentalHealth => "MENTAL_HEALTH",
        AdultSocialCare => "ADULT_SOCIAL_CARE",
        ChildrensServices => "CHILDRENS_SERVICES",
        LocalAuthority => "LOCAL_AUTHORITY",
        Housing => "HOUSING",
        SubstanceMisuse => "SUBSTANCE_MISUSE",
        ProbationCriminalJustice => "PROBATION_CRIMINAL_JUSTICE",
        SpecialistDomesticAbuse => "SPECIALIST_DOMESTIC_ABUSE",
        MaracPartnership => "MARAC_PARTNERSHIP",
        CommunitySafetyPartnership => "COMMUNITY_SAFETY_PARTNERSHIP",
        NationalGovernment => "NATIONAL_GOVERNMENT",
        Education => "EDUCATION",
        Collective => "COLLECTIVE",
        CommunityHealth => "COMMUNITY_HEALTH",
        PublicHealth => "PUBLIC_HEALTH",
        Other => "OTHER",
    }
}

code_enum! {
    /// What kind of body an agency is, as the registry knows it.
    AgencyKind {
        PoliceForce => "POLICE_FORCE",
        Pcc => "PCC",
        Icb => "ICB",
        Ccg => "CCG",
        NhsTrust => "NHS_TRUST",
        HealthBoard => "HEALTH_BOARD",
        LocalAuthority => "LOCAL_AUTHORITY",
        LocalAuthorityService => "LOCAL_AUTHORITY_SERVICE",
        Csp => "CSP",
        NationalBody => "NATIONAL_BODY",
        Probation => "PROBATION",
        DomesticAbuseOrganisation => "DOMESTIC_ABUSE_ORGANISATION",
        Provider => "PROVIDER",
        Collective => "COLLECTIVE",
        Generic => "GENERIC",
        Other => "OTHER",
    }
}

code_enum! {
    /// How far an agency's remit reaches.
    Scope {
        Local => "LOCAL",
        Regional => "REGIONAL",
        National => "NATIONAL",
    }
}

code_enum! {
    /// How an addressee string was resolved to its agency.
    Method {
        Curated => "CURATED",
        Registry => "REGISTRY",
        Abbreviation => "ABBREVIATION",
        ServiceOf => "SERVICE_OF",
        Context => "CONTEXT",
        Rule => "RULE",
        Unresolved => "UNRESOLVED",
    }
}

code_enum! {
    /// The kind of statutory review.
    ReviewType {
        Dhr => "DHR",
        Dardr => "DARDR",
        JointSarDhr => "JOINT_SAR_DHR",
    }
}

code_enum! {
    /// A case tag of the Home Office's metadata, as the DHRD dataset gives it.
    CaseTag {
        IntimatePartnerViolence => "INTIMATE_PARTNER_VIOLENCE",
        FamilialHomicide => "FAMILIAL_HOMICIDE",
        Parricide => "PARRICIDE",
        HomicideSuicide => "HOMICIDE_SUICIDE",
        ChildrenPresent => "CHILDREN_PRESENT",
        CoerciveControl => "COERCIVE_CONTROL",
        EconomicAbuse => "ECONOMIC_ABUSE",
        FaithBasedMarriage => "FAITH_BASED_MARRIAGE",
        ForcedMarriage => "FORCED_MARRIAGE",
        HonourBasedViolence => "HONOUR_BASED_VIOLENCE",
        PhysicalAbuse => "PHYSICAL_ABUSE",
        EmotionalAbuse => "EMOTIONAL_ABUSE",
        Separation => "SEPARATION",
        SexualAbuse => "SEXUAL_ABUSE",
        Stalking => "STALKING",
    }
}

impl ReviewType {
    /// Reads the type from the page's kind line ("Source · Domestic Homicide Review").
    pub fn from_kind_line(line: &str) -> Self {
        let l = line.to_ascii_lowercase();
        if l.contains("safeguarding adult") {
            ReviewType::JointSarDhr
        } else if l.contains("domestic abuse related death") {
            ReviewType::Dardr
        } else {
            ReviewType::Dhr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in Sector::ALL {
            assert_eq!(s.code().parse::<Sector>().unwrap(), *s);
        }
        assert_eq!(
            "primary care".parse::<Sector>().unwrap(),
            Sector::PrimaryCare
        );
        assert!("POLICEE".parse::<Sector>().unwrap_err().contains("POLICE"));
    }
}

code_enum! {
    /// Where a recommendation's action plan stands, as DHR action plans record it.
    PlanStatus {
        NotStarted => "NOT_STARTED",
        InProgress => "IN_PROGRESS",
        Implemented => "IMPLEMENTED",
        NotAccepted => "NOT_ACCEPTED",
        Closed => "CLOSED",
    }
}

code_enum! {
    /// The red/amber/green rating of an action plan.
    Rag {
        Red => "RED",
        Amber => "AMBER",
        Green => "GREEN",
    }
}
