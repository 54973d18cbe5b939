//! Commands that run other commands: wrappers (`env`, `sudo`, `timeout`, `xargs`...), whose
//! options are skipped to find the wrapped command, and shells (`bash -c SCRIPT`), whose
//! script is checked in turn.

use sre_core::shell::Word;

pub(super) const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];
pub(super) const INTERPRETERS: &[&str] = &["python", "perl", "ruby", "node", "php", "pwsh", "lua"];

pub(super) fn is_interpreter(program: &str, base: &str) -> bool {
    program
        .strip_prefix(base)
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The script of `sh -c SCRIPT` (`None`: no `-c`); options other than the usual ones are
/// refused.
pub(super) fn inline_script(args: &[Word]) -> Result<Option<&Word>, String> {
    let mut i = 0;
    let mut inline = false;
    while let Some(a) = args.get(i) {
        if !a.literal {
            return Err(format!(
                "the shell option `{}` is not a literal word",
                a.raw
            ));
        }
        let v = a.value.as_str();
        if v == "--" || v == "-" {
            i += 1;
            break;
        }
        if let Some(long) = v.strip_prefix("--") {
            match long {
                "norc" | "noprofile" | "login" | "posix" | "noediting" => {}
                "rcfile" | "init-file" => i += 1,
                _ => return Err(format!("unrecognised shell option `{v}`")),
            }
            i += 1;
            continue;
        }
        let Some(flags) = v.strip_prefix('-').or_else(|| v.strip_prefix('+')) else {
            break;
        };
        if flags.is_empty() {
            break;
        }
        let mut values = 0;
        for f in flags.chars() {
            match f {
                'c' => inline = true,
                'o' | 'O' => values += 1,
                'e' | 'u' | 'x' | 'v' | 'l' | 'f' | 'h' | 'B' | 'C' | 'E' | 'H' | 'P' | 'T'
                | 'a' | 'b' | 'm' | 'n' | 'p' | 't' => {}
                _ => return Err(format!("unrecognised shell option `-{f}`")),
            }
        }
        i += 1 + values;
    }
    if !inline {
        return Ok(None);
    }
    match args.get(i) {
        Some(script) if script.literal => Ok(Some(script)),
        Some(script) => Err(format!(
            "the script of `-c` (`{}`) is not a literal word",
            script.raw
        )),
        None => Err("`-c` without a script".into()),
    }
}

/// What a wrapper (`env`, `sudo`, `timeout`...) leaves to run.
pub(super) struct Unwrapped<'a> {
    pub(super) command: &'a [Word],
    pub(super) assignments: Vec<String>,
    pub(super) replace: Option<String>,
}

/// The options of a command that runs another command.
pub(super) struct Wrapper {
    pub(super) name: &'static str,
    flags: &'static [&'static str],
    valued: &'static [&'static str],
    /// Short options whose value, if any, is attached (`-i{}`, `-l5`).
    optional: &'static [&'static str],
    refused: &'static [&'static str],
    /// Words after the options that are not the command (`timeout DURATION`).
    positional: usize,
}

pub(super) const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        name: "env",
        flags: &[
            "-i",
            "--ignore-environment",
            "-0",
            "--null",
            "-v",
            "--debug",
        ],
        valued: &["-u", "--unset", "-C", "--chdir"],
        optional: &[],
        refused: &["-S", "--split-string"],
        positional: 0,
    },
    Wrapper {
        name: "sudo",
        flags: &[
            "-E",
            "-H",
            "-n",
            "-k",
            "-S",
            "-P",
            "-A",
            "-b",
            "--preserve-env",
            "--set-home",
            "--non-interactive",
            "--stdin",
            "--askpass",
            "--background",
            "--reset-timestamp",
        ],
        valued: &[
            "-u",
            "-g",
            "-h",
            "-p",
            "-C",
            "-D",
            "-r",
            "-t",
            "-T",
            "-U",
            "--user",
            "--group",
            "--host",
            "--prompt",
            "--close-from",
            "--chdir",
            "--role",
            "--type",
            "--command-timeout",
            "--other-user",
        ],
        optional: &[],
        refused: &[
            "-s",
            "-i",
            "-e",
            "-l",
            "-v",
            "-V",
            "-K",
            "--shell",
            "--login",
            "--edit",
            "--list",
            "--validate",
        ],
        positional: 0,
    },
    Wrapper {
        name: "nice",
        flags: &[],
        valued: &["-n", "--adjustment"],
        optional: &[],
        refused: &[],
        positional: 0,
    },
    Wrapper {
        name: "nohup",
        flags: &[],
        valued: &[],
        optional: &[],
        refused: &[],
        positional: 0,
    },
    Wrapper {
        name: "time",
        flags: &["-p", "--portability"],
        valued: &["-f", "--format"],
        optional: &[],
        refused: &["-o", "--output", "-a", "--append"],
        positional: 0,
    },
    Wrapper {
        name: "timeout",
        flags: &["--preserve-status", "--foreground", "-v", "--verbose"],
        valued: &["-s", "--signal", "-k", "--kill-after"],
        optional: &[],
        refused: &[],
        positional: 1,
    },
    Wrapper {
        name: "stdbuf",
        flags: &[],
        valued: &["-i", "-o", "-e", "--input", "--output", "--error"],
        optional: &[],
        refused: &[],
        positional: 0,
    },
    Wrapper {
        name: "exec",
        flags: &["-c", "-l"],
        valued: &["-a"],
        optional: &[],
        refused: &[],
        positional: 0,
    },
    Wrapper {
        name: "command",
        flags: &["-p"],
        valued: &[],
        optional: &[],
        refused: &[],
        positional: 0,
    },
    Wrapper {
        name: "xargs",
        flags: &[
            "-0",
            "--null",
            "-r",
            "--no-run-if-empty",
            "-t",
            "--verbose",
            "-x",
            "--exit",
            "-o",
            "--open-tty",
            "-p",
            "--interactive",
            "--replace",
        ],
        valued: &[
            "-I",
            "-n",
            "-L",
            "-P",
            "-s",
            "-d",
            "-E",
            "-a",
            "--max-args",
            "--max-lines",
            "--max-procs",
            "--max-chars",
            "--delimiter",
            "--eof",
            "--arg-file",
        ],
        optional: &["-i", "-e", "-l"],
        refused: &[],
        positional: 0,
    },
];

