"""The naive baseline: what a plain script would do without ksync.

For each declared customer (in file order), ``GET /v1/customers/externalId=X``; then for
each one whose emails or phones differ, ``PUT /v1/customers/{id}`` with the full desired
array(s). One request at a time. A 429 is honoured by sleeping until ``Retry-After`` or
``x-ratelimit-reset`` (epoch seconds above 1e9, else seconds from now), then sending the
same request again.

    python -m bench.naive --url http://127.0.0.1:PORT --out result.json DIR [--max-seconds S]

Bounded: stops after ``--max-seconds`` (or ``--max-requests``) and says so in its result
(``complete: false``), so the caller can extrapolate from the sample. The result JSON has
per-request ``[epoch_seconds_when_answered, method, status]`` and a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader  # type: ignore[assignment]


class Stop(Exception):
    """The time or request budget of the sample is used up."""


class Naive:
    def __init__(self, url: str, key: str, max_seconds: float, max_requests: int) -> None:
        self.http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=30.0,
        )
        self.started = time.time()
        self.deadline = self.started + max_seconds
        self.max_requests = max_requests
        self.log: list[tuple[float, str, int]] = []
        self.slept = 0.0

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        while True:
            if time.time() >= self.deadline or len(self.log) >= self.max_requests:
                raise Stop
            content = None if body is None else json.dumps(body).encode()
            response = self.http.request(method, path, content=content)
            self.log.append((time.time(), method, response.status_code))
            if response.status_code != 429:
                return response
            wait = self._wait_for(response.headers)
            wait = min(wait, max(0.0, self.deadline - time.time()))
            self.slept += wait
            time.sleep(wait)

    @staticmethod
    def _wait_for(headers: httpx.Headers) -> float:
        if "retry-after" in headers:
            return max(0.0, float(headers["retry-after"]))
        reset = float(headers.get("x-ratelimit-reset", "1"))
        return max(0.0, reset - time.time()) if reset > 1e9 else reset


def desired_customers(paths: list[str]) -> list[dict[str, Any]]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        files += sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    customers: list[dict[str, Any]] = []
    for file in files:
        customers += yaml.load(file.read_text(encoding="utf-8"), Loader=Loader)["customers"]
    return customers


def _values(entries: list[Any], key: str) -> set[str]:
    return {str(e[key] if isinstance(e, dict) else e).strip().lower() for e in entries or []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.naive")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="emulator-key")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    parser.add_argument("--max-requests", type=int, default=10**9)
    args = parser.parse_args(argv)

    naive = Naive(args.url, args.key, args.max_seconds, args.max_requests)
    declared = desired_customers(args.paths)
    to_write: list[tuple[str, dict[str, Any]]] = []
    phase, got, put = "get", 0, 0
    try:
        for want in declared:
            path = f"/v1/customers/externalId={quote(want['externalId'], safe='')}"
            response = naive.request("GET", path)
            got += 1
            if response.status_code != 200:
                continue  # a create: not part of this workload
            have = response.json()["data"]
            body: dict[str, Any] = {}
            for field, key in (("emails", "email"), ("phones", "phone")):
                stored = _values(have["attributes"].get(field) or [], key)
                if field in want and _values(want[field], key) != stored:
                    body[field] = [
                        e if isinstance(e, dict) else {key: e, "type": "other"} for e in want[field]
                    ]
            if body:
                to_write.append((have["id"], body))
        phase = "put"
        for customer_id, body in to_write:
            naive.request("PUT", f"/v1/customers/{quote(customer_id, safe='')}", body)
            put += 1
        complete = True
    except Stop:
        complete = False
    finished = time.time()
    result = {
        "complete": complete,
        "phase": phase,
        "started": naive.started,
        "finished": finished,
        "seconds": finished - naive.started,
        "declared": len(declared),
        "gets_done": got,
        "puts_done": put,
        "changed_found": len(to_write),
        "requests": len(naive.log),
        "throttled": sum(1 for _, _, status in naive.log if status == 429),
        "slept": naive.slept,
        "log": naive.log,
    }
    args.out.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
