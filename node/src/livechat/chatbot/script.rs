//! A chatbot script as written by its author: a name, an avatar, the name visitors see, and
//! ordered steps. Validation refuses what cannot be run (unknown step types, questions without
//! answers, duplicate or unknown answer ids, bad links); what merely looks wrong (dead ends,
//! steps that never run) is for the [`checker`](super::checker), which warns without refusing.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use uuid::Uuid;

use crate::livechat::LiveChatError;

/// Most steps in one script.
pub const MAX_STEPS: usize = 200;
/// Most answers to one question.
pub const MAX_ANSWERS: usize = 20;
/// Most answer ids in one step's "Only If".
pub const MAX_ONLY_IF: usize = 20;
/// Most expertise tags of one forward step.
pub const MAX_EXPERTISE: usize = 20;
const MAX_MESSAGE: usize = 4_000;
const MAX_AVATAR: usize = 256 * 1024;

pub use crate::model::livechat::{Answer, Script, Step, StepType};

impl StepType {
    /// Whether the step waits for the visitor.
    pub fn waits(self) -> bool {
        matches!(
            self,
            StepType::Question
                | StepType::Email
                | StepType::Phone
                | StepType::FreeInput
                | StepType::FreeInputMultiline
        )
    }

    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            StepType::Text => "text",
            StepType::Question => "question",
            StepType::Email => "email",
            StepType::Phone => "phone",
            StepType::ForwardToOperator => "forward_to_operator",
            StepType::FreeInput => "free_input",
            StepType::FreeInputMultiline => "free_input_multiline",
            StepType::CreateLead => "create_lead",
            StepType::CreateTicket => "create_ticket",
        }
    }

    fn needs_message(self) -> bool {
        !matches!(
            self,
            StepType::ForwardToOperator | StepType::CreateLead | StepType::CreateTicket
        )
    }
}

/// What the admin sends to create or replace a script.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ScriptInput {
    /// Script name.
    pub name: String,
    /// The name visitors see (default: the script's name).
    #[serde(default)]
    pub operator_name: Option<String>,
    /// An image: a `data:image/…` URL or an http(s) address.
    #[serde(default)]
    pub avatar: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Script {
    /// Validates `input` into a script with this id; answer ids are filled in where missing.
    pub fn from_input(id: Uuid, input: ScriptInput) -> Result<Script, LiveChatError> {
        let bad = |m: String| Err(LiveChatError::BadInput(m));
        let name = crate::livechat::text("name", &input.name, 200)?;
        let operator_name = match input.operator_name.as_deref().map(str::trim) {
            None | Some("") => name.clone(),
            Some(n) => crate::livechat::text("operator_name", n, 100)?,
        };
        if let Some(a) = &input.avatar
            && (a.len() > MAX_AVATAR
                || !(a.starts_with("data:image/")
                    || a.starts_with("https://")
                    || a.starts_with("http://")))
        {
            return bad(format!(
                "avatar is a data:image/… URL or an http(s) address of at most {MAX_AVATAR} bytes"
            ));
        }
        if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
            return bad(format!("a script has 1 to {MAX_STEPS} steps"));
        }
        let mut steps = input.steps;
        let mut ids = HashSet::new();
        for (i, step) in steps.iter_mut().enumerate() {
            let n = i + 1;
            step.message = step.message.trim().to_string();
            if step.kind.needs_message() && step.message.is_empty() {
                return bad(format!("step {n} ({}) needs a message", step.kind.name()));
            }
            if step.message.len() > MAX_MESSAGE {
                return bad(format!(
                    "step {n}: a message has at most {MAX_MESSAGE} bytes"
                ));
            }
            if step.kind == StepType::Question {
                if step.answers.is_empty() || step.answers.len() > MAX_ANSWERS {
                    return bad(format!(
                        "step {n}: a question has 1 to {MAX_ANSWERS} answers"
                    ));
                }
            } else if !step.answers.is_empty() {
                return bad(format!("step {n}: only questions have answers"));
            }
            if step.kind != StepType::ForwardToOperator && !step.expertise.is_empty() {
                return bad(format!("step {n}: only forward_to_operator has expertise"));
            }
            if step.only_if.len() > MAX_ONLY_IF {
                return bad(format!(
                    "step {n}: Only If names at most {MAX_ONLY_IF} answers"
                ));
            }
            if step.expertise.len() > MAX_EXPERTISE
                || step.expertise.iter().any(|e| e.is_empty() || e.len() > 100)
            {
                return bad(format!(
                    "step {n}: at most {MAX_EXPERTISE} expertise tags of 1 to 100 bytes"
                ));
            }
            if step.only_if.iter().any(|a| a.len() > 64) {
                return bad(format!(
                    "step {n}: an Only If answer id has at most 64 bytes"
                ));
            }
            let mut texts = HashSet::new();
            for (j, answer) in step.answers.iter_mut().enumerate() {
                if answer.id.trim().is_empty() {
                    answer.id = format!("{n}.{}", j + 1);
                }
                answer.id = crate::livechat::text("answer id", &answer.id, 64)?;
                answer.text = crate::livechat::text("answer text", &answer.text, 200)?;
                if !ids.insert(answer.id.clone()) {
                    return bad(format!("answer id {:?} is used twice", answer.id));
                }
                if !texts.insert(answer.text.to_lowercase()) {
                    return bad(format!("step {n}: two answers read {:?}", answer.text));
                }
                if let Some(link) = &answer.link
                    && (link.len() > 2_000
                        || !(link.starts_with("https://") || link.starts_with("http://")))
                {
                    return bad(format!("step {n}: a link is an http(s) address"));
                }
            }
        }
        let known = answer_questions(&steps);
        for (i, step) in steps.iter().enumerate() {
            for a in &step.only_if {
                if !known.contains_key(a.as_str()) {
                    return bad(format!("step {}: Only If names no answer {a:?}", i + 1));
                }
            }
        }
        Ok(Script {
            id,
            name,
            operator_name,
            avatar: input.avatar,
            steps,
        })
    }

    /// Whether step `i`'s Only If holds for the answers selected so far: its triggering answers
    /// grouped by question, each group with at least one selected answer.
    pub fn only_if_holds(&self, i: usize, selected: &[String]) -> bool {
        match self.steps.get(i) {
            None => false,
            Some(step) if step.only_if.is_empty() => true,
            Some(_) => self.only_if_holds_with(&self.answer_index(), i, selected),
        }
    }

    /// Answer id → index of its question (compute once, for [`Self::only_if_holds_with`]).
    pub fn answer_index(&self) -> HashMap<&str, usize> {
        answer_questions(&self.steps)
    }

    /// [`Self::only_if_holds`] with the answer index computed once by the caller.
    pub fn only_if_holds_with(
        &self,
        questions: &HashMap<&str, usize>,
        i: usize,
        selected: &[String],
    ) -> bool {
        let Some(step) = self.steps.get(i) else {
            return false;
        };
        let mut groups: HashMap<usize, bool> = HashMap::new();
        for a in &step.only_if {
            let Some(q) = questions.get(a.as_str()) else {
                return false;
            };
            let hit = selected.iter().any(|s| s == a);
            *groups.entry(*q).or_default() |= hit;
        }
        groups.values().all(|hit| *hit)
    }

    /// The question step an answer id belongs to.
    pub fn question_of(&self, answer: &str) -> Option<usize> {
        answer_questions(&self.steps).get(answer).copied()
    }
}

