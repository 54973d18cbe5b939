//! The reference safety hook: a command **allowlist** with shell-aware parsing.
//!
//! A command line is allowed only if **every** simple command it would run (in pipelines,
//! lists, subshells, `$(...)`, backticks, `bash -c '...'`, after `env`/`sudo`/`timeout`/
//! `xargs`...) starts with an allowed program + subcommand prefix, e.g. `kubectl get`,
//! `psql -c SELECT*` or `az postgres flexible-server restart`. Words are compared after the
//! shell's quote removal, so `kubectl  'get'` is `kubectl get`, and `kubectl  delete` (two
//! spaces), `rm -r -f` or `python3 -c '...'` are refused unless allowlisted.
//!
//! It fails closed: a line that cannot be parsed, syntax outside the modelled subset
//! ([`sre_core::shell`]), a program name that is not a literal word (`$CMD`), an assignment of
//! a variable not in `allow_env` (`PATH=/tmp ...`), `sudo` unless allowed, and an output
//! redirection to a file (`> out.txt`; `/dev/null` and `2>&1` are fine) are all refused.
//!
//! Entries are shell words: each word matches exactly, except a word ending with an
//! unquoted `*`, which matches any word starting with what precedes it (`SELECT*`). Words
//! after the prefix are free, unless the entry ends with the word `$`: `sort -n $` allows
//! exactly `sort -n` (so not `sort -n --compress-program=sh`). What an allowlisted program
//! can do with its free arguments is the entry author's responsibility: programs that run
//! other programs (`find -exec`, `awk`, `sort --compress-program`, `git -c`, `kubectl
//! exec`, `ssh`) must not be allowlisted whole.
//!
//! ```
//! use sre_hooks::ShellPolicy;
//! let policy = ShellPolicy::new(["kubectl get", "kubectl describe", "grep", "psql -c SELECT*"]).unwrap();
//! assert!(policy.check("kubectl get pods -n prod | grep -c Running").is_ok());
//! assert!(policy.check("psql -c 'SELECT count(*) FROM orders'").is_ok());
//! assert!(policy.check("kubectl  delete pod x").is_err());
//! assert!(policy.check("kubectl get pods; rm -r -f /").is_err());
//! assert!(policy.check("python3 -c 'import os; os.system(\"id\")'").is_err());
//! let exact = ShellPolicy::new(["sort -n $"]).unwrap();
//! assert!(exact.check("grep -o x log | sort -n").is_err()); // grep is not allowed here
//! assert!(exact.check("sort -n").is_ok());
//! assert!(exact.check("sort -n --compress-program=sh").is_err());
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sre_core::{Hook, HookContext, HookDecision, HookEvent, HookInput, HookPayload};

use crate::error::HookError;
use crate::matcher::{HookFilter, ToolMatcher};
use crate::spec::FailMode;
use sre_core::shell::{self, SimpleCommand, Word};

mod wrappers;

use self::wrappers::{INTERPRETERS, SHELLS, WRAPPERS, inline_script, is_interpreter};

/// Longest command line checked (in characters); longer lines are refused.
pub const MAX_COMMAND_CHARS: usize = 64 * 1024;
/// Deepest `bash -c` inside `bash -c` followed.
const MAX_SHELL_NESTING: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

#[derive(Clone, Debug)]
struct Entry {
    text: String,
    words: Vec<Pattern>,
    /// The entry ends with an unquoted `$`: no words may follow the prefix.
    exact: bool,
}

/// Why a command line is refused: the offending simple command and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("blocked `{command}`: {reason}")]
pub struct Refusal {
    /// The simple command (or the whole line when it cannot be parsed).
    pub command: String,
    /// Why.
    pub reason: String,
}

/// A shell command allowlist. See the module docs.
#[derive(Clone, Debug)]
pub struct ShellPolicy {
    entries: Vec<Entry>,
    allow_env: BTreeSet<String>,
    allow_sudo: bool,
}

