"""
The sections of a scenario file, and the one table that maps every setting to its section.

A scenario file keeps each concern in its own table::

    seed = 7                  # run-level keys: seed, duration, settle_timeout, layers, validators, light_nodes, db
    [network]                 # latency, loss, topology, validators_per_light_node
    [[faults]]                # one table per fault (see ``Fault``)
    [workload]                # transfer_interval, initial_balance, fee, overdraft_probability
    [pos]                     # stakes, proposer, block_reward, silent_validators, restake_interval,
                              # unbonding_delay, evidence_max_age
    [channels]                # channel_deposit, payments, unilateral_closes, challenge_period

Older files put every setting in one flat ``[sim]`` table (or at the top level); ``SECTION_OF`` maps those keys
onto the same settings, so both forms read the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from .errors import ScenarioError

RUN = "run"
"""The section name of the run-level keys, which stand at the top of a file rather than in a table."""
FAULTS = "faults"
"""The array of tables holding the network faults."""
SECTIONS = ("network", "workload", "pos", "channels")
"""The tables of a scenario file that hold settings (besides the run-level keys and ``[[faults]]``)."""
FLAT_TABLE = "sim"
"""The one flat table older scenario files use for every setting."""

SECTION_OF: Mapping[str, str] = {
    "seed": RUN,
    "duration": RUN,
    "settle_timeout": RUN,
    "layers": RUN,
    "validators": RUN,
    "light_nodes": RUN,
    "db": RUN,
    "latency": "network",
    "loss": "network",
    "topology": "network",
    "validators_per_light_node": "network",
    "transfer_interval": "workload",
    "initial_balance": "workload",
    "fee": "workload",
    "overdraft_probability": "workload",
    "stakes": "pos",
    "proposer": "pos",
    "block_reward": "pos",
    "silent_validators": "pos",
    "restake_interval": "pos",
    "unbonding_delay": "pos",
    "evidence_max_age": "pos",
    "channel_deposit": "channels",
    "payments": "channels",
    "unilateral_closes": "channels",
    "challenge_period": "channels",
    "faults": FAULTS,
}
"""Every scenario setting and the section a scenario file keeps it in: the one mapping of the flat keys."""


def _unknown(source: str, key: str, known: list[str]) -> ScenarioError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; settings are {', '.join(known)}"
    return ScenarioError(f"{source}: unknown scenario setting {key!r}{hint}")


def flatten_sections(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """
    The settings of a parsed scenario file as one flat mapping, keyed by ``SimScenario`` field names.

    Reads the run-level keys and the section tables, and the flat ``[sim]`` table (or flat keys at the top level)
    of older files. ``source`` names the file in errors.

    :raises ScenarioError: for a table that is not a table, an unknown setting (with the closest known name), a
        setting in the wrong section (naming the right one), or a setting given twice.
    """
    settings: dict[str, Any] = {}

    def put(key: str, value: object, where: str) -> None:
        if key not in SECTION_OF:
            raise _unknown(source, key, list(SECTION_OF))
        if key in settings:
            msg = f"{source}: {key} is given twice (the second time in {where})"
            raise ScenarioError(msg)
        settings[key] = value

    for name, value in data.items():
        if name == FLAT_TABLE:
            if not isinstance(value, dict):
                msg = f"{source}: expected a [sim] table of settings, got {value!r}"
                raise ScenarioError(msg)
            for key, item in value.items():
                put(key, item, "[sim]")
        elif name in SECTIONS:
            if not isinstance(value, dict):
                msg = f"{source}: expected a [{name}] table of settings, got {value!r}"
                raise ScenarioError(msg)
            for key, item in value.items():
                home = SECTION_OF.get(key)
                if home is None:
                    in_section = [setting for setting, section in SECTION_OF.items() if section == name]
                    raise _unknown(f"{source} [{name}]", key, in_section)
                if home != name:
                    where = "the top of the file" if home == RUN else f"[[{home}]]" if home == FAULTS else f"[{home}]"
                    msg = f"{source}: {key} belongs in {where}, not in [{name}]"
                    raise ScenarioError(msg)
                put(key, item, f"[{name}]")
        else:
            put(name, value, "the top of the file")
    return settings
