//! Response plans (`kind: IncidentFilter`): which incidents an agent investigates, and how
//! freely. First enabled match wins, in the order the home lists them (files in path
//! order, documents in file order).

use std::collections::BTreeMap;

use super::Location;
use super::agent::AgentType;
use super::diag::{Sink, Source, suggestion};
use super::document::Envelope;
use super::fields::Fields;
use super::yaml::Pos;
use crate::incident::{Alert, Priority, Source as Platform};

/// Every `spec` field of a response plan (canonical spelling).
pub const PLAN_FIELDS: &[&str] = &[
    "name",
    "incident_platform",
    "is_enabled",
    "handling_agent",
    "priorities",
    "impacted_service",
    "incident_type",
    "title_contains",
    "title_not_contains",
    "labels",
    "agent_mode",
    "max_automated_investigation_attempts",
    "custom_instructions",
];

/// A response plan.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponsePlanDef {
    /// Its name (`metadata.name` or `spec.name`).
    pub name: String,
    /// The platform it takes incidents from (`None`: any).
    pub platform: Option<Platform>,
    /// Whether it is used (default true).
    pub enabled: bool,
    /// The agent that investigates.
    pub agent: String,
    /// Priorities it takes (`P1`..`P5`, `Sev0`..`Sev4`); empty: any.
    pub priorities: Vec<Priority>,
    /// The impacted service it takes (case-insensitive); `None`: any.
    pub service: Option<String>,
    /// The incident or signal type it takes (case-insensitive); `None`: any.
    pub incident_type: Option<String>,
    /// The title must contain one of these (case-insensitive); empty: any title.
    pub title_contains: Vec<String>,
    /// The title must contain none of these (case-insensitive).
    pub title_not_contains: Vec<String>,
    /// Labels the incident must carry with these values.
    pub labels: BTreeMap<String, String>,
    /// How freely the agent acts (default `Review`).
    pub mode: AgentType,
    /// How many automated investigations one incident gets at most (default 3).
    pub max_attempts: u32,
    /// Added to the agent's task.
    pub custom_instructions: Option<String>,
    /// Where it is defined.
    pub location: Location,
}

/// An incident's fit against one plan: `Ok` or why not.
pub type Fit = Result<(), String>;

impl ResponsePlanDef {
    /// Whether `alert` fits this plan (disabled plans fit nothing), or the first reason it
    /// does not.
    pub fn fits(&self, alert: &Alert) -> Fit {
        let lower = |s: &str| s.to_lowercase();
        if !self.enabled {
            return Err("the plan is disabled".into());
        }
        if let Some(p) = self.platform
            && p != alert.source
        {
            return Err(format!("platform is {}, not {p}", alert.source));
        }
        if !self.priorities.is_empty() {
            match alert.priority {
                Some(p) if self.priorities.contains(&p) => {}
                Some(p) => {
                    return Err(format!(
                        "priority {p} is not one of {}",
                        join(self.priorities.iter())
                    ));
                }
                None => return Err("the incident has no priority".into()),
            }
        }
        if let Some(s) = &self.service
            && alert.service.as_deref().map(lower) != Some(lower(s))
        {
            return Err(format!(
                "service is {}, not {s}",
                alert.service.as_deref().unwrap_or("(none)")
            ));
        }
        if let Some(t) = &self.incident_type
            && alert.incident_type.as_deref().map(lower) != Some(lower(t))
        {
            return Err(format!(
                "type is {}, not {t}",
                alert.incident_type.as_deref().unwrap_or("(none)")
            ));
        }
        let title = lower(&alert.title);
        if !self.title_contains.is_empty()
            && !self
                .title_contains
                .iter()
                .any(|w| title.contains(&lower(w)))
        {
            return Err(format!(
                "the title contains none of {}",
                join(self.title_contains.iter())
            ));
        }
        if let Some(w) = self
            .title_not_contains
            .iter()
            .find(|w| title.contains(&lower(w)))
        {
            return Err(format!("the title contains `{w}`"));
        }
        for (k, v) in &self.labels {
            match alert.labels.get(k) {
                Some(have) if have == v => {}
                Some(have) => return Err(format!("label {k} is `{have}`, not `{v}`")),
                None => return Err(format!("no label {k}")),
            }
        }
        Ok(())
    }
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The plan `alert` takes: the first enabled one it fits.
pub fn choose<'p>(plans: &'p [ResponsePlanDef], alert: &Alert) -> Option<&'p ResponsePlanDef> {
    plans.iter().find(|p| p.fits(alert).is_ok())
}

