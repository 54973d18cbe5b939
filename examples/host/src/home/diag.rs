//! Diagnostics: what is wrong (or doubtful) in an agent home, and where.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::yaml::Pos;

/// Most errors collected before loading gives up listing more.
pub const MAX_ERRORS: usize = 500;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The home does not load.
    Error,
    /// It loads, but something is ignored or doubtful.
    Warning,
    /// For information (e.g. a document kept for a later feature).
    Note,
}

impl Severity {
    /// `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One problem, at a file, line, column and field. `Display` reads like cargo:
///
/// ```text
/// error: agents/db.yaml:12:7: spec.tools[2]: unknown tool `grepp`
///    12 |     - grepp
///       |       ^
///   help: did you mean `grep`?
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// The file, relative to the home's root when it is inside it.
    pub file: PathBuf,
    /// Line, from 1 (0: the whole file).
    pub line: usize,
    /// Column, from 1, in characters (0: the whole line).
    pub column: usize,
    /// Path of the field inside the document (`spec.tools[2]`; empty: the document).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it (`did you mean `grep`?`).
    pub help: Option<String>,
    /// The source line, shown under the headline with a caret.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without help or source line.
    pub fn new(
        severity: Severity,
        file: impl Into<PathBuf>,
        pos: Pos,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            file: file.into(),
            line: pos.line,
            column: pos.column,
            field: field.into(),
            message: message.into(),
            help: None,
            source_line: None,
        }
    }

    /// Set the help line.
    pub fn help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    /// Hide `secret` in what this diagnostic shows (the diagnostic about the secret itself):
    /// every occurrence becomes `****`, and a source line that does not show the secret as
    /// written (cut short, escaped, folded) is dropped rather than shown unmasked.
    pub fn redact(&mut self, secret: &str) -> &mut Self {
        if secret.is_empty() {
            return self;
        }
        if let Some(line) = &self.source_line {
            let shown = line.replace(secret, "****");
            self.source_line = (shown != *line).then_some(shown);
        }
        self.mask(secret);
        self
    }

    /// Replace every occurrence of `secret` in the message, help and source line.
    fn mask(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        for text in [&mut self.message]
            .into_iter()
            .chain(self.help.as_mut())
            .chain(self.source_line.as_mut())
        {
            if text.contains(secret) {
                *text = text.replace(secret, "****");
            }
        }
    }

    /// The first line: `error: file:line:col: field: message`.
    pub fn headline(&self) -> String {
        let mut s = format!("{}: {}", self.severity.as_str(), self.file.display());
        if self.line > 0 {
            s.push_str(&format!(":{}", self.line));
            if self.column > 0 {
                s.push_str(&format!(":{}", self.column));
            }
        }
        if !self.field.is_empty() {
            s.push_str(&format!(": {}", self.field));
        }
        s.push_str(&format!(": {}", self.message));
        s
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(src) = &self.source_line
            && self.line > 0
        {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            write!(f, "\n  {num} | {src}")?;
            if self.column > 0 {
                let lead: String = src
                    .chars()
                    .take(self.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n  {pad} | {lead}^")?;
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Why an agent home did not load: every error found (not only the first), and the
/// warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HomeErrors {
    /// The home's root.
    pub root: PathBuf,
    /// Every error, in file order.
    pub errors: Vec<Diagnostic>,
    /// Warnings and notes found on the way.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for HomeErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.errors {
            writeln!(f, "{d}")?;
        }
        write!(
            f,
            "error: the agent home `{}` has {} error{}",
            self.root.display(),
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for HomeErrors {}

/// Where diagnostics are collected.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    overflowed: bool,
    /// Credentials found written in files, by file: masked in every diagnostic of that file.
    secrets: Vec<(PathBuf, String)>,
}

/// A file being loaded: its name for diagnostics, its path, its text.
#[derive(Debug)]
pub(crate) struct Source {
    /// Relative to the home (what diagnostics show).
    pub rel: PathBuf,
    /// Absolute.
    pub abs: PathBuf,
    pub text: String,
    /// The agent home it belongs to.
    pub home: PathBuf,
}

/// `path` if it resolves inside the agent home `home`: a file named by the home (or found in
/// it) that is a symlink out of it is refused, so loading a home never reads, or shows in a
/// diagnostic, a file from elsewhere.
pub(crate) fn inside_home(home: &Path, path: &Path) -> Result<(), String> {
    let home = std::fs::canonicalize(home).map_err(|e| format!("cannot read the home: {e}"))?;
    match std::fs::canonicalize(path) {
        Ok(real) if real.starts_with(&home) => Ok(()),
        Ok(_) => Err(format!(
            "{} leads outside the agent home (a symlink); refused",
            path.display()
        )),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

impl Source {
    /// The folder the file is in (relative paths in it resolve against it).
    pub fn dir(&self) -> &Path {
        self.abs.parent().unwrap_or(Path::new("/"))
    }

    /// `rel` resolved against the file's folder, `.` and `..` removed lexically
    /// (`agents/../hooks/x.sh` is `hooks/x.sh`).
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        let mut out = PathBuf::new();
        for c in self.dir().join(rel).components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }
}

/// Longest source line shown.
const MAX_SHOWN_LINE: usize = 200;

impl Sink {
    /// Remember that `src` holds the credential `value`: no diagnostic of that file shows it.
    pub fn secret(&mut self, src: &Source, value: &str) {
        if !value.is_empty() {
            self.secrets.push((src.rel.clone(), value.to_string()));
        }
    }

    /// Mask every remembered credential in the diagnostics of its file.
    pub fn mask_secrets(&mut self) {
        for d in self.errors.iter_mut().chain(self.warnings.iter_mut()) {
            for (file, secret) in &self.secrets {
                if d.file == *file {
                    d.mask(secret);
                }
            }
        }
    }

    /// Record a diagnostic about `src` at `pos`; returns it so help can be added.
    pub fn at(
        &mut self,
        severity: Severity,
        src: &Source,
        pos: Pos,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let mut d = Diagnostic::new(severity, src.rel.clone(), pos, field, message);
        // Past the cap the diagnostic is dropped: do not scan the file for its line (a
        // file of a hundred thousand repeated entries would make that quadratic).
        let kept = match severity {
            Severity::Error => self.errors.len(),
            _ => self.warnings.len(),
        } < MAX_ERRORS;
        if kept
            && pos.line > 0
            && let Some(line) = src.text.lines().nth(pos.line - 1)
        {
            d.source_line = Some(line.chars().take(MAX_SHOWN_LINE).collect());
        }
        self.push(d)
    }

    /// An error about `src` at `pos`.
    pub fn error(
        &mut self,
        src: &Source,
        pos: Pos,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.at(Severity::Error, src, pos, field, message)
    }

    /// A warning about `src` at `pos`.
    pub fn warn(
        &mut self,
        src: &Source,
        pos: Pos,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.at(Severity::Warning, src, pos, field, message)
    }

    /// Record a ready diagnostic.
    pub fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        let list = match d.severity {
            Severity::Error => &mut self.errors,
            _ => &mut self.warnings,
        };
        if list.len() >= MAX_ERRORS {
            self.overflowed = true;
            // Kept aside: callers may still add help to it.
            list.truncate(MAX_ERRORS);
        }
        list.push(d);
        let last = list.len() - 1;
        &mut list[last]
    }

    /// Whether more than [`MAX_ERRORS`] were found (the last ones replaced each other).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }
}

/// The candidate closest to `word` by Damerau-Levenshtein distance (case and `-`/`_`
/// ignored for an exact hit), if close enough to be a typo.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let w = norm(word);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let limit = (word.chars().count().min(c.chars().count()) / 3).clamp(1, 3);
        let nc = norm(c);
        let d = if nc == w {
            0
        } else if w.len().min(nc.len()) >= 4 && (nc.starts_with(&w) || w.starts_with(&nc)) {
            // `AgentConfig` for `AgentConfiguration`.
            limit
        } else {
            strsim::damerau_levenshtein(&word.to_lowercase(), &c.to_lowercase())
        };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `help: did you mean ...?` text for `word` among `candidates`.
pub(crate) fn suggestion<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_typos_not_strangers() {
        assert_eq!(did_you_mean("grepp", ["grep", "find"]), Some("grep"));
        assert_eq!(
            did_you_mean("sytem_prompt", ["system_prompt", "tools"]),
            Some("system_prompt")
        );
        assert_eq!(
            did_you_mean("displayname", ["display_name"]),
            Some("display_name")
        );
        assert_eq!(did_you_mean("kubernetes", ["grep", "find"]), None);
        assert_eq!(
            did_you_mean("AgentConfig", ["AgentConfiguration", "Skill"]),
            Some("AgentConfiguration")
        );
    }

    #[test]
    fn display_reads_like_cargo() {
        let src = Source {
            rel: "agents/db.yaml".into(),
            abs: "/h/agents/db.yaml".into(),
            text: "spec:\n  tools:\n    - grepp\n".into(),
            home: "/h".into(),
        };
        let mut sink = Sink::default();
        sink.error(
            &src,
            Pos { line: 3, column: 7 },
            "spec.tools[0]",
            "unknown tool `grepp`",
        )
        .help("did you mean `grep`?");
        assert_eq!(
            sink.errors[0].to_string(),
            "error: agents/db.yaml:3:7: spec.tools[0]: unknown tool `grepp`\n  3 |     - grepp\n    |       ^\n  help: did you mean `grep`?"
        );
    }
}
