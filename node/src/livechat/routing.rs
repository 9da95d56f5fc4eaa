//! Operator choice for a new visitor (LIVECHAT-RULES.md "Operator choice"), as a pure
//! function of the operators' facts, the visitor's facts and a random source.
//!
//! 1. Available: present and under the channel's cap (ongoing sessions of the last 15 min).
//! 2. The previous operator, if available.
//! 3. The first non-empty tier: language+all expertises, language+any, language,
//!    country+all, country+any, country, all expertises, any expertise, everyone.
//! 4. In the tier, operators assigned a session in the last 120 s are skipped when someone
//!    else is left; then the least busy (active sessions of the last 30 min), ties at random.

use uuid::Uuid;

/// How recently an assignment makes an operator "just served" (ms).
pub const RECENT_ASSIGNMENT_MS: u64 = 120_000;

/// What routing knows about one operator of the channel.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    /// The operator's user id.
    pub id: Uuid,
    /// Main language and chat languages (any form: `fr`, `fr_BE`, `fr-be`).
    pub languages: Vec<String>,
    /// Expertise tags.
    pub expertise: Vec<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// Connected, or active in the last 30 minutes.
    pub present: bool,
    /// Sessions not closed with activity in the last 15 minutes (for the cap).
    pub ongoing: usize,
    /// Sessions not closed with activity in the last 30 minutes (for "least busy").
    pub active: usize,
    /// When the operator was last given a session (ms).
    pub last_assigned_ms: Option<u64>,
}

/// What routing knows about the visitor.
#[derive(Debug, Clone, Default)]
pub struct VisitorFacts {
    /// Browser language.
    pub language: Option<String>,
    /// Country (GeoIP or proxy header).
    pub country: Option<String>,
    /// Required expertises (from a chatbot's forward step, or the widget).
    pub expertise: Vec<String>,
    /// The operator of the visitor's previous session, if within the week.
    pub previous_operator: Option<Uuid>,
}

pub use crate::accounts::users::primary_language;

fn speaks(c: &Candidate, language: &str) -> bool {
    let wanted = primary_language(language);
    !wanted.is_empty() && c.languages.iter().any(|l| primary_language(l) == wanted)
}

fn has_all(c: &Candidate, wanted: &[String]) -> bool {
    !wanted.is_empty()
        && wanted
            .iter()
            .all(|w| c.expertise.iter().any(|e| e.eq_ignore_ascii_case(w)))
}

fn has_any(c: &Candidate, wanted: &[String]) -> bool {
    wanted
        .iter()
        .any(|w| c.expertise.iter().any(|e| e.eq_ignore_ascii_case(w)))
}

fn same_country(c: &Candidate, country: &str) -> bool {
    c.country
        .as_deref()
        .is_some_and(|own| own.eq_ignore_ascii_case(country))
}

/// Whether `c` can take one more session under `cap`.
pub fn available(c: &Candidate, cap: Option<u32>) -> bool {
    c.present && cap.is_none_or(|cap| c.ongoing < cap as usize)
}