/// A plan as parsed, its agent not checked yet.
pub(crate) struct PlanDraft {
    pub def: ResponsePlanDef,
    pub agent_pos: Pos,
    pub doc_pos: Pos,
    pub file: usize,
}

pub(crate) fn parse_plan(
    env: &Envelope<'_>,
    file: usize,
    src: &Source,
    out: &mut Sink,
) -> Option<PlanDraft> {
    let spec = env.spec?;
    let mut f = Fields::of(spec, "spec", src, out)?;
    let string = |f: &mut Fields<'_>, names: &[&str], out: &mut Sink| {
        f.take(names, src, out).and_then(|x| x.string(src, out))
    };
    let name = env.spec_name(&mut f, "a response plan", src, out)?;
    let platform = f.take(&["incident_platform"], src, out).and_then(|x| {
        let s = x.string(src, out)?;
        match Platform::parse(&s) {
            Some(p) => Some(p),
            None if ["servicenow", "opsgenie"].contains(&s.to_ascii_lowercase().as_str()) => {
                out.error(src, x.node.pos, &x.path, format!("incidents from {s} are not taken yet"))
                    .help("supported: Prometheus (Alertmanager), PagerDuty, AzMonitor, Trigger, Manual");
                None
            }
            None => {
                let names = ["Prometheus", "PagerDuty", "AzMonitor", "Trigger", "Manual"];
                let d = out.error(src, x.node.pos, &x.path, format!("unknown incident platform `{s}`"));
                match suggestion(&s, names) {
                    Some(h) => d.help(h),
                    None => d.help("expected one of Prometheus (Alertmanager), PagerDuty, AzMonitor, Trigger, Manual"),
                };
                None
            }
        }
    });
    let enabled = f
        .take(&["is_enabled"], src, out)
        .and_then(|x| x.bool(src, out))
        .unwrap_or(true);
    let (agent, agent_pos) = match f.take(&["handling_agent"], src, out) {
        Some(x) => (x.string(src, out).unwrap_or_default(), x.node.pos),
        None => {
            out.error(
                src,
                f.pos(),
                "spec.handling_agent",
                "missing: the agent that investigates",
            );
            (String::new(), f.pos())
        }
    };
    let priorities = match f.take(&["priorities"], src, out) {
        Some(x) => {
            let mut found = Vec::new();
            for s in x.strings(true, src, out) {
                // `P1 P2`, `P1,P2` and `[P1, P2]` all list priorities.
                for w in s.value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    match Priority::parse(w) {
                        Some(p) => found.push(p),
                        None => {
                            out.error(src, s.pos, &x.path, format!("`{w}` is not a priority"))
                                .help("expected P1..P5 or Sev0..Sev4");
                        }
                    }
                }
            }
            found
        }
        None => Vec::new(),
    };
    let list = |f: &mut Fields<'_>, names: &[&str], out: &mut Sink| -> Vec<String> {
        f.take(names, src, out)
            .map(|x| {
                x.strings(false, src, out)
                    .into_iter()
                    .map(|s| s.value)
                    .collect()
            })
            .unwrap_or_default()
    };
    let service = string(&mut f, &["impacted_service"], out);
    let incident_type = string(&mut f, &["incident_type"], out);
    let title_contains = list(&mut f, &["title_contains"], out);
    let title_not_contains = list(&mut f, &["title_not_contains"], out);
    let labels = f
        .take(&["labels"], src, out)
        .map(|x| x.string_map(src, out))
        .unwrap_or_default();
    let mode = super::agent::mode_field(&mut f, AgentType::Review, src, out);
    let max_attempts = f
        .take(&["max_automated_investigation_attempts"], src, out)
        .and_then(|x| {
            let n = x.count(src, out)?;
            if n == 0 {
                out.error(src, x.node.pos, &x.path, "must be at least 1");
                return None;
            }
            u32::try_from(n).ok()
        })
        .unwrap_or(3);
    let custom_instructions = string(&mut f, &["custom_instructions"], out);
    f.finish(PLAN_FIELDS, &[], false, src, out);
    Some(PlanDraft {
        def: ResponsePlanDef {
            name,
            platform,
            enabled,
            agent,
            priorities,
            service,
            incident_type,
            title_contains,
            title_not_contains,
            labels,
            mode,
            max_attempts,
            custom_instructions,
            location: Location::new(src, env.pos),
        },
        agent_pos,
        doc_pos: env.pos,
        file,
    })
}
