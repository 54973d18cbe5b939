//! The built-in tools an agent may list, by our names and by the names other harnesses
//! use (Claude Code's `Bash`, `Read`...; the vendor's `ExecuteShellCommand`...).

/// Each built-in tool (our name) and the other names it answers to.
pub const BUILTIN_TOOLS: &[(&str, &[&str])] = &[
    ("read_file", &["Read"]),
    ("write_file", &["Write"]),
    ("edit_file", &["Edit"]),
    ("grep", &["Grep"]),
    ("find", &["Glob"]),
    ("list", &["LS"]),
    ("shell", &["Bash", "ExecuteShellCommand"]),
    ("python", &["ExecutePythonCode"]),
    ("git_live_commit", &[]),
    ("git_log", &[]),
    ("git_diff", &[]),
    ("git_checkout", &[]),
    ("prefix_report", &[]),
    ("remember", &[]),
    ("update_investigation_state", &[]),
];

/// What an agent that lists no `tools` gets: the workspace tools (files, search, shell,
/// Python, git).
pub const WORKSPACE_TOOLS: &[&str] = &[
    "read_file",
    "write_file",
    "edit_file",
    "grep",
    "find",
    "list",
    "shell",
    "python",
    "git_live_commit",
    "git_log",
    "git_diff",
    "git_checkout",
];

/// Tool names that run commands, in every spelling (what a hook matcher may name).
pub const COMMAND_TOOL_NAMES: &[&str] = &[
    "shell",
    "Bash",
    "ExecuteShellCommand",
    "python",
    "ExecutePythonCode",
];

/// Our name of the built-in tool called `name` (ours or an alias).
pub fn builtin_tool(name: &str) -> Option<&'static str> {
    BUILTIN_TOOLS
        .iter()
        .find(|(ours, aliases)| *ours == name || aliases.contains(&name))
        .map(|(ours, _)| *ours)
}

/// The other names of our tool `name` (`shell` -> `Bash`, `ExecuteShellCommand`).
pub fn aliases_of(name: &str) -> &'static [&'static str] {
    BUILTIN_TOOLS
        .iter()
        .find(|(ours, _)| *ours == name)
        .map_or(&[], |(_, aliases)| aliases)
}

/// Every name a built-in tool may be listed by.
pub(crate) fn all_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_TOOLS
        .iter()
        .flat_map(|(ours, aliases)| std::iter::once(*ours).chain(aliases.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_our_names() {
        assert_eq!(builtin_tool("Bash"), Some("shell"));
        assert_eq!(builtin_tool("ExecutePythonCode"), Some("python"));
        assert_eq!(builtin_tool("Glob"), Some("find"));
        assert_eq!(builtin_tool("grep"), Some("grep"));
        assert_eq!(builtin_tool("bash"), None);
        assert!(WORKSPACE_TOOLS.iter().all(|t| builtin_tool(t) == Some(*t)));
        assert_eq!(aliases_of("shell"), &["Bash", "ExecuteShellCommand"]);
    }

    /// The names an agent may list and the names a hook matcher matches are one table:
    /// `tools: [Bash]` and `matcher: Bash` must mean the same tool.
    #[test]
    fn tool_names_and_hook_matcher_aliases_agree() {
        let ours: std::collections::BTreeMap<String, Vec<String>> = BUILTIN_TOOLS
            .iter()
            .filter(|(_, aliases)| !aliases.is_empty())
            .map(|(name, aliases)| {
                let aliases = aliases.iter().map(|a| a.to_string()).collect();
                (name.to_string(), aliases)
            })
            .collect();
        assert_eq!(ours, sre_hooks::default_tool_aliases());
    }
}