/// Chooses the operator for a visitor, or `None` when nobody is available.
/// `pick(n)` returns a random index below `n`.
pub fn choose(
    operators: &[Candidate],
    visitor: &VisitorFacts,
    cap: Option<u32>,
    now_ms: u64,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Option<Uuid> {
    let free: Vec<&Candidate> = operators.iter().filter(|c| available(c, cap)).collect();
    if free.is_empty() {
        return None;
    }
    if let Some(prev) = visitor.previous_operator
        && free.iter().any(|c| c.id == prev)
    {
        return Some(prev);
    }
    let want = &visitor.expertise;
    let lang = visitor.language.as_deref().unwrap_or("");
    let country = visitor.country.as_deref().unwrap_or("");
    let tiers: [&dyn Fn(&Candidate) -> bool; 9] = [
        &|c| speaks(c, lang) && has_all(c, want),
        &|c| speaks(c, lang) && has_any(c, want),
        &|c| speaks(c, lang),
        &|c| same_country(c, country) && has_all(c, want),
        &|c| same_country(c, country) && has_any(c, want),
        &|c| same_country(c, country),
        &|c| has_all(c, want),
        &|c| has_any(c, want),
        &|_| true,
    ];
    let tier: Vec<&Candidate> = tiers
        .iter()
        .map(|test| free.iter().copied().filter(|c| test(c)).collect::<Vec<_>>())
        .find(|t| !t.is_empty())?;
    least_busy(&tier, now_ms, pick)
}

/// Least busy of a tier, skipping the recently assigned when someone else is left.
fn least_busy(
    tier: &[&Candidate],
    now_ms: u64,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Option<Uuid> {
    let rested: Vec<&Candidate> = tier
        .iter()
        .copied()
        .filter(|c| {
            c.last_assigned_ms
                .is_none_or(|at| now_ms.saturating_sub(at) >= RECENT_ASSIGNMENT_MS)
        })
        .collect();
    let pool = if rested.is_empty() { tier } else { &rested };
    let fewest = pool.iter().map(|c| c.active).min()?;
    let tied: Vec<&Candidate> = pool
        .iter()
        .copied()
        .filter(|c| c.active == fewest)
        .collect();
    let i = pick(tied.len()).min(tied.len().saturating_sub(1));
    tied.get(i).map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 10_000_000;

    fn op(n: u128, langs: &[&str], exp: &[&str], country: Option<&str>) -> Candidate {
        Candidate {
            id: Uuid::from_u128(n),
            languages: langs.iter().map(|s| s.to_string()).collect(),
            expertise: exp.iter().map(|s| s.to_string()).collect(),
            country: country.map(str::to_string),
            present: true,
            ..Candidate::default()
        }
    }

    fn visitor(lang: &str, exp: &[&str], country: Option<&str>) -> VisitorFacts {
        VisitorFacts {
            language: Some(lang.into()),
            country: country.map(str::to_string),
            expertise: exp.iter().map(|s| s.to_string()).collect(),
            previous_operator: None,
        }
    }

    fn first(ops: &[Candidate], v: &VisitorFacts, cap: Option<u32>) -> Option<u128> {
        choose(ops, v, cap, NOW, &mut |_| 0).map(|u| u.as_u128())
    }

    #[test]
    fn nobody_present_means_nobody() {
        let mut a = op(1, &["en"], &[], None);
        a.present = false;
        assert_eq!(first(&[a], &visitor("en", &[], None), None), None);
    }

    #[test]
    fn same_language_with_all_expertises_beats_partial_matches() {
        let ops = [
            op(1, &["en"], &["sales"], None),
            op(2, &["fr"], &["sales", "billing"], None),
            op(3, &["fr_BE"], &["sales"], None),
            op(4, &["fr"], &[], None),
        ];
        let v = visitor("fr-FR", &["sales", "billing"], None);
        assert_eq!(first(&ops, &v, None), Some(2));
        let v = visitor("fr", &["sales"], None);
        assert!(matches!(first(&ops, &v, None), Some(2) | Some(3)));
        let v = visitor("fr", &["legal"], None);
        assert!(matches!(first(&ops, &v, None), Some(2..=4)));
    }

    #[test]
    fn country_then_expertise_then_everyone() {
        let ops = [
            op(1, &["en"], &["sales"], Some("US")),
            op(2, &["en"], &[], Some("BE")),
        ];
        assert_eq!(
            first(&ops, &visitor("de", &["sales"], Some("BE")), None),
            Some(2)
        );
        assert_eq!(
            first(&ops, &visitor("de", &["sales"], Some("JP")), None),
            Some(1)
        );
        let picked = first(&ops, &visitor("de", &[], None), None);
        assert!(picked.is_some());
    }

    #[test]
    fn the_least_busy_wins_and_ties_are_random() {
        let mut a = op(1, &["en"], &[], None);
        let mut b = op(2, &["en"], &[], None);
        let c = op(3, &["en"], &[], None);
        a.active = 2;
        b.active = 1;
        let v = visitor("en", &[], None);
        assert_eq!(first(&[a.clone(), b.clone()], &v, None), Some(2));
        let mut seen = Vec::new();
        let ops = [a, c.clone(), op(4, &["en"], &[], None)];
        for i in 0..2 {
            seen.push(choose(&ops, &v, None, NOW, &mut |_| i).map(|u| u.as_u128()));
        }
        assert_eq!(seen, vec![Some(3), Some(4)]);
    }

    #[test]
    fn the_recently_assigned_are_skipped_while_someone_else_is_free() {
        let mut a = op(1, &["en"], &[], None);
        let mut b = op(2, &["en"], &[], None);
        a.last_assigned_ms = Some(NOW - 30_000);
        b.active = 3;
        let v = visitor("en", &[], None);
        assert_eq!(first(&[a.clone(), b.clone()], &v, None), Some(2));
        b.last_assigned_ms = Some(NOW - 10_000);
        assert_eq!(first(&[a.clone(), b], &v, None), Some(1));
        a.last_assigned_ms = Some(NOW - RECENT_ASSIGNMENT_MS);
        assert_eq!(first(&[a], &v, None), Some(1));
    }

    #[test]
    fn the_previous_operator_comes_first_when_available() {
        let mut a = op(1, &["en"], &[], None);
        let b = op(2, &["fr"], &[], None);
        a.active = 4;
        let mut v = visitor("fr", &[], None);
        v.previous_operator = Some(Uuid::from_u128(1));
        assert_eq!(first(&[a.clone(), b.clone()], &v, None), Some(1));
        a.ongoing = 2;
        assert_eq!(first(&[a, b], &v, Some(2)), Some(2));
    }

    #[test]
    fn the_cap_counts_ongoing_sessions() {
        let mut a = op(1, &["en"], &[], None);
        a.ongoing = 3;
        let v = visitor("en", &[], None);
        assert_eq!(first(std::slice::from_ref(&a), &v, Some(3)), None);
        assert_eq!(first(std::slice::from_ref(&a), &v, Some(4)), Some(1));
        assert_eq!(first(&[a], &v, None), Some(1));
    }

    #[test]
    fn language_tags_compare_by_primary_subtag() {
        assert_eq!(primary_language("fr_BE"), "fr");
        assert_eq!(primary_language(" EN-us"), "en");
        assert_eq!(primary_language(""), "");
    }
}
