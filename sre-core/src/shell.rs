//! A small parser of shell command lines (the POSIX/bash subset agents write), shared by the
//! crates that judge commands (feature `process`): sre-hooks' command allowlist and
//! sre-tools' shell tool, which tells read-only command lines apart. It finds **every**
//! simple command a line would
//! run, including those in pipelines, lists (`;` `&&` `||` `&`), subshells `( )`, groups
//! `{ ;}`, command substitutions `$( )` and backticks, and process substitutions `<( )`.
//!
//! Words are unquoted the way the shell does (`'...'`, `"..."`, `\x`, line continuations),
//! so `kubectl  'get'` and `kubectl get` give the same words. A word whose value depends on
//! the run (a `$VAR`, a substitution, a glob, a brace or tilde expansion) is marked not
//! literal.
//!
//! It fails closed: syntax it does not model (here-documents, arithmetic, `${...}` with
//! operators, `if`/`for`/`case`/functions, `[[`) is a [`ParseError`], never a guess. It
//! never panics, nesting is bounded ([`MAX_DEPTH`]) and the work is linear in the input.

/// Deepest nesting of subshells, groups and substitutions.
pub const MAX_DEPTH: usize = 32;

/// One word of a command, after quote removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The source text.
    pub raw: String,
    /// The value the program receives (exact only when [`Word::literal`]).
    pub value: String,
    /// No expansion of any kind: `value` is exactly what the program receives.
    pub literal: bool,
}

/// A redirection (`>file`, `2>&1`, `<in`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The file descriptor written before the operator, if any.
    pub fd: Option<u32>,
    /// The operator: `<`, `>`, `>>`, `>|`, `<>`, `<&`, `>&`, `&>`, `&>>`, `<<<`.
    pub op: &'static str,
    /// The target word.
    pub target: Word,
}

impl Redirect {
    /// Whether it may write a file (not a descriptor duplication, not `/dev/null`).
    pub fn writes_file(&self) -> bool {
        let to_fd = matches!(self.op, ">&" | "<&")
            && self.target.literal
            && (self.target.value == "-" || self.target.value.bytes().all(|b| b.is_ascii_digit()));
        let harmless = self.target.literal
            && matches!(
                self.target.value.as_str(),
                "/dev/null" | "/dev/stdout" | "/dev/stderr"
            );
        let writing = matches!(self.op, ">" | ">>" | ">|" | "<>" | "&>" | "&>>" | ">&");
        writing && !to_fd && !harmless
    }
}

/// A simple command: assignments, words, redirections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    /// `NAME=value` words before the program.
    pub assignments: Vec<(String, Word)>,
    /// Program and arguments.
    pub words: Vec<Word>,
    /// Redirections.
    pub redirects: Vec<Redirect>,
}

impl SimpleCommand {
    /// The command as written (words and redirections), for messages.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self
            .assignments
            .iter()
            .map(|(_, w)| w.raw.clone())
            .collect();
        parts.extend(self.words.iter().map(|w| w.raw.clone()));
        parts.extend(self.redirects.iter().map(|r| {
            format!(
                "{}{}{}",
                r.fd.map(|f| f.to_string()).unwrap_or_default(),
                r.op,
                r.target.raw
            )
        }));
        parts.join(" ")
    }
}

/// Why a line cannot be parsed (or is outside the modelled subset).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at character {at}: {message}")]
pub struct ParseError {
    /// Character offset in the line.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

/// Every simple command in `line`, at any depth.
///
/// ```
/// let cmds = sre_core::shell::parse("kubectl  get pods | grep -c Running && echo \"$(date)\"").unwrap();
/// let programs: Vec<&str> = cmds.iter().map(|c| c.words[0].value.as_str()).collect();
/// assert_eq!(programs, ["kubectl", "grep", "date", "echo"]);
/// assert!(sre_core::shell::parse("cat <<EOF\nhi\nEOF").is_err());
/// ```
pub fn parse(line: &str) -> Result<Vec<SimpleCommand>, ParseError> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut p = Parser {
        s: &chars,
        pos: 0,
        depth: 0,
        base: 0,
        out: &mut out,
    };
    p.list(None)?;
    Ok(out)
}

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "select", "function", "coproc", "[[", "]]",
];

