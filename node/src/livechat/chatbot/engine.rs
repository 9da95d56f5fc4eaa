//! The chatbot's runtime as a pure state machine: no I/O, no clock. The live session, the
//! simulator and the property tests all drive it the same way:
//!
//! - [`start`] runs the welcome steps: every step up to and including the first one that waits
//!   for the visitor (or forwards).
//! - [`input`] takes the visitor's answer to the waiting step and runs on to the next wait.
//! - [`forwarded`] tells it whether a forward found an operator.
//!
//! Each returns [`Effect`]s for the caller to carry out in order. The next step is always the
//! first *later* step whose Only If holds, so one call runs each step at most once: no script
//! can loop.

use serde::{Deserialize, Serialize};

use super::script::{Script, StepType};
use crate::livechat::messages::AnswerChoice;

/// The id of the "Restart" answer offered when a conversation has ended.
pub const RESTART: &str = "restart";
/// What the bot says when the conversation cannot go on.
pub const RESTART_HINT: &str = "This conversation has ended. Click \u{201c}Restart\u{201d} \
(or type \u{201c}restart\u{201d}) to start again.";

pub use crate::model::livechat::{BotState, End};

/// A record the bot creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Create {
    /// A lead.
    Lead,
    /// A ticket.
    Ticket,
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Post a bot message (with answers to click, for a question).
    Say {
        /// Text.
        text: String,
        /// Answers to show as buttons.
        answers: Vec<AnswerChoice>,
    },
    /// Look for an operator with these expertises, then call [`forwarded`].
    Forward {
        /// Required expertise.
        expertise: Vec<String>,
    },
    /// Create a lead or ticket from what [`BotState`] collected and the transcript.
    Create(Create),
}

impl BotState {
    /// Whether the bot still leads the conversation (an operator has not taken over).
    pub fn active(&self) -> bool {
        self.ended != Some(End::Forwarded)
    }
}

/// Runs the welcome steps of a fresh conversation.
pub fn start(script: &Script) -> (BotState, Vec<Effect>) {
    let mut state = BotState::default();
    let mut out = Vec::new();
    advance(script, &mut state, None, false, &mut out);
    let silent = !out.iter().any(|e| matches!(e, Effect::Say { .. }));
    if silent && state.ended.is_some() {
        // No step's Only If holds at the start: say so rather than nothing.
        state.ended = Some(End::DeadEnd);
        out.push(restart_hint());
    }
    (state, out)
}

/// The visitor wrote `text` (or clicked the answer `answer_id`).
pub fn input(
    script: &Script,
    state: &mut BotState,
    text: &str,
    answer_id: Option<&str>,
) -> Vec<Effect> {
    let mut out = Vec::new();
    let text = text.trim();
    if state.forwarding {
        return out;
    }
    let restart = answer_id == Some(RESTART) || text.eq_ignore_ascii_case(RESTART);
    let waiting_at = state.position.filter(|_| state.waiting);
    let Some(i) = waiting_at.filter(|_| state.ended.is_none()) else {
        if restart {
            let (fresh, effects) = start(script);
            *state = fresh;
            return effects;
        }
        out.push(restart_hint());
        return out;
    };
    let Some(step) = script.steps.get(i) else {
        state.ended = Some(End::DeadEnd);
        out.push(restart_hint());
        return out;
    };
    match step.kind {
        StepType::Question => {
            let chosen = step.answers.iter().find(|a| {
                answer_id.is_some_and(|id| id == a.id) || a.text.eq_ignore_ascii_case(text)
            });
            let Some(answer) = chosen else {
                out.push(Effect::Say {
                    text: "Please choose one of these answers.".into(),
                    answers: choices(script, i),
                });
                return out;
            };
            if !state.selected.contains(&answer.id) {
                state.selected.push(answer.id.clone());
            }
            state.waiting = false;
            if let Some(link) = &answer.link {
                out.push(say(link.clone()));
                state.ended = Some(End::Link);
                return out;
            }
        }
        StepType::Email => {
            if !valid_email(text) {
                out.push(say(format!(
                    "'{text}' does not look like a valid email. Can you please try again?"
                )));
                return out;
            }
            state.email = Some(text.to_string());
        }
        StepType::Phone => {
            if !valid_phone(text) {
                out.push(say(format!(
                    "'{text}' does not look like a phone number. Please use digits, spaces, \
                     +, - and parentheses, and try again."
                )));
                return out;
            }
            state.phone = Some(text.to_string());
        }
        StepType::FreeInput | StepType::FreeInputMultiline => {
            state.inputs.push(text.to_string());
        }
        _ => {}
    }
    state.waiting = false;
    advance(script, state, Some(i), true, &mut out);
    out
}

