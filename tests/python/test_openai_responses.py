"""The official OpenAI Python SDK's Responses API against a running tollgate (`/v1/responses`).

Run by tests/python_sdk/main.rs (`openai_responses_python_sdk`). Needs TOLLGATE_BASE_URL and
TOLLGATE_KEY. The upstreams are the mocks of tests/python_sdk (`upstreams`, `responses_upstream`):
an OpenAI model's request passes through to OpenAI's Responses API, an Anthropic model's becomes
a Messages request.
Exits 0 only if every check passes.
"""

import json
import os
import sys

import openai
from openai import OpenAI

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"
TEXT = {GPT: "Hello from the mock", CLAUDE: "Hello from Claude"}
STREAM = {GPT: "Hello from the stream", CLAUDE: "Hello from the Claude stream"}
TOOL_ANSWER = "It is sunny in Paris"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def plain(client, model):
    r = client.responses.create(model=model, instructions="Be brief.", input="Say hi",
                                max_output_tokens=64)
    assert r.object == "response" and r.status == "completed", f"{model}: {r!r}"
    assert r.output_text == TEXT[model], f"{model}: output_text {r.output_text!r}"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, f"{model}: {r.usage!r}"
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


def streamed(client, model):
    kinds, text, final = [], "", None
    for event in client.responses.create(model=model, input="Say hi", stream=True):
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert text == STREAM[model], f"{model} stream: {text!r}"
    assert final.output_text == STREAM[model], f"{model} stream: final {final.output_text!r}"
    assert final.usage.output_tokens > 0, f"{model} stream: {final.usage!r}"


def tools(client, model):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = client.responses.create(model=model, input=ask, tools=[WEATHER])
    calls = [o for o in r.output if o.type == "function_call"]
    assert len(calls) == 1, f"{model} tools: {r.output!r}"
    assert calls[0].name == "get_weather", calls[0]
    assert json.loads(calls[0].arguments) == {"city": "Paris"}, calls[0].arguments
    follow = ask + [o.model_dump(exclude_none=True) for o in r.output] + [
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 C, sunny"}
    ]
    r = client.responses.create(model=model, input=follow, tools=[WEATHER])
    assert r.output_text == TOOL_ANSWER, f"{model} tools: answer {r.output_text!r}"


def no_stored_responses(client):
    try:
        client.responses.create(model=GPT, input="Hi", previous_response_id="resp_123")
    except openai.BadRequestError as e:
        assert "stores no responses" in str(e), e
        return
    raise AssertionError("previous_response_id was accepted")


def main():
    client = OpenAI(base_url=os.environ["TOLLGATE_BASE_URL"] + "/v1",
                    api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
    checks = [(f"{what} ({model})", check, model)
              for model in (GPT, CLAUDE)
              for what, check in (("plain", plain), ("streamed", streamed), ("tools", tools))]
    failed = 0
    for name, check, model in checks:
        try:
            check(client, model)
            print(f"ok   {name}")
        except Exception as e:  # report every check, then fail
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    try:
        no_stored_responses(client)
        print("ok   previous_response_id refused")
    except Exception as e:
        failed += 1
        print(f"FAIL previous_response_id: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
