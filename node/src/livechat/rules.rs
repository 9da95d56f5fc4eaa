//! Channel rules (LIVECHAT-RULES.md "Channel rules"): which button a page gets.
//!
//! Rules are ordered by sequence. First pass: rules whose countries include the visitor's
//! country (only when one is known); second pass: rules with no countries. A rule matches when
//! its URL regex is *found* in the page URL (an empty regex matches every page) and its chatbot
//! condition holds. The first match wins. Also here: where the visitor's country comes from.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};

use regex::{Regex, RegexBuilder};

use super::LiveChatError;

/// Longest `url_regex` accepted (bytes).
pub const MAX_REGEX_LEN: usize = 1_000;
/// Compiled size limit of one `url_regex` (bytes): bigger patterns are refused as too complex.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Lazy-DFA cache limit of one `url_regex` (bytes).
pub const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;
/// Most rules one channel may have.
pub const MAX_RULES: usize = 100;
/// Most countries one rule may name.
pub const MAX_COUNTRIES: usize = 250;
/// Compiled patterns kept; past this the cache starts again from empty.
const MAX_CACHED: usize = 1_024;

/// Compiled rule regexes by pattern, so an anonymous page check compiles nothing. A rule that
/// changes gets its new pattern compiled once; the old one is dropped when the cache refills.
static COMPILED: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles a rule's pattern within the size limits.
fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .nest_limit(64)
        .build()
}

/// The compiled pattern, from the cache or compiled now (None if it does not compile: rules
/// are checked when saved, so only a record from an older version could get here).
fn compiled(pattern: &str) -> Option<Arc<Regex>> {
    if let Ok(cache) = COMPILED.lock()
        && let Some(re) = cache.get(pattern)
    {
        return Some(re.clone());
    }
    let re = Arc::new(compile(pattern).ok()?);
    if let Ok(mut cache) = COMPILED.lock() {
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
    }
    Some(re)
}

pub use crate::model::livechat::{Action, ChatbotCondition, Rule};

impl Rule {
    /// Checks the regex and normalises country codes; invalid input is refused.
    pub fn validated(mut self) -> Result<Rule, LiveChatError> {
        if self.url_regex.len() > MAX_REGEX_LEN {
            return Err(LiveChatError::BadInput(format!(
                "url_regex has at most {MAX_REGEX_LEN} bytes"
            )));
        }
        compile(&self.url_regex).map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => LiveChatError::BadInput(format!(
                "url_regex is too complex: compiled it would exceed {limit} bytes; \
                 use a simpler pattern"
            )),
            e => LiveChatError::BadInput(format!("invalid url_regex {:?}: {e}", self.url_regex)),
        })?;
        if self.countries.len() > MAX_COUNTRIES {
            return Err(LiveChatError::BadInput(format!(
                "a rule names at most {MAX_COUNTRIES} countries"
            )));
        }
        if self.chatbot_id.as_ref().is_some_and(|c| c.len() > 100) {
            return Err(LiveChatError::BadInput(
                "chatbot_id has at most 100 bytes".into(),
            ));
        }
        for c in &mut self.countries {
            *c = c.trim().to_ascii_uppercase();
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                return Err(LiveChatError::BadInput(format!(
                    "country {c:?} is not a two-letter ISO code"
                )));
            }
        }
        if self.action == Action::AutoOpen && self.auto_open_after_s.is_none() {
            self.auto_open_after_s = Some(0);
        }
        Ok(self)
    }

    fn url_matches(&self, page_url: &str) -> bool {
        self.url_regex.is_empty()
            || compiled(&self.url_regex).is_some_and(|re| re.is_match(page_url))
    }

    fn chatbot_holds(&self, operator_available: bool) -> bool {
        match (&self.chatbot_id, self.chatbot_condition) {
            (None, _) | (Some(_), ChatbotCondition::Always) => true,
            (Some(_), ChatbotCondition::OnlyIfNoOperator) => !operator_available,
            (Some(_), ChatbotCondition::OnlyIfOperator) => operator_available,
        }
    }
}

/// The rule for a page: country rules first (when the country is known), then rules with no
/// country; by sequence; first whose regex is found and whose chatbot condition holds.
pub fn matching_rule<'a>(
    rules: &'a [Rule],
    page_url: &str,
    country: Option<&str>,
    operator_available: bool,
) -> Option<&'a Rule> {
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    ordered.sort_by_key(|r| r.sequence);
    let fits = |r: &&Rule| r.url_matches(page_url) && r.chatbot_holds(operator_available);
    let by_country = country.and_then(|country| {
        ordered
            .iter()
            .copied()
            .filter(|r| r.countries.iter().any(|c| c.eq_ignore_ascii_case(country)))
            .find(fits)
    });
    by_country.or_else(|| {
        ordered
            .iter()
            .copied()
            .filter(|r| r.countries.is_empty())
            .find(fits)
    })
}

/// Where visitors' countries come from: a proxy header, else a MaxMind-format database.
#[derive(Debug, Default)]
pub struct CountrySource {
    /// Header carrying an ISO code (e.g. `CF-IPCountry`).
    pub header: Option<String>,
    /// An opened GeoIP database.
    pub geoip: Option<GeoIp>,
}

