//! Understanding what a command hook printed: the Claude Code hook output JSON.
//!
//! | field | meaning |
//! |---|---|
//! | `continue: false` (+ `stopReason`) | stop the whole run |
//! | `decision: "block"` / `"deny"` (+ `reason`) | block (PreToolUse: the tool does not run; PostToolUse: output withheld; Stop: the answer is rejected) |
//! | `decision: "allow"` / `"approve"` | continue |
//! | `systemMessage` | message for the user |
//! | `hookSpecificOutput.additionalContext` | text for the model (capped) |
//! | `hookSpecificOutput.permissionDecision` (PreToolUse) | `allow`, `deny`, `ask` (+ `permissionDecisionReason`) |
//! | `hookSpecificOutput.updatedInput` (PreToolUse) | replacement tool input |
//!
//! Unknown fields are ignored; a known field with the wrong type is an error (which the
//! hook's fail mode then decides on).

use serde_json::{Map, Value};
use sre_core::{HookAction, HookDecision, HookEvent};

/// Additional context longer than this many characters is truncated.
pub const MAX_CONTEXT_CHARS: usize = 10_000;

/// Interpret the stdout of a command hook that exited 0.
///
/// Output starting with `{` must be a JSON object (see the module docs). Any other output
/// is plain text: for `UserPromptSubmit` and `SessionStart` it becomes additional context,
/// for other events it is ignored. The error string says what is wrong.
pub fn parse_command_output(event: HookEvent, stdout: &str) -> Result<HookDecision, String> {
    let trimmed = stdout.trim();
    if trimmed.starts_with('{') {
        let value: Value =
            serde_json::from_str(trimmed).map_err(|e| format!("stdout is not valid JSON: {e}"))?;
        return decision_from_json(event, &value);
    }
    let mut decision = HookDecision::allow();
    if !trimmed.is_empty() && matches!(event, HookEvent::UserPromptSubmit | HookEvent::SessionStart)
    {
        decision.additional_context = Some(cap_context(trimmed));
    }
    Ok(decision)
}

/// Interpret a hook output JSON value (see the module docs).
pub fn decision_from_json(event: HookEvent, value: &Value) -> Result<HookDecision, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("the output must be a JSON object, got {}", kind(value)))?;
    let reason = opt_str(obj, "reason", "")?;
    let mut decision = HookDecision::allow();
    decision.system_message = opt_str(obj, "systemMessage", "")?;

    let mut action = match opt_str(obj, "decision", "")?.as_deref() {
        None | Some("") | Some("allow") | Some("approve") | Some("undefined") => {
            HookAction::Continue
        }
        Some("block") | Some("deny") => HookAction::Block {
            reason: reason
                .clone()
                .unwrap_or_else(|| "blocked by a hook (no reason given)".into()),
        },
        Some(other) => {
            return Err(format!(
                "`decision` must be \"allow\", \"approve\", \"block\" or \"deny\", got {other:?}"
            ));
        }
    };

    if let Some(hso) = obj.get("hookSpecificOutput").filter(|v| !v.is_null()) {
        let hso = hso
            .as_object()
            .ok_or_else(|| format!("`hookSpecificOutput` must be an object, got {}", kind(hso)))?;
        let p = "hookSpecificOutput.";
        if let Some(name) = opt_str(hso, "hookEventName", p)?
            && HookEvent::parse(&name) != Some(event)
        {
            return Err(format!(
                "`hookSpecificOutput.hookEventName` is {name:?} but the event is {event}"
            ));
        }
        if let Some(ctx) = opt_str(hso, "additionalContext", p)?
            && !ctx.is_empty()
        {
            decision.additional_context = Some(cap_context(&ctx));
        }
        let perm_reason = opt_str(hso, "permissionDecisionReason", p)?;
        match opt_str(hso, "permissionDecision", p)?.as_deref() {
            None | Some("allow") => {}
            Some("deny") => {
                action = HookAction::Block {
                    reason: perm_reason
                        .or(reason)
                        .unwrap_or_else(|| "denied by a hook (no reason given)".into()),
                }
            }
            Some("ask") => {
                if !matches!(action, HookAction::Block { .. }) {
                    action = HookAction::Ask {
                        reason: perm_reason
                            .or(reason)
                            .unwrap_or_else(|| "a hook asks for approval".into()),
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "`hookSpecificOutput.permissionDecision` must be \"allow\", \"deny\" or \"ask\", got {other:?}"
                ));
            }
        }
        match hso.get("updatedInput") {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) => decision.updated_input = Some(v.clone()),
            Some(v) => {
                return Err(format!(
                    "`hookSpecificOutput.updatedInput` must be an object, got {}",
                    kind(v)
                ));
            }
        }
    }

    match obj.get("continue") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            let why =
                opt_str(obj, "stopReason", "")?.unwrap_or_else(|| "a hook stopped the run".into());
            action = HookAction::Stop { reason: why };
        }
        Some(v) => return Err(format!("`continue` must be a boolean, got {}", kind(v))),
    }
    decision.action = action;
    Ok(decision)
}