impl ShellPolicy {
    /// A policy allowing the command prefixes `allow` (e.g. `"kubectl get"`). An entry that
    /// is not one plain command of literal words is a configuration error naming it.
    pub fn new<I, S>(allow: I) -> Result<Self, HookError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut entries = Vec::new();
        for (i, text) in allow.into_iter().enumerate() {
            let text = text.as_ref();
            entries.push(parse_entry(text).map_err(|message| {
                HookError::config(format!("allowlist entry {i} ({text:?})"), message)
            })?);
        }
        Ok(ShellPolicy {
            entries,
            allow_env: BTreeSet::new(),
            allow_sudo: false,
        })
    }

    /// Variables that may be assigned (`PGPASSWORD=x psql ...`, `env KUBECONFIG=... kubectl`).
    /// Default: none.
    pub fn allow_env<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_env.extend(names.into_iter().map(Into::into));
        self
    }

    /// Let `sudo` through when the command it runs is allowlisted. Default: `sudo` refused.
    pub fn allow_sudo(mut self, on: bool) -> Self {
        self.allow_sudo = on;
        self
    }

    /// The entries, as written.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.text.as_str())
    }

    /// Allow `line`, or say which command is refused and why.
    pub fn check(&self, line: &str) -> Result<(), Refusal> {
        if line.chars().count() > MAX_COMMAND_CHARS {
            return Err(Refusal {
                command: preview(line),
                reason: format!("longer than {MAX_COMMAND_CHARS} characters, not checked"),
            });
        }
        self.check_line(line, 0)
    }

    fn check_line(&self, line: &str, depth: usize) -> Result<(), Refusal> {
        let commands = shell::parse(line).map_err(|e| Refusal {
            command: preview(line),
            reason: format!(
                "cannot be checked ({e}); only plain commands, pipelines, lists and substitutions are understood"
            ),
        })?;
        for cmd in &commands {
            self.check_simple(cmd, depth)?;
        }
        Ok(())
    }

    fn check_simple(&self, cmd: &SimpleCommand, depth: usize) -> Result<(), Refusal> {
        let refuse = |reason: String| {
            Err(Refusal {
                command: cmd.text(),
                reason,
            })
        };
        if let Some(r) = cmd.redirects.iter().find(|r| r.writes_file()) {
            return refuse(format!(
                "the redirection `{}{}` writes a file",
                r.op, r.target.raw
            ));
        }
        for (name, _) in &cmd.assignments {
            if !self.allow_env.contains(name) {
                return refuse(format!("setting `{name}` is not allowed (allowEnv)"));
            }
        }
        let echo = [Word {
            raw: "echo".into(),
            value: "echo".into(),
            literal: true,
        }];
        let mut words: &[Word] = &cmd.words;
        let mut replace: Option<String> = None;
        loop {
            let Some(program) = words.first() else {
                return Ok(());
            };
            if !program.literal {
                return refuse(format!(
                    "the program `{}` is not a literal word (a variable, substitution or pattern)",
                    program.raw
                ));
            }
            let name = std_name(&program.value).unwrap_or_default();
            if let Some(spec) = WRAPPERS.iter().find(|w| w.name == name) {
                if name == "sudo" && !self.allow_sudo {
                    return refuse("`sudo` is not allowed (allowSudo)".into());
                }
                if name == "command"
                    && words[1..]
                        .iter()
                        .any(|w| w.value.starts_with("-v") || w.value.starts_with("-V"))
                {
                    return Ok(()); // a lookup, runs nothing
                }
                let rest = spec.skip(&words[1..]).map_err(|reason| Refusal {
                    command: cmd.text(),
                    reason,
                })?;
                if let Some(r) = rest.replace {
                    replace = Some(r);
                }
                for assigned in &rest.assignments {
                    if !self.allow_env.contains(assigned) {
                        return refuse(format!("setting `{assigned}` is not allowed (allowEnv)"));
                    }
                }
                if rest.command.is_empty() {
                    match name {
                        "xargs" => words = &echo,
                        "sudo" => return refuse("`sudo` without a command is not allowed".into()),
                        "exec" => return Ok(()),
                        _ => break,
                    }
                } else {
                    words = rest.command;
                }
                continue;
            }
            if SHELLS.contains(&name) {
                match inline_script(&words[1..]) {
                    Err(reason) => return refuse(reason),
                    Ok(Some(script)) => {
                        if let Some(r) = replace.as_deref().filter(|r| script.value.contains(r)) {
                            return refuse(format!(
                                "`xargs` would replace `{r}` in the script with its input"
                            ));
                        }
                        if depth >= MAX_SHELL_NESTING {
                            return refuse(format!(
                                "`{name} -c` nested more than {MAX_SHELL_NESTING} levels deep"
                            ));
                        }
                        return self.check_line(&script.value, depth + 1);
                    }
                    Ok(None) => break,
                }
            }
            break;
        }
        if self
            .entries
            .iter()
            .any(|e| e.matches(words, replace.as_deref()))
        {
            return Ok(());
        }
        refuse(self.not_allowed(words))
    }

    fn not_allowed(&self, words: &[Word]) -> String {
        let program = words
            .first()
            .map(|w| std_name(&w.value).unwrap_or(&w.value))
            .unwrap_or_default();
        let inline = words[1.min(words.len())..]
            .iter()
            .find(|w| matches!(w.value.as_str(), "-c" | "-e" | "-E" | "--eval" | "-p"));
        let mut reason = match inline {
            Some(flag) if INTERPRETERS.iter().any(|i| is_interpreter(program, i)) => format!(
                "inline code (`{program} {}`) cannot be checked and is not allowlisted",
                flag.value
            ),
            _ if SHELLS.contains(&program) => format!(
                "`{program}` without `-c` runs a script file or standard input, which cannot be checked"
            ),
            _ => "not in the allowlist".to_string(),
        };
        let shown: Vec<String> = self
            .entries
            .iter()
            .take(12)
            .map(|e| format!("`{}`", e.text))
            .collect();
        if shown.is_empty() {
            reason.push_str(" (the allowlist is empty)");
        } else {
            let more = self.entries.len().saturating_sub(shown.len());
            reason.push_str(&format!(" (allowed: {}", shown.join(", ")));
            if more > 0 {
                reason.push_str(&format!(" and {more} more"));
            }
            reason.push(')');
        }
        reason
    }
}

