"""A local Kustomer emulator: the customers API in memory, for tests, the demo and users.

- ``Emulator``: the org and its request handling (``handle``, ``mock_transport``,
  ``seed``/``load_seed``, ``snapshot``, ``customer``, ``request_log``);
- ``EmulatorServer``: the Emulator over HTTP on loopback, in a background thread;
- ``run``: the blocking ``ksync emulator`` command; ``add_arguments`` and
  ``run_from_args`` are its command line, for ``ksync.cli``;
- ``EmulatorSettings``: where the real API is unknown, the emulator's choice, plus the
  knobs for trouble: rate limit, latency, injected faults, key roles, bulk job speed and
  a synthetic org.

Modules: ``app`` (the Emulator and the order in which a request is checked), ``routes``
(endpoints), ``bulk``/``jobs`` (bulk endpoints), ``roles``, ``ratelimit``, ``chaos``
(latency and faults), ``synthetic``, ``seeding``, ``server``, ``runner``, ``command``.
Error bodies follow Kustomer's two shapes; which status uses which is listed in
``ksync.emulator.errors``.
"""

from ksync.emulator.app import Emulator, EmulatorResponse, LoggedRequest, format_timestamp
from ksync.emulator.command import add_arguments, run_from_args, settings_from_args
from ksync.emulator.runner import DEFAULT_HOST, DEFAULT_PORT, run
from ksync.emulator.server import EmulatorServer, is_loopback
from ksync.emulator.settings import EmulatorSettings

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Emulator",
    "EmulatorResponse",
    "EmulatorServer",
    "EmulatorSettings",
    "LoggedRequest",
    "add_arguments",
    "format_timestamp",
    "is_loopback",
    "run",
    "run_from_args",
    "settings_from_args",
]
