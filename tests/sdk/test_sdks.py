"""Google's and OpenAI's own SDKs against `codeassist emulator`: each call succeeds,
or fails with the SDK's own typed error where Google would fail."""

import os
import subprocess
import sys

import google.auth.transport.requests
import openai
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

MODEL = "gemini-3.8-flash"


def genai_client(emulator, version=None, key=None):
    options = types.HttpOptions(base_url=emulator.url, api_version=version)
    return genai.Client(api_key=key or emulator.credentials["api_key"], http_options=options)


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_genai_generates_streams_counts_lists_and_gets(emulator, version):
    client = genai_client(emulator, version)
    assert client.models.generate_content(model=MODEL, contents="hi").text == "Hello from the emulator."
    chunks = [chunk.text for chunk in client.models.generate_content_stream(model=MODEL, contents="hi")]
    assert "".join(chunks) == "Hello from the emulator." and len(chunks) == 4
    assert client.models.count_tokens(model=MODEL, contents="hello world").total_tokens > 0
    names = [model.name for model in client.models.list()]
    assert f"models/{MODEL}" in names and "models/gemini-2.5-flash" not in names
    assert client.models.get(model=MODEL).name == f"models/{MODEL}"
    paths = [request["path"] for request in emulator.requests()]
    assert f"/{version}/models/{MODEL}:generateContent" in paths


def test_genai_raises_its_typed_errors(emulator):
    client = genai_client(emulator)
    with pytest.raises(errors.ClientError) as retired:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert retired.value.code == 404 and retired.value.status == "NOT_FOUND"
    # The client is kept in a variable: the SDK closes its connections when it goes.
    wrong = genai_client(emulator, key="AQ.not-a-key")
    with pytest.raises(errors.ClientError) as bad_key:
        wrong.models.generate_content(model=MODEL, contents="hi")
    assert bad_key.value.code == 400
    # The SDK retries a 429 by itself: a client that does not, to see the error.
    once = genai.Client(
        api_key=emulator.credentials["api_key"],
        http_options=types.HttpOptions(
            base_url=emulator.url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    emulator.control("fault", {"model": MODEL, "kind": "capacity", "retry_after_secs": 30})
    with pytest.raises(errors.ClientError) as capacity:
        once.models.generate_content(model=MODEL, contents="hi")
    assert capacity.value.code == 429 and capacity.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(errors.ClientError) as thinking:
        client.models.generate_content(
            model="gemini-2.5-pro",
            contents="hi",
            config=types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_level="HIGH")
            ),
        )
    assert thinking.value.code == 400


def test_genai_function_calling_round_trip_keeps_signatures(emulator):
    client = genai_client(emulator)
    emulator.control("script", {"model": MODEL, "answers": [{
        "function_calls": [{"name": "weather", "args": {"city": "Paris"}},
                           {"name": "weather", "args": {"city": "Oslo"}}]}]})
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris and Oslo?")])
    first = client.models.generate_content(model=MODEL, contents=[question])
    calls = first.function_calls
    assert [call.args["city"] for call in calls] == ["Paris", "Oslo"]
    turn = first.candidates[0].content
    assert turn.parts[0].thought_signature, "the first call is signed"
    answers = types.Content(role="user", parts=[
        types.Part.from_function_response(name="weather", response={"temp": 12}),
        types.Part.from_function_response(name="weather", response={"temp": 3}),
    ])
    done = client.models.generate_content(model=MODEL, contents=[question, turn, answers])
    assert done.text == "Hello from the emulator."
    # History that lost the signature is refused, as Gemini 3 refuses it.
    turn.parts[0].thought_signature = None
    with pytest.raises(errors.ClientError) as refused:
        client.models.generate_content(model=MODEL, contents=[question, turn, answers])
    assert refused.value.code == 400 and "thought_signature" in refused.value.message


def openai_client(emulator, key=None):
    return openai.OpenAI(api_key=key or emulator.credentials["api_key"],
                         base_url=f"{emulator.url}/v1beta/openai/")


def test_openai_sdk_chats_streams_lists_and_raises(emulator):
    client = openai_client(emulator)
    messages = [{"role": "user", "content": "hi"}]
    reply = client.chat.completions.create(model=MODEL, messages=messages)
    assert reply.choices[0].message.content == "Hello from the emulator."
    stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello from the emulator."
    assert "models/gemini-2.5-pro" in [model.id for model in client.models.list()]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=messages, store=True)
    wrong = openai_client(emulator, key="wrong")
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_google_auth_gets_tokens_from_each_credential(emulator):
    request = google.auth.transport.requests.Request()
    key = service_account.Credentials.from_service_account_info(
        emulator.credentials["service_account_key"],
        scopes=["https://www.googleapis.com/auth/cloud-platform"],
    )
    key.refresh(request)
    assert key.token.startswith("ya29.")
    user = user_credentials.Credentials(
        token=None,
        refresh_token=emulator.credentials["refresh_token"],
        client_id=emulator.credentials["client_id"],
        client_secret=emulator.credentials["client_secret"],
        token_uri=f"{emulator.url}/token",
    )
    user.refresh(request)
    assert user.token.startswith("ya29.")
    # google-auth reads GCE_METADATA_HOST when it is imported: a process of its own,
    # started with the emulator as its metadata server (nothing reaches Google's).
    host = emulator.url.removeprefix("http://")
    code = (
        "import google.auth.transport.requests as t; from google.auth import compute_engine as c;"
        "i = c.Credentials(); i.refresh(t.Request()); print(i.token, i.service_account_email)"
    )
    env = {**os.environ, "GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    token, email = out.stdout.split()
    assert token.startswith("ya29.") and email.endswith(".iam.gserviceaccount.com")