impl Entry {
    fn matches(&self, words: &[Word], replace: Option<&str>) -> bool {
        if words.len() < self.words.len() || (self.exact && words.len() != self.words.len()) {
            return false;
        }
        let prefix = &words[..self.words.len()];
        if replace.is_some_and(|r| prefix.iter().any(|w| w.value.contains(r))) {
            // xargs -I R would rewrite these words with its input.
            return false;
        }
        self.words
            .iter()
            .zip(prefix)
            .enumerate()
            .all(|(i, (p, w))| {
                w.literal
                    && match p {
                        Pattern::Exact(e) if i == 0 && !e.contains('/') => {
                            std_name(&w.value) == Some(e.as_str())
                        }
                        Pattern::Exact(e) => w.value == *e,
                        Pattern::Prefix(p) => w.value.starts_with(p.as_str()),
                    }
            })
    }
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let commands = shell::parse(text).map_err(|e| format!("not a plain command: {e}"))?;
    let [cmd] = commands.as_slice() else {
        return Err("must be exactly one command (no `;`, `|`, `&&` or substitutions)".into());
    };
    if !cmd.assignments.is_empty() || !cmd.redirects.is_empty() || cmd.words.is_empty() {
        return Err(
            "must be a program and its first arguments, without assignments or redirections".into(),
        );
    }
    let mut words = Vec::new();
    let mut cmd_words = cmd.words.as_slice();
    // A last word `$` (unquoted) anchors the entry: the command must end there.
    let exact = cmd_words.len() > 1 && cmd_words.last().is_some_and(|w| w.raw == "$");
    if exact {
        cmd_words = &cmd_words[..cmd_words.len() - 1];
    }
    for (i, w) in cmd_words.iter().enumerate() {
        if w.literal {
            words.push(Pattern::Exact(w.value.clone()));
            continue;
        }
        let head = w.raw.strip_suffix('*').filter(|_| i > 0);
        let prefix = match head {
            Some("") => Some(String::new()),
            Some(head) => match shell::parse(head).as_deref() {
                Ok([c]) if c.words.len() == 1 && c.words[0].literal => {
                    Some(c.words[0].value.clone())
                }
                _ => None,
            },
            None => None,
        };
        match prefix {
            Some(p) => words.push(Pattern::Prefix(p)),
            None => {
                return Err(format!(
                    "the word `{}` is not literal (only a trailing `*` is allowed, after the program)",
                    w.raw
                ));
            }
        }
    }
    Ok(Entry {
        text: text.trim().to_string(),
        words,
        exact,
    })
}

