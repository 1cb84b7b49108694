"""Ordering the writes when values move between customers.

Kustomer rejects a write that would give a value to a second customer, so the holder of
a moving value must be written without it first. Each change is a node; an edge runs
from the holder of a value to the customer that takes it. Nodes are written in
topological order, one request each. When the remaining nodes form a cycle (a swap),
one holder is written twice: first a *release* with only the entries it keeps, then,
once what it takes is free, its final arrays. No customer is written more than twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ksync.plan import Method, Purpose, Request


@dataclass(frozen=True)
class Node:
    """One change as the scheduler sees it.

    ``position`` identifies the customer (its place in the desired state); ``sources``
    are the positions of customers that must release a value before this one's write.
    """

    change: int
    position: int
    method: Method
    path: str
    body: Mapping[str, Any]
    release: Mapping[str, Any]
    rest: Mapping[str, Any]
    sources: tuple[int, ...]


def schedule(nodes: Sequence[Node]) -> tuple[Request, ...]:
    """The requests for ``nodes`` in a safe, deterministic order (by change, when free)."""
    by_position = {node.position: node for node in nodes}
    waiting = {
        node.position: {s for s in node.sources if s in by_position and s != node.position}
        for node in nodes
    }
    takers: dict[int, set[int]] = {node.position: set() for node in nodes}
    for position, sources in waiting.items():
        for source in sources:
            takers[source].add(position)
    released_by: dict[int, int] = {}  # position -> index of the request that freed its values
    requests: list[Request] = []
    remaining = {node.position for node in nodes}
    ready = [(node.change, node.position) for node in nodes if not waiting[node.position]]
    heapq.heapify(ready)

    def freed(position: int) -> None:
        released_by[position] = len(requests) - 1
        for taker in takers[position]:
            if position in waiting[taker]:
                waiting[taker].discard(position)
                if not waiting[taker]:
                    heapq.heappush(ready, (by_position[taker].change, taker))

    while remaining:
        if not ready:
            # A cycle: release the first holder whose values someone is waiting for.
            holder = min(
                (p for p in remaining if takers[p] and p not in released_by),
                key=lambda p: by_position[p].change,
            )
            node = by_position[holder]
            requests.append(_request(node, node.release, "release", ()))
            freed(holder)
            continue
        _, position = heapq.heappop(ready)
        node = by_position[position]
        remaining.discard(position)
        after = sorted({released_by[s] for s in node.sources if s in released_by})
        own_release = released_by.get(position)
        if own_release is None:
            requests.append(_request(node, node.body, _purpose(node), tuple(after)))
            freed(position)
        elif node.rest:
            after = sorted({*after, own_release})
            requests.append(_request(node, node.rest, "update", tuple(after)))
    return tuple(requests)


def _purpose(node: Node) -> Purpose:
    return "create" if node.method == "POST" else "update"


def _request(
    node: Node, body: Mapping[str, Any], purpose: Purpose, after: tuple[int, ...]
) -> Request:
    return Request(
        method=node.method,
        path=node.path,
        body=dict(body),
        change=node.change,
        purpose=purpose,
        after=after,
    )
