"""
The referee's scoring core: the scoreboard from a finalized chain and the battle's declaration. Pure: the chain (as
the referee's node holds it: ledger state and blocks) and the declaration go in, a ``Scoreboard`` comes out.

Per team (BATTLE.md gives the rules; ``score_team`` is the formula):

- ``start``: what the team's accounts held at genesis (balance plus stake);
- ``expected``: ``start`` plus the declared honest workload's transfers the chain finalized (received minus sent and
  fees) plus what the team earned as proposer (block rewards, the fees of the blocks it proposed);
- ``held``: what its accounts hold at the end (balance, bonded and unbonding stake, channel deposits on chain);
- ``slashed``: stake the chain burned from its accounts (evidence of equivocation);
- ``gained = held + slashed - expected``: tokens the team got (or lost, negative) beyond the honest workload, by
  transactions; ``score = gained - slashed``;
- ``detections``: every evidence entry in a finalized block whose offender is one of the team's accounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from a27_ledger import LedgerSnapshot, LedgerState, Transaction, Transfer
from a27_pos import Block, PosGenesis, PosParams, bonded_stake, unbonding_entries

from ..audit import burned, channel_deposits

ACCOUNT_LENGTH = 32
MAX_TEAMS = 100
MAX_ACCOUNTS_PER_TEAM = 1_000
MAX_WORKLOAD = 100_000
"""The most scheduled transfers one declaration may list."""
SIDES = ("blue", "red")


class BattleError(ValueError):
    """A battle declaration that cannot be scored (the message names the field), or a chain that is not its chain."""


def _account(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not bytes or len(value) != ACCOUNT_LENGTH:
        raise BattleError(f"{attribute.name}: expected a {ACCOUNT_LENGTH}-byte public key, got {value!r}")


def _amount(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not int or not 0 < value < 2**64:
        raise BattleError(f"{attribute.name}: expected an amount from 1 to 2**64-1, got {value!r}")


@attrs.frozen
class Team:
    """One team: its name, its side (blue defends, red attacks), its accounts and the behaviour its node runs."""

    name: str
    side: str
    accounts: tuple[bytes, ...]
    behaviour: str = "honest"

    def __attrs_post_init__(self) -> None:
        """Refuse a nameless team, an unknown side, no accounts, too many, or a malformed key."""
        if not isinstance(self.name, str) or not self.name or len(self.name) > 64:
            raise BattleError(f"team name: expected 1 to 64 characters, got {self.name!r}")
        if self.side not in SIDES:
            raise BattleError(f"team {self.name}: side must be {' or '.join(SIDES)}, got {self.side!r}")
        if not self.accounts or len(self.accounts) > MAX_ACCOUNTS_PER_TEAM:
            raise BattleError(f"team {self.name}: expected 1 to {MAX_ACCOUNTS_PER_TEAM:,} accounts, "
                              f"got {len(self.accounts):,}")
        for account in self.accounts:
            if type(account) is not bytes or len(account) != ACCOUNT_LENGTH:
                raise BattleError(f"team {self.name}: an account is not a {ACCOUNT_LENGTH}-byte public key")


@attrs.frozen
class ScheduledTransfer:
    """One transfer of the honest workload, declared before the battle: sender, recipient, amount, and when."""

    sender: bytes = attrs.field(validator=_account)
    recipient: bytes = attrs.field(validator=_account)
    amount: int = attrs.field(validator=_amount)
    at: float = 0.0
    """Seconds after the battle starts that the blue wallet sends it (the scoring ignores it)."""


@attrs.frozen
class BattleDeclaration:
    """Everything declared before a battle: the chain it runs on, the teams and the honest workload."""

    chain_id: str
    teams: tuple[Team, ...]
    workload: tuple[ScheduledTransfer, ...] = ()

    def __attrs_post_init__(self) -> None:
        """Refuse no teams, too many, a name or an account claimed twice, or too large a workload."""
        if not self.teams or len(self.teams) > MAX_TEAMS:
            raise BattleError(f"teams: expected 1 to {MAX_TEAMS} teams, got {len(self.teams)}")
        if len({team.name for team in self.teams}) != len(self.teams):
            raise BattleError("teams: two teams have the same name")
        owners: dict[bytes, str] = {}
        for team in self.teams:
            for account in team.accounts:
                if account in owners:
                    raise BattleError(f"teams: account {account.hex()[:16]}... is claimed by {owners[account]} and "
                                      f"{team.name}")
                owners[account] = team.name
        if len(self.workload) > MAX_WORKLOAD:
            raise BattleError(f"workload: at most {MAX_WORKLOAD:,} transfers, got {len(self.workload):,}")

    def owner(self) -> dict[bytes, str]:
        """Team name by account."""
        return {account: team.name for team in self.teams for account in team.accounts}


class FinalizedChain(Protocol):
    """What the scoring reads of a node's chain (``a27_pos.Chain`` is one)."""

    @property
    def state(self) -> LedgerState:
        """The ledger state after the last finalized block."""

    @property
    def height(self) -> int:
        """The last finalized height."""

    @property
    def chain_id(self) -> str:
        """The chain id."""

    @property
    def params(self) -> PosParams:
        """The chain's parameters (block reward)."""

    def block(self, height: int) -> Block | None:
        """The finalized block at ``height``, or None if the store does not hold it."""


