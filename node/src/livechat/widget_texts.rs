//! Every text the website widget shows, in the languages that ship with the node (English,
//! French, German, Spanish), the one lookup that picks a visitor's language and fills each
//! text from the channel's own texts or the built-in ones, and the checks on the texts an admin
//! sets per channel and language.
//!
//! One table ([`TEXTS`]): a key, then its text in each of [`BUILT_IN`]'s languages, in that
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

/// Every widget text: key, then English, French, German, Spanish.
pub const TEXTS: &[(&str, [&str; 4])] = &[
    (
        "button",
        [
            "Have a question? Chat with us.",
            "Une question ? Discutons.",
            "Haben Sie eine Frage? Chatten Sie mit uns.",
            "¿Tiene una pregunta? Chatee con nosotros.",
        ],
    ),
    (
        "welcome",
        [
            "How may I help you?",
            "Comment puis-je vous aider ?",
            "Wie kann ich Ihnen helfen?",
            "¿En qué puedo ayudarle?",
        ],
    ),
    (
        "placeholder",
        [
            "Say something...",
            "Écrivez votre message…",
            "Schreiben Sie etwas…",
            "Escriba algo…",
        ],
    ),
    (
        "window_label",
        [
            "Live chat",
            "Discussion en direct",
            "Live-Chat",
            "Chat en vivo",
        ],
    ),
    (
        "end_chat",
        ["End chat", "Terminer", "Chat beenden", "Terminar chat"],
    ),
    (
        "minimise",
        [
            "Minimise the chat",
            "Réduire la discussion",
            "Chat minimieren",
            "Minimizar el chat",
        ],
    ),
    (
        "input_label",
        [
            "Your message",
            "Votre message",
            "Ihre Nachricht",
            "Su mensaje",
        ],
    ),
    ("send", ["Send", "Envoyer", "Senden", "Enviar"]),
    (
        "answers_label",
        ["Answers", "Réponses", "Antworten", "Respuestas"],
    ),
    (
        "joined",
        [
            "{name} joined the conversation",
            "{name} a rejoint la conversation",
            "{name} ist dem Gespräch beigetreten",
            "{name} se unió a la conversación",
        ],
    ),
    (
        "not_available",
        [
            "The chat is not available on this page.",
            "La discussion n'est pas disponible sur cette page.",
            "Der Chat ist auf dieser Seite nicht verfügbar.",
            "El chat no está disponible en esta página.",
        ],
    ),
    (
        "nobody_available",
        [
            "Nobody is available to chat right now. Please try again later.",
            "Personne n'est disponible pour le moment. Veuillez réessayer plus tard.",
            "Gerade ist niemand erreichbar. Bitte versuchen Sie es später erneut.",
            "No hay nadie disponible ahora. Inténtelo de nuevo más tarde.",
        ],
    ),
    (
        "reconnecting",
        [
            "Reconnecting…",
            "Reconnexion…",
            "Verbindung wird wiederhergestellt…",
            "Reconectando…",
        ],
    ),
    (
        "typing",
        [
            "{name} is typing…",
            "{name} écrit…",
            "{name} schreibt…",
            "{name} está escribiendo…",
        ],
    ),
    (
        "ended",
        [
            "The conversation has ended",
            "La conversation est terminée",
            "Das Gespräch ist beendet",
            "La conversación ha terminado",
        ],
    ),
    (
        "rating_question",
        [
            "How was this conversation?",
            "Comment s'est passée cette conversation ?",
            "Wie war dieses Gespräch?",
            "¿Qué tal fue esta conversación?",
        ],
    ),
    (
        "rating_label",
        ["Rating", "Évaluation", "Bewertung", "Valoración"],
    ),
    (
        "rating_happy",
        ["Happy", "Satisfait", "Zufrieden", "Contento"],
    ),
    ("rating_okay", ["Okay", "Correct", "In Ordnung", "Regular"]),
    (
        "rating_unhappy",
        ["Unhappy", "Mécontent", "Unzufrieden", "Descontento"],
    ),
    (
        "comment_label",
        ["Comment", "Commentaire", "Kommentar", "Comentario"],
    ),
    (
        "comment_placeholder",
        [
            "Tell us more (optional)",
            "Dites-nous en plus (facultatif)",
            "Erzählen Sie uns mehr (optional)",
            "Cuéntenos más (opcional)",
        ],
    ),
    (
        "send_rating",
        [
            "Send rating",
            "Envoyer l'évaluation",
            "Bewertung senden",
            "Enviar valoración",
        ],
    ),
    (
        "rating_thanks",
        [
            "Thank you for your feedback!",
            "Merci pour votre avis !",
            "Vielen Dank für Ihr Feedback!",
            "¡Gracias por su opinión!",
        ],
    ),
    (
        "offline_button",
        [
            "Leave us a message",
            "Laissez-nous un message",
            "Hinterlassen Sie uns eine Nachricht",
            "Déjenos un mensaje",
        ],
    ),
    (
        "offline_title",
        [
            "We are away right now",
            "Nous sommes absents pour le moment",
            "Wir sind gerade nicht da",
            "Ahora mismo no estamos",
        ],
    ),
    (
        "offline_intro",
        [
            "Leave us a message and we will answer by email.",
            "Laissez-nous un message, nous vous répondrons par e-mail.",
            "Hinterlassen Sie uns eine Nachricht, wir antworten per E-Mail.",
            "Déjenos un mensaje y le responderemos por correo electrónico.",
        ],
    ),
    (
        "offline_name",
        ["Your name", "Votre nom", "Ihr Name", "Su nombre"],
    ),
    (
        "offline_email",
        [
            "Your email",
            "Votre e-mail",
            "Ihre E-Mail-Adresse",
            "Su correo electrónico",
        ],
    ),
    (
        "offline_message",
        [
            "Your message",
            "Votre message",
            "Ihre Nachricht",
            "Su mensaje",
        ],
    ),
    (
        "offline_send",
        [
            "Send message",
            "Envoyer le message",
            "Nachricht senden",
            "Enviar mensaje",
        ],
    ),
    (
        "offline_thanks",
        [
            "Thank you! We received your message and will answer by email.",
            "Merci ! Nous avons bien reçu votre message et vous répondrons par e-mail.",
            "Danke! Wir haben Ihre Nachricht erhalten und antworten per E-Mail.",
            "¡Gracias! Hemos recibido su mensaje y le responderemos por correo electrónico.",
        ],
    ),
    (
        "queue_position",
        [
            "You are number {n} in line",
            "Vous êtes numéro {n} dans la file",
            "Sie sind Nummer {n} in der Warteschlange",
            "Usted es el número {n} en la fila",
        ],
    ),
    (
        "queue_wait_minutes",
        [
            "Estimated wait: about {m} min",
            "Attente estimée : environ {m} min",
            "Geschätzte Wartezeit: etwa {m} Min.",
            "Espera estimada: unos {m} min",
        ],
    ),
    (
        "queue_wait_under_minute",
        [
            "Estimated wait: less than a minute",
            "Attente estimée : moins d'une minute",
            "Geschätzte Wartezeit: weniger als eine Minute",
            "Espera estimada: menos de un minuto",
        ],
    ),
    (
        "queue_wait_unknown",
        [
            "Estimated wait: unknown",
            "Attente estimée : inconnue",
            "Geschätzte Wartezeit: unbekannt",
            "Espera estimada: desconocida",
        ],
    ),
    (
        "queue_keep_place",
        [
            "Everyone is busy right now. You keep your place while you browse this site.",
            "Tout le monde est occupé pour le moment. Vous gardez votre place en parcourant ce site.",
            "Gerade sind alle beschäftigt. Sie behalten Ihren Platz, während Sie diese Seite besuchen.",
            "Ahora mismo todos están ocupados. Conserva su lugar mientras navega por este sitio.",
        ],
    ),
];

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
