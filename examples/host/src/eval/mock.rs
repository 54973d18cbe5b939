//! The tools a case's mock outputs name, offered to the agent under test: each answers a
//! call from the mock whose `match_params` the call's arguments satisfy, and says so
//! plainly when none does.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sre_core::{Tool, ToolAnnotations, ToolContext, ToolError, ToolOutput, ToolSpec};

use super::case::MockOutput;

/// One mocked tool: every mock output of the case for that tool name.
pub struct MockTool {
    spec: ToolSpec,
    mocks: Vec<MockOutput>,
}

/// The mocked tools of `mocks`, one per tool name, in name order.
pub fn mock_tools(mocks: &[MockOutput]) -> Vec<Arc<dyn Tool>> {
    let mut names: Vec<&str> = mocks.iter().map(|m| m.tool_name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let own: Vec<MockOutput> = mocks
                .iter()
                .filter(|m| m.tool_name == name)
                .cloned()
                .collect();
            Arc::new(MockTool::new(name, own)) as Arc<dyn Tool>
        })
        .collect()
}

impl MockTool {
    fn new(name: &str, mocks: Vec<MockOutput>) -> Self {
        // The parameters: every key any of its mocks matches on.
        let mut properties = Map::new();
        for m in &mocks {
            for key in m.match_params.iter().flat_map(|p| p.keys()) {
                properties.insert(
                    key.clone(),
                    json!({"description": format!("`{key}` of the call")}),
                );
            }
        }
        let toolset = mocks
            .first()
            .map(|m| m.toolset.clone())
            .filter(|t| !t.is_empty());
        let description = match toolset {
            Some(t) => format!("`{name}` of the `{t}` toolset."),
            None => format!("`{name}`."),
        };
        MockTool {
            spec: ToolSpec {
                name: name.to_string(),
                description,
                input_schema: json!({"type": "object", "properties": properties}),
            },
            mocks,
        }
    }

    /// The mock for `args`: the most specific one whose `match_params` the call
    /// satisfies, if any.
    fn answer(&self, args: &Map<String, Value>) -> Option<&MockOutput> {
        self.mocks
            .iter()
            .filter(|m| matches(m.match_params.as_ref(), args))
            .max_by_key(|m| {
                m.match_params.as_ref().map_or(0, |p| {
                    p.values().filter(|v| v.as_str() != Some("*")).count()
                })
            })
    }
}

/// Whether `args` satisfy `params`, by HolmesGPT's rules: `"*"` matches any value (or
/// none), `null` matches an absent or null argument, anything else must be equal (`"5"`
/// matches `5`).
fn matches(params: Option<&Map<String, Value>>, args: &Map<String, Value>) -> bool {
    let Some(params) = params else {
        return true;
    };
    params.iter().all(|(k, want)| match (want, args.get(k)) {
        (Value::String(w), _) if w == "*" => true,
        (Value::Null, None | Some(Value::Null)) => true,
        (Value::Null, Some(_)) | (_, None) => false,
        (want, Some(got)) => got == want || plain(got) == plain(want),
    })
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl Tool for MockTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn annotations(&self) -> ToolAnnotations {
        ToolAnnotations {
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: true,
        }
    }

    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let args = match input {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(ToolError::Invalid(format!(
                    "arguments of `{}` must be a JSON object, got {other}",
                    self.spec.name
                )));
            }
        };
        let Some(mock) = self.answer(&args) else {
            let known: Vec<String> = self
                .mocks
                .iter()
                .map(|m| {
                    m.match_params.as_ref().map_or("any arguments".into(), |p| {
                        Value::Object(p.clone()).to_string()
                    })
                })
                .collect();
            return Ok(ToolOutput::error(format!(
                "no recorded output of `{}` for {} (recorded: {})",
                self.spec.name,
                Value::Object(args),
                known.join("; ")
            )));
        };
        Ok(if mock.failed {
            let error = mock.error.clone().unwrap_or_else(|| "failed".into());
            ToolOutput::error(format!("{error}\n{}", mock.output))
        } else {
            ToolOutput::ok(mock.output.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock(params: Value, output: &str) -> MockOutput {
        MockOutput {
            file: "m.txt".into(),
            toolset: "kubernetes/core".into(),
            tool_name: "kubectl_logs".into(),
            match_params: params.as_object().cloned(),
            failed: false,
            error: None,
            output: output.into(),
        }
    }

    #[tokio::test]
    async fn calls_are_answered_by_the_most_specific_matching_mock() {
        let tools = mock_tools(&[
            mock(json!({"name": "*"}), "any pod"),
            mock(json!({"name": "api", "namespace": "prod"}), "api in prod"),
            mock(json!({"name": "api", "previous": true}), "api before"),
        ]);
        assert_eq!(tools.len(), 1);
        let t = &tools[0];
        let props = &t.spec().input_schema["properties"];
        assert!(props.get("namespace").is_some() && props.get("previous").is_some());
        let ctx = ToolContext::detached("c");
        let call = |v: Value| {
            let t = t.clone();
            let ctx = ctx.clone();
            async move { t.call(v, &ctx).await.unwrap() }
        };
        assert_eq!(
            call(json!({"name": "api", "namespace": "prod"}))
                .await
                .content,
            "api in prod"
        );
        assert_eq!(
            call(json!({"name": "api", "previous": "true"}))
                .await
                .content,
            "api before"
        );
        assert_eq!(call(json!({"name": "web"})).await.content, "any pod");
        // `null`: the argument must be absent (or null).
        let absent = mock_tools(&[mock(
            json!({"name": "api", "namespace": null}),
            "default ns",
        )]);
        assert_eq!(
            absent[0]
                .call(json!({"name": "api"}), &ctx)
                .await
                .unwrap()
                .content,
            "default ns"
        );
        assert!(
            absent[0]
                .call(json!({"name": "api", "namespace": "prod"}), &ctx)
                .await
                .unwrap()
                .is_error
        );
        let none = mock_tools(&[mock(json!({"name": "api"}), "x")]);
        let out = none[0].call(json!({"name": "db"}), &ctx).await.unwrap();
        assert!(out.is_error && out.content.contains("no recorded output of `kubectl_logs`"));
    }
}
