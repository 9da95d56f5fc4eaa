//! The "Test" button: runs a script against a list of visitor inputs with the same
//! [`engine`](super::engine) the live sessions use, and returns the transcript. Nothing is
//! stored: no session, no lead, no ticket; forwards find an operator only when the caller says
//! one is available.

use serde::{Deserialize, Serialize};

use super::checker::{Warning, check};
use super::engine::{self, BotState, Create, Effect, End};
use super::script::Script;
use crate::livechat::LiveChatError;
use crate::livechat::messages::AnswerChoice;

/// Most inputs one test may send.
pub const MAX_INPUTS: usize = 500;

/// What to simulate.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SimInput {
    /// What the visitor types, in order (an answer's text or id for a question).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Whether a forward finds an operator (default: nobody is available).
    #[serde(default)]
    pub operator_available: bool,
}

/// One line of the simulated conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SimLine {
    /// "bot", "visitor" or "system".
    pub author: String,
    /// Text.
    pub text: String,
    /// A question's answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<AnswerChoice>,
}

/// A record the conversation would create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SimRecord {
    /// Lead or ticket.
    pub kind: Create,
    /// Its title.
    pub title: String,
    /// The email collected.
    pub email: Option<String>,
    /// The phone collected.
    pub phone: Option<String>,
}

/// The result of a test run.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SimResult {
    /// The conversation.
    pub transcript: Vec<SimLine>,
    /// Why the script stopped, if it did.
    pub ended: Option<End>,
    /// The type of step waiting for the visitor, if one is.
    pub waiting_for: Option<String>,
    /// What would have been created.
    pub records: Vec<SimRecord>,
    /// The checker's findings for this script.
    pub warnings: Vec<Warning>,
}

/// The title of a record the bot creates: the first free input (100 characters at most), else
/// "<script>'s New Lead" / "…'s New Ticket".
pub fn record_title(script: &Script, state: &BotState, kind: Create) -> String {
    match state.inputs.iter().find(|i| !i.trim().is_empty()) {
        Some(first) => first.chars().take(100).collect(),
        None => format!(
            "{}'s New {}",
            script.name,
            match kind {
                Create::Lead => "Lead",
                Create::Ticket => "Ticket",
            }
        ),
    }
}

/// Runs the script against the inputs.
pub fn simulate(script: &Script, input: &SimInput) -> Result<SimResult, LiveChatError> {
    if input.inputs.len() > MAX_INPUTS {
        return Err(LiveChatError::BadInput(format!(
            "a test sends at most {MAX_INPUTS} inputs"
        )));
    }
    let mut transcript = Vec::new();
    let mut records = Vec::new();
    let (mut state, effects) = engine::start(script);
    apply(
        script,
        &mut state,
        effects,
        input.operator_available,
        &mut transcript,
        &mut records,
    );
    for text in &input.inputs {
        transcript.push(SimLine {
            author: "visitor".into(),
            text: text.clone(),
            answers: Vec::new(),
        });
        if state.ended == Some(End::Forwarded) {
            continue; // an operator would answer from here on
        }
        let effects = engine::input(script, &mut state, text, Some(text.trim()));
        apply(
            script,
            &mut state,
            effects,
            input.operator_available,
            &mut transcript,
            &mut records,
        );
    }
    let waiting_for = state
        .position
        .filter(|_| state.waiting && state.ended.is_none())
        .and_then(|i| script.steps.get(i))
        .map(|s| s.kind.name().to_string());
    Ok(SimResult {
        transcript,
        ended: state.ended,
        waiting_for,
        records,
        warnings: check(script),
    })
}

fn apply(
    script: &Script,
    state: &mut BotState,
    effects: Vec<Effect>,
    operator_available: bool,
    transcript: &mut Vec<SimLine>,
    records: &mut Vec<SimRecord>,
) {
    let mut queue = std::collections::VecDeque::from(effects);
    while let Some(effect) = queue.pop_front() {
        match effect {
            Effect::Say { text, answers } => transcript.push(SimLine {
                author: "bot".into(),
                text,
                answers,
            }),
            Effect::Forward { .. } => {
                if operator_available {
                    transcript.push(SimLine {
                        author: "system".into(),
                        text: "An operator joined the conversation".into(),
                        answers: Vec::new(),
                    });
                }
                queue.extend(engine::forwarded(script, state, operator_available));
            }
            Effect::Create(kind) => records.push(SimRecord {
                kind,
                title: record_title(script, state, kind),
                email: state.email.clone(),
                phone: state.phone.clone(),
            }),
        }
    }
}