impl Wrapper {
    /// Skip the options (and `env`'s assignments); what remains is the wrapped command.
    pub(super) fn skip<'a>(&self, args: &'a [Word]) -> Result<Unwrapped<'a>, String> {
        let mut out = Unwrapped {
            command: &[],
            assignments: Vec::new(),
            replace: None,
        };
        let name = self.name;
        let mut i = 0;
        while let Some(a) = args.get(i) {
            if !a.literal {
                if a.value.starts_with('-') {
                    return Err(format!("the option `{}` of `{name}` is not literal", a.raw));
                }
                break;
            }
            let v = a.value.as_str();
            if v == "--" {
                i += 1;
                break;
            }
            if name == "env" && v == "-" {
                i += 1;
                continue;
            }
            let numeric = v
                .strip_prefix('-')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            if name == "nice" && numeric {
                i += 1;
                continue;
            }
            if let Some(long) = v.strip_prefix("--") {
                let (opt, inline_value) = match long.split_once('=') {
                    Some((o, val)) => (format!("--{o}"), Some(val)),
                    None => (v.to_string(), None),
                };
                if self.refused.contains(&opt.as_str()) {
                    return Err(format!("`{name} {opt}` is not allowed"));
                } else if self.flags.contains(&opt.as_str()) {
                    if opt == "--replace" {
                        out.replace = Some(inline_value.unwrap_or("{}").to_string());
                    }
                } else if self.valued.contains(&opt.as_str()) {
                    if inline_value.is_none() {
                        i += 1;
                    }
                } else {
                    return Err(format!("unrecognised option `{opt}` of `{name}`"));
                }
                i += 1;
                continue;
            }
            let Some(cluster) = v.strip_prefix('-').filter(|c| !c.is_empty()) else {
                break;
            };
            for (at, c) in cluster.char_indices() {
                let opt = format!("-{c}");
                let attached = &cluster[at + c.len_utf8()..];
                if self.refused.contains(&opt.as_str()) {
                    return Err(format!("`{name} {opt}` is not allowed"));
                } else if self.flags.contains(&opt.as_str()) {
                    continue;
                } else if self.optional.contains(&opt.as_str()) {
                    if opt == "-i" {
                        out.replace =
                            Some(if attached.is_empty() { "{}" } else { attached }.to_string());
                    }
                    break;
                } else if self.valued.contains(&opt.as_str()) {
                    let value = if attached.is_empty() {
                        i += 1;
                        match args.get(i) {
                            Some(w) if w.literal => w.value.clone(),
                            Some(w) => {
                                return Err(format!(
                                    "the value `{}` of `{name} {opt}` is not literal",
                                    w.raw
                                ));
                            }
                            None => return Err(format!("`{name} {opt}` without a value")),
                        }
                    } else {
                        attached.to_string()
                    };
                    if opt == "-I" {
                        out.replace = Some(value);
                    }
                    break;
                } else {
                    return Err(format!("unrecognised option `{opt}` of `{name}`"));
                }
            }
            i += 1;
        }
        if name == "env" || name == "sudo" {
            while let Some(a) = args.get(i) {
                let Some((var, _)) = a.value.split_once('=').filter(|(n, _)| {
                    a.raw.starts_with(n)
                        && !n.is_empty()
                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }) else {
                    break;
                };
                out.assignments.push(var.to_string());
                i += 1;
            }
        }
        i += self.positional;
        if i > args.len() && self.positional > 0 {
            return Err(format!("`{name}` without its arguments"));
        }
        out.command = args.get(i..).unwrap_or_default();
        Ok(out)
    }
}
