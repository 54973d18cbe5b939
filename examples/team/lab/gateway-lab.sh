#!/usr/bin/env bash
# The LLM gateway of the prompt-cache regression (issue 17b), built in WORKSPACE:
#
#   gateway-lab.sh WORKSPACE
#
#   repos/llm-gateway       its git history over four weeks: ordinary commits and one pull
#                           request (#42) that moves the tenant context ahead of the policies,
#                           so every answer prompt stops sharing the policies' tokens;
#                           `origin` is a bare repository in remote/, to see nothing is pushed.
#   data/deploys.jsonl      the deploy history (version, commit, deployed_at).
#   data/requests.jsonl     two weeks of requests (2026-11-02 to 11-15, one an hour): model,
#                           prompt and cached tokens, time, deploy version. Produced by
#                           `sre-lab gateway-traffic` (SRE_LAB, else on PATH): each request is
#                           built by the version live at its time and sent through sre-core's
#                           OpenAI provider to a local server that caches prompt prefixes.
#   data/bodies/NNNN.json   the body of request req-NNNN as the server received it.
set -euo pipefail
ws="${1:?usage: $0 WORKSPACE}"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=git-repo.sh
. "$here/git-repo.sh"
src="$here/llm-gateway"
lab="${SRE_LAB:-sre-lab}"
[ ! -e "$ws/repos/llm-gateway" ] || { echo "$ws already holds a gateway lab" >&2; exit 2; }
mkdir -p "$ws/repos" "$ws/data" "$ws/remote"
ws="$(cd "$ws" && pwd)"
repo="$ws/repos/llm-gateway"
new_repo "$repo" "Gateway Bot" "gateway@example.com"
mkdir -p "$repo/gateway" "$repo/tests"

sha() { git -C "$repo" rev-parse HEAD; }

: >"$repo/gateway/__init__.py"
: >"$repo/tests/__init__.py"
cp "$src/sections.py" "$src/context.py" "$src/alerts.py" "$repo/gateway/"
cp "$src/prompt_before.py" "$repo/gateway/prompt.py"
cp "$src/test_prompt.py" "$repo/tests/test_prompt.py"
printf '# llm-gateway\n\nBuilds the prompts of the support assistant and routes them to the model provider.\nRun the tests with `python3 -m unittest discover -s tests -t .`.\n' >"$repo/README.md"
commit "$repo" "2026-10-20T10:00:00Z" "Ana Lima" "Gateway: prompt builder, tenant context and cache alert rules"
cp "$src/router.py" "$repo/gateway/router.py"
commit "$repo" "2026-10-27T15:30:00Z" "Ben Okafor" "Route requests to the provider with retries"
v170="$(sha)"
sed -i 's/RETRY_STATUSES = {429, 500, 503}/RETRY_STATUSES = {429, 500, 503, 529}/' "$repo/gateway/router.py"
commit "$repo" "2026-11-04T11:12:00Z" "Ben Okafor" "Retry 529 (overloaded) responses too"
v171="$(sha)"
sed -i 's/        response = client.post/        # The provider'\''s request id goes to our logs with each attempt.\n        response = client.post/' "$repo/gateway/router.py"
commit "$repo" "2026-11-06T09:40:00Z" "Chen Wu" "Log the provider's request id of each attempt"
git -C "$repo" checkout -q -b ana/context-first
cp "$src/prompt_after.py" "$repo/gateway/prompt.py"
commit "$repo" "2026-11-07T16:05:00Z" "Ana Lima" "Put the tenant context ahead of the policies"
git -C "$repo" checkout -q main
GIT_AUTHOR_DATE="2026-11-08T10:20:00Z" GIT_COMMITTER_DATE="2026-11-08T10:20:00Z" \
  git -C "$repo" merge -q --no-ff ana/context-first -m "Merge pull request #42 from ana/context-first

Put the tenant context ahead of the policies"
git -C "$repo" branch -q -D ana/context-first
sed -i 's/MAX_ATTEMPTS = 3/MAX_ATTEMPTS = 4/' "$repo/gateway/router.py"
commit "$repo" "2026-11-09T08:50:00Z" "Chen Wu" "Allow a fourth attempt"
v180="$(sha)"
printf '\n## Alerts\n\n`gateway/alerts.py` pages when a model'\''s prompt-cache hit rate falls below 50%%.\n' >>"$repo/README.md"
commit "$repo" "2026-11-11T13:00:00Z" "Ana Lima" "Document the cache alert"
v181="$(sha)"
for v in 1.7.0:$v170 1.7.1:$v171 1.8.0:$v180 1.8.1:$v181; do git -C "$repo" tag "v${v%%:*}" "${v#*:}"; done
git init -q --bare -b main "$ws/remote/llm-gateway.git"
git -C "$repo" remote add origin "$ws/remote/llm-gateway.git"
git -C "$repo" push -q origin main --tags

cat >"$ws/data/deploys.jsonl" <<JSON
{"version": "v1.7.0", "commit": "$v170", "deployed_at": "2026-10-28T10:00:00Z"}
{"version": "v1.7.1", "commit": "$v171", "deployed_at": "2026-11-05T10:00:00Z"}
{"version": "v1.8.0", "commit": "$v180", "deployed_at": "2026-11-09T14:00:00Z"}
{"version": "v1.8.1", "commit": "$v181", "deployed_at": "2026-11-12T11:00:00Z"}
JSON
python3 "$here/gateway_requests.py" 2026-11-02 14 >"$ws/data/incoming.jsonl"
"$lab" gateway-traffic --repo "$repo" --deploys "$ws/data/deploys.jsonl" \
  --requests "$ws/data/incoming.jsonl" --out "$ws/data"
rm "$ws/data/incoming.jsonl"
