//! Property tests of the chatbot engine: for random (valid) scripts and random visitor input —
//! answer texts and ids, good and bad emails and phones, free text, restarts, forwards that do
//! or do not find an operator — the engine never panics, never loops (each call runs each step
//! at most once), always leaves the conversation waiting, forwarding or ended, and never goes
//! silent: every visitor input gets an answer unless an operator took over. The checker and the
//! simulator finish on the same scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_node::livechat::chatbot::checker::check;
use ochat_node::livechat::chatbot::engine::{self, BotState, Effect, End};
use ochat_node::livechat::chatbot::script::{Answer, Script, ScriptInput, Step, StepType};
use ochat_node::livechat::chatbot::simulator::{SimInput, simulate};
use proptest::prelude::*;
use uuid::Uuid;

const KINDS: [StepType; 9] = [
    StepType::Text,
    StepType::Question,
    StepType::Email,
    StepType::Phone,
    StepType::ForwardToOperator,
    StepType::FreeInput,
    StepType::FreeInputMultiline,
    StepType::CreateLead,
    StepType::CreateTicket,
];

/// A step as drawn: its type, its number of answers, which answers (by index into all answers
/// drawn so far, of any step) trigger it, and whether an answer carries a link.
type Drawn = (usize, usize, Vec<usize>, bool);

fn script_from(drawn: Vec<Drawn>) -> Script {
    let mut all_ids: Vec<String> = Vec::new();
    for (i, (kind, answers, _, _)) in drawn.iter().enumerate() {
        if KINDS[*kind] == StepType::Question {
            for j in 0..(*answers).max(1) {
                all_ids.push(format!("{}.{}", i + 1, j + 1));
            }
        }
    }
    let steps = drawn
        .iter()
        .enumerate()
        .map(|(i, (kind, answers, triggers, link))| {
            let kind = KINDS[*kind];
            let answers = if kind == StepType::Question {
                (0..(*answers).max(1))
                    .map(|j| Answer {
                        id: String::new(),
                        text: format!("answer {}.{}", i + 1, j + 1),
                        link: (*link && j == 0).then(|| "https://example.com/x".to_string()),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let only_if = if all_ids.is_empty() {
                Vec::new()
            } else {
                triggers
                    .iter()
                    .map(|t| all_ids[t % all_ids.len()].clone())
                    .collect()
            };
            Step {
                kind,
                message: format!("step {}", i + 1),
                answers,
                only_if,
                expertise: Vec::new(),
            }
        })
        .collect();
    Script::from_input(
        Uuid::nil(),
        ScriptInput {
            name: "Random".into(),
            operator_name: None,
            avatar: None,
            steps,
        },
    )
    .expect("drawn scripts are valid")
}

fn drawn_script() -> impl Strategy<Value = Script> {
    prop::collection::vec(
        (
            0..KINDS.len(),
            1usize..4,
            prop::collection::vec(0usize..40, 0..3),
            prop::bool::weighted(0.1),
        ),
        1..14,
    )
    .prop_map(script_from)
}

/// A visitor's move: a text (by pool index), whether to also click it as an answer id, and what
/// a forward would find.
fn moves() -> impl Strategy<Value = Vec<(usize, bool, bool)>> {
    prop::collection::vec((0usize..12, any::<bool>(), any::<bool>()), 0..40)
}

fn pool(script: &Script, pick: usize) -> String {
    let answers: Vec<&Answer> = script.steps.iter().flat_map(|s| &s.answers).collect();
    match pick {
        0 => "ann@example.com".into(),
        1 => "not an email".into(),
        2 => "+32 470 12 34 56".into(),
        3 => "12".into(),
        4 => "restart".into(),
        5 => "line one\nline two".into(),
        6 => "   ".into(),
        _ if answers.is_empty() => "free text".into(),
        n => answers[n % answers.len()].text.clone(),
    }
}

/// Carries out forwards the way a session does; answers whether the bot said anything.
fn settle(script: &Script, state: &mut BotState, effects: Vec<Effect>, found: bool) -> bool {
    let mut said = false;
    let mut queue = std::collections::VecDeque::from(effects);
    let mut rounds = 0;
    while let Some(e) = queue.pop_front() {
        rounds += 1;
        assert!(rounds <= 10 * (script.steps.len() + 2), "effects never end");
        match e {
            Effect::Say { .. } => said = true,
            Effect::Forward { .. } => queue.extend(engine::forwarded(script, state, found)),
            Effect::Create(_) => {}
        }
    }
    said
}

fn well_formed(state: &BotState) -> bool {
    !state.forwarding && (state.ended.is_some() || state.waiting)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn the_engine_never_panics_loops_or_goes_silent(script in drawn_script(), visitor in moves()) {
        let (mut state, effects) = engine::start(&script);
        prop_assert!(effects.len() <= 2 * script.steps.len() + 1);
        settle(&script, &mut state, effects, false);
        prop_assert!(well_formed(&state), "after start: {state:?}");
        for (pick, click, found) in visitor {
            if state.ended == Some(End::Forwarded) {
                break; // an operator answers from here on
            }
            let text = pool(&script, pick);
            let id = if click { Some(text.as_str()) } else { None };
            let effects = engine::input(&script, &mut state, &text, id);
            prop_assert!(effects.len() <= 2 * script.steps.len() + 2);
            let said = settle(&script, &mut state, effects, found);
            prop_assert!(well_formed(&state), "after {text:?}: {state:?}");
            prop_assert!(
                said || state.ended == Some(End::Forwarded),
                "the visitor wrote {text:?} and got no answer: {state:?}"
            );
        }
    }

    #[test]
    fn the_checker_and_the_simulator_finish_on_any_script(script in drawn_script(), visitor in moves()) {
        let warnings = check(&script);
        prop_assert!(warnings.len() <= 100);
        let inputs: Vec<String> = visitor.iter().map(|(p, _, _)| pool(&script, *p)).collect();
        let run = simulate(&script, &SimInput { inputs: inputs.clone(), operator_available: false }).unwrap();
        let visitor_lines = run.transcript.iter().filter(|l| l.author == "visitor").count();
        prop_assert_eq!(visitor_lines, inputs.len());
    }
}