/// The program's name if it is a bare name or in a system directory (`/usr/bin/env`).
fn std_name(program: &str) -> Option<&str> {
    if !program.contains('/') {
        return Some(program);
    }
    [
        "/bin/",
        "/usr/bin/",
        "/usr/local/bin/",
        "/sbin/",
        "/usr/sbin/",
    ]
    .iter()
    .find_map(|dir| program.strip_prefix(dir))
    .filter(|n| !n.is_empty() && !n.contains('/'))
}

fn preview(line: &str) -> String {
    let mut p: String = line.chars().take(200).collect();
    if p.len() < line.len() {
        p.push('…');
    }
    p
}

/// A `PreToolUse` hook that checks the command line in a tool's input (field `command` by
/// default) against a [`ShellPolicy`] and blocks it unless every command is allowlisted.
/// It fails closed ([`FailMode::Block`]): a matched call without a string in that field is
/// blocked too, so point its matcher at the shell tools only.
///
/// ```
/// use sre_hooks::{CommandAllowlist, ShellPolicy};
/// let hook = CommandAllowlist::new(
///     "shell-allowlist",
///     "shell|Bash",
///     ShellPolicy::new(["kubectl get", "kubectl describe", "kubectl logs"]).unwrap(),
/// )
/// .unwrap();
/// # let _ = hook;
/// ```
#[derive(Clone, Debug)]
pub struct CommandAllowlist {
    filter: HookFilter,
    policy: Arc<ShellPolicy>,
    field: String,
}

impl CommandAllowlist {
    /// A hook named `name` for the tools matching `matcher` (a whole-name regex).
    pub fn new(
        name: impl Into<String>,
        matcher: &str,
        policy: ShellPolicy,
    ) -> Result<Self, HookError> {
        let name = name.into();
        let matcher = ToolMatcher::new(Some(matcher)).map_err(|e| {
            HookError::config(
                format!("hook `{name}`: matcher"),
                format!("invalid regex: {e}"),
            )
        })?;
        Ok(Self::with_filter(
            HookFilter::new(name, [HookEvent::PreToolUse], matcher),
            policy,
        ))
    }

    /// A hook with an explicit filter (its events should be `PreToolUse` only).
    pub fn with_filter(filter: HookFilter, policy: ShellPolicy) -> Self {
        CommandAllowlist {
            filter,
            policy: Arc::new(policy),
            field: "command".into(),
        }
    }

    /// The tool-input field holding the command line (default `command`).
    pub fn input_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    /// The policy.
    pub fn policy(&self) -> &ShellPolicy {
        &self.policy
    }

    /// The decision for one tool input.
    pub fn decide(&self, tool_input: &Value) -> HookDecision {
        match tool_input.get(&self.field).and_then(Value::as_str) {
            None => HookDecision::block(format!(
                "blocked by `{}`: the tool input has no string `{}` to check",
                self.filter.name, self.field
            )),
            Some(line) => match self.policy.check(line) {
                Ok(()) => HookDecision::allow(),
                Err(refusal) => HookDecision::block(refusal.to_string()),
            },
        }
    }
}

#[async_trait]
impl Hook for CommandAllowlist {
    fn name(&self) -> &str {
        &self.filter.name
    }

    fn handles(&self, input: &HookInput) -> bool {
        self.filter.handles(input)
    }

    fn fail_mode(&self) -> FailMode {
        FailMode::Block
    }

    async fn run(
        &self,
        input: &HookInput,
        _ctx: &HookContext,
    ) -> Result<HookDecision, sre_core::Error> {
        Ok(match &input.payload {
            HookPayload::PreToolUse { tool_input, .. } => self.decide(tool_input),
            _ => HookDecision::allow(),
        })
    }
}
