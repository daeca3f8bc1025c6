"""Starts `codeassist emulator` once for the session, as any host would."""

import json
import os
import subprocess
import urllib.request

import pytest


def _call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


class Emulator:
    """The running emulator: its base URL, credentials and control API."""

    def __init__(self, url):
        self.url = url
        self.credentials = _call(f"{url}/_emulator/credentials")

    def control(self, what, body=None):
        return _call(f"{self.url}/_emulator/{what}", "POST", body or {})

    def requests(self):
        return _call(f"{self.url}/_emulator/requests")["requests"]


@pytest.fixture(scope="session")
def emulator_process():
    binary = os.environ.get("CODEASSIST_BIN", "codeassist")
    process = subprocess.Popen(
        [binary, "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield Emulator(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def emulator(emulator_process):
    emulator_process.control("reset")
    return emulator_process
