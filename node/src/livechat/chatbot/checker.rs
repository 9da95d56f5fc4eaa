//! The script checker: what saving a script reports, without refusing it.
//!
//! It walks every path a visitor can take — each answer of each question, a forward that finds
//! an operator (the bot leaves) and one that does not (the script goes on) — with the same
//! Only If rule the runtime uses, and reports:
//!
//! - `dead_end`: a visitor's answer or input after which no step follows;
//! - `forward_without_fallback`: a forward with nothing after it for the no-operator case;
//! - `unreachable`: a step no path ever runs;
//! - `only_if_later`: an Only If answer that belongs to a question at or after the step.
//!
//! States are (last step, answers selected so far), visited once each, and the walk stops
//! after [`MAX_STATES`] states or [`MAX_WORK`] Only If evaluations, so even a script with many
//! questions is checked quickly (its cost is bounded whatever the script).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::script::{Script, StepType};

/// How many distinct states the walk explores at most.
pub const MAX_STATES: usize = 20_000;
/// How many Only If answer checks the walk makes at most.
pub const MAX_WORK: usize = 2_000_000;
const MAX_WARNINGS: usize = 100;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Warning {
    /// `dead_end`, `forward_without_fallback`, `unreachable`, `only_if_later` or `truncated`.
    pub kind: String,
    /// The step concerned (1-based).
    pub step: usize,
    /// The answers (and forward outcomes) that lead there, for path findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// What is wrong, in words.
    pub message: String,
}

/// Checks a script.
pub fn check(script: &Script) -> Vec<Warning> {
    let mut walk = Walk {
        script,
        index: script.answer_index(),
        work: 0,
        seen: HashSet::new(),
        reached: vec![false; script.steps.len()],
        warnings: Vec::new(),
        truncated: false,
    };
    walk.from(None, BTreeSet::new(), Arrival::Start, Vec::new());
    let mut warnings = walk.warnings;
    if walk.truncated {
        warnings.push(Warning {
            kind: "truncated".into(),
            step: 0,
            path: Vec::new(),
            message: format!(
                "the script has too many distinct paths (over {MAX_STATES}); only the first were checked"
            ),
        });
    } else {
        for (i, reached) in walk.reached.iter().enumerate() {
            if !reached {
                warnings.push(Warning {
                    kind: "unreachable".into(),
                    step: i + 1,
                    path: Vec::new(),
                    message: format!(
                        "step {} ({} \u{201c}{}\u{201d}) can never run: no path of answers satisfies its Only If",
                        i + 1,
                        script.steps[i].kind.name(),
                        short(&script.steps[i].message)
                    ),
                });
            }
        }
    }
    for (i, step) in script.steps.iter().enumerate() {
        for a in &step.only_if {
            if walk.index.get(a.as_str()).is_some_and(|q| *q >= i) {
                warnings.push(Warning {
                    kind: "only_if_later".into(),
                    step: i + 1,
                    path: Vec::new(),
                    message: format!(
                        "step {}'s Only If names answer {a:?}, which belongs to a question at or after it",
                        i + 1
                    ),
                });
            }
        }
    }
    warnings.truncate(MAX_WARNINGS);
    warnings
}

/// How the walk arrived after the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Arrival {
    Start,
    AfterStep,
    AfterInput,
    AfterNoOperator,
}

struct Walk<'a> {
    script: &'a Script,
    index: HashMap<&'a str, usize>,
    work: usize,
    seen: HashSet<(Option<usize>, BTreeSet<String>, Arrival)>,
    reached: Vec<bool>,
    warnings: Vec<Warning>,
    truncated: bool,
}

