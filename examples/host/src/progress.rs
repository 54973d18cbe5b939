//! Showing a run's events as one line per step (subagents and handoff targets indented),
//! for the reference binaries: `sre run` writes them to stderr, `investigate` to stdout.

use std::io::Write;

use sre_core::{AgentEvent, EventKind};

/// Print one step to stdout.
pub fn print_event(e: &AgentEvent) {
    if let Some(line) = event_line(e) {
        println!("{line}");
    }
}

/// Write one step to `out` (errors writing it are ignored: progress is best effort).
pub fn write_event(out: &mut impl Write, e: &AgentEvent) {
    if let Some(line) = event_line(e) {
        let _ = writeln!(out, "{line}");
    }
}

/// The line shown for an event (`None` for events not shown).
pub fn event_line(e: &AgentEvent) -> Option<String> {
    let indent = if e.agent.contains('/') { "      " } else { "" };
    let who = if e.agent.contains('/') {
        format!("[{}] ", e.agent)
    } else {
        String::new()
    };
    let line = match &e.kind {
        EventKind::SessionStarted { source, .. } if !e.agent.contains('/') => {
            format!("══ {} ({source}, session {})", e.agent, e.session_id)
        }
        EventKind::TurnStarted { turn } => format!("── turn {turn}"),
        EventKind::Finished {
            cause: sre_core::StopCause::Handoff { to, note },
            ..
        } => format!("  ⇒ handoff to {to}: {}", first_line(note, 150)),
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
        EventKind::ApprovalRequested { name, request, .. } => {
            format!("  ⏸ {name}: waits for a person's approval ({request})")
        }
        EventKind::HookDecision {
            hook,
            action,
            system_message,
            output,
            ..
        } => {
            let mut line = format!("  hook {hook}: {action:?}");
            for text in [system_message, output].into_iter().flatten() {
                line.push_str(" — ");
                line.push_str(&first_line(text, 150));
            }
            line
        }
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
        _ => return None,
    };
    Some(format!("{indent}{who}{line}"))
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
