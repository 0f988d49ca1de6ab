"""``superseded-state`` on a real node: its victim by account, online; the simulator's parameters refused there, and
the real node's in simulation, each with one line."""

from __future__ import annotations

import pytest

from a27_attacks import BadParameter, attack_named

VICTIM = "victim_account=" + "ab" * 32


def test_a_real_node_needs_the_victims_account_and_the_victim_online() -> None:
    kind = attack_named("superseded-state")
    assert kind.real_node and kind.real_node_act
    with pytest.raises(BadParameter, match=r"^superseded-state: on a real node victim_account must be the victim's "
                                           r"account \(its public key in 64 hex characters, as a27 prints accounts\), "
                                           r"got 'blue-light0'$"):
        kind.from_params(["victim_account=blue-light0", "victim_offline=false"]).check_real_node()
    with pytest.raises(BadParameter, match=r"^superseded-state: victim_offline=true needs the simulator \(a real node "
                                           r"cannot take another node offline\); give victim_offline=false: the "
                                           r"victim's own operator may stop it$"):
        kind.from_params([VICTIM]).check_real_node()
    with pytest.raises(BadParameter, match=r"^superseded-state: challenge_period 1 is below the honest nodes' least"):
        kind.from_params([VICTIM, "victim_offline=false", "challenge_period=1"]).check_real_node()
    kind.from_params([VICTIM, "victim_offline=false", "challenge_period=6"]).check_real_node()


def test_in_simulation_the_victim_is_a_light_node_by_index() -> None:
    kind = attack_named("superseded-state")
    kind.from_params([]).check(4, 3)
    with pytest.raises(BadParameter, match=r"^superseded-state: victim_account names the victim on a real node only; "
                                           r"in simulation victim is the index of an honest light node$"):
        kind.from_params([VICTIM]).check(4, 3)
    with pytest.raises(BadParameter, match=r"^superseded-state: paid 3000 exceeds the deposit 2000$"):
        kind.from_params(["paid=3000"]).check(4, 3)
