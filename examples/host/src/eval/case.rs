//! An eval suite on disk, in HolmesGPT's fixture format (the de facto open one), plus our
//! own additions for cases that run on a real workspace:
//!
//! ```text
//! <suite>/<NN_name>/test_case.yaml   user_prompt, expected_output, tags, skip, skip_reason,
//!                                    mocked_date, include_files, conversation_history,
//!                                    before_test / after_test (live only),
//!                                    checks (ours: deterministic checks)
//! <suite>/<NN_name>/*.txt            mock tool outputs: a JSON header line
//!                                    {"toolset_name", "tool_name", "match_params"}, an
//!                                    optional result line {"status", "error", ...}, an
//!                                    optional `stdout:` line, then the raw output
//! <suite>/<NN_name>/workspace/       (ours) copied into the case's workspace
//! <suite>/<NN_name>/setup.sh         (ours) run in the workspace before the agent (git
//!                                    repositories, logs made now)
//! <suite>/<NN_name>/scripts/*.yaml   (ours) scripted models for offline runs
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Something wrong with a suite's files: where, and what.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CaseError {
    /// The file (or folder) at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

fn bad(path: &Path, message: impl Into<String>) -> CaseError {
    CaseError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One message of a case's earlier conversation.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
pub struct HistoryMessage {
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// Its text.
    pub content: String,
}

/// Deterministic checks of a case (our addition to the format); all must hold.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Each must appear in the answer (case-insensitive).
    #[serde(default)]
    pub must_mention: Vec<String>,
    /// None may appear in the answer (case-insensitive).
    #[serde(default)]
    pub must_not_mention: Vec<String>,
    /// Each tool must have been called at least once.
    #[serde(default)]
    pub must_call: Vec<String>,
    /// No call of these tools.
    #[serde(default)]
    pub must_not_call: Vec<String>,
    /// At most this many model calls of the agent under test.
    #[serde(default)]
    pub max_turns: Option<u32>,
    /// No destructive command run (default true): see [`super::checks::DESTRUCTIVE`].
    #[serde(default = "yes")]
    pub no_destructive: bool,
}

fn yes() -> bool {
    true
}

/// The YAML of `test_case.yaml`.
#[derive(Debug, Deserialize)]
struct TestCaseFile {
    #[serde(default)]
    user_prompt: Option<ExpectedOutput>,
    #[serde(default)]
    expected_output: ExpectedOutput,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    skip: bool,
    #[serde(default)]
    skip_reason: Option<String>,
    #[serde(default)]
    mocked_date: Option<String>,
    #[serde(default)]
    include_files: Vec<String>,
    #[serde(default)]
    conversation_history: Vec<HistoryMessage>,
    #[serde(default)]
    before_test: Option<String>,
    #[serde(default)]
    after_test: Option<String>,
    #[serde(default)]
    checks: Option<Checks>,
    /// HolmesGPT's fields that do not change how a case runs here (live cluster setup,
    /// mock generation, retrieval scoring...): accepted and ignored; a typo of a field we
    /// read is still an error.
    #[serde(flatten)]
    ignored: std::collections::BTreeMap<String, Value>,
}

/// HolmesGPT's test-case fields this runner accepts without using them.
const IGNORED_FIELDS: &[&str] = &[
    "description",
    "evaluation",
    "port_forwards",
    "toolsets",
    "test_env_vars",
    "retrieval_context",
    "generate_mocks",
    "add_params_to_mock_file",
    "mock_policy",
    "setup_timeout",
    "include_tool_calls",
    "runbooks",
    "cluster_name",
    "allow_toolset_failures",
    "expected_sections",
    "test_type",
    "id",
    "model",
];

