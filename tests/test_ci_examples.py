"""The CI examples and the pre-commit hook run as a new user would copy them: every
ainas-provision command they contain runs against the embedded sandbox, in their order."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ainas_provision.plan.plan import Plan
from ainas_provision.state.keys import create_key_file
from tests.conftest import REPO, copy_example
from tests.pg_server import OPERATOR_PASSWORD

BIN = Path(sys.executable).parent


def commands(ci_file: Path) -> list[str]:
    """The ainas-provision command lines of a CI file, in file order."""
    data = yaml.safe_load(ci_file.read_text(encoding="utf-8"))
    lines: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("run", "script") and isinstance(value, str | list):
                    scripts = value if isinstance(value, list) else [value]
                    for script in scripts:
                        # the command itself: what follows `||` is the CI's own bookkeeping
                        lines.extend(
                            line.strip().split(" || ")[0]
                            for line in str(script).splitlines()
                            if line.strip().startswith("ainas-provision")
                        )
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return lines


@pytest.fixture
def repository(tmp_path) -> tuple[Path, dict]:
    """A manifest repository as the examples expect it (manifests/), and the CI environment
    (secrets as variables), with the embedded sandbox as the target."""
    copy_example("quickstart", tmp_path / "manifests")
    key_file = tmp_path / "state.key"
    create_key_file(key_file)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AINAS_")},
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AINAS_TARGET": f"sandbox:{tmp_path / 'ainas.sandbox.sqlite'}",
        "AINAS_STATE_KEY": key_file.read_text(encoding="ascii").strip(),
    }
    key_file.unlink()
    return tmp_path, env


def sh(line: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    "name",
    [
        "github-actions.yml",
        "gitlab-ci.yml",
        "github-actions-postgresql.yml",
        "gitlab-ci-postgresql.yml",
    ],
)
def test_ci_example_commands_run_against_the_sandbox(name, repository, request):
    root, env = repository
    postgresql = "postgresql" in name
    if postgresql:  # the state in a real server, reached as the example says: verify-full
        server = request.getfixturevalue("postgres_server")
        database = request.getfixturevalue("pg_database")
        env = {
            **env,
            "AINAS_STATE": f"postgresql://operator@localhost:{server.port}/{database}"
            "?sslmode=verify-full#tenant-1",
            "PGPASSWORD": OPERATOR_PASSWORD,
            "PGSSLROOTCERT": str(server.ca_file),
        }
    text = (REPO / "examples" / "ci" / name).read_text(encoding="utf-8")
    assert "|| echo" not in text  # a failed state push is never hidden
    lines = commands(REPO / "examples" / "ci" / name)
    assert any(line.startswith("ainas-provision validate") for line in lines)
    assert any("--plan plan.json" in line for line in lines)
    assert any("--detailed-exitcode" in line for line in lines)
    review = [
        line for line in lines if " apply " not in f" {line} " and "--detailed-exitcode" not in line
    ]
    apply = [line for line in lines if line.startswith("ainas-provision apply")]
    drift = [line for line in lines if "--detailed-exitcode" in line]
    for line in review:  # pull/merge request: validate, plan, the markdown comment
        result = sh(line, root, env)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
    reviewed = (root / "plan.md").read_text(encoding="utf-8")
    assert reviewed.startswith("### ainas-provision plan")
    # the digest the reviewer read, handed to the apply job outside the artifact
    env = {**env, "PLAN_DIGEST": re.search(r"Plan digest: (sha256:[0-9a-f]{64})", reviewed)[1]}
    assert all('--expect-digest "$PLAN_DIGEST"' in line for line in apply)
    pristine = (root / "plan.json").read_text(encoding="utf-8")
    edited = Plan.load(root / "plan.json")
    edited.max_deletes = 9  # a well-formed edit, its own digest right: not the reviewed plan
    edited.save(root / "plan.json")
    for line in apply:
        result = sh(line, root, env)
        assert result.returncode == 1 and "not the reviewed" in result.stderr, result.stderr
    (root / "plan.json").write_text(pristine, encoding="utf-8")
    before = sh(drift[0], root, env)
    assert before.returncode == 2  # the drift check sees the unapplied changes
    for line in apply:  # main: apply the reviewed plan
        result = sh(line, root, env)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        assert "Apply complete" in result.stdout
    if postgresql:  # nothing to commit: the state is in the database
        assert not (root / "manifests" / "ainas.state.json").exists()
        assert "ainas-provision[postgresql]" in text and "git push" not in text
        state = server.query(database, "SELECT serial FROM ainas_provision.states")
        assert state == [(1,)]
    else:
        assert (root / "manifests" / "ainas.state.json").exists()  # what the state commit adds
    after = sh(drift[0], root, env)
    assert after.returncode == 0, after.stdout  # schedule: no drift
    stale = sh(apply[0], root, env)
    assert stale.returncode == 1 and "stale" in stale.stderr  # a reviewed plan applies once


def test_pre_commit_hook_runs_its_entry_with_its_args(tmp_path):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "ainas-validate")
    manifests = copy_example("quickstart", tmp_path / "repo" / "manifests")
    shutil.rmtree(manifests / "secrets")  # a hook runs without secrets
    # a manifest repository holds other YAML files: the hook reads only the manifests
    (tmp_path / "repo" / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(
        REPO / "examples" / "ci" / "github-actions.yml", tmp_path / "repo" / ".github" / "workflows"
    )
    (tmp_path / "repo" / ".pre-commit-config.yaml").write_text("repos: []\n", encoding="utf-8")
    assert re.match(hook["files"], "manifests/ainas.yaml")
    assert not re.match(hook["files"], ".github/workflows/github-actions.yml")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    line = " ".join([hook["entry"], *map(shlex.quote, hook["args"])])
    result = sh(line, tmp_path / "repo", env)
    assert result.returncode == 0, result.stderr
    broken = manifests / "ainas.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("postal_code: 123-4567", "postal_code: 1234567"),
        encoding="utf-8",
    )
    result = sh(line, tmp_path / "repo", env)
    assert result.returncode == 1 and "postal_code" in result.stderr


@pytest.mark.parametrize(
    "name",
    [
        "github-actions.yml",
        "gitlab-ci.yml",
        "github-actions-postgresql.yml",
        "gitlab-ci-postgresql.yml",
    ],
)
def test_ci_examples_install_a_pinned_commit_and_never_hide_a_failed_state_push(name):
    text = (REPO / "examples" / "ci" / name).read_text(encoding="utf-8")
    assert 'AINAS_PROVISION: "git+https://github.com/<owner>/ainas-provision@<commit>"' in text
    assert re.search(r'pip install "ainas-provision(\[postgresql\])? @ \$AINAS_PROVISION"', text)
    assert not re.search(r"pip install '?ainas-provision", text)
    assert "|| echo" not in text
    assert "after_script:" not in text  # its failures pass unnoticed in GitLab


def test_readme_pre_commit_snippet_matches_the_hook():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("**pre-commit**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = yaml.safe_load(snippet)
    hook = config["repos"][0]["hooks"][0]
    assert config["repos"][0]["rev"] == "<commit>"  # no tag exists: pin a commit
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] in {h["id"] for h in hooks}
