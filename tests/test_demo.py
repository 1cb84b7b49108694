"""make demo, as a test: `ksync emulator` and the CLI as separate processes over loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_shows_the_three_changes_then_no_changes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first_plan, apply, last_plan = done.stdout.split("$ ksync ")[2:]
    assert "- email joe.old@example.com (work)" in first_plan  # two emails, keep one
    assert "- phone +15555550120 (home)\n    - phone +15555550121 (mobile)" in first_plan
    assert "+ create customer externalId=user-7" in first_plan  # the move
    assert "Plan: 1 to create, 3 to update, 1 unchanged." in first_plan
    assert apply.index("PUT /v1/customers/5f0000000000000000000003") < apply.index(
        "POST /v1/customers"
    )
    assert "Apply complete: 4 writes sent, 0 failed, 0 not sent." in apply
    assert "Verified: 4 of 4 written customers match the plan." in apply
    assert "No changes. Kustomer matches the files (5 customers checked)." in last_plan
    assert "(exit 0)" in last_plan