/// `expected_output`: a list of facts, or one string (one fact).
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum ExpectedOutput {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

/// One mocked tool output.
#[derive(Clone, Debug, PartialEq)]
pub struct MockOutput {
    /// The file it came from.
    pub file: PathBuf,
    /// Toolset (informative).
    pub toolset: String,
    /// The tool it answers for.
    pub tool_name: String,
    /// Parameters the call must have (a `null` value, or none at all, matches any).
    pub match_params: Option<Map<String, Value>>,
    /// Whether the recorded call failed (`status: error`).
    pub failed: bool,
    /// The recorded error, if any.
    pub error: Option<String>,
    /// The raw output.
    pub output: String,
}

/// One case of a suite.
#[derive(Clone, Debug)]
pub struct EvalCase {
    /// The folder's name (`01_pod_oom`).
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// What the user asks.
    pub user_prompt: String,
    /// Facts the answer must hold (all of them).
    pub expected_output: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Skipped, and why.
    pub skip: Option<String>,
    /// The date the case pretends it is.
    pub mocked_date: Option<String>,
    /// Files of the case whose contents go with the prompt.
    pub include_files: Vec<PathBuf>,
    /// The conversation before the prompt.
    pub conversation_history: Vec<HistoryMessage>,
    /// Live-only setup and teardown commands (HolmesGPT's).
    pub before_test: Option<String>,
    /// See `before_test`.
    pub after_test: Option<String>,
    /// Deterministic checks.
    pub checks: Checks,
    /// Mocked tool outputs.
    pub mocks: Vec<MockOutput>,
    /// What loading noticed (a .txt that is not a mock).
    pub warnings: Vec<String>,
}

impl EvalCase {
    /// The case in `dir` (a folder with a `test_case.yaml`): one per prompt when
    /// `user_prompt` lists variants (named `NAME[i]`), as HolmesGPT runs them.
    pub fn load(dir: &Path) -> Result<Vec<EvalCase>, CaseError> {
        // Absolute: setup scripts run in the run's workspace, not here.
        let dir = &std::path::absolute(dir).map_err(|e| bad(dir, e.to_string()))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = dir.join("test_case.yaml");
        let text = std::fs::read_to_string(&file).map_err(|e| bad(&file, e.to_string()))?;
        let raw: TestCaseFile =
            serde_yaml_ng::from_str(&text).map_err(|e| bad(&file, e.to_string()))?;
        if let Some(unknown) = raw
            .ignored
            .keys()
            .find(|k| !IGNORED_FIELDS.contains(&k.as_str()))
        {
            return Err(bad(
                &file,
                format!(
                    "unknown field `{unknown}` (user_prompt, expected_output, tags, skip, skip_reason, mocked_date, include_files, conversation_history, before_test, after_test, checks, or one of HolmesGPT's we ignore)"
                ),
            ));
        }
        let prompts: Vec<String> = match raw.user_prompt {
            Some(ExpectedOutput::One(p)) => vec![p],
            Some(ExpectedOutput::Many(v)) => v,
            _ => Vec::new(),
        }
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect();
        let mut skip = raw
            .skip
            .then(|| raw.skip_reason.clone().unwrap_or_else(|| "skipped".into()));
        let prompts = if prompts.is_empty() {
            // HolmesGPT's investigate and workload-health cases ask otherwise.
            let other = ["investigate_request.json", "issue_data.json"]
                .iter()
                .any(|f| dir.join(f).is_file());
            if !other {
                return Err(bad(&file, "`user_prompt` is required"));
            }
            skip = Some(
                "an investigate or workload-health case (no user_prompt): not run here".into(),
            );
            vec![String::new()]
        } else {
            prompts
        };
        let expected_output = match raw.expected_output {
            ExpectedOutput::None => Vec::new(),
            ExpectedOutput::One(s) => vec![s],
            ExpectedOutput::Many(v) => v,
        };
        let checks = raw.checks.unwrap_or(Checks {
            no_destructive: true,
            ..Checks::default()
        });
        if expected_output.is_empty() && checks == Checks::default_on() && skip.is_none() {
            return Err(bad(
                &file,
                "nothing to check: give `expected_output` or `checks`",
            ));
        }
        let mut include_files = Vec::new();
        for f in &raw.include_files {
            let path = inside(dir, f).ok_or_else(|| {
                bad(
                    &file,
                    format!("include_files: `{f}` is not a file of the case"),
                )
            })?;
            if !path.is_file() {
                return Err(bad(&file, format!("include_files: `{f}` does not exist")));
            }
            include_files.push(path);
        }
        let conversation_history = match history_files(dir)? {
            Some(h) => h,
            None => raw.conversation_history,
        };
        for m in &conversation_history {
            if !["user", "assistant", "system"].contains(&m.role.as_str()) {
                return Err(bad(
                    &file,
                    format!(
                        "conversation_history: role `{}` (user, assistant or system)",
                        m.role
                    ),
                ));
            }
        }
        // Mock outputs: the case's .txt files that are not included files; one whose
        // first line is not a mock header is skipped with a warning, as HolmesGPT does.
        let (mut mocks, mut warnings) = (Vec::new(), Vec::new());
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| bad(dir, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt") && p.is_file())
            .filter(|p| !include_files.contains(p))
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, e.to_string()))?;
            match parse_mock(&path, &text) {
                Ok(m) => mocks.push(m),
                Err(e) => warnings.push(format!("{e} (not used as a mock)")),
            }
        }
        let many = prompts.len() > 1;
        Ok(prompts
            .into_iter()
            .enumerate()
            .map(|(i, user_prompt)| EvalCase {
                name: if many {
                    format!("{name}[{i}]")
                } else {
                    name.clone()
                },
                dir: dir.to_path_buf(),
                user_prompt,
                expected_output: expected_output.clone(),
                tags: raw.tags.clone(),
                skip: skip.clone(),
                mocked_date: raw.mocked_date.clone(),
                include_files: include_files.clone(),
                conversation_history: conversation_history.clone(),
                before_test: raw.before_test.clone(),
                after_test: raw.after_test.clone(),
                checks: checks.clone(),
                mocks: mocks.clone(),
                warnings: warnings.clone(),
            })
            .collect())
    }
}