/// Operators, longest first.
const REDIRECT_OPS: &[&str] = &[
    "&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">",
];

struct Parser<'a, 'o> {
    s: &'a [char],
    pos: usize,
    depth: usize,
    /// Offset of `s` in the outermost line (for backtick bodies).
    base: usize,
    out: &'o mut Vec<SimpleCommand>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_meta(c: char) -> bool {
    is_blank(c) || matches!(c, '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.s.get(self.pos + n).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(i, c)| self.s.get(self.pos + i) == Some(&c))
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            at: self.base + self.pos,
            message: message.into(),
        })
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }

    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek() {
            if is_blank(c) {
                self.pos += 1;
            } else if c == '\\' && self.peek_at(1) == Some('\n') {
                self.pos += 2;
            } else {
                break;
            }
        }
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some('#') {
            while let Some(c) = self.peek() {
                if c == '\n' {
                    break;
                }
                self.pos += 1;
            }
        }
    }

    /// A list of pipelines, up to `close` (`)` or `}`) or the end.
    fn list(&mut self, close: Option<char>) -> Result<(), ParseError> {
        loop {
            self.skip_blanks();
            self.skip_comment();
            let Some(c) = self.peek() else {
                return match close {
                    Some(c) => self.err(format!("missing `{c}`")),
                    None => Ok(()),
                };
            };
            match c {
                '\n' | ';' => self.pos += 1,
                '|' => self.pos += 1,
                '&' if self.peek_at(1) != Some('>') => self.pos += 1,
                ')' if close == Some(')') => return Ok(()),
                ')' => return self.err("unexpected `)`"),
                '}' if close == Some('}')
                    && self.peek_at(1).is_none_or(|n| is_meta(n) || n == '}') =>
                {
                    return Ok(());
                }
                _ => self.command(close)?,
            }
        }
    }

    /// One command: a subshell, a group, or a simple command.
    fn command(&mut self, close: Option<char>) -> Result<(), ParseError> {
        let word_end = (self.pos..self.s.len())
            .find(|&i| is_meta(self.s[i]))
            .unwrap_or(self.s.len());
        let first: String = self.s[self.pos..word_end].iter().collect();
        if RESERVED.contains(&first.as_str()) {
            return self.err(format!(
                "`{first}`: shell control structures are not supported"
            ));
        }
        if self.starts_with("((") {
            return self.err("arithmetic commands `((...))` are not supported");
        }
        if first == "!" {
            self.pos += 1;
            return Ok(());
        }
        if self.peek() == Some('(') {
            self.pos += 1;
            self.enter()?;
            self.list(Some(')'))?;
            self.pos += 1; // the `)`
            self.depth -= 1;
            return self.trailing_redirects(close);
        }
        if first == "{" {
            self.pos += 1;
            self.enter()?;
            self.list(Some('}'))?;
            self.pos += 1; // the `}`
            self.depth -= 1;
            return self.trailing_redirects(close);
        }
        self.simple(close)
    }

    /// Redirections after a subshell or group (recorded as a command without words).
    fn trailing_redirects(&mut self, close: Option<char>) -> Result<(), ParseError> {
        let mut cmd = SimpleCommand::default();
        loop {
            self.skip_blanks();
            match self.peek() {
                Some('<' | '>') if self.peek_at(1) != Some('(') => {
                    cmd.redirects.push(self.redirect(None)?)
                }
                Some('&') if self.peek_at(1) == Some('>') => {
                    cmd.redirects.push(self.redirect(None)?)
                }
                None | Some('\n' | ';' | '&' | '|' | '#') => break,
                Some(')') if close == Some(')') => break,
                Some('}') if close == Some('}') => break,
                Some(c) => return self.err(format!("unexpected `{c}` after `)` or `}}`")),
            }
        }
        if !cmd.redirects.is_empty() {
            self.out.push(cmd);
        }
        Ok(())
    }

    fn simple(&mut self, close: Option<char>) -> Result<(), ParseError> {
        let mut cmd = SimpleCommand::default();
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else { break };
            match c {
                '\n' | ';' | '|' => break,
                '&' if self.peek_at(1) != Some('>') => break,
                ')' if close == Some(')') => break,
                ')' => return self.err("unexpected `)`"),
                '(' => return self.err("unexpected `(` (function definitions are not supported)"),
                // At the start of a word: a comment to the end of the line.
                '#' => {
                    self.skip_comment();
                    break;
                }
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    let w = self.word()?;
                    cmd.words.push(w);
                }
                '<' | '>' | '&' => cmd.redirects.push(self.redirect(None)?),
                _ => {
                    let (w, assignment) = self.word_with_assignment()?;
                    if let Some(fd) = self.io_number(&w) {
                        cmd.redirects.push(self.redirect(Some(fd))?);
                    } else if let (Some(name), true) = (assignment, cmd.words.is_empty()) {
                        cmd.assignments.push((name, w));
                    } else {
                        cmd.words.push(w);
                    }
                }
            }
        }
        if !(cmd.words.is_empty() && cmd.assignments.is_empty() && cmd.redirects.is_empty()) {
            self.out.push(cmd);
        }
        Ok(())
    }

    /// `w` is a file descriptor number if it is all digits and a `<`/`>` follows at once.
    fn io_number(&self, w: &Word) -> Option<u32> {
        if w.literal
            && w.raw == w.value
            && !w.value.is_empty()
            && w.value.bytes().all(|b| b.is_ascii_digit())
            && matches!(self.peek(), Some('<' | '>'))
            && self.peek_at(1) != Some('(')
        {
            w.value.parse().ok()
        } else {
            None
        }
    }

    fn redirect(&mut self, fd: Option<u32>) -> Result<Redirect, ParseError> {
        let Some(op) = REDIRECT_OPS.iter().copied().find(|op| self.starts_with(op)) else {
            return self.err("expected a redirection operator");
        };
        if op == "<<" || op == "<<-" {
            return self.err("here-documents (`<<`) are not supported");
        }
        self.pos += op.chars().count();
        self.skip_blanks();
        match self.peek() {
            Some(c) if !is_meta(c) || (matches!(c, '<' | '>') && self.peek_at(1) == Some('(')) => {}
            _ => return self.err(format!("`{op}` without a target")),
        }
        let target = self.word()?;
        Ok(Redirect { fd, op, target })
    }

    fn word(&mut self) -> Result<Word, ParseError> {
        self.word_with_assignment().map(|(w, _)| w)
    }

    /// One word; also the variable name if it has the form of an assignment (`NAME=...`,
    /// `NAME+=...`, `NAME[i]=...` with the name unquoted).
    fn word_with_assignment(&mut self) -> Result<(Word, Option<String>), ParseError> {
        let start = self.pos;
        let mut value = String::new();
        let mut literal = true;
        // The unquoted, unescaped prefix (for assignments).
        let mut plain = String::new();
        let mut plain_open = true;
        let mut brace_open = false;
        if matches!(self.peek(), Some('<' | '>')) && self.peek_at(1) == Some('(') {
            self.pos += 2;
            self.enter()?;
            self.list(Some(')'))?;
            self.pos += 1;
            self.depth -= 1;
            literal = false;
            plain_open = false;
        }
        while let Some(c) = self.peek() {
            if is_meta(c) {
                break;
            }
            match c {
                '\\' => {
                    plain_open = false;
                    self.pos += 1;
                    match self.peek() {
                        None => value.push('\\'),
                        Some('\n') => self.pos += 1,
                        Some(x) => {
                            value.push(x);
                            self.pos += 1;
                        }
                    }
                }
                '\'' => {
                    plain_open = false;
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => return self.err("unterminated single quote"),
                            Some('\'') => {
                                self.pos += 1;
                                break;
                            }
                            Some(x) => {
                                value.push(x);
                                self.pos += 1;
                            }
                        }
                    }
                }
                '"' => {
                    plain_open = false;
                    self.double_quoted(&mut value, &mut literal)?;
                }
                '$' => {
                    plain_open = false;
                    self.dollar(&mut value, &mut literal, false)?;
                }
                '`' => {
                    plain_open = false;
                    self.backtick(false)?;
                    literal = false;
                }
                _ => {
                    // Globs, tilde, and brace expansion (`{a,b}`, `{1..3}`; a lone `{}` is
                    // literal).
                    let brace_list =
                        brace_open && (c == ',' || (c == '.' && self.peek_at(1) == Some('.')));
                    if matches!(c, '*' | '?' | '[') || brace_list || (c == '~' && self.pos == start)
                    {
                        literal = false;
                    }
                    brace_open |= c == '{';
                    if plain_open {
                        plain.push(c);
                    }
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
        let raw: String = self.s[start..self.pos].iter().collect();
        let assignment = assignment_name(&plain);
        Ok((
            Word {
                raw,
                value,
                literal,
            },
            assignment,
        ))
    }

    fn double_quoted(&mut self, value: &mut String, literal: &mut bool) -> Result<(), ParseError> {
        self.pos += 1; // the opening quote
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated double quote");
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        None => return self.err("unterminated double quote"),
                        Some('\n') => self.pos += 1,
                        Some(x @ ('$' | '`' | '"' | '\\')) => {
                            value.push(x);
                            self.pos += 1;
                        }
                        Some(x) => {
                            value.push('\\');
                            value.push(x);
                            self.pos += 1;
                        }
                    }
                }
                '$' => self.dollar(value, literal, true)?,
                '`' => {
                    self.backtick(true)?;
                    *literal = false;
                }
                _ => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `$...`: a parameter, a substitution, `$'...'` or a plain `$`.
    fn dollar(
        &mut self,
        value: &mut String,
        literal: &mut bool,
        in_quotes: bool,
    ) -> Result<(), ParseError> {
        self.pos += 1; // the `$`
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.err("arithmetic expansion `$((...))` is not supported")
            }
            Some('(') => {
                self.pos += 1;
                self.enter()?;
                self.list(Some(')'))?;
                self.pos += 1;
                self.depth -= 1;
                *literal = false;
                value.push_str("$(…)");
                Ok(())
            }
            Some('{') => {
                self.pos += 1;
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '}') {
                    self.pos += 1;
                }
                if self.peek().is_none() {
                    return self.err("unterminated `${`");
                }
                let inner: String = self.s[start..self.pos].iter().collect();
                self.pos += 1;
                let simple = inner.chars().next().is_some_and(is_name_start)
                    && inner.chars().all(is_name_char)
                    || (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit()))
                    || matches!(inner.as_str(), "@" | "*" | "#" | "?" | "-" | "$" | "!");
                if !simple {
                    return self.err(format!(
                        "parameter expansion `${{{inner}}}` is not supported (only `${{NAME}}`)"
                    ));
                }
                *literal = false;
                value.push_str("${…}");
                Ok(())
            }
            Some('\'') if !in_quotes => {
                // ANSI-C quoting: exact only without escapes.
                self.pos += 1;
                loop {
                    match self.peek() {
                        None => return self.err("unterminated `$'`"),
                        Some('\'') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        Some('\\') => {
                            *literal = false;
                            self.pos += 2;
                            if self.pos > self.s.len() {
                                return self.err("unterminated `$'`");
                            }
                        }
                        Some(x) => {
                            value.push(x);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some('"') if !in_quotes => self.double_quoted(value, literal),
            Some(c) if is_name_start(c) => {
                while self.peek().is_some_and(is_name_char) {
                    self.pos += 1;
                }
                *literal = false;
                value.push_str("$…");
                Ok(())
            }
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => {
                self.pos += 1;
                *literal = false;
                value.push_str("$…");
                Ok(())
            }
            _ => {
                value.push('$');
                Ok(())
            }
        }
    }

    /// A backtick substitution: its body (unescaped) is parsed as a line of its own.
    fn backtick(&mut self, in_quotes: bool) -> Result<(), ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut body = Vec::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated backtick"),
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None => return self.err("unterminated backtick"),
                        Some(x) if x == '$' || x == '`' || x == '\\' || (in_quotes && x == '"') => {
                            body.push(x);
                            self.pos += 1;
                        }
                        Some(x) => {
                            body.push('\\');
                            body.push(x);
                            self.pos += 1;
                        }
                    }
                }
                Some(x) => {
                    body.push(x);
                    self.pos += 1;
                }
            }
        }
        if self.depth + 1 > MAX_DEPTH {
            return self.err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        let mut inner = Parser {
            s: &body,
            pos: 0,
            depth: self.depth + 1,
            base: self.base + open + 1,
            out: &mut *self.out,
        };
        inner.list(None)
    }
}

