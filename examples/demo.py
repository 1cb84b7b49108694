"""make demo: start the emulator seeded from examples/org.json, then plan, apply, plan.

Every step is the real `ksync` command line; the emulator is a real HTTP server on
loopback, stopped at the end whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEY = "demo-key"


def main() -> int:
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ksync",
            "emulator",
            "--port",
            "0",
            "--api-key",
            KEY,
            "--seed",
            str(HERE / "org.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline().strip()
        if not line.startswith("ksync emulator listening on "):
            print(f"demo: the emulator did not start: {line!r}", file=sys.stderr)
            return 1
        url = line.rsplit(" ", 1)[1]
        print(f"$ ksync emulator --seed examples/org.json   # {url}\n", flush=True)
        env = {**os.environ, "KUSTOMER_API_URL": url, "KUSTOMER_API_KEY": KEY}
        for args in (["plan"], ["apply", "--auto-approve"], ["plan", "--detailed-exitcode"]):
            print(f"$ ksync {' '.join(args)} examples/contacts", flush=True)
            code = subprocess.call(
                [sys.executable, "-m", "ksync", *args, "examples/contacts"],
                env=env,
                cwd=HERE.parent,
            )
            print(f"(exit {code})\n", flush=True)
            if code != 0:
                return code
        return 0
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