@attrs.frozen
class Detection:
    """One evidence entry in a finalized block against a team's account."""

    height: int
    kind: str
    offender: str
    """Short hex of the offending account."""


@attrs.frozen
class TeamScore:
    """One row of the scoreboard (the fields as the module docstring defines them)."""

    name: str
    side: str
    behaviour: str
    start: int
    workload_net: int
    proposer_income: int
    expected: int
    held: int
    slashed: int
    gained: int
    score: int
    blocks_proposed: int
    detections: tuple[Detection, ...]

    def to_dict(self) -> dict[str, Any]:
        """As plain data (report.json, the live page's JSON)."""
        return attrs.asdict(self)


@attrs.frozen
class Scoreboard:
    """Every team's score on one chain at one height, plus what accounts of no team gained."""

    chain_id: str
    height: int
    blocks_missing: int
    """Finalized heights whose block the referee's store does not hold (a checkpointed start): not scored."""
    workload_declared: int
    workload_finalized: int
    teams: tuple[TeamScore, ...]
    unowned_gained: int
    """Tokens accounts of no team hold beyond their genesis holdings (a team paying an undeclared account)."""

    def to_dict(self) -> dict[str, Any]:
        """As plain data."""
        return attrs.asdict(self)


@attrs.frozen
class _Flows:
    """What the finalized blocks moved, per account: workload net, proposer income, blocks proposed, evidence."""

    workload_net: Mapping[bytes, int]
    income: Mapping[bytes, int]
    proposed: Mapping[bytes, int]
    evidence: Sequence[tuple[int, str, bytes]]
    finalized: int
    missing: int


def _add(totals: dict[bytes, int], account: bytes, amount: int) -> None:
    totals[account] = totals.get(account, 0) + amount


def _flows(declaration: BattleDeclaration, chain: FinalizedChain) -> _Flows:
    """One pass over the finalized blocks: which declared transfers they hold, what each proposer earned, evidence."""
    pending: dict[tuple[bytes, bytes, int], int] = {}
    for scheduled in declaration.workload:
        key = (scheduled.sender, scheduled.recipient, scheduled.amount)
        pending[key] = pending.get(key, 0) + 1
    workload_net: dict[bytes, int] = {}
    income: dict[bytes, int] = {}
    proposed: dict[bytes, int] = {}
    evidence: list[tuple[int, str, bytes]] = []
    finalized = missing = 0
    reward = chain.params.block_reward
    for height in range(1, chain.height + 1):
        block = chain.block(height)
        if block is None:
            missing += 1
            continue
        proposer = block.header.proposer
        _add(proposed, proposer, 1)
        _add(income, proposer, reward + sum(transaction.fee for transaction in block.transactions))
        evidence += [(height, type(item).__name__, item.offender) for item in block.evidence]
        for transaction in block.transactions:
            if _consume_scheduled(pending, transaction):
                finalized += 1
                body: Transfer = transaction.body  # type: ignore[assignment]
                _add(workload_net, transaction.sender, -(body.amount + transaction.fee))
                _add(workload_net, body.recipient, body.amount)
    return _Flows(workload_net, income, proposed, evidence, finalized, missing)


