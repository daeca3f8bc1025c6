"""Application Default Credentials, side by side with Google's own google-auth.

Each set-up (environment variables and files in a fresh directory) is given to
google-auth (`google.auth.default()` in a fresh Python process, the oracle) and to
`codeassist status --json` / `codeassist token` (a fresh process too), both against
`codeassist emulator`. They must agree on the credential's type, the project and the
quota project, and on whether a token can be had; where they may not, the case says
which documented deviation (README, "Credentials you already have") it checks.
"""

import json
import os
import subprocess
import sys
import tempfile

import pytest

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
AUDIENCE = (
    "//iam.googleapis.com/projects/123456/locations/global/"
    "workloadIdentityPools/ci/providers/github"
)

ORACLE = r"""
import json, os, sys
import google.auth, google.auth.exceptions
import google.auth.transport.requests

GOOGLE_HOSTS = ("https://oauth2.googleapis.com", "https://sts.googleapis.com",
                "https://iamcredentials.googleapis.com")


class Request(google.auth.transport.requests.Request):
    # Google's hosts replaced by the emulator, as CODEASSIST_GOOGLE_BASE_URL does
    # for codeassist (google-auth always sends user refreshes to Google's token
    # endpoint, and impersonation to Google's IAM Credentials).
    def __call__(self, url, *args, **kwargs):
        for host in GOOGLE_HOSTS:
            if url.startswith(host):
                url = os.environ["EMULATOR_URL"] + url[len(host):]
        return super().__call__(url, *args, **kwargs)


KINDS = {
    "google.oauth2.credentials": "authorized_user",
    "google.oauth2.service_account": "service_account",
    "google.auth.identity_pool": "external_account",
    "google.auth.aws": "external_account",
    "google.auth.pluggable": "external_account",
    "google.auth.impersonated_credentials": "impersonated_service_account",
    "google.auth.compute_engine.credentials": "metadata",
}
try:
    credentials, project = google.auth.default(scopes=[sys.argv[1]])
except google.auth.exceptions.DefaultCredentialsError as error:
    print(json.dumps({"type": None, "project": None, "quota_project": None,
                      "error": str(error)[:300]}))
    sys.exit(0)
out = {
    "type": KINDS.get(type(credentials).__module__, type(credentials).__module__),
    "project": project,
    "quota_project": getattr(credentials, "quota_project_id", None),
}
if sys.argv[2] == "refresh":
    try:
        credentials.refresh(Request())
        out["token"] = bool(credentials.token)
    except Exception as error:
        out["token"] = False
        out["refresh_error"] = f"{type(error).__name__}: {error}"[:300]
print(json.dumps(out))
"""


