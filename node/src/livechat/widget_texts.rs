//! Every text the website widget shows, in the languages that ship with the node (English,
//! French, German, Spanish), the one lookup that picks a visitor's language and fills each
//! text from the channel's own texts or the built-in ones, and the checks on the texts an admin
//! sets per channel and language.
//!
//! One table ([`TEXTS`], in `widget_text_table.rs`): a key, then its text in each of [`BUILT_IN`]'s languages, in that
//! order. A new widget text is one more row here and one `t("key")` in `widget.js`. The widget
//! gets the whole table already resolved for its visitor in the page check
//! ([`super::widget`]); `{name}` in a text is replaced by the widget.
//!
//! Lookup for key K in language L (the visitor's) with the channel's default language D:
//! the channel's text for (L, K); for L = D the channel's own button text, welcome message and
//! placeholder when the admin changed them; the built-in text for (L, K); then the same three
//! for D; then English.

use std::collections::BTreeMap;

use super::LiveChatError;
use super::channels::Channel;
use crate::model::livechat_offline::WidgetTexts;

/// The languages with built-in texts, in the order of [`TEXTS`]' columns.
pub const BUILT_IN: [&str; 4] = ["en", "fr", "de", "es"];

/// At most this many languages of a channel's own texts.
pub const MAX_LANGUAGES: usize = 50;
/// Longest text (bytes).
pub const MAX_TEXT: usize = 2000;

pub use super::widget_text_table::TEXTS;

/// The built-in text of `key` in `lang`, if both exist.
pub fn built_in(key: &str, lang: &str) -> Option<&'static str> {
    let column = BUILT_IN.iter().position(|l| *l == lang)?;
    TEXTS
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, texts)| texts.get(column).copied())
}

/// Whether `key` is a widget text.
pub fn is_key(key: &str) -> bool {
    TEXTS.iter().any(|(k, _)| *k == key)
}

/// The channel's default language ("en" when unset).
pub fn default_language(channel: &Channel) -> &str {
    if channel.default_language.is_empty() {
        "en"
    } else {
        &channel.default_language
    }
}

/// The channel's own text for `key` from its older single-language fields (button text,
/// welcome message, placeholder), when the admin changed it from the English default.
fn own_field<'a>(channel: &'a Channel, key: &str) -> Option<&'a str> {
    let value = match key {
        "button" => &channel.button_text,
        "welcome" => &channel.welcome_message,
        "placeholder" => &channel.input_placeholder,
        _ => return None,
    };
    (!value.is_empty() && Some(value.as_str()) != built_in(key, "en")).then_some(value.as_str())
}

/// One text for a visitor speaking `lang` (see the module doc for the order).
pub fn lookup<'a>(channel: &'a Channel, key: &str, lang: &str) -> &'a str {
    let default = default_language(channel);
    let in_lang = |l: &str| {
        channel
            .texts
            .get(l)
            .and_then(|t| t.get(key))
            .map(String::as_str)
            .or_else(|| (l == default).then(|| own_field(channel, key)).flatten())
            .or_else(|| built_in(key, l))
    };
    in_lang(lang)
        .or_else(|| in_lang(default))
        .or_else(|| built_in(key, "en"))
        .unwrap_or("")
}

/// The language to speak to a visitor whose browser prefers `wanted` (best first): the first
/// one the channel has texts for (exactly, else by its primary subtag: `fr-CA` → `fr`), else
/// the channel's default.
pub fn choose_language(channel: &Channel, wanted: &[String]) -> String {
    let default = default_language(channel);
    let known = |l: &str| BUILT_IN.contains(&l) || channel.texts.contains_key(l) || l == default;
    for w in wanted {
        let w = w.trim().to_ascii_lowercase();
        if known(&w) {
            return w;
        }
        if let Some(primary) = w.split(['-', '_']).next().filter(|p| known(p)) {
            return primary.to_string();
        }
    }
    default.to_string()
}

/// Every widget text for a visitor speaking `lang`, by key.
pub fn resolved(channel: &Channel, lang: &str) -> BTreeMap<String, String> {
    TEXTS
        .iter()
        .map(|(k, _)| (k.to_string(), lookup(channel, k, lang).to_string()))
        .collect()
}