impl Walk<'_> {
    fn from(
        &mut self,
        from: Option<usize>,
        selected: BTreeSet<String>,
        arrival: Arrival,
        path: Vec<String>,
    ) {
        if self.seen.len() >= MAX_STATES {
            self.truncated = true;
            return;
        }
        if !self.seen.insert((from, selected.clone(), arrival)) {
            return;
        }
        let chosen: Vec<String> = selected.iter().cloned().collect();
        let start = from.map_or(0, |i| i + 1);
        let mut next = None;
        for j in start..self.script.steps.len() {
            self.work += 1 + self.script.steps[j].only_if.len() * (1 + chosen.len());
            if self.work > MAX_WORK {
                self.truncated = true;
                return;
            }
            if self.script.only_if_holds_with(&self.index, j, &chosen) {
                next = Some(j);
                break;
            }
        }
        let Some(i) = next else {
            let last = from.map_or(0, |i| i + 1);
            match arrival {
                Arrival::AfterInput => self.warn(
                    "dead_end",
                    last,
                    path,
                    "the visitor's answer has no step to follow: the conversation stops here",
                ),
                Arrival::AfterNoOperator => self.warn(
                    "forward_without_fallback",
                    last,
                    path,
                    "when no operator is available nothing follows this forward",
                ),
                Arrival::Start | Arrival::AfterStep => {}
            }
            return;
        };
        self.reached[i] = true;
        let step = &self.script.steps[i];
        match step.kind {
            StepType::Question => {
                for a in &step.answers {
                    if a.link.is_some() {
                        continue; // the link ends the script: a conclusion
                    }
                    let mut sel = selected.clone();
                    sel.insert(a.id.clone());
                    let mut p = path.clone();
                    p.push(format!("{} \u{2192} {}", short(&step.message), a.text));
                    self.from(Some(i), sel, Arrival::AfterInput, p);
                }
            }
            StepType::ForwardToOperator => {
                let mut p = path;
                p.push(format!("step {}: no operator available", i + 1));
                self.from(Some(i), selected, Arrival::AfterNoOperator, p);
            }
            k if k.waits() => {
                let mut p = path;
                p.push(format!("step {}: {}", i + 1, k.name()));
                self.from(Some(i), selected, Arrival::AfterInput, p);
            }
            _ => self.from(Some(i), selected, Arrival::AfterStep, path),
        }
    }

    fn warn(&mut self, kind: &str, step: usize, path: Vec<String>, what: &str) {
        let route = if path.is_empty() {
            String::new()
        } else {
            format!(" (path: {})", path.join("; "))
        };
        self.warnings.push(Warning {
            kind: kind.into(),
            step,
            path,
            message: format!("after step {step}, {what}{route}"),
        });
    }
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('\u{2026}');
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::livechat::chatbot::script::{Answer, ScriptInput, Step};

    /// 100 questions of 20 answers, each followed by a step whose Only If names 20 earlier
    /// answers: the paths explode; the check must still end quickly and say it stopped.
    #[test]
    fn the_checker_s_cost_is_bounded_whatever_the_script() {
        let mut steps = Vec::new();
        for q in 0..100 {
            steps.push(Step {
                kind: StepType::Question,
                message: format!("Question {q}?"),
                answers: (0..20)
                    .map(|a| Answer {
                        id: format!("q{q}a{a}"),
                        text: format!("Answer {a}"),
                        link: None,
                    })
                    .collect(),
                only_if: Vec::new(),
                expertise: Vec::new(),
            });
            if q > 0 {
                steps.push(Step {
                    kind: StepType::Text,
                    message: format!("After {q}"),
                    answers: Vec::new(),
                    only_if: (0..20).map(|a| format!("q{}a{a}", q - 1)).collect(),
                    expertise: Vec::new(),
                });
            }
        }
        let script = Script::from_input(
            uuid::Uuid::nil(),
            ScriptInput {
                name: "Maze".into(),
                operator_name: None,
                avatar: None,
                steps,
            },
        )
        .unwrap();
        let started = std::time::Instant::now();
        let warnings = check(&script);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            warnings.iter().any(|w| w.kind == "truncated"),
            "{warnings:?}"
        );
    }
}