class Setup:
    """A directory standing in for a machine: HOME, gcloud's directory, files."""

    def __init__(self, emulator, root):
        self.emulator = emulator
        self.root = root
        self.gcloud = os.path.join(root, "gcloud")
        os.makedirs(os.path.join(self.gcloud, "configurations"))
        self.env = {"NO_GCE_CHECK": "true"}

    def file(self, name, content):
        path = os.path.join(self.root, name)
        with open(path, "w") as handle:
            handle.write(content if isinstance(content, str) else json.dumps(content))
        return path

    def gcloud_file(self, content):
        path = os.path.join(self.gcloud, "application_default_credentials.json")
        with open(path, "w") as handle:
            json.dump(content, handle)

    def gcloud_project(self, project):
        with open(os.path.join(self.gcloud, "configurations", "config_default"), "w") as handle:
            handle.write(f"[core]\nproject = {project}\n")

    def environment(self):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": self.root,
            "CLOUDSDK_CONFIG": self.gcloud,
            "CODEASSIST_HOME": os.path.join(self.root, "codeassist"),
            "CODEASSIST_GOOGLE_BASE_URL": self.emulator.url,
            "EMULATOR_URL": self.emulator.url,
            "NO_COLOR": "1",
        }
        env.update(self.env)
        return env

    def oracle(self, refresh):
        done = subprocess.run(
            [sys.executable, "-c", ORACLE, CLOUD_PLATFORM, "refresh" if refresh else "load"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def codeassist(self, *args):
        binary = os.environ.get("CODEASSIST_BIN", "codeassist")
        return subprocess.run(
            [binary, *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def ours(self, refresh):
        status = self.codeassist("status", "--json")
        assert status.returncode == 0, status.stderr
        value = json.loads(status.stdout)
        source = value.get("source")
        kind = None
        if source:
            kind = "metadata" if source["kind"] == "metadata" else source["type"]
        out = {
            "type": kind,
            "project": value.get("project"),
            "quota_project": value.get("quota_project"),
        }
        if refresh:
            token = self.codeassist("token")
            out["token"] = token.returncode == 0 and bool(token.stdout.strip())
            out["token_error"] = token.stderr.strip()[-300:]
        return out


@pytest.fixture
def setup(emulator):
    with tempfile.TemporaryDirectory() as root:
        yield Setup(emulator, root)


def key(emulator):
    return emulator.credentials["service_account_key"]


def user(emulator, **extra):
    return {
        "type": "authorized_user",
        "client_id": emulator.credentials["client_id"],
        "client_secret": emulator.credentials["client_secret"],
        "refresh_token": emulator.credentials["refresh_token"],
        **extra,
    }


def external(emulator, credential_source, **extra):
    return {
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": f"{emulator.url}/v1/token",
        "credential_source": credential_source,
        **extra,
    }


def impersonation_url(emulator):
    email = emulator.credentials["service_account_email"]
    return f"{emulator.url}/v1/projects/-/serviceAccounts/{email}:generateAccessToken"


def agree(setup, refresh=False):
    """Both sides, which must agree; returns them for further checks. Ours runs first:
    google-auth may run gcloud, which rewrites gcloud's configuration files."""
    ours = setup.ours(refresh)
    theirs = setup.oracle(refresh)
    for field in ("type", "project", "quota_project"):
        assert ours[field] == theirs[field], (field, theirs, ours)
    if refresh:
        assert ours["token"] == theirs["token"], (
            theirs.get("refresh_error"),
            ours.get("token_error"),
        )
    return theirs, ours


def test_nothing_anywhere(setup):
    theirs, _ = agree(setup)
    assert theirs["type"] is None


def test_a_key_named_by_the_variable_and_its_project(setup, emulator):
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file("key.json", key(emulator))
    theirs, _ = agree(setup, refresh=True)
    assert theirs == {**theirs, "type": "service_account", "project": "emulator-project", "token": True}


@pytest.mark.parametrize(
    "variables, project",
    [
        ({"GOOGLE_CLOUD_PROJECT": "env-project"}, "env-project"),
        ({"GCLOUD_PROJECT": "legacy-project"}, "legacy-project"),
        ({"GOOGLE_CLOUD_PROJECT": "env-project", "GCLOUD_PROJECT": "legacy-project"}, "env-project"),
        # Set but empty: GCLOUD_PROJECT is not read, the key's own applies.
        ({"GOOGLE_CLOUD_PROJECT": "", "GCLOUD_PROJECT": "legacy-project"}, "emulator-project"),
    ],
)
def test_the_project_variables(setup, emulator, variables, project):
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file("key.json", key(emulator))
    setup.env.update(variables)
    theirs, _ = agree(setup)
    assert theirs["project"] == project


def test_the_quota_project_variable_applies_to_every_credential(setup, emulator):
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file("key.json", key(emulator))
    setup.env["GOOGLE_CLOUD_QUOTA_PROJECT"] = "billing-project"
    theirs, _ = agree(setup)
    assert theirs["quota_project"] == "billing-project"


def test_user_credentials_named_by_the_variable(setup, emulator):
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file(
        "user.json", user(emulator, quota_project_id="file-quota")
    )
    setup.gcloud_project("gcloud-project")
    theirs, _ = agree(setup, refresh=True)
    # Not gcloud's file: gcloud's configured project does not apply.
    assert (theirs["type"], theirs["project"], theirs["quota_project"]) == (
        "authorized_user",
        None,
        "file-quota",
    )


def test_a_gcloud_key_names_its_own_project(setup, emulator):
    setup.gcloud_file(key(emulator))
    setup.gcloud_project("gcloud-project")
    theirs, _ = agree(setup)
    assert theirs["project"] == "emulator-project"


def test_deviation_gcloud_user_credentials_take_gcloud_s_project_from_its_files(setup, emulator):
    setup.gcloud_file(user(emulator))
    setup.gcloud_project("gcloud-project")
    ours = setup.ours(False)
    theirs = setup.oracle(False)
    assert theirs["type"] == ours["type"] == "authorized_user"
    # codeassist reads gcloud's files; google-auth runs `gcloud config config-helper`,
    # which answers only where gcloud is installed and has an active account.
    assert ours["project"] == "gcloud-project"
    assert theirs["project"] in (None, "gcloud-project")


def test_the_variable_wins_over_gcloud(setup, emulator):
    setup.gcloud_file(user(emulator))
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file("key.json", key(emulator))
    theirs, _ = agree(setup)
    assert theirs["type"] == "service_account"


@pytest.mark.parametrize("value", ["   ", "missing.json"])
def test_a_blank_or_missing_file_is_an_error_not_a_fall_through(setup, emulator, value):
    setup.gcloud_file(user(emulator))
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = (
        value if value.strip() == "" else os.path.join(setup.root, value)
    )
    theirs, ours = agree(setup)
    assert theirs["type"] is None and ours["type"] is None


def test_the_metadata_server(setup, emulator):
    host = emulator.url.removeprefix("http://")
    del setup.env["NO_GCE_CHECK"]
    setup.env.update({"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host})
    theirs, _ = agree(setup, refresh=True)
    assert (theirs["type"], theirs["project"], theirs["token"]) == (
        "metadata",
        "emulator-project",
        True,
    )


def test_federation_from_a_file_with_impersonation(setup, emulator):
    subject = setup.file("subject-token", emulator.credentials["subject_token"])
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file(
        "wif.json",
        external(
            emulator,
            {"file": subject},
            service_account_impersonation_url=impersonation_url(emulator),
            quota_project_id="wif-quota",
        ),
    )
    # google-auth would ask Cloud Resource Manager for the pool's project (a
    # documented deviation): both are given the project.
    setup.env["GOOGLE_CLOUD_PROJECT"] = "wif-project"
    theirs, _ = agree(setup, refresh=True)
    assert theirs["type"] == "external_account" and theirs["token"] is True


def test_federation_from_a_url_as_the_emulator_hands_it_out(setup, emulator):
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file(
        "wif.json", emulator.credentials["external_account"]
    )
    setup.env["GOOGLE_CLOUD_PROJECT"] = "wif-project"
    theirs, _ = agree(setup, refresh=True)
    assert theirs["token"] is True


@pytest.mark.parametrize("keys_from", ["environment", "metadata service"])
def test_federation_from_aws(setup, emulator, keys_from):
    source = {
        "environment_id": "aws1",
        "region_url": f"{emulator.url}/latest/meta-data/placement/availability-zone",
        "url": f"{emulator.url}/latest/meta-data/iam/security-credentials",
        "imdsv2_session_token_url": f"{emulator.url}/latest/api/token",
        "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
    }
    file = external(emulator, source)
    file["subject_token_type"] = "urn:ietf:params:aws:token-type:aws4_request"
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file("aws.json", file)
    setup.env["GOOGLE_CLOUD_PROJECT"] = "wif-project"
    if keys_from == "environment":
        aws = emulator.credentials["aws"]
        setup.env.update(
            {
                "AWS_REGION": "eu-west-3",
                "AWS_ACCESS_KEY_ID": aws["access_key_id"],
                "AWS_SECRET_ACCESS_KEY": aws["secret_access_key"],
                "AWS_SESSION_TOKEN": aws["session_token"],
            }
        )
    theirs, _ = agree(setup, refresh=True)
    assert theirs["token"] is True


def test_federation_through_an_executable_only_when_allowed(setup, emulator):
    script = setup.file(
        "helper.sh",
        "#!/bin/sh\n"
        f"printf '{{\"version\": 1, \"success\": true, \"token_type\": \"urn:ietf:params:oauth:token-type:jwt\", "
        f"\"id_token\": \"{emulator.credentials['subject_token']}\", \"expiration_time\": 4102444800}}'\n",
    )
    os.chmod(script, 0o755)
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file(
        "exe.json", external(emulator, {"executable": {"command": script, "timeout_millis": 10000}})
    )
    setup.env["GOOGLE_CLOUD_PROJECT"] = "wif-project"
    theirs, _ = agree(setup, refresh=True)
    assert theirs["token"] is False
    setup.env["GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES"] = "1"
    theirs, _ = agree(setup, refresh=True)
    assert theirs["token"] is True


@pytest.mark.parametrize("source", ["user", "key"])
def test_an_impersonated_service_account(setup, emulator, source):
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file(
        "impersonated.json",
        {
            "type": "impersonated_service_account",
            "service_account_impersonation_url": impersonation_url(emulator),
            "delegates": [],
            "quota_project_id": "imp-quota",
            "source_credentials": user(emulator) if source == "user" else key(emulator),
        },
    )
    theirs, _ = agree(setup, refresh=True)
    assert (theirs["type"], theirs["quota_project"], theirs["token"]) == (
        "impersonated_service_account",
        "imp-quota",
        True,
    )


def test_deviation_a_foreign_token_url_is_refused_before_anything_is_sent(setup, emulator):
    subject = setup.file("subject-token", emulator.credentials["subject_token"])
    file = external(emulator, {"file": subject})
    file["token_url"] = "https://sts.example.invalid/v1/token"
    setup.env["GOOGLE_APPLICATION_CREDENTIALS"] = setup.file("wif.json", file)
    setup.env["GOOGLE_CLOUD_PROJECT"] = "wif-project"
    theirs, ours = setup.oracle(refresh=True), setup.ours(refresh=True)
    assert theirs["type"] == ours["type"] == "external_account"
    # google-auth sends the subject token there (and fails only because the host
    # does not resolve here); codeassist refuses to.
    assert theirs["token"] is False and ours["token"] is False
    assert "not one of Google's hosts" in ours["token_error"], ours