def _consume_scheduled(pending: dict[tuple[bytes, bytes, int], int], transaction: Transaction) -> bool:
    """Whether ``transaction`` is a declared transfer not yet matched (each declared entry matches once)."""
    body = transaction.body
    if not isinstance(body, Transfer):
        return False
    key = (transaction.sender, body.recipient, body.amount)
    if not pending.get(key):
        return False
    pending[key] -= 1
    return True


def holdings(state: LedgerState, snapshot: LedgerSnapshot, accounts: Sequence[bytes]) -> dict[bytes, int]:
    """What each account holds on the chain: balance, bonded and unbonding stake, deposits in open channels
    (``snapshot`` is ``state``'s)."""
    balances = dict(snapshot.balances)
    deposits = channel_deposits(state, snapshot, accounts)
    return {account: balances.get(account, 0) + bonded_stake(state, account)
            + sum(amount for _height, amount in unbonding_entries(state, account)) + deposits.get(account, 0)
            for account in accounts}


def score_team(team: Team, *, start: int, workload_net: int, proposer_income: int, held: int, slashed: int,
               blocks_proposed: int, detections: Sequence[Detection]) -> TeamScore:
    """One team's row: ``expected = start + workload_net + proposer_income``, ``gained = held + slashed -
    expected``, ``score = gained - slashed``."""
    expected = start + workload_net + proposer_income
    gained = held + slashed - expected
    return TeamScore(team.name, team.side, team.behaviour, start, workload_net, proposer_income, expected, held,
                     slashed, gained, gained - slashed, blocks_proposed, tuple(detections))


def score_battle(declaration: BattleDeclaration, genesis: PosGenesis, chain: FinalizedChain) -> Scoreboard:
    """
    The scoreboard of ``declaration`` on ``chain`` (the referee's finalized chain, started from ``genesis``).

    :raises BattleError: when the chain, the genesis and the declaration name different chains.
    """
    if not genesis.chain_id == declaration.chain_id == chain.chain_id:
        raise BattleError(f"chain ids differ: declaration {declaration.chain_id!r}, genesis {genesis.chain_id!r}, "
                          f"chain {chain.chain_id!r}")
    flows = _flows(declaration, chain)
    state = chain.state
    snapshot = state.snapshot()
    burns = burned(state)
    starting = dict(genesis.ledger.balances)
    owners = declaration.owner()
    rows = []
    for team in declaration.teams:
        held = holdings(state, snapshot, team.accounts)
        detections = [Detection(height, kind, offender.hex()[:16]) for height, kind, offender in flows.evidence
                      if offender in team.accounts]
        rows.append(score_team(
            team, start=sum(starting.get(account, 0) for account in team.accounts),
            workload_net=sum(flows.workload_net.get(account, 0) for account in team.accounts),
            proposer_income=sum(flows.income.get(account, 0) for account in team.accounts), held=sum(held.values()),
            slashed=sum(burns.get(account, 0) for account in team.accounts),
            blocks_proposed=sum(flows.proposed.get(account, 0) for account in team.accounts), detections=detections))
    accounts = {account for account, _balance in snapshot.balances} | set(starting)
    others = sorted(account for account in accounts if account not in owners)
    unowned_held = holdings(state, snapshot, others)
    unowned_gained = sum(unowned_held.values()) - sum(starting.get(account, 0) for account in others) \
        - sum(flows.workload_net.get(account, 0) + flows.income.get(account, 0) for account in others) \
        + sum(burns.get(account, 0) for account in others)
    return Scoreboard(chain.chain_id, chain.height, flows.missing, len(declaration.workload), flows.finalized,
                      tuple(rows), unowned_gained)