/// The forward asked for by the last [`Effect::Forward`] found an operator (`found`) or not.
pub fn forwarded(script: &Script, state: &mut BotState, found: bool) -> Vec<Effect> {
    let mut out = Vec::new();
    if !state.forwarding {
        return out;
    }
    state.forwarding = false;
    if found {
        if let Some(step) = state.position.and_then(|i| script.steps.get(i))
            && !step.message.is_empty()
        {
            out.push(say(step.message.clone()));
        }
        state.ended = Some(End::Forwarded);
        return out;
    }
    // Nobody is free: nothing is said and the script goes on (a dead end if nothing follows).
    advance(script, state, state.position, true, &mut out);
    out
}

/// Runs from the step after `from` until a step waits, forwards, or the script ends.
fn advance(
    script: &Script,
    state: &mut BotState,
    from: Option<usize>,
    mut after_input: bool,
    out: &mut Vec<Effect>,
) {
    let mut next = from.map_or(0, |i| i + 1);
    loop {
        let Some(i) =
            (next..script.steps.len()).find(|&j| script.only_if_holds(j, &state.selected))
        else {
            state.waiting = false;
            state.ended = Some(if after_input {
                out.push(restart_hint());
                End::DeadEnd
            } else {
                End::Finished
            });
            return;
        };
        let step = &script.steps[i];
        state.position = Some(i);
        match step.kind {
            StepType::Question => {
                out.push(Effect::Say {
                    text: step.message.clone(),
                    answers: choices(script, i),
                });
                state.waiting = true;
                return;
            }
            k if k.waits() => {
                out.push(say(step.message.clone()));
                state.waiting = true;
                return;
            }
            StepType::ForwardToOperator => {
                state.forwarding = true;
                out.push(Effect::Forward {
                    expertise: step.expertise.clone(),
                });
                return;
            }
            kind => {
                if !step.message.is_empty() {
                    out.push(say(step.message.clone()));
                }
                match kind {
                    StepType::CreateLead => out.push(Effect::Create(Create::Lead)),
                    StepType::CreateTicket => out.push(Effect::Create(Create::Ticket)),
                    _ => {}
                }
            }
        }
        after_input = false;
        next = i + 1;
    }
}

fn say(text: String) -> Effect {
    Effect::Say {
        text,
        answers: Vec::new(),
    }
}

fn restart_hint() -> Effect {
    Effect::Say {
        text: RESTART_HINT.into(),
        answers: vec![AnswerChoice {
            id: RESTART.into(),
            text: "Restart".into(),
        }],
    }
}

fn choices(script: &Script, i: usize) -> Vec<AnswerChoice> {
    script.steps[i]
        .answers
        .iter()
        .map(|a| AnswerChoice {
            id: a.id.clone(),
            text: a.text.clone(),
        })
        .collect()
}

/// An email address by RFC 5322's grammar (the `email_address` parser), with a dotted domain:
/// what a visitor can actually be written to.
pub fn valid_email(text: &str) -> bool {
    text.len() <= 254
        && email_address::EmailAddress::parse_with_options(
            text,
            email_address::Options::default()
                .without_display_text()
                .with_required_tld(),
        )
        .is_ok()
}

/// Looks like a phone number: digits, spaces, `+` (only first), `-`, `.`, parentheses; 6 to 15
/// digits (E.164 has at most 15).
pub fn valid_phone(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    (6..=15).contains(&digits)
        && text
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || " -.()".contains(c) || (c == '+' && i == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_parsed_not_pattern_matched() {
        for ok in ["ann@example.com", "a.b+shop@mail.example.co.uk"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@@example.com",
            "ann@example",
            "ann example@example.com",
            "Ann <ann@example.com>",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_have_the_shape_of_one() {
        for ok in ["+32 470 12 34 56", "(02) 555-0199", "0470123456"] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in [
            "12345",
            "call me",
            "0470 12 34 56 ext 3",
            "32+470123456",
            "",
        ] {
            assert!(!valid_phone(bad), "{bad}");
        }
    }
}
