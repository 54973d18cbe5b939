#!/usr/bin/env python3
"""The official `openai` Python client against the same local server as benches/providers.rs.

Usage: openai_client_bench.py BASE_URL STREAM_REPS REQUESTS
Prints one JSON object: stream_s (median seconds to parse the big stream), stream_bytes,
request_us (mean microseconds per small non-streamed request).
"""
import json
import statistics
import sys
import time

from openai import OpenAI

base_url, reps, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = OpenAI(base_url=base_url, api_key="bench", max_retries=0)
messages = [{"role": "user", "content": "INCIDENT-4711"}]

times = []
for _ in range(reps):
    t = time.perf_counter()
    text = []
    stream = client.chat.completions.create(model="big-stream", messages=messages, stream=True,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    times.append(time.perf_counter() - t)
    assert len("".join(text)) > 0

for _ in range(20):  # warm-up
    client.chat.completions.create(model="small", messages=messages)
t = time.perf_counter()
for _ in range(requests):
    r = client.chat.completions.create(model="small", messages=messages)
    assert r.choices[0].message.content == "ok"
request_us = (time.perf_counter() - t) / requests * 1e6
print(json.dumps({"stream_s": statistics.median(times), "request_us": request_us, "chars": len("".join(text))}))