/// Truncate `text` to [`MAX_CONTEXT_CHARS`] characters, saying so.
pub fn cap_context(text: &str) -> String {
    match text.char_indices().nth(MAX_CONTEXT_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => {
            let total = text.chars().count();
            format!(
                "{}\n[... truncated: {total} characters, {MAX_CONTEXT_CHARS} kept]",
                &text[..cut]
            )
        }
    }
}

fn opt_str(obj: &Map<String, Value>, key: &str, prefix: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(format!("`{prefix}{key}` must be a string, got {}", kind(v))),
    }
}

pub(crate) use sre_core::text::json_kind as kind;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pre_tool_use_fields() {
        let d = decision_from_json(
            HookEvent::PreToolUse,
            &json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                    "permissionDecisionReason": "no sudo"}, "unknown": 1}),
        )
        .unwrap();
        assert_eq!(
            d.action,
            HookAction::Block {
                reason: "no sudo".into()
            }
        );
        let d = decision_from_json(
            HookEvent::PreToolUse,
            &json!({"hookSpecificOutput": {"permissionDecision": "ask", "updatedInput": {"command": "ls"}}}),
        )
        .unwrap();
        assert!(matches!(d.action, HookAction::Ask { .. }));
        assert_eq!(d.updated_input, Some(json!({"command": "ls"})));
    }

    #[test]
    fn continue_false_stops() {
        let d = decision_from_json(
            HookEvent::Stop,
            &json!({"continue": false, "stopReason": "enough"}),
        )
        .unwrap();
        assert_eq!(
            d.action,
            HookAction::Stop {
                reason: "enough".into()
            }
        );
    }

    #[test]
    fn wrong_types_are_errors() {
        let e = decision_from_json(HookEvent::PreToolUse, &json!({"decision": 5})).unwrap_err();
        assert!(e.contains("`decision` must be a string"), "{e}");
        let e = decision_from_json(
            HookEvent::PreToolUse,
            &json!({"hookSpecificOutput": {"updatedInput": "x"}}),
        )
        .unwrap_err();
        assert!(e.contains("updatedInput"), "{e}");
        let e = decision_from_json(
            HookEvent::Stop,
            &json!({"hookSpecificOutput": {"hookEventName": "PreToolUse"}}),
        )
        .unwrap_err();
        assert!(e.contains("hookEventName"), "{e}");
        let e = parse_command_output(HookEvent::Stop, "{oops").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn plain_text_is_context_only_for_prompt_and_session_start() {
        let d = parse_command_output(HookEvent::UserPromptSubmit, "today is Monday\n").unwrap();
        assert_eq!(d.additional_context.as_deref(), Some("today is Monday"));
        let d = parse_command_output(HookEvent::PreToolUse, "some log line").unwrap();
        assert_eq!(d, HookDecision::allow());
    }

    #[test]
    fn context_is_capped() {
        let long = "x".repeat(MAX_CONTEXT_CHARS + 5);
        let capped = cap_context(&long);
        assert!(capped.starts_with(&"x".repeat(MAX_CONTEXT_CHARS)));
        assert!(capped.contains("truncated"));
        assert!(!capped.contains(&"x".repeat(MAX_CONTEXT_CHARS + 1)));
    }
}