/// Answer id → index of its question.
fn answer_questions(steps: &[Step]) -> HashMap<&str, usize> {
    steps
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.answers.iter().map(move |a| (a.id.as_str(), i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: StepType, message: &str) -> Step {
        Step {
            kind,
            message: message.into(),
            answers: Vec::new(),
            only_if: Vec::new(),
            expertise: Vec::new(),
        }
    }

    fn question(message: &str, answers: &[&str]) -> Step {
        Step {
            answers: answers
                .iter()
                .map(|t| Answer {
                    id: String::new(),
                    text: (*t).into(),
                    link: None,
                })
                .collect(),
            ..step(StepType::Question, message)
        }
    }

    fn input(steps: Vec<Step>) -> ScriptInput {
        ScriptInput {
            name: "Bot".into(),
            operator_name: None,
            avatar: None,
            steps,
        }
    }

    #[test]
    fn answer_ids_default_to_step_dot_answer_and_the_operator_name_to_the_name() {
        let s = Script::from_input(
            Uuid::nil(),
            input(vec![
                step(StepType::Text, "Hi"),
                question("What?", &["A", "B"]),
            ]),
        )
        .unwrap();
        assert_eq!(s.steps[1].answers[1].id, "2.2");
        assert_eq!(s.operator_name, "Bot");
    }

    #[test]
    fn scripts_that_cannot_run_are_refused_with_the_reason() {
        let cases: Vec<(Vec<Step>, &str)> = vec![
            (vec![], "1 to 200 steps"),
            (vec![question("What?", &[])], "1 to 20 answers"),
            (vec![question("What?", &["A", "a"])], "two answers"),
            (vec![step(StepType::Text, "")], "needs a message"),
            (
                vec![Step {
                    only_if: vec!["9.9".into()],
                    ..step(StepType::Text, "x")
                }],
                "Only If names no answer",
            ),
            (
                vec![Step {
                    expertise: vec!["x".into()],
                    ..step(StepType::Text, "x")
                }],
                "only forward_to_operator",
            ),
        ];
        for (steps, want) in cases {
            let err = Script::from_input(Uuid::nil(), input(steps)).unwrap_err();
            assert!(err.to_string().contains(want), "{err} should say {want}");
        }
    }

    #[test]
    fn only_if_is_or_inside_a_question_and_and_across_questions() {
        let mut s = Script::from_input(
            Uuid::nil(),
            input(vec![
                question("Colour?", &["Red", "Blue", "Green"]),
                question("Size?", &["S", "L"]),
                step(StepType::Text, "guarded"),
            ]),
        )
        .unwrap();
        s.steps[2].only_if = vec!["1.1".into(), "1.2".into(), "2.2".into()];
        let sel = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(s.only_if_holds(2, &sel(&["1.2", "2.2"])));
        assert!(s.only_if_holds(2, &sel(&["1.1", "2.2"])));
        assert!(!s.only_if_holds(2, &sel(&["1.1"])), "Size not answered");
        assert!(
            !s.only_if_holds(2, &sel(&["1.3", "2.2"])),
            "Green is not a trigger"
        );
        assert!(s.only_if_holds(0, &[]), "no triggers: always");
    }
}