/// A MaxMind-format country database.
pub struct GeoIp(maxminddb::Reader<Vec<u8>>);

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeoIp(..)")
    }
}

impl GeoIp {
    /// Opens the database file.
    pub fn open(path: &std::path::Path) -> Result<GeoIp, LiveChatError> {
        maxminddb::Reader::open_readfile(path)
            .map(GeoIp)
            .map_err(|e| LiveChatError::BadInput(format!("GeoIP database {path:?}: {e}")))
    }

    /// The ISO country code of an address, if the database knows it.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let found: Option<maxminddb::geoip2::Country> = self.0.lookup(ip).ok().flatten();
        found
            .and_then(|c| c.country)
            .and_then(|c| c.iso_code)
            .map(str::to_ascii_uppercase)
    }
}

impl CountrySource {
    /// The visitor's country from the configured header value or their address.
    pub fn country(&self, header_value: Option<&str>, ip: Option<IpAddr>) -> Option<String> {
        if self.header.is_some()
            && let Some(v) = header_value.map(str::trim).filter(|v| v.len() == 2)
        {
            return Some(v.to_ascii_uppercase());
        }
        match (&self.geoip, ip) {
            (Some(db), Some(ip)) => db.country(ip),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn rule(seq: i32, action: Action, re: &str, countries: &[&str]) -> Rule {
        Rule {
            id: Uuid::now_v7(),
            sequence: seq,
            action,
            auto_open_after_s: None,
            url_regex: re.into(),
            countries: countries.iter().map(|s| s.to_string()).collect(),
            chatbot_id: None,
            chatbot_condition: ChatbotCondition::Always,
        }
    }

    #[test]
    fn patterns_that_compile_too_big_or_are_too_long_are_refused() {
        let big = r"\w{50}\w{50}\w{50}\w{50}";
        assert!(
            Regex::new(big).is_ok(),
            "regex's own default limits let it through"
        );
        let refused = rule(0, Action::Show, big, &[]).validated();
        assert!(
            matches!(&refused, Err(LiveChatError::BadInput(m)) if m.contains("too complex")),
            "{refused:?}"
        );
        let long = "(ab|cd)".repeat(200);
        assert!(rule(0, Action::Show, &long, &[]).validated().is_err());
        assert!(
            rule(0, Action::Show, "^https://shop\\.", &[])
                .validated()
                .is_ok()
        );
    }

    #[test]
    fn a_pattern_is_compiled_once_and_shared() {
        let r = rule(0, Action::Show, "/cached-[0-9]+/", &[]);
        assert!(r.url_matches("https://x.test/cached-12/"));
        let first = compiled("/cached-[0-9]+/");
        let again = compiled("/cached-[0-9]+/");
        assert!(matches!((first, again), (Some(a), Some(b)) if Arc::ptr_eq(&a, &b)));
    }

    #[test]
    fn country_rules_come_first_then_sequence_order() {
        let rules = vec![
            rule(1, Action::Show, "", &[]),
            rule(5, Action::Hide, "/shop", &["BE"]),
            rule(0, Action::AutoOpen, "/shop", &[]),
        ];
        let be = matching_rule(&rules, "https://x.test/shop/cart", Some("BE"), true);
        assert_eq!(be.map(|r| r.action), Some(Action::Hide));
        let fr = matching_rule(&rules, "https://x.test/shop", Some("FR"), true);
        assert_eq!(fr.map(|r| r.action), Some(Action::AutoOpen));
        let home = matching_rule(&rules, "https://x.test/", None, true);
        assert_eq!(home.map(|r| r.action), Some(Action::Show));
    }

    #[test]
    fn a_rule_naming_other_countries_never_applies() {
        let rules = vec![rule(0, Action::Hide, "", &["US"])];
        assert!(matching_rule(&rules, "/", Some("BE"), true).is_none());
        assert!(matching_rule(&rules, "/", None, true).is_none());
    }

    #[test]
    fn the_chatbot_condition_skips_to_the_next_rule() {
        let mut bot = rule(0, Action::AutoOpen, "", &[]);
        bot.chatbot_id = Some("helper".into());
        bot.chatbot_condition = ChatbotCondition::OnlyIfNoOperator;
        let rules = vec![bot, rule(1, Action::Show, "", &[])];
        assert_eq!(
            matching_rule(&rules, "/", None, true).map(|r| r.action),
            Some(Action::Show)
        );
        assert_eq!(
            matching_rule(&rules, "/", None, false).map(|r| r.action),
            Some(Action::AutoOpen)
        );
    }

    #[test]
    fn invalid_regexes_and_countries_are_refused() {
        assert!(rule(0, Action::Show, "(", &[]).validated().is_err());
        assert!(rule(0, Action::Show, "", &["Belgium"]).validated().is_err());
        let ok = rule(0, Action::Show, "/shop", &["be"]).validated().unwrap();
        assert_eq!(ok.countries, vec!["BE".to_string()]);
    }

    #[test]
    fn the_country_header_is_used_only_when_configured() {
        let none = CountrySource::default();
        assert_eq!(none.country(Some("BE"), None), None);
        let header = CountrySource {
            header: Some("x-country".into()),
            geoip: None,
        };
        assert_eq!(header.country(Some("be"), None), Some("BE".into()));
    }
}
