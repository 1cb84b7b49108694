"""The local cost of a large desired state, in a fresh process (so peak RSS is its own).

    python -m bench.localcost plan DIR --org N       # load + validate + read_live + plan
    python -m bench.localcost validate DIR           # `ksync validate DIR`, in-process

``plan``: the live state is "pre-read": the org's customer documents (as the emulator's
synthetic org renders them) are parsed with ``ksync.client.customer_from_document`` into
pages of 100 *before* the clock starts, and served by an in-memory reader, so
``ksync.live.read_live`` runs its real logic (auto strategy: list the org, answer the
look-ups from the listing) without HTTP. Timed (``time.process_time``, CPU seconds):
``ksync.config.load_desired`` (YAML, schema, duplicate and uniqueness checks),
``read_live`` and ``ksync.planner.plan``. Peak RSS is ``ru_maxrss`` of this process at
the end, and so includes the pre-read live state. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import time
from dataclasses import dataclass

from ksync.bulk import CustomerPage
from ksync.client import customer_from_document
from ksync.config import load_desired
from ksync.emulator.documents import render_resource
from ksync.emulator.synthetic import synthetic_customers
from ksync.live import PAGE_SIZE, ReadOptions, read_live
from ksync.model import ContactRef, LiveCustomer
from ksync.planner import plan as make_plan


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


@dataclass
class PreRead:
    """A CustomerReader answering from pages parsed beforehand; counts what it serves."""

    pages: list[tuple[LiveCustomer, ...]]
    total: int
    served: int = 0

    def list_page(
        self, page: int, page_size: int = PAGE_SIZE, region: str | None = None
    ) -> CustomerPage:
        self.served += 1
        customers = self.pages[page - 1]
        return CustomerPage(customers, self.total, len(self.pages), page < len(self.pages))

    def get_customer(self, customer_id: str, region: str | None = None) -> LiveCustomer | None:
        raise AssertionError("the auto strategy should list, not read one by one")

    def get_customer_by_external_id(
        self, external_id: str, region: str | None = None
    ) -> LiveCustomer | None:
        raise AssertionError("the auto strategy should list, not read one by one")

    def find_owner(self, ref: ContactRef) -> str | None:
        raise AssertionError("the auto strategy should answer look-ups from the listing")


def pre_read(org: int) -> PreRead:
    pages: list[tuple[LiveCustomer, ...]] = []
    current: list[LiveCustomer] = []
    for n, attributes in enumerate(synthetic_customers(org, "2026-01-01T00:00:00.000Z"), 1):
        current.append(customer_from_document(render_resource(f"c0{n:022x}", attributes)))
        if len(current) == PAGE_SIZE:
            pages.append(tuple(current))
            current = []
    if current:
        pages.append(tuple(current))
    return PreRead(pages, org)


def measure_plan(directory: str, org: int) -> dict[str, object]:
    rss_start = _rss_mb()
    wall0 = time.perf_counter()
    reader = pre_read(org)
    prepare = time.perf_counter() - wall0
    rss_live = _rss_mb()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    desired = load_desired([directory])
    cpu1 = time.process_time()
    live = read_live(reader, desired, ReadOptions("auto", parallelism=1))
    cpu2 = time.process_time()
    result = make_plan(desired, live)
    cpu3, wall3 = time.process_time(), time.perf_counter()
    assert not result.problems, result.problems[:3]
    return {
        "mode": "plan",
        "declared": len(desired.customers),
        "org": org,
        "changes": len(result.changes),
        "requests_planned": len(result.requests),
        "pages_served": reader.served,
        "lookups": len(live.owners),
        "cpu_load_validate": cpu1 - cpu0,
        "cpu_read_live": cpu2 - cpu1,
        "cpu_plan": cpu3 - cpu2,
        "cpu_total": cpu3 - cpu0,
        "wall_total": wall3 - wall0,
        "wall_prepare_live": prepare,
        "rss_start_mb": rss_start,
        "rss_after_live_mb": rss_live,
        "rss_peak_mb": _rss_mb(),
    }


def measure_validate(directory: str) -> dict[str, object]:
    from ksync.cli import main

    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["validate", directory])
    return {
        "mode": "validate",
        "exit": code,
        "output": out.getvalue().strip(),
        "cpu_total": time.process_time() - cpu0,
        "wall_total": time.perf_counter() - wall0,
        "rss_peak_mb": _rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.localcost")
    parser.add_argument("mode", choices=("plan", "validate"))
    parser.add_argument("directory")
    parser.add_argument("--org", type=int, default=0, help="org size (plan mode)")
    args = parser.parse_args(argv)
    if args.mode == "plan":
        figures = measure_plan(args.directory, args.org)
    else:
        figures = measure_validate(args.directory)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
