//! Showing a run's events as one line per step (subagents indented), for the reference
//! binaries.

use sre_core::{AgentEvent, EventKind};

/// One line per step, indented for subagents.
pub fn print_event(e: &AgentEvent) {
    let indent = if e.agent.contains('/') { "      " } else { "" };
    let who = if e.agent.contains('/') {
        format!("[{}] ", e.agent)
    } else {
        String::new()
    };
    let line = match &e.kind {
        EventKind::TurnStarted { turn } => format!("── turn {turn}"),
        EventKind::ModelResponse { text, usage, .. } if !text.is_empty() => {
            format!(
                "  model: {} ({} prompt tokens)",
                first_line(text, 160),
                usage.prompt_tokens()
            )
        }
        EventKind::ToolStarted { name, input, .. } => {
            format!("  → {name} {}", first_line(&input.to_string(), 150))
        }
        EventKind::ToolFinished {
            name,
            output,
            recorded,
            is_error,
            duration,
            ..
        } => {
            let offloaded = if output.len() != recorded.len() {
                ", offloaded"
            } else {
                ""
            };
            format!(
                "  ← {name}{}: {} ({} bytes, {} ms{offloaded})",
                if *is_error { " [error]" } else { "" },
                first_line(output, 100),
                output.len(),
                duration.as_millis()
            )
        }
        EventKind::ToolRefused { name, reason, .. } => {
            format!("  ✗ {name}: {}", first_line(reason, 150))
        }
        EventKind::HookDecision { hook, action, .. } => format!("  hook {hook}: {action:?}"),
        EventKind::HookFailed {
            hook,
            error,
            blocked,
            ..
        } => format!(
            "  hook {hook} failed{}: {}",
            if *blocked {
                " (blocks: failMode block)"
            } else {
                ""
            },
            first_line(error, 150)
        ),
        EventKind::StopRejected { reason, count } => format!(
            "  stop hook rejected the answer ({count}): {}",
            first_line(reason, 150)
        ),
        EventKind::BudgetAction {
            verdict,
            tokens_before,
            tokens_after,
            ..
        } => {
            format!("  budget {verdict:?}: {tokens_before} -> {tokens_after} tokens")
        }
        EventKind::ModelRetry {
            attempt,
            error,
            delay,
        } => format!("  retry {attempt} in {delay:?}: {error}"),
        EventKind::AuxiliaryModelCall { usage, .. } => format!(
            "  {} ({} prompt tokens)",
            e.agent.rsplit('/').next().unwrap_or_default(),
            usage.prompt_tokens()
        ),
        EventKind::ToolOutcomeUnknown { name, .. } => {
            format!("  ? {name}: started before the interruption, outcome unknown (not run again)")
        }
        EventKind::OutputContinued { turn } => {
            format!("  answer of turn {turn} cut at the output limit: continuing")
        }
        EventKind::Warning { message } => format!("  warning: {message}"),
        _ => return,
    };
    println!("{indent}{who}{line}");
}

fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let cut: String = line.chars().take(max).collect();
    if cut.len() < line.len() || s.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        format!("{cut} …")
    } else {
        cut
    }
}
