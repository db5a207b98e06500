//! GraphQL enums, mirrored from the domain so that the domain stays free of GraphQL.

use async_graphql::Enum;

use crate::domain;

macro_rules! mirror {
    ($(#[$meta:meta])* $name:ident => $domain:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$domain>::$variant),+ }
            }
        }

        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => $name::$variant),+ }
            }
        }
    };
}

mirror! {
    /// The sector an agency belongs to. `COLLECTIVE` marks addressees such as "All Agencies"
    /// that name no single body; `OTHER` marks names not yet curated.
    Sector => domain::Sector {
        /// Police forces.
        Police,
        /// Police and crime commissioners, MOPAC.
        PolicingOversight,
        /// GP practices and other primary care.
        PrimaryCare,
        /// CCGs, ICBs, NHS England and other commissioners of health services.
        HealthCommissioning,
        /// Hospital trusts, emergency departments, ambulance services.
        AcuteHealth,
        /// Mental health trusts and services.
        MentalHealth,
        /// Adult social care.
        AdultSocialCare,
        /// Children's social care and safeguarding children partnerships.
        ChildrensServices,
        /// Councils acting as a whole.
        LocalAuthority,
        /// Housing providers and housing services.
        Housing,
        /// Drug and alcohol services.
        SubstanceMisuse,
        /// Probation, MAPPA, criminal justice boards.
        ProbationCriminalJustice,
        /// IDVA services and specialist domestic abuse charities.
        SpecialistDomesticAbuse,
        /// MARAC and multi-agency partnership groups.
        MaracPartnership,
        /// Community Safety Partnerships.
        CommunitySafetyPartnership,
        /// Home Office, HM Government, DWP and other national government.
        NationalGovernment,
        /// Schools, colleges and universities.
        Education,
        /// Collective addressees ("All Agencies"): counted apart from single bodies.
        Collective,
        /// Community health trusts and services (district nursing, health visiting).
        CommunityHealth,
        /// Public health: council public health teams, UKHSA, OHID, Public Health Wales.
        PublicHealth,
        /// Not yet curated.
        Other,
    }
}

mirror! {
    /// What kind of body an agency is, as the registry knows it.
    AgencyKind => domain::AgencyKind {
        /// A territorial police force, or BTP, CNC, MDP.
        PoliceForce,
        /// A police and crime commissioner's office, or its mayoral equivalent.
        Pcc,
        /// An integrated care board (from July 2022).
        Icb,
        /// A clinical commissioning group (to June 2022).
        Ccg,
        /// An NHS trust or foundation trust.
        NhsTrust,
        /// A Welsh local health board.
        HealthBoard,
        /// A council.
        LocalAuthority,
        /// A service of a council (adult social care, children's social care, public health,
        /// housing); its `parent` is the council.
        LocalAuthorityService,
        /// A Community Safety Partnership.
        Csp,
        /// A government department, agency, inspectorate or other national body.
        NationalBody,
        /// A Probation Service region, a CRC, the National Probation Service.
        Probation,
        /// A specialist domestic abuse organisation.
        DomesticAbuseOrganisation,
        /// A provider no official register holds: a housing association or ALMO, a drug and
        /// alcohol treatment provider, a community interest company delivering NHS services, a
        /// children's services company (curated list, `api/data/registry/providers.csv`).
        Provider,
        /// A collective addressee ("All Agencies").
        Collective,
        /// A generic name no area could place.
        Generic,
        /// Not a registered kind.
        Other,
    }
}

mirror! {
    /// How far an agency's remit reaches.
    Scope => domain::Scope {
        /// One area: a council, a force, a CSP.
        Local,
        /// Several areas: an ICB, a trust, a probation region.
        Regional,
        /// England, Wales or both.
        National,
    }
}