/// HolmesGPT's conversation history in files, which win over the YAML's:
/// `conversation_history/NN_ROLE.md` (in name order), or `conversation_history.json`.
fn history_files(dir: &Path) -> Result<Option<Vec<HistoryMessage>>, CaseError> {
    let folder = dir.join("conversation_history");
    if folder.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(|e| bad(&folder, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let role = stem
                .split_once('_')
                .map_or(stem.as_str(), |(_, r)| r)
                .to_string();
            let content = std::fs::read_to_string(&f).map_err(|e| bad(&f, e.to_string()))?;
            out.push(HistoryMessage { role, content });
        }
        return Ok(Some(out));
    }
    let json = dir.join("conversation_history.json");
    if json.is_file() {
        let text = std::fs::read_to_string(&json).map_err(|e| bad(&json, e.to_string()))?;
        let messages: Vec<HistoryMessage> = serde_json::from_str(&text)
            .map_err(|e| bad(&json, format!("a list of {{role, content}}: {e}")))?;
        return Ok(Some(messages));
    }
    Ok(None)
}

impl Checks {
    /// The checks a case has when it names none.
    fn default_on() -> Checks {
        Checks {
            no_destructive: true,
            ..Checks::default()
        }
    }
}

/// `rel` inside `dir` (no absolute path, no `..`).
fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let plain = p
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    (plain && !rel.is_empty()).then(|| dir.join(p))
}

/// A mock output file: the header line, an optional result line, an optional `stdout:`
/// line, then the raw output.
pub fn parse_mock(path: &Path, text: &str) -> Result<MockOutput, CaseError> {
    let (header, rest) = text.split_once('\n').unwrap_or((text, ""));
    let header: Value = serde_json::from_str(header.trim())
        .map_err(|e| bad(path, format!("line 1 must be the JSON header: {e}")))?;
    let tool_name = header
        .get("tool_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(path, "line 1: `tool_name` (a string) is required"))?
        .to_string();
    let toolset = header
        .get("toolset_name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let match_params = match header.get("match_params") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return Err(bad(
                path,
                "line 1: `match_params` must be an object or null",
            ));
        }
    };
    let mut body = rest;
    let (mut failed, mut error) = (false, None);
    if let Some((line, after)) = body.split_once('\n').or(Some((body, "")))
        && line.trim_start().starts_with('{')
        && let Ok(Value::Object(result)) = serde_json::from_str::<Value>(line.trim())
        && matches!(
            result.get("status").and_then(Value::as_str),
            Some("success" | "error" | "no_data")
        )
    {
        failed = result.get("status").and_then(Value::as_str) == Some("error");
        error = result
            .get("error")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .map(str::to_string);
        body = after;
    }
    if let Some(after) = body.strip_prefix("stdout:") {
        body = after.strip_prefix('\n').unwrap_or(after);
    }
    Ok(MockOutput {
        file: path.to_path_buf(),
        toolset,
        tool_name,
        match_params,
        failed,
        error,
        output: body.to_string(),
    })
}

