"""`codeassist serve` in front of `codeassist emulator`, called by the official
`openai`, `anthropic` and `google-genai` SDKs as any agent calls it."""

import base64
import concurrent.futures
import os
import subprocess
import tempfile

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

PRO = "gemini-3-pro-preview"
FLASH = "gemini-3.8-flash"
WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="session")
def gateway_url(emulator_process):
    binary = os.environ.get("CODEASSIST_BIN", "codeassist")
    with tempfile.TemporaryDirectory() as home:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "CODEASSIST_HOME": os.path.join(home, "codeassist"),
            "CLOUDSDK_CONFIG": os.path.join(home, "gcloud"),
            "NO_GCE_CHECK": "true",
            "CODEASSIST_GOOGLE_BASE_URL": emulator_process.url,
            "GEMINI_API_KEY": emulator_process.credentials["api_key"],
        }
        process = subprocess.Popen(
            [binary, "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), url
            yield url
        finally:
            process.terminate()
            assert process.wait(timeout=15) == 0


@pytest.fixture
def oai(gateway_url, emulator):
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="unused", max_retries=0)


@pytest.fixture
def claude(gateway_url, emulator):
    return anthropic.Anthropic(base_url=gateway_url, api_key="unused", max_retries=0)


def script(emulator, model, *answers):
    emulator.control("script", {"model": model, "answers": list(answers)})


def test_openai_text_and_stream_with_and_without_usage(oai):
    messages = [{"role": "user", "content": "hi"}]
    reply = oai.chat.completions.create(model=FLASH, messages=messages)
    assert reply.choices[0].message.content == "Hello from the emulator."
    assert reply.model == FLASH
    chunks = list(oai.chat.completions.create(model=FLASH, messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the emulator."
    assert all(c.usage is None for c in chunks)
    assert len({c.id for c in chunks}) == 1
    chunks = list(
        oai.chat.completions.create(
            model=FLASH, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_openai_tool_round_trip_keeps_signatures_even_when_the_client_drops_them(oai, emulator):
    usage = {"promptTokenCount": 40, "cachedContentTokenCount": 30, "candidatesTokenCount": 8,
             "thoughtsTokenCount": 12, "totalTokenCount": 60}
    script(emulator, PRO, {"thoughts": ["Two cities."], "usage": usage, "function_calls": [
        {"name": "weather", "args": {"city": "Paris"}}, {"name": "weather", "args": {"city": "Oslo"}}]})
    messages = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
    reply = oai.chat.completions.create(model=PRO, messages=messages, tools=[WEATHER], reasoning_effort="high")
    message = reply.choices[0].message
    assert reply.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in message.tool_calls] == ["weather", "weather"]
    assert message.tool_calls[0].model_extra["extra_content"]["google"]["thought_signature"]
    assert reply.usage.completion_tokens == 20
    assert reply.usage.completion_tokens_details.reasoning_tokens == 12
    assert reply.usage.prompt_tokens_details.cached_tokens == 30
    # A client that keeps only what it knows (ids, names, arguments).
    dropped = {"role": "assistant", "content": None, "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
        for c in message.tool_calls]}
    results = [{"role": "tool", "tool_call_id": c.id, "content": "sunny"} for c in message.tool_calls]
    final = oai.chat.completions.create(model=PRO, messages=messages + [dropped] + results, tools=[WEATHER])
    assert final.choices[0].message.content == "Hello from the emulator."


def test_openai_parallel_calls_stream_with_stable_indices_and_reasoning(oai, emulator):
    script(emulator, PRO, {"thoughts": ["Thinking."], "function_calls": [
        {"name": "weather", "args": {"city": "Paris"}}, {"name": "weather", "args": {"city": "Oslo"}},
        {"name": "weather", "args": {"city": "Rome"}}]})
    stream = oai.chat.completions.create(
        model=PRO, messages=[{"role": "user", "content": "three"}], tools=[WEATHER], stream=True,
        reasoning_effort="low")
    calls, reasoning, finish = {}, "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        for call in delta.tool_calls or []:
            calls.setdefault(call.index, "")
            calls[call.index] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert sorted(calls) == [0, 1, 2]
    assert [__import__("json").loads(calls[i])["city"] for i in range(3)] == ["Paris", "Oslo", "Rome"]
    assert reasoning == "Thinking."
    assert finish == "tool_calls"


def test_openai_json_schema_and_an_image(oai):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    reply = oai.chat.completions.create(
        model=FLASH,
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is it?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
    )
    assert reply.choices[0].message.content


def test_openai_errors_are_the_sdks_own(oai, emulator):
    # Capacity on the model asked: another answers, before the first byte.
    emulator.control("fault", {"model": PRO, "kind": "capacity", "retry_after_secs": 0.01, "times": 50})
    reply = oai.chat.completions.create(model=PRO, messages=[{"role": "user", "content": "hi"}])
    assert reply.model != PRO
    emulator.control("reset")
    emulator.control("fault", {"model": FLASH, "kind": "rate_limit", "retry_after_secs": 0.01, "times": 50})
    with pytest.raises(openai.RateLimitError) as raised:
        oai.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.response.headers["retry-after"] == "1"
    emulator.control("reset")
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "hi"}], logprobs=True)
    emulator.control("fault", {"kind": "mid_stream_capacity"})
    with pytest.raises(openai.APIError):
        for _ in oai.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "hi"}], stream=True):
            pass


