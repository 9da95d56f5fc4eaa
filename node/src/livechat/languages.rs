//! The languages enabled on this node (as Odoo allows only the database's enabled languages):
//! an operator's main language and their live chat languages must be among them. The list is
//! a setting ([`LiveChatConfig::languages`](super::LiveChatConfig), ISO 639-1 codes);
//! [`DEFAULT_LANGUAGES`] when unset. A profile may name a regional form (`fr_BE`, `pt-BR`)
//! of an enabled language; routing compares primary subtags anyway.
//!
//! Used by `crate::accounts` (profile checks: the list is handed over at start) and the API
//! (`GET /api/v1/livechat/languages`, which the console offers as a choice).

use serde::Serialize;

use super::{LiveChat, LiveChatError};

/// The languages enabled when the configuration names none: the most spoken languages with
/// an ISO 639-1 code, by code.
pub const DEFAULT_LANGUAGES: &[&str] = &[
    "ar", "bn", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fr", "he", "hi", "hu", "id", "it",
    "ja", "ko", "nb", "nl", "pl", "pt", "ro", "ru", "sv", "th", "tr", "uk", "vi", "zh",
];

/// English names of the codes the console shows; other codes are shown as they are.
const NAMES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("bn", "Bengali"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("es", "Spanish"),
    ("et", "Estonian"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("nb", "Norwegian Bokmål"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("sr", "Serbian"),
    ("sv", "Swedish"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("vi", "Vietnamese"),
    ("zh", "Chinese"),
];

/// One enabled language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Language {
    /// ISO 639-1 code.
    pub code: String,
    /// English name (the code when unknown).
    pub name: String,
}

/// Checks and normalises the configured list: lower-case two-letter codes, no duplicates, not
/// empty; [`DEFAULT_LANGUAGES`] when `None`.
pub fn enabled_list(configured: Option<&[String]>) -> Result<Vec<String>, LiveChatError> {
    let Some(list) = configured else {
        return Ok(DEFAULT_LANGUAGES.iter().map(|c| c.to_string()).collect());
    };
    let mut out: Vec<String> = Vec::new();
    for code in list {
        let c = code.trim().to_ascii_lowercase();
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(LiveChatError::BadInput(format!(
                "enabled languages are ISO 639-1 codes of two letters (not {code:?})"
            )));
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err(LiveChatError::BadInput(
            "at least one language must be enabled".into(),
        ));
    }
    Ok(out)
}

impl LiveChat {
    /// The enabled languages with their names, in the configured order.
    pub fn languages(&self) -> Vec<Language> {
        self.enabled_languages()
            .iter()
            .map(|code| Language {
                code: code.clone(),
                name: NAMES
                    .iter()
                    .find(|(c, _)| c == code)
                    .map_or_else(|| code.clone(), |(_, n)| n.to_string()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_list_is_checked_and_normalised() {
        let list = enabled_list(Some(&["EN".into(), "fr".into(), "en".into()])).unwrap();
        assert_eq!(list, vec!["en".to_string(), "fr".to_string()]);
        assert!(enabled_list(Some(&["klingon".into()])).is_err());
        assert!(enabled_list(Some(&[])).is_err());
        assert!(enabled_list(None).unwrap().contains(&"en".to_string()));
    }
}
