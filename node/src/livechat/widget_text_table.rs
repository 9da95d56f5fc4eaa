//! The widget's texts: each key with its text in English, French, German and Spanish (the
//! order of [`super::widget_texts::BUILT_IN`]). Data only; the lookup, the language choice and
//! the checks are in [`super::widget_texts`]. A new widget text is one row here and one
//! `t("key")` in `widget.js`. `{name}`-style parts are filled in by the widget.

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
    (
        "files_attach",
        [
            "Attach a file",
            "Joindre un fichier",
            "Datei anhängen",
            "Adjuntar un archivo",
        ],
    ),
    (
        "files_sending",
        [
            "Sending {name}…",
            "Envoi de {name}…",
            "{name} wird gesendet…",
            "Enviando {name}…",
        ],
    ),
    (
        "files_too_large",
        [
            "{name} is larger than {max}.",
            "{name} dépasse {max}.",
            "{name} ist größer als {max}.",
            "{name} supera {max}.",
        ],
    ),
    (
        "files_not_allowed",
        [
            "Files of this type cannot be sent here.",
            "Les fichiers de ce type ne peuvent pas être envoyés ici.",
            "Dateien dieses Typs können hier nicht gesendet werden.",
            "No se pueden enviar archivos de este tipo aquí.",
        ],
    ),
    (
        "files_download",
        ["Download", "Télécharger", "Herunterladen", "Descargar"],
    ),
    (
        "files_email_ask",
        [
            "Email me the transcript",
            "M'envoyer la conversation par e-mail",
            "Gesprächsverlauf per E-Mail senden",
            "Enviarme la conversación por correo",
        ],
    ),
    (
        "files_email_label",
        [
            "Your email address",
            "Votre adresse e-mail",
            "Ihre E-Mail-Adresse",
            "Su dirección de correo electrónico",
        ],
    ),
    (
        "files_email_send",
        [
            "Send transcript",
            "Envoyer la conversation",
            "Verlauf senden",
            "Enviar la conversación",
        ],
    ),
    (
        "files_email_sent",
        [
            "The transcript is on its way to {to}.",
            "La conversation est en route vers {to}.",
            "Der Verlauf ist unterwegs an {to}.",
            "La conversación va de camino a {to}.",
        ],
    ),
];
