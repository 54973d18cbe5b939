//! Scheduled tasks (`kind: ScheduledTask`): an agent run on a cron cadence with a prompt,
//! the daily triage of the last day's errors being the published example.

use chrono::{DateTime, Utc};

use super::Location;
use super::agent::AgentType;
use super::diag::{Sink, Source};
use super::document::Envelope;
use super::fields::Fields;
use super::yaml::Pos;

/// Every `spec` field of a scheduled task (canonical spelling).
pub const SCHEDULE_FIELDS: &[&str] = &[
    "name",
    "description",
    "agent",
    "cron",
    "time_zone",
    "agent_prompt",
    "agent_mode",
    "is_enabled",
    "run_limit",
    "end_date",
    "catch_up",
    "same_thread",
];

/// A scheduled task.
#[derive(Clone, Debug)]
pub struct ScheduledTaskDef {
    /// Its name.
    pub name: String,
    /// What it is for (informational).
    pub description: Option<String>,
    /// The agent that runs.
    pub agent: String,
    /// The cron pattern (five fields, or `@daily`-style nicknames), as written.
    pub cron: String,
    /// The parsed pattern.
    pub pattern: croner::Cron,
    /// The time zone the pattern is read in (default UTC).
    pub time_zone: chrono_tz::Tz,
    /// The prompt each run gets.
    pub prompt: String,
    /// How freely the agent acts (default `Autonomous`, as the vendor's tasks; the agent's
    /// own type still applies when stricter).
    pub mode: AgentType,
    /// Whether it runs (default true).
    pub enabled: bool,
    /// Runs at most this many times.
    pub run_limit: Option<u32>,
    /// Runs no more after this time.
    pub end_date: Option<DateTime<Utc>>,
    /// After downtime, the missed occurrences run once (default true); false: they are
    /// skipped and the task waits for its next occurrence.
    pub catch_up: bool,
    /// Every run continues one thread (`task-<name>`), as a follow-up message in its
    /// session, instead of a thread of its own (default false).
    pub same_thread: bool,
    /// Where it is defined.
    pub location: Location,
}

/// A task as parsed, its agent not checked yet.
pub(crate) struct ScheduleDraft {
    pub def: ScheduledTaskDef,
    pub agent_pos: Pos,
    pub doc_pos: Pos,
    pub file: usize,
}

pub(crate) fn parse_schedule(
    env: &Envelope<'_>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<ScheduleDraft> {
    let spec = env.spec?;
    let mut f = Fields::of(spec, "spec", src, out)?;
    let string = |f: &mut Fields<'_>, names: &[&str], out: &mut Sink| {
        f.take(names, src, out).and_then(|x| x.string(src, out))
    };
    let name = env.spec_name(&mut f, "a scheduled task", src, out)?;
    let description = string(&mut f, &["description"], out);
    let (agent, agent_pos) = match f.take(&["agent"], src, out) {
        Some(x) => (x.string(src, out).unwrap_or_default(), x.node.pos),
        None => {
            out.error(
                src,
                f.pos(),
                "spec.agent",
                "missing: the agent that runs the task",
            );
            (String::new(), f.pos())
        }
    };
    let (cron, pattern) = match f.take(&["cron"], src, out) {
        Some(x) => {
            let text = x.string(src, out).unwrap_or_default();
            match text.parse::<croner::Cron>() {
                Ok(p) => (text, Some(p)),
                Err(e) => {
                    out.error(
                        src,
                        x.node.pos,
                        &x.path,
                        format!("`{text}` is not a cron pattern: {e}"),
                    )
                    .help(
                        "five fields: minute hour day-of-month month day-of-week, e.g. `0 6 * * *`",
                    );
                    (text, None)
                }
            }
        }
        None => {
            out.error(
                src,
                f.pos(),
                "spec.cron",
                "missing: when the task runs (a cron pattern, UTC)",
            );
            (String::new(), None)
        }
    };
    let time_zone = match f.take(&["time_zone"], src, out) {
        Some(x) => {
            let text = x.string(src, out).unwrap_or_default();
            match text.parse::<chrono_tz::Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    out.error(
                        src,
                        x.node.pos,
                        &x.path,
                        format!("unknown time zone `{text}`"),
                    )
                    .help("an IANA name such as `UTC` or `Europe/Paris`");
                    chrono_tz::Tz::UTC
                }
            }
        }
        None => chrono_tz::Tz::UTC,
    };
    let prompt = match string(&mut f, &["agent_prompt"], out) {
        Some(p) if !p.trim().is_empty() => p,
        _ => {
            out.error(
                src,
                f.pos(),
                "spec.agent_prompt",
                "missing: what the agent is asked each run",
            );
            String::new()
        }
    };
    let mode = super::agent::mode_field(&mut f, AgentType::Autonomous, src, out);
    let flag = |f: &mut Fields<'_>, names: &[&str], default: bool, out: &mut Sink| {
        f.take(names, src, out)
            .and_then(|x| x.bool(src, out))
            .unwrap_or(default)
    };
    let enabled = flag(&mut f, &["is_enabled"], true, out);
    let catch_up = flag(&mut f, &["catch_up"], true, out);
    let run_limit = f.take(&["run_limit"], src, out).and_then(|x| {
        let n = x.count(src, out)?;
        if n == 0 {
            out.error(src, x.node.pos, &x.path, "must be at least 1");
            return None;
        }
        u32::try_from(n).ok()
    });
    let end_date = f.take(&["end_date"], src, out).and_then(|x| {
        let text = x.string(src, out)?;
        let parsed = DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc())
            });
        match parsed {
            Ok(t) => Some(t),
            Err(_) => {
                out.error(src, x.node.pos, &x.path, format!("`{text}` is not a date"))
                    .help("`2026-12-31` or an RFC 3339 time");
                None
            }
        }
    });
    let same_thread = flag(&mut f, &["same_thread"], false, out);
    f.finish(SCHEDULE_FIELDS, &[], false, src, out);
    Some(ScheduleDraft {
        def: ScheduledTaskDef {
            name,
            description,
            agent,
            cron,
            pattern: pattern?,
            time_zone,
            prompt,
            mode,
            enabled,
            run_limit,
            end_date,
            catch_up,
            same_thread,
            location: Location::new(src, env.pos),
        },
        agent_pos,
        doc_pos: env.pos,
        file,
    })
}
