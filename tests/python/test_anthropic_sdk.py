"""The official Anthropic Python SDK against a running tollgate (`/v1/messages`).

Run by tests/python_sdk/main.rs (`anthropic_python_sdk`) with the venv that scripts/test.sh
prepares. Needs TOLLGATE_BASE_URL (the gateway, without /v1) and TOLLGATE_KEY. The upstreams
are mocks whose answers are the constants below (they mirror tests/python_sdk/main.rs): an
Anthropic model is passed to Anthropic's API, an OpenAI model is translated to chat
completions. Exits 0 only if every check passes.
"""

import os
import sys

import anthropic
from anthropic import Anthropic

CLAUDE = "claude-sonnet-4-5"
GPT = "gpt-4o-mini"

# What the mock upstreams answer (see tests/python_sdk/main.rs).
CLAUDE_TEXT = "Hello from Claude"
CLAUDE_STREAM = "Hello from the Claude stream"
GPT_TEXT = "Hello from the mock"
GPT_STREAM = "Hello from the stream"
TOOL_ANSWER = "It is sunny in Paris"

MESSAGES = [{"role": "user", "content": "Say hi"}]
WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def text_of(message):
    return "".join(b.text for b in message.content if b.type == "text")


def create(client, model, expected):
    m = client.messages.create(model=model, max_tokens=64, messages=MESSAGES)
    assert m.type == "message" and m.role == "assistant", f"{model}: {m!r}"
    assert text_of(m) == expected, f"{model}: text is {text_of(m)!r}, expected {expected!r}"
    assert m.stop_reason == "end_turn", f"{model}: stop_reason {m.stop_reason!r}"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0, f"{model}: usage {m.usage!r}"


def stream(client, model, expected):
    with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == expected, f"{model} stream: text is {text!r}, expected {expected!r}"
    assert text_of(final) == expected, f"{model} stream: final {final!r}"
    assert final.stop_reason == "end_turn", f"{model} stream: stop_reason {final.stop_reason!r}"
    assert final.usage.output_tokens > 0, f"{model} stream: usage {final.usage!r}"


def tools(client, model):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    m = client.messages.create(model=model, max_tokens=64, tools=[WEATHER], messages=ask)
    assert m.stop_reason == "tool_use", f"{model} tools: stop_reason {m.stop_reason!r}"
    calls = [b for b in m.content if b.type == "tool_use"]
    assert len(calls) == 1, f"{model} tools: {m.content!r}"
    assert calls[0].name == "get_weather" and calls[0].input == {"city": "Paris"}, calls[0]
    result = {"type": "tool_result", "tool_use_id": calls[0].id, "content": "18 C, sunny"}
    follow = ask + [
        {"role": "assistant", "content": [c.model_dump() for c in m.content]},
        {"role": "user", "content": [result]},
    ]
    m = client.messages.create(model=model, max_tokens=64, tools=[WEATHER], messages=follow)
    assert text_of(m) == TOOL_ANSWER, f"{model} tools: answer {text_of(m)!r}"


def wrong_key(base):
    client = Anthropic(base_url=base, api_key="tg-not-a-key", max_retries=0)
    try:
        client.messages.create(model=CLAUDE, max_tokens=8, messages=MESSAGES)
    except anthropic.AuthenticationError as e:
        assert e.status_code == 401, e.status_code
        assert e.body["type"] == "error", e.body
        assert e.body["error"]["type"] == "authentication_error", e.body
        return
    raise AssertionError("a wrong key was accepted")


def main():
    base = os.environ["TOLLGATE_BASE_URL"]
    client = Anthropic(base_url=base, api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
    checks = [
        ("create to an Anthropic model", lambda: create(client, CLAUDE, CLAUDE_TEXT)),
        ("stream from an Anthropic model", lambda: stream(client, CLAUDE, CLAUDE_STREAM)),
        ("create to an OpenAI model", lambda: create(client, GPT, GPT_TEXT)),
        ("stream from an OpenAI model", lambda: stream(client, GPT, GPT_STREAM)),
        ("tools with an Anthropic model", lambda: tools(client, CLAUDE)),
        ("tools with an OpenAI model", lambda: tools(client, GPT)),
        ("a wrong key", lambda: wrong_key(base)),
    ]
    failed = 0
    for name, check in checks:
        try:
            check()
            print(f"ok   {name}")
        except Exception as e:  # report every check, then fail
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
