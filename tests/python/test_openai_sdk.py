"""The official OpenAI Python SDK against a running tollgate.

A plain script, run by tests/python_sdk/main.rs with the venv that scripts/test.sh prepares.
It needs TOLLGATE_BASE_URL (the gateway, without /v1) and TOLLGATE_KEY (a tollgate API key of
a project that can reach OpenAI's gpt-4o-mini). The upstream is a mock whose answers are the
constants below (they mirror tests/python_sdk/main.rs). Exits 0 only if every check passes.
"""

import json
import os
import sys

import openai
from openai import OpenAI

MODEL = "gpt-4o-mini"

# What the mock upstream answers (see tests/python_sdk/main.rs).
TEXT = "Hello from the mock"
TEXT_USAGE = (12, 4)
STREAM_TEXT = "Hello from the stream"
STREAM_USAGE = (7, 3)
TOOL_NAME = "get_weather"
TOOL_ARGS = {"city": "Paris"}
TOOL_USAGE = (20, 8)

MESSAGES = [{"role": "user", "content": "Say hi"}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def check_usage(usage, expected, what):
    prompt, completion = expected
    assert usage is not None, f"{what}: no usage in the answer"
    got = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
    assert got == (prompt, completion, prompt + completion), (
        f"{what}: usage (prompt, completion, total) is {got}, "
        f"expected {(prompt, completion, prompt + completion)}"
    )


def chat(client):
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert r.object == "chat.completion", f"chat: object is {r.object!r}"
    assert len(r.choices) == 1, f"chat: {len(r.choices)} choices, expected 1"
    content = r.choices[0].message.content
    assert content == TEXT, f"chat: content is {content!r}, expected {TEXT!r}"
    assert r.choices[0].finish_reason == "stop", (
        f"chat: finish_reason is {r.choices[0].finish_reason!r}"
    )
    check_usage(r.usage, TEXT_USAGE, "chat")
    return f"content {content!r}, usage {r.usage.prompt_tokens}+{r.usage.completion_tokens}"


def stream(client):
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks, "stream: no chunks"
    for c in chunks:
        assert c.object == "chat.completion.chunk", f"stream: chunk object is {c.object!r}"
    text = "".join(
        choice.delta.content or "" for c in chunks for choice in c.choices
    )
    assert text == STREAM_TEXT, f"stream: content is {text!r}, expected {STREAM_TEXT!r}"
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["stop"], f"stream: finish reasons {finishes!r}, expected ['stop']"
    last = chunks[-1]
    assert last.choices == [], f"stream: the last chunk has choices {last.choices!r}"
    check_usage(last.usage, STREAM_USAGE, "stream (last chunk)")
    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1, f"stream: {len(with_usage)} chunks carry usage, expected 1"
    return f"{len(chunks)} chunks, content {text!r}, usage in the last chunk"


def tools(client):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", (
        f"tools: finish_reason is {choice.finish_reason!r}, expected 'tool_calls'"
    )
    calls = choice.message.tool_calls
    assert calls, f"tools: no tool_calls in {choice.message!r}"
    call = calls[0]
    assert call.type == "function", f"tools: call type is {call.type!r}"
    assert call.function.name == TOOL_NAME, (
        f"tools: function name is {call.function.name!r}, expected {TOOL_NAME!r}"
    )
    try:
        args = json.loads(call.function.arguments)
    except ValueError as e:
        raise AssertionError(
            f"tools: arguments are not JSON: {call.function.arguments!r} ({e})"
        ) from e
    assert args == TOOL_ARGS, f"tools: arguments are {args!r}, expected {TOOL_ARGS!r}"
    check_usage(r.usage, TOOL_USAGE, "tools")
    return f"{call.function.name}({call.function.arguments}), id {call.id}"


def models(client):
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids, f"models: {MODEL!r} not in the list {ids!r}"
    m = client.models.retrieve(MODEL)
    assert m.id == MODEL, f"models: retrieve gave id {m.id!r}, expected {MODEL!r}"
    assert m.object == "model", f"models: retrieve gave object {m.object!r}"
    return f"{len(ids)} listed, {MODEL} among them; retrieve owned_by {m.owned_by!r}"


def errors(client, base_url):
    try:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    except openai.NotFoundError as e:
        assert e.status_code == 404, f"errors: status {e.status_code}, expected 404"
        assert isinstance(e.body, dict), f"errors: body is not an object: {e.body!r}"
        assert e.body.get("code") == "model_not_found", (
            f"errors: body code is {e.body.get('code')!r}, expected 'model_not_found' ({e.body!r})"
        )
        assert e.code == "model_not_found", f"errors: e.code is {e.code!r}"
        not_found = f"NotFoundError 404 {e.code}"
    except openai.APIError as e:
        raise AssertionError(f"errors: unknown model raised {type(e).__name__}: {e}") from e
    else:
        raise AssertionError("errors: an unknown model did not raise")

    wrong = OpenAI(base_url=base_url, api_key="sk-tg-wrong", max_retries=0)
    try:
        wrong.chat.completions.create(model=MODEL, messages=MESSAGES)
    except openai.AuthenticationError as e:
        assert e.status_code == 401, f"errors: wrong key gave status {e.status_code}"
        unauthorized = f"AuthenticationError 401 {e.code}"
    except openai.APIError as e:
        raise AssertionError(f"errors: a wrong key raised {type(e).__name__}: {e}") from e
    else:
        raise AssertionError("errors: a wrong key did not raise")
    return f"{not_found}; wrong key: {unauthorized}"


def limit(base_url):
    # The SDK's default retries (two, with back-off, on a 429): the gateway's
    # `x-should-retry: false` on a spend-limit refusal must stop them (the test counts the
    # attempts in the usage log).
    limited = OpenAI(base_url=base_url, api_key=os.environ["TOLLGATE_LIMITED_KEY"])
    try:
        limited.chat.completions.create(model=MODEL, messages=MESSAGES)
    except openai.RateLimitError as e:
        assert e.status_code == 429, f"limit: status {e.status_code}"
        assert e.code == "usage_limit_exceeded", f"limit: code {e.code!r}"
        assert e.response.headers.get("x-should-retry") == "false", (
            f"limit: x-should-retry is {e.response.headers.get('x-should-retry')!r}"
        )
        message = e.body.get("message", "") if isinstance(e.body, dict) else ""
        assert "$0.00002 " in message, f"limit: the amount is not exact in {message!r}"
        return f"RateLimitError 429 {e.code}, not retried"
    except openai.APIError as e:
        raise AssertionError(f"limit: raised {type(e).__name__}: {e}") from e
    raise AssertionError("limit: a request past the limit did not raise")


def main():
    base_url = os.environ["TOLLGATE_BASE_URL"].rstrip("/") + "/v1"
    client = OpenAI(base_url=base_url, api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
    print(f"openai {openai.__version__} against {base_url}")
    checks = [
        ("chat", lambda: chat(client)),
        ("stream", lambda: stream(client)),
        ("tools", lambda: tools(client)),
        ("models", lambda: models(client)),
        ("errors", lambda: errors(client, base_url)),
        ("limit", lambda: limit(base_url)),
    ]
    failed = 0
    for name, check in checks:
        try:
            detail = check()
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
        else:
            print(f"ok   {name}: {detail}")
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