/// The variable name of an assignment word, from its unquoted prefix.
fn assignment_name(plain: &str) -> Option<String> {
    let eq = plain.find('=')?;
    let lhs = plain[..eq].strip_suffix('+').unwrap_or(&plain[..eq]);
    let name = match lhs.find('[') {
        Some(i) if lhs.ends_with(']') => &lhs[..i],
        Some(_) => return None,
        None => lhs,
    };
    let mut chars = name.chars();
    (chars.next().is_some_and(is_name_start) && chars.all(is_name_char)).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        parse(line)
            .unwrap()
            .iter()
            .map(|c| c.words.iter().map(|w| w.value.clone()).collect())
            .collect()
    }

    #[test]
    fn quoting_and_whitespace() {
        assert_eq!(words("kubectl  get\tpods"), [["kubectl", "get", "pods"]]);
        assert_eq!(
            words("kubectl 'get' \"pods\""),
            [["kubectl", "get", "pods"]]
        );
        assert_eq!(words("k\"ube\"ctl g\\et"), [["kubectl", "get"]]);
        assert_eq!(words("kubectl \\\n get"), [["kubectl", "get"]]);
        assert_eq!(words("echo 'a b' \"c\\\"d\""), [["echo", "a b", "c\"d"]]);
        assert_eq!(words("echo a#b # comment; rm -rf /"), [["echo", "a#b"]]);
    }

    #[test]
    fn separators_and_nesting() {
        let all = words("a; b && c || d | e & f\ng; (h) && { i; }");
        let programs: Vec<&str> = all.iter().map(|w| w[0].as_str()).collect();
        assert_eq!(programs, ["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
        let all = words("echo $(rm -rf /) `id` \"$(whoami)\" <(ls)");
        let programs: Vec<&str> = all.iter().map(|w| w[0].as_str()).collect();
        assert_eq!(programs, ["rm", "id", "whoami", "ls", "echo"]);
    }

    #[test]
    fn assignments_and_redirects() {
        let c = &parse("A=1 B+=x kubectl get pods 2>&1 >/dev/null >out.txt").unwrap()[0];
        let names: Vec<&str> = c.assignments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(c.words.len(), 3);
        let writes: Vec<bool> = c.redirects.iter().map(Redirect::writes_file).collect();
        assert_eq!(writes, [false, false, true]);
        let c = &parse("\"A\"=1 x").unwrap()[0];
        assert!(
            c.assignments.is_empty(),
            "a quoted name is not an assignment"
        );
    }

    #[test]
    fn literalness() {
        let c = &parse("a $X ${Y} * ~ {a,b} 'lit*' $'x' $'\\x41' {} {1..3} x={.a}").unwrap()[0];
        let lit: Vec<bool> = c.words.iter().map(|w| w.literal).collect();
        assert_eq!(
            lit,
            [
                true, false, false, false, false, false, true, true, false, true, false, true
            ]
        );
    }

    #[test]
    fn unsupported_syntax_is_an_error() {
        for bad in [
            "cat <<EOF\nx\nEOF",
            "echo $((1+2))",
            "echo ${X:-$(rm -rf /)}",
            "if true; then rm -rf /; fi",
            "for i in a; do x; done",
            "f() { rm -rf /; }",
            "echo 'open",
            "echo \"open",
            "echo $(ls",
            "echo `ls",
            "(ls",
            "ls)",
            "[[ -f x ]]",
            "((x++))",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        let deep = "$(".repeat(MAX_DEPTH + 5);
        assert!(parse(&deep).is_err());
    }
}
