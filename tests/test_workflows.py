"""The GitHub Actions examples and the pre-commit hook: valid, safe with secrets, and running
the documented commands with flags the CLI really has.

The shell steps that interpret ksync's exit code are run with a stand-in ``ksync``, so
"exit 2 means changes" is checked by running it, not by reading it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ksync.cli import build_parser

ROOT = Path(__file__).parent.parent
WORKFLOWS = ROOT / "examples" / "github-actions"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
SECRETS = {"KUSTOMER_API_KEY", "KUSTOMER_ORG"}


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def step(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = (s for s in steps(workflow) if s.get("name") == name)
    return found


def scripts(workflow: dict[str, Any]) -> list[str]:
    return [s["run"] for s in steps(workflow) if "run" in s]


def ksync_commands(workflow: dict[str, Any]) -> list[str]:
    """Every ksync command line of the workflow's shell steps, in order."""
    return [
        line.strip()
        for script in scripts(workflow)
        for line in script.splitlines()
        if line.strip().startswith("ksync ")
    ]


def test_the_examples_are_the_three_workflows() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["apply.yml", "drift.yml", "plan.yml"]


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_workflow_is_well_formed(name: str) -> None:
    workflow = load(name)
    assert isinstance(workflow["name"], str) and workflow["on"]
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest"
        uses = [s["uses"] for s in job["steps"] if "uses" in s]
        assert uses[:2] == ["actions/checkout@v4", "actions/setup-python@v5"]
        assert all("uses" in s or "run" in s for s in job["steps"])
    assert "pip install ." in scripts(workflow)


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_credentials_come_only_from_the_two_secrets(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert set(re.findall(r"secrets\.(\w+)", text)) == SECRETS
    workflow = load(name)
    for place in [workflow, *workflow["jobs"].values(), *steps(workflow)]:
        env = place.get("env", {})
        for variable in SECRETS & set(env):
            assert env[variable] == f"${{{{ secrets.{variable} }}}}"
    for script in scripts(workflow):
        # Never in a script: no echo of the key, no expression pasted into the shell.
        assert "KUSTOMER_API_KEY" not in script and "${{" not in script
        assert "set -x" not in script and "printenv" not in script and "env |" not in script
    # Only the steps that talk to Kustomer get the key.
    with_key = [s.get("name") for s in steps(workflow) if "KUSTOMER_API_KEY" in s.get("env", {})]
    talking = [
        s.get("name") for s in steps(workflow) if re.search(r"ksync (plan|apply)", s.get("run", ""))
    ]
    assert with_key == talking and talking


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_every_ksync_command_parses(name: str) -> None:
    parser = build_parser()
    for command in ksync_commands(load(name)):
        words = shlex.split(command.split(">")[0])
        assert words[0] == "ksync"
        args = parser.parse_args(words[1:])  # exits on an unknown flag
        assert args.command in ("validate", "plan", "apply")


def test_plan_workflow() -> None:
    workflow = load("plan.yml")
    assert workflow["on"] == {"pull_request": {"paths": ["contacts/**"]}}
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert ksync_commands(workflow) == [
        "ksync validate contacts/",
        "ksync plan contacts/ --format markdown --redact --detailed-exitcode > plan.md",
    ]
    comment = step(workflow, "Post the plan as a pull request comment")
    assert comment["uses"] == "actions/github-script@v7"
    assert "plan.md" in comment["with"]["script"]
    assert "createComment" in comment["with"]["script"]
    assert comment["if"] == "always() && steps.plan.outputs.exitcode != ''"


def test_apply_workflow() -> None:
    workflow = load("apply.yml")
    assert workflow["on"]["push"] == {"branches": ["main"], "paths": ["contacts/**"]}
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["concurrency"] == {"group": "ksync-apply", "cancel-in-progress": False}
    assert workflow["permissions"] == {"contents": "read"}
    assert ksync_commands(workflow) == [
        "ksync validate contacts/",
        "ksync plan contacts/ --out plan.json --redact",
        "ksync apply --plan plan.json --redact --force",
        "ksync apply --plan plan.json --redact",
    ]
    assert step(workflow, "Apply the saved plan")["env"]["FORCE"] == "${{ inputs.force }}"


def test_drift_workflow() -> None:
    workflow = load("drift.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (schedule,) = workflow["on"]["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert workflow["concurrency"]["group"] != load("apply.yml")["concurrency"]["group"]
    assert ksync_commands(workflow) == [
        "ksync plan contacts/ --detailed-exitcode --redact --format markdown > drift.md"
    ]
    issue = step(workflow, "Open or update the drift issue")
    fail = step(workflow, "Fail because Kustomer has drifted from contacts/")
    assert issue["if"] == fail["if"] == "steps.drift.outputs.exitcode == '2'"
    assert "issues.create" in issue["with"]["script"]
    assert fail["run"].rstrip().endswith("exit 1")
    assert workflow["permissions"]["issues"] == "write"


@pytest.mark.parametrize(
    ("name", "step_id", "output"),
    [("plan.yml", "plan", "plan.md"), ("drift.yml", "drift", "drift.md")],
)
@pytest.mark.parametrize(("ksync_exit", "step_exit"), [(0, 0), (2, 0), (1, 1), (3, 3)])
def test_exit_2_means_changes_not_failure(
    tmp_path: Path, name: str, step_id: str, output: str, ksync_exit: int, step_exit: int
) -> None:
    (run,) = (s["run"] for s in steps(load(name)) if s.get("id") == step_id)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ksync"
    fake.write_text('#!/bin/sh\necho "fake plan: $*"\nexit "$FAKE_EXIT"\n', encoding="utf-8")
    fake.chmod(0o755)
    github_output = tmp_path / "github_output"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_EXIT": str(ksync_exit),
        "GITHUB_OUTPUT": str(github_output),
    }
    # GitHub runs `run:` steps with bash -e {0}.
    done = subprocess.run(
        ["bash", "-e", "-c", run],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == step_exit, done
    assert github_output.read_text(encoding="utf-8") == f"exitcode={ksync_exit}\n"
    assert (tmp_path / output).read_text(encoding="utf-8").startswith("fake plan: plan contacts/")
    assert "fake plan" in done.stdout  # the plan is also in the job's log


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["id"] == "ksync-validate"
    assert hook["entry"] == "ksync validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    for path in ("contacts/team.yaml", "contacts/a/b.yml"):
        assert files.search(path), path
    for path in ("contacts/team.json", "README.md", "x.yaml.bak"):
        assert not files.search(path), path
    # pre-commit appends the staged files to the entry.
    args = build_parser().parse_args([*hook["entry"].split()[1:], "contacts/team.yaml"])
    assert (args.command, args.paths) == ("validate", ["contacts/team.yaml"])
    # Users are told to narrow `files:` to their contact files.
    assert "files: ^contacts/" in HOOKS.read_text(encoding="utf-8")