def test_fifty_concurrent_streams(oai):
    def one(i):
        stream = oai.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": f"hi {i}"}], stream=True)
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(one, range(50)))
    assert answers == ["Hello from the emulator."] * 50


def test_anthropic_text_stream_tools_and_thinking(claude, emulator):
    reply = claude.messages.create(model=FLASH, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "Hello from the emulator."
    assert reply.stop_reason == "end_turn"
    with claude.messages.stream(model=FLASH, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
        assert "".join(stream.text_stream) == "Hello from the emulator."
    # Flash: Pro may be cooling down after another test's capacity errors (the
    # gateway remembers, as it should).
    script(emulator, FLASH, {"thoughts": ["Paris, then."], "function_calls": [{"name": "weather", "args": {"city": "Paris"}}]})
    tools = [{"name": "weather", "description": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    asked = [{"role": "user", "content": "Weather in Paris?"}]
    reply = claude.messages.create(model=FLASH, max_tokens=200, tools=tools, messages=asked,
                                   thinking={"type": "enabled", "budget_tokens": 2048})
    kinds = [block.type for block in reply.content]
    assert kinds == ["thinking", "tool_use"], kinds
    assert reply.content[0].signature
    assert reply.stop_reason == "tool_use"
    use = reply.content[1]
    history = asked + [{"role": "assistant", "content": reply.content},
                       {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}]
    final = claude.messages.create(model=FLASH, max_tokens=200, tools=tools, messages=history)
    assert final.content[0].text == "Hello from the emulator."
    count = claude.messages.count_tokens(model=FLASH, messages=asked, tools=tools)
    assert count.input_tokens > 0


def test_anthropic_errors_are_the_sdks_own(claude, gateway_url, emulator):
    emulator.control("fault", {"model": FLASH, "kind": "rate_limit", "retry_after_secs": 0.01, "times": 50})
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model=FLASH, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    emulator.control("reset")
    emulator.control("fault", {"kind": "mid_stream_capacity"})
    with pytest.raises(anthropic.APIStatusError):
        with claude.messages.stream(model=FLASH, max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
            for _ in stream.text_stream:
                pass


def test_google_genai_through_the_gateway(gateway_url):
    client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=gateway_url))
    reply = client.models.generate_content(model=FLASH, contents="hi")
    assert reply.text == "Hello from the emulator."
    text = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(model=FLASH, contents="hi"))
    assert text == "Hello from the emulator."
    assert client.models.count_tokens(model=FLASH, contents="hi").total_tokens > 0
    assert FLASH in [m.name.removeprefix("models/") for m in client.models.list()]
    v1 = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=gateway_url, api_version="v1"))
    assert v1.models.generate_content(model=FLASH, contents="hi").text == "Hello from the emulator."
    assert FLASH in [m.name.removeprefix("models/") for m in v1.models.list()]
    with pytest.raises(genai.errors.ClientError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert raised.value.code == 404