mirror! {
    /// How a printed addressee was resolved to its agency.
    ResolutionMethod => domain::Method {
        /// A curator's decision (alias, merge, sector) or the project's curated list.
        Curated,
        /// The name or an alias of a register entry.
        Registry,
        /// A registered abbreviation, or one the review defines inline.
        Abbreviation,
        /// A service of a known council ("Kent County Council Adult Social Care").
        ServiceOf,
        /// A generic name ("Police", "the CCG") resolved by the review's area.
        Context,
        /// A new agency whose sector comes from the name's form only.
        Rule,
        /// Nothing resolved it: sector `OTHER`, listed by `agencies unknown`.
        Unresolved,
    }
}

mirror! {
    /// The kind of statutory review.
    ReviewType => domain::ReviewType {
        /// Domestic Homicide Review (Domestic Violence, Crime and Victims Act 2004, s.9).
        Dhr,
        /// Domestic Abuse Related Death Review, the newer name.
        Dardr,
        /// A joint Safeguarding Adults Review and DHR.
        JointSarDhr,
    }
}

mirror! {
    /// A case tag from the Home Office's metadata (via the DHRD dataset). Absence means "not
    /// indicated", not "absent".
    CaseTag => domain::CaseTag {
        IntimatePartnerViolence,
        FamilialHomicide,
        Parricide,
        HomicideSuicide,
        ChildrenPresent,
        CoerciveControl,
        EconomicAbuse,
        FaithBasedMarriage,
        ForcedMarriage,
        HonourBasedViolence,
        PhysicalAbuse,
        EmotionalAbuse,
        Separation,
        SexualAbuse,
        Stalking,
    }
}

/// Where a review comes from.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReviewSource {
    /// A review page (ingested, or written by a case-management system): it has its
    /// recommendations.
    Page,
    /// A record of the DHRD dataset: CSP, region, death year and case tags, no
    /// recommendations. One linked to its page is listed through the page.
    DhrdRecord,
}

/// Orderings of `reviews`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum ReviewOrder {
    /// Most recently published first (the default).
    #[default]
    PublishedDesc,
    /// Oldest publication first; undated records (the DHRD's) last.
    PublishedAsc,
    /// Most recommendations first.
    RecommendationCountDesc,
}

/// Orderings of `agencies`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum AgencyOrder {
    /// Addressed by the most reviews first (the default).
    #[default]
    ReviewCountDesc,
    /// Addressed by the most recommendations first.
    RecommendationCountDesc,
    /// Alphabetical by canonical name.
    NameAsc,
}

/// Orderings of `csps`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum CspOrder {
    /// Alphabetical by name (the default).
    #[default]
    NameAsc,
}

/// Orderings of `recommendations`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum RecommendationOrder {
    /// Review by review in the order reviews were added, printed order within each.
    ReviewAsc,
    /// Most recently added review first, printed order within each (the default).
    #[default]
    ReviewDesc,
}

mirror! {
    /// Where a recommendation's action plan stands.
    PlanStatus => domain::PlanStatus {
        /// Nothing recorded yet (every recommendation starts here).
        NotStarted,
        /// Work under way.
        InProgress,
        /// Done, awaiting or past sign-off.
        Implemented,
        /// The agency did not accept the recommendation.
        NotAccepted,
        /// Signed off and closed.
        Closed,
    }
}

mirror! {
    /// The red/amber/green rating an action plan carries.
    Rag => domain::Rag {
        /// Off track.
        Red,
        /// At risk.
        Amber,
        /// On track or done.
        Green,
    }
}

impl PlanStatus {
    /// From a stored code; stored codes are written only from the enum, so an unknown one
    /// cannot occur (it would read as not started).
    pub fn from_code(code: &str) -> Self {
        code.parse::<domain::PlanStatus>()
            .map(Into::into)
            .unwrap_or(PlanStatus::NotStarted)
    }
}

mirror! {
    /// Under which agency an agency's reviews count in `recurringAgencies`.
    RollUp => crate::graph::RollUp {
        /// Each agency on its own.
        None,
        /// Under the body that took it over, and its successor in turn: a CCG's reviews
        /// count with its ICB's, the National Probation Service's with the Probation Service's.
        Successor,
        /// Under the body it is part of, to the top: a council's adult social care, children's
        /// social care and housing count with the council.
        Parent,
    }
}