/// A language code as the admin may write it: `fr`, `pt-br` (2 or 3 letters, optionally a
/// region or script of 2 to 8 letters or digits), kept in lower case.
pub fn language_code(code: &str) -> Result<String, LiveChatError> {
    let lower = code.trim().to_ascii_lowercase();
    let (primary, rest) = match lower.split_once('-') {
        Some((p, r)) => (p, Some(r)),
        None => (lower.as_str(), None),
    };
    let ok = (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && rest.is_none_or(|r| {
            (2..=8).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(lower)
    } else {
        Err(LiveChatError::BadInput(format!(
            "{code:?} is not a language code (e.g. fr, de, pt-br)"
        )))
    }
}

/// Checks a channel's own texts: known keys, valid language codes, texts of at most
/// [`MAX_TEXT`] bytes; empty texts and languages without texts are dropped.
pub fn validated(texts: WidgetTexts) -> Result<WidgetTexts, LiveChatError> {
    if texts.len() > MAX_LANGUAGES {
        return Err(LiveChatError::BadInput(format!(
            "a channel has texts in at most {MAX_LANGUAGES} languages"
        )));
    }
    let mut out = WidgetTexts::new();
    for (lang, by_key) in texts {
        let lang = language_code(&lang)?;
        let mut kept = BTreeMap::new();
        for (key, text) in by_key {
            if !is_key(&key) {
                return Err(LiveChatError::BadInput(format!(
                    "{key:?} is not a widget text; the keys are: {}",
                    TEXTS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                )));
            }
            if text.len() > MAX_TEXT {
                return Err(LiveChatError::BadInput(format!(
                    "the {lang} text {key} has at most {MAX_TEXT} bytes"
                )));
            }
            if !text.trim().is_empty() {
                kept.insert(key, text);
            }
        }
        if !kept.is_empty() {
            out.insert(lang, kept);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> Channel {
        Channel {
            id: uuid::Uuid::nil(),
            name: "Support".into(),
            operators: vec![],
            button_text: "Have a question? Chat with us.".into(),
            welcome_message: "How may I help you?".into(),
            input_placeholder: "Say something...".into(),
            button_color: String::new(),
            header_color: String::new(),
            max_sessions_per_operator: None,
            published: false,
            rules: vec![],
            created_at_ms: 0,
            self_join: false,
            allowed: vec![],
            queue_limit: 20,
            files: Default::default(),
            hours: None,
            offline: Default::default(),
            default_language: String::new(),
            texts: Default::default(),
        }
    }

    #[test]
    fn every_key_has_a_text_in_every_built_in_language() {
        for (key, texts) in TEXTS {
            for (i, t) in texts.iter().enumerate() {
                assert!(!t.trim().is_empty(), "{key} in {}", BUILT_IN[i]);
            }
            assert_eq!(
                texts[0].contains("{name}"),
                texts.iter().all(|t| t.contains("{name}")),
                "{key}: every language keeps {{name}}"
            );
        }
        let mut keys: Vec<&str> = TEXTS.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), TEXTS.len(), "keys are unique");
    }

    #[test]
    fn the_browser_language_picks_the_texts_with_region_and_fallback() {
        let c = channel();
        let pick =
            |w: &[&str]| choose_language(&c, &w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(pick(&["fr-CA", "en"]), "fr");
        assert_eq!(pick(&["it", "de-AT"]), "de");
        assert_eq!(pick(&["it", "ja"]), "en");
        assert_eq!(lookup(&c, "send", "fr"), "Envoyer");
        assert_eq!(
            lookup(&c, "button", "es"),
            "¿Tiene una pregunta? Chatee con nosotros."
        );
    }

    #[test]
    fn the_channel_own_texts_win_and_its_default_language_is_the_fallback() {
        let mut c = channel();
        c.default_language = "de".into();
        c.button_text = "Fragen? Wir sind da.".into();
        c.texts.insert(
            "it".into(),
            BTreeMap::from([("button".to_string(), "Domande? Scrivici.".to_string())]),
        );
        c.texts.insert(
            "fr".into(),
            BTreeMap::from([("send".to_string(), "Go !".to_string())]),
        );
        let pick = |w: &str| choose_language(&c, &[w.to_string()]);
        assert_eq!(pick("it-IT"), "it");
        assert_eq!(lookup(&c, "button", "it"), "Domande? Scrivici.");
        // Italian has no built-in "send": the default language's (German) is used.
        assert_eq!(lookup(&c, "send", "it"), "Senden");
        assert_eq!(pick("ja"), "de");
        assert_eq!(lookup(&c, "button", "de"), "Fragen? Wir sind da.");
        // The German button text is the channel's, French visitors keep the French one.
        assert_eq!(lookup(&c, "button", "fr"), "Une question ? Discutons.");
        assert_eq!(lookup(&c, "send", "fr"), "Go !");
    }

    #[test]
    fn bad_overrides_are_refused_and_empty_ones_dropped() {
        let one = |lang: &str, key: &str, text: &str| {
            validated(BTreeMap::from([(
                lang.to_string(),
                BTreeMap::from([(key.to_string(), text.to_string())]),
            )]))
        };
        assert!(one("fr", "nope", "x").is_err());
        assert!(one("french!", "send", "x").is_err());
        assert!(one("fr", "send", &"x".repeat(MAX_TEXT + 1)).is_err());
        assert_eq!(
            one("PT-BR", "send", "Enviar")
                .ok()
                .map(|t| t.contains_key("pt-br")),
            Some(true)
        );
        assert_eq!(
            one("fr", "send", "  ").ok().map(|t| t.is_empty()),
            Some(true)
        );
    }
}