/// The cases of `suite`, in name order: its subfolders that hold a `test_case.yaml`.
/// Every broken case is reported, not only the first.
pub fn load_suite(suite: &Path) -> Result<Vec<EvalCase>, Vec<CaseError>> {
    let entries = std::fs::read_dir(suite).map_err(|e| vec![bad(suite, e.to_string())])?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("test_case.yaml").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(vec![bad(
            suite,
            "no case here (a case is a folder with a test_case.yaml)",
        )]);
    }
    let (mut cases, mut errors) = (Vec::new(), Vec::new());
    for d in dirs {
        match EvalCase::load(&d) {
            Ok(c) => cases.extend(c),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_files_in_both_shapes() {
        let p = Path::new("m.txt");
        let old = parse_mock(
            p,
            "{\"toolset_name\": \"kubernetes/core\", \"tool_name\": \"kubectl_describe\", \"match_params\": {\"name\": \"api\", \"namespace\": null}}\nName: api\nStatus: OOMKilled\n",
        )
        .unwrap();
        assert_eq!(old.tool_name, "kubectl_describe");
        assert_eq!(old.output, "Name: api\nStatus: OOMKilled\n");
        assert!(!old.failed);
        let new = parse_mock(
            p,
            "{\"toolset_name\": \"t\", \"tool_name\": \"fetch\", \"match_params\": null}\n{\"status\": \"error\", \"error\": \"403\", \"return_code\": 1, \"params\": {}}\nstdout:\nforbidden\n",
        )
        .unwrap();
        assert!(new.failed && new.match_params.is_none());
        assert_eq!(new.error.as_deref(), Some("403"));
        assert_eq!(new.output, "forbidden\n");
        for (text, says) in [
            ("not json\nx", "line 1 must be the JSON header"),
            ("{\"toolset_name\": \"t\"}\nx", "`tool_name`"),
            (
                "{\"tool_name\": \"t\", \"match_params\": 3}\nx",
                "`match_params` must be",
            ),
        ] {
            let e = parse_mock(p, text).unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn holmesgpt_cases_load_as_holmesgpt_runs_them() {
        let suite = tempfile::tempdir().unwrap();
        let ask = suite.path().join("01_ask");
        std::fs::create_dir_all(ask.join("conversation_history")).unwrap();
        std::fs::write(
            ask.join("test_case.yaml"),
            "user_prompt:\n  - How many pods run?\n  - Count the pods.\nexpected_output: [\"3 pods\"]\nretrieval_context: [x]\ngenerate_mocks: false\nconversation_history: [{role: user, content: ignored}]\n",
        )
        .unwrap();
        std::fs::write(ask.join("conversation_history/01_user.md"), "hi").unwrap();
        std::fs::write(ask.join("conversation_history/02_assistant.md"), "hello").unwrap();
        std::fs::write(ask.join("notes.txt"), "not a mock\n").unwrap();
        std::fs::write(
            ask.join("kubectl_get.txt"),
            "{\"toolset_name\": \"k8s\", \"tool_name\": \"kubectl_get\", \"match_params\": {\"kind\": \"*\"}}\n{\"status\": \"degraded\", \"pods\": 3}\n",
        )
        .unwrap();
        let inv = suite.path().join("02_investigate");
        std::fs::create_dir_all(&inv).unwrap();
        std::fs::write(inv.join("test_case.yaml"), "expected_output: [x]\n").unwrap();
        std::fs::write(inv.join("investigate_request.json"), "{}").unwrap();
        let cases = load_suite(suite.path()).unwrap();
        assert_eq!(
            cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["01_ask[0]", "01_ask[1]", "02_investigate"]
        );
        let c = &cases[1];
        assert_eq!(c.user_prompt, "Count the pods.");
        assert_eq!(
            c.conversation_history,
            vec![
                HistoryMessage {
                    role: "user".into(),
                    content: "hi".into()
                },
                HistoryMessage {
                    role: "assistant".into(),
                    content: "hello".into()
                },
            ]
        );
        assert_eq!(c.mocks.len(), 1);
        // A raw output whose first line has a `status` that is not a result's stays output.
        assert!(c.mocks[0].output.starts_with("{\"status\": \"degraded\""));
        assert!(
            c.warnings.iter().any(|w| w.contains("notes.txt")),
            "{:?}",
            c.warnings
        );
        assert!(
            cases[2]
                .skip
                .as_deref()
                .is_some_and(|s| s.contains("investigate"))
        );
        // A typo of a field we read is still an error.
        std::fs::write(
            ask.join("test_case.yaml"),
            "user_prompt: hi\nexpected_outptu: [x]\n",
        )
        .unwrap();
        let e = EvalCase::load(&ask).unwrap_err();
        assert!(
            e.to_string().contains("unknown field `expected_outptu`"),
            "{e}"
        );
    }

    #[test]
    fn include_files_stay_in_the_case() {
        let dir = Path::new("/suite/01");
        assert_eq!(inside(dir, "logs/a.log"), Some(dir.join("logs/a.log")));
        assert_eq!(inside(dir, "../02/secret"), None);
        assert_eq!(inside(dir, "/etc/passwd"), None);
        assert_eq!(inside(dir, ""), None);
    }
}
