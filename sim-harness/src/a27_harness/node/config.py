"""
A real node's configuration: the node's TOML file, its key file and the network's shared genesis file.

``a27 node init`` writes a commented config (``render_config``) and a key (``create_key``); ``a27 node genesis``
writes the genesis file the nodes share (``render_genesis``); ``a27 node run`` reads them (``load_config``,
``load_genesis``). Every mistake is a ``ConfigError`` naming the setting: the command prints it as one line.
Relative paths in a config are relative to the folder of the config file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from a27_ledger import GenesisError, KeyPair
from a27_pos import Checkpoint, PosGenesis, PosGenesisError, PosParams

from ..compat import tomllib
from .builder import ROLES, VALIDATOR
from .layers import LAYERS

HONEST = "honest"
"""The behaviour of an honest node; any other behaviour names a registered attack (``a27 attack --list``)."""
MAX_PORT = 65_535
MAX_BOOTSTRAP = 1_000
"""The most bootstrap addresses one config may list."""
MAX_UINT64 = 2**64 - 1
TOP_KEYS = ("name", "role", "layers", "behaviour", "behaviour_params", "behaviour_node", "behaviour_keys", "key_file",
            "genesis", "data_dir", "network", "defences", "rest", "clock", "pos")
NETWORK_KEYS = ("listen", "port", "bootstrap", "max_peers")
MAX_PEERS = 100_000
"""The largest ``[network] max_peers``."""
DEFENCES_KEYS = ("off",)
REST_KEYS = ("address", "port", "api_key", "battle")
DEFAULT_REST_PORT = 8085
"""The REST API's TCP port in the config ``a27 node init`` writes unless told another."""
MAX_API_KEY = 256
CLOCK_KEYS = ("offset_seconds",)
POS_KEYS = ("checkpoint",)
MAX_CLOCK_OFFSET = 86_400.0
"""The largest ``[clock] offset_seconds``, either way: one day."""
GENESIS_KEYS = ("chain_id", "params", "accounts")
ACCOUNT_KEYS = ("public_key", "balance", "stake", "name")


class ConfigError(ValueError):
    """A node config, key file or genesis file that cannot be used; the message names the setting and the problem."""


@attrs.frozen
class RestConfig:
    """Where a node serves its REST API (``[rest]``), and the key every request must carry if one is set."""

    address: str
    """The IPv4 address to listen on; anything but a loopback address needs an ``api_key``."""
    port: int
    api_key: str | None = attrs.field(default=None, repr=False)
    """None or empty: no key (allowed on loopback only; the channel operations then stay refused)."""
    battle: Path | None = None
    """A battle declaration (``battle.toml``, BATTLE.md): the API also serves its live scoreboard at ``/battle``."""

    @property
    def url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:8085``."""
        return f"http://{self.address}:{self.port}"


@attrs.frozen
class NodeConfig:
    """One real node's settings, checked, with every path absolute."""

    path: Path
    """The config file."""
    name: str
    role: str
    layers: tuple[str, ...]
    behaviour: str
    behaviour_params: tuple[str, ...]
    key_file: Path
    genesis: Path
    data_dir: Path
    listen: str
    port: int
    bootstrap: tuple[tuple[str, int], ...]
    defences_off: tuple[str, ...] = ()
    """The defences the ``[defences]`` table switches off, by full name (``pos.checkpoints``); the rest stay on."""
    rest: RestConfig | None = None
    """The ``[rest]`` table; None (no table) serves no REST API."""
    max_peers: int | None = None
    """``[network] max_peers``: the size of each overlay's peer table (IPv8's ``max_peers``, 1 to ``MAX_PEERS``); None
    (no key) keeps the layers' default. An operator shrinks it to bound what the node keeps; its peer defences decide
    who gets a slot when the table is full (anchors: the genesis validators always do)."""
    clock_offset: float = 0.0
    """``[clock] offset_seconds``, for tests only: seconds added to the node's time base (the Unix time its PoS layer
    stamps and checks blocks with), to play a machine whose clock is wrong. 0 (no table) on every real deployment."""
    behaviour_node: str | None = None
    """The attacker node of the behaviour's attack this process plays (its key is ``key_file``); None: the attack's
    first node of the config's role."""
    behaviour_keys: tuple[tuple[str, Path], ...] = ()
    """``[behaviour_keys]``: key files of the attack's other attacker nodes, by node name, that this process holds:
    each runs in this process as an identity with that key (``arena.Identities``), no process of its own, so an
    attack needing several attacker validators (``long-range``, ``coalition``) gets them bonded by ``a27 node
    genesis``."""
    checkpoint: Checkpoint | None = None
    """``[pos] checkpoint``: a weak-subjectivity checkpoint (height and block id) the node's chain must contain, given
    out of band by an operator who trusts another node (``a27 wallet checkpoint``); None (no entry): none."""


def _ipv4(setting: str, text: object) -> str:
    if not isinstance(text, str):
        raise ConfigError(f"{setting}: expected an IPv4 address as a string, got {text!r}")
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ConfigError(f"{setting}: expected an IPv4 address such as 127.0.0.1, got {text!r}") from None


def check_port(setting: str, value: object) -> int:
    """``value`` as a UDP port (1 to 65,535); ConfigError naming ``setting`` otherwise (NaN, 4.0, true included)."""
    if type(value) is not int or not 1 <= value <= MAX_PORT:
        raise ConfigError(f"{setting}: expected an integer port from 1 to {MAX_PORT:,}, got {value!r}")
    return value


def parse_address(setting: str, text: object) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv4 address and a port) as a tuple; ConfigError naming ``setting`` otherwise."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise ConfigError(f"{setting}: expected HOST:PORT such as 127.0.0.1:9000, got {text!r}")
    host, port = text.split(":")
    if not port.isdigit():
        raise ConfigError(f"{setting}: expected HOST:PORT with a numeric port, got {text!r}")
    return _ipv4(setting, host), check_port(setting, int(port))


def _string(setting: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{setting}: expected a non-empty string, got {value!r}")
    return value


def _strings(setting: str, value: object, limit: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{setting}: expected a list of strings, got {value!r}")
    if len(value) > limit:
        raise ConfigError(f"{setting}: at most {limit:,} entries, got {len(value):,}")
    return value


def _unknown_keys(where: str, table: Mapping[str, object], known: Sequence[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}; keys are {', '.join(known)}")


def check_layers(setting: str, value: object) -> tuple[str, ...]:
    """The layers a node runs, bottom first: ledger, then optionally pos, then optionally channels."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{setting}: expected a list of layer names, got {value!r}")
    layers = tuple(name.strip() for name in names)
    if layers not in {LAYERS[:count] for count in range(1, len(LAYERS) + 1)}:
        choices = " or ".join(",".join(LAYERS[:count]) for count in range(1, len(LAYERS) + 1))
        raise ConfigError(f"{setting}: expected {choices}, got {value!r}")
    return layers


def check_name(setting: str, value: object) -> str:
    """A node name: 1 to 64 ASCII letters, digits, ``-`` or ``_`` (it names the node's database files)."""
    text = _string(setting, value)
    if not text.isascii() or not text.replace("-", "").replace("_", "").isalnum() or len(text) > 64:
        raise ConfigError(f"{setting}: expected 1 to 64 letters, digits, '-' or '_', got {text!r}")
    return text


def _path(base: Path, setting: str, value: object) -> Path:
    text = _string(setting, value)
    if "\0" in text:
        raise ConfigError(f"{setting}: a path cannot contain a NUL character")
    return (base / Path(text).expanduser()).resolve()


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document in ``path``; ConfigError naming ``what`` and the file if unreadable or not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(f"{what} {path}: cannot read it: {reason}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{what} {path}: not valid TOML: {error}") from None


def load_config(path: str | os.PathLike[str]) -> NodeConfig:
    """
    Read and check a node config; nothing is created or opened.

    :raises ConfigError: for an unreadable file, an unknown key, a missing or mistyped setting, a bad address or
        port, or a data directory or key file where the other kind of file is. The genesis file is read by
        ``load_genesis``.
    """
    config_path = Path(path).resolve()
    document = read_toml(config_path, "config")
    _unknown_keys("config", document, TOP_KEYS)
    for required in ("name", "role", "genesis"):
        if required not in document:
            raise ConfigError(f"config: {required} is missing")
    base = config_path.parent
    name = check_name("name", document["name"])
    role = document["role"]
    if role not in ROLES:
        raise ConfigError(f"role: expected {' or '.join(ROLES)}, got {role!r}")
    network = document.get("network", {})
    if not isinstance(network, dict):
        raise ConfigError("network: expected a [network] table")
    _unknown_keys("[network]", network, NETWORK_KEYS)
    genesis = _path(base, "genesis", document["genesis"])
    data_dir = _path(base, "data_dir", document.get("data_dir", "data"))
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"data_dir: {data_dir} is not a directory")
    key_file = _path(base, "key_file", document.get("key_file", "key.bin"))
    if key_file.is_dir():
        raise ConfigError(f"key_file: {key_file} is a directory")
    bootstrap = _strings("[network] bootstrap", network.get("bootstrap", []), MAX_BOOTSTRAP)
    defences = document.get("defences", {})
    if not isinstance(defences, dict):
        raise ConfigError("defences: expected a [defences] table")
    _unknown_keys("[defences]", defences, DEFENCES_KEYS)
    layers = check_layers("layers", document.get("layers", ["ledger", "pos"]))
    behaviour_node = document.get("behaviour_node")
    return NodeConfig(
        path=config_path, name=name, role=role, layers=layers,
        behaviour=_string("behaviour", document.get("behaviour", HONEST)),
        behaviour_params=tuple(_strings("behaviour_params", document.get("behaviour_params", []), 100)),
        key_file=key_file, genesis=genesis, data_dir=data_dir,
        listen=_ipv4("[network] listen", network.get("listen", "127.0.0.1")),
        port=check_port("[network] port", network.get("port", 9000)),
        bootstrap=tuple(parse_address(f"[network] bootstrap[{index}]", text) for index, text in enumerate(bootstrap)),
        max_peers=_integer("[network] max_peers", network["max_peers"], 1, MAX_PEERS) if "max_peers" in network
        else None,
        defences_off=check_defences_off("[defences] off", defences.get("off", [])),
        rest=check_rest(document["rest"], base) if "rest" in document else None,
        clock_offset=check_clock(document["clock"]) if "clock" in document else 0.0,
        checkpoint=check_pos(document["pos"], layers) if "pos" in document else None,
        behaviour_node=None if behaviour_node is None else _string("behaviour_node", behaviour_node),
        behaviour_keys=check_behaviour_keys(document.get("behaviour_keys", {}), base, key_file),
    )


def check_behaviour_keys(table: object, base: Path, key_file: Path) -> tuple[tuple[str, Path], ...]:
    """
    The ``[behaviour_keys]`` table checked: attacker node name = key file (relative to ``base``, the config's
    folder; created when the node starts if missing, like ``key_file``). Which names the attack has is checked when
    the node starts (``a27_harness.node.process.behaviour_attack``).

    :raises ConfigError: for a value that is not a path, or a path that is a directory or the node's own key file.
    """
    if not isinstance(table, dict):
        raise ConfigError("behaviour_keys: expected a [behaviour_keys] table of NODE = \"KEYFILE\"")
    keys: list[tuple[str, Path]] = []
    for name, text in sorted(table.items()):
        path = _path(base, f"[behaviour_keys] {name}", text)
        if path.is_dir() or path == key_file:
            raise ConfigError(f"[behaviour_keys] {name}: {path} is a directory or the node's own key_file")
        keys.append((name, path))
    return tuple(keys)


def check_pos(table: object, layers: Sequence[str]) -> Checkpoint | None:
    """
    The ``[pos]`` table checked: ``checkpoint``, ``"<height>:<block id, 64 hex characters>"`` (``a27 wallet
    checkpoint`` prints it), the finalized block any chain this node accepts must hold at that height.

    :raises ConfigError: for an unknown key, a checkpoint that is not a height from 1 and 64 hex characters, or a
        ``[pos]`` table on a node that runs no pos layer.
    """
    if not isinstance(table, dict):
        raise ConfigError("pos: expected a [pos] table")
    _unknown_keys("[pos]", table, POS_KEYS)
    if "pos" not in layers:
        raise ConfigError("[pos]: this node runs no pos layer (layers = " + ",".join(layers) + ")")
    text = table.get("checkpoint")
    if text is None:
        return None
    shape = "expected \"<height>:<block id>\", a height from 1 and 64 hex characters"
    if not isinstance(text, str):
        raise ConfigError(f"[pos] checkpoint: {shape}, got {text!r}")
    height, _, block_id = text.partition(":")
    if (not height.isascii() or not height.isdigit() or not 1 <= int(height) <= MAX_UINT64 or len(block_id) != 64
            or not _is_hex(block_id)):
        raise ConfigError(f"[pos] checkpoint: {shape}, got {text!r}")
    return Checkpoint(int(height), bytes.fromhex(block_id))


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdefABCDEF" for char in text)


def check_clock(table: object) -> float:
    """
    The ``[clock]`` table checked (for tests only): ``offset_seconds``, a number of seconds from -86,400 to 86,400
    added to the node's time base; 0 by default.

    :raises ConfigError: for an unknown key, or an offset that is not a finite number in that range (true included).
    """
    if not isinstance(table, dict):
        raise ConfigError("clock: expected a [clock] table")
    _unknown_keys("[clock]", table, CLOCK_KEYS)
    offset = table.get("offset_seconds", 0)
    if type(offset) not in (int, float) or not -MAX_CLOCK_OFFSET <= offset <= MAX_CLOCK_OFFSET:
        raise ConfigError(f"[clock] offset_seconds: expected a number of seconds from {-MAX_CLOCK_OFFSET:,.0f} to "
                          f"{MAX_CLOCK_OFFSET:,.0f}, got {offset!r}")
    return float(offset)


def check_defences_off(setting: str, value: object) -> tuple[str, ...]:
    """
    Defence names to switch off, as ``a27 attack --without`` takes them, each checked; duplicates dropped.

    :raises ConfigError: for a value that is not a list of strings, or a name no layer defines (the one line names
        the defences that exist).
    """
    names = _strings(setting, value, 100)
    if not names:
        return ()
    # Imported only when a defence is switched off: the mapping lives with `a27 attack`, heavier than a node needs.
    from ..attacks.defences import UnknownDefence, check_defence  # noqa: PLC0415

    checked: list[str] = []
    for index, name in enumerate(names):
        try:
            check_defence(name)
        except UnknownDefence as error:
            raise ConfigError(f"{setting}[{index}]: {error}") from None
        if name not in checked:
            checked.append(name)
    return tuple(checked)


def check_rest(table: object, base: Path | None = None) -> RestConfig:
    """
    The ``[rest]`` table checked: ``address`` (default 127.0.0.1), ``port`` (default 8085), ``api_key``, ``battle``
    (a path, relative to ``base``, the config's folder; the file is read when the node starts).

    :raises ConfigError: for an unknown key, a bad address or port, a key that is not 1 to 256 printable ASCII
        characters, or a non-loopback address without a key (anyone who can reach it could spend the node's funds).
    """
    if not isinstance(table, dict):
        raise ConfigError("rest: expected a [rest] table")
    _unknown_keys("[rest]", table, REST_KEYS)
    address = _ipv4("[rest] address", table.get("address", "127.0.0.1"))
    port = check_port("[rest] port", table.get("port", DEFAULT_REST_PORT))
    api_key = table.get("api_key", "")
    if not isinstance(api_key, str) or len(api_key) > MAX_API_KEY or not all(" " < char < "\x7f" for char in api_key):
        raise ConfigError(f"[rest] api_key: expected up to {MAX_API_KEY} printable ASCII characters without spaces")
    if not api_key and not ipaddress.IPv4Address(address).is_loopback:
        raise ConfigError(f"[rest] address: {address} is not a loopback address; set [rest] api_key to serve the "
                          "API there")
    battle = table.get("battle")
    if battle is not None:
        battle = _path(base or Path.cwd(), "[rest] battle", battle)
    return RestConfig(address, port, api_key or None, battle)


def create_key(path: Path) -> KeyPair:
    """
    Write a fresh key to ``path`` (IPv8 key-file format, mode 0600) unless a file is there; never overwrite one.

    :raises FileExistsError: if ``path`` exists (also when another process created it meanwhile).
    """
    key = KeyPair.generate()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created with mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.to_ipv8_private_bin())
            handle.flush()
            os.fsync(handle.fileno())
        # A hard link fails if the target exists, so two processes starting at once cannot replace each other's key.
        os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return key


def load_or_create_key(path: Path) -> KeyPair:
    """The key in ``path``, created first if the file does not exist; ConfigError if it is not a key."""
    if not path.parent.is_dir():
        raise ConfigError(f"key_file: the folder {path.parent} does not exist")
    if not path.exists():
        try:
            return create_key(path)
        except FileExistsError:
            pass
        except OSError as error:
            raise ConfigError(f"key_file: cannot create {path}: {error.strerror or error}") from None
    try:
        return KeyPair.load(path)
    except OSError as error:
        raise ConfigError(f"key_file: cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ConfigError(f"key_file: {path}: {error}") from None


def render_config(name: str, role: str, layers: Sequence[str], port: int, bootstrap: Sequence[str], *,
                  listen: str = "127.0.0.1", genesis: str = "../genesis.toml", behaviour: str = HONEST,
                  behaviour_params: Sequence[str] = (), rest: RestConfig | None = None,
                  rest_enabled: bool = True) -> str:
    """The commented TOML config ``a27 node init`` writes (every value is checked the way ``load_config`` does);
    ``behaviour`` is an attack's name for a red team's node and ``behaviour_params`` its ``NAME=VALUE`` parameters
    (``a27 battle up``)."""
    check_name("--name", name)
    if role not in ROLES:
        raise ConfigError(f"--role: expected {' or '.join(ROLES)}, got {role!r}")
    check_layers("--layers", list(layers))
    check_port("--port", port)
    for index, address in enumerate(bootstrap):
        parse_address(f"--bootstrap[{index}]", address)
    _ipv4("--listen", listen)

    def quoted(items: Sequence[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    return f"""\
# a27 node config, read by `a27 node run THIS_FILE`. Relative paths are relative to this file's folder.

# The node's name: in its log lines and its database files (<name>.db, <name>.chain.db, <name>.channels.db).
name = "{name}"
# validator: runs consensus (its key must hold a stake in the genesis); light: follows the finalized chain.
role = "{role}"
# The layers the node runs, bottom first: ["ledger"], ["ledger", "pos"] or ["ledger", "pos", "channels"].
layers = {quoted(layers)}
# "honest", or the name of a registered attack (`a27 attack --list`) whose node behaviour this node runs.
behaviour = {json.dumps(_string("behaviour", behaviour))}
# The attack's parameters as NAME=VALUE texts (as for `a27 attack NAME --param`); unused when honest.
behaviour_params = {json.dumps([_string("behaviour_params", pair) for pair in behaviour_params])}
# The attack's node this node plays (default: its first node of this node's role), e.g. "a1" for long-range; the
# keys of its other attacker nodes that this node holds (and hosts them with) go in a [behaviour_keys] table:
# a0 = "a0.key".
# behaviour_node = "a1"
# The node's identity (IPv8 key file). Created on first start if missing, never overwritten, mode 0600.
key_file = "key.bin"
# The genesis file every node of the network shares (`a27 node genesis`).
genesis = "{genesis}"
# The folder of the node's SQLite databases: the node restarts from it.
data_dir = "data"

[network]
# The IPv4 address and UDP port to listen on.
listen = "{listen}"
port = {port}
# Nodes to introduce this node to, as "HOST:PORT": it walks to them at start and whenever it lost them.
bootstrap = {quoted(bootstrap)}

[defences]
# Every defence of the node's layers is on. To show what an attack does without some, list them here by the names
# `a27 attack --without` takes (`a27 attack --list` shows each attack's), e.g. ["pos.checkpoints", "peers.rate_limit"].
off = []
""" + ("" if "pos" not in layers else POS_TABLE) + ("" if rest is None else render_rest(rest, enabled=rest_enabled))


POS_TABLE = """
[pos]
# A weak-subjectivity checkpoint, "HEIGHT:BLOCK_ID": the finalized block any chain this node accepts must hold at that
# height. A node that syncs from genesis (new, or restarting with an empty data_dir) cannot tell a history forged by
# validators that have since unbonded from the real one by signatures alone: ask the operator of a node you trust for
# its line (`a27 wallet checkpoint --node URL_OR_NODE_DIR` prints it) and put it here.
# checkpoint = "HEIGHT:BLOCK_ID"
"""


def render_rest(rest: RestConfig, *, enabled: bool = True) -> str:
    """The commented ``[rest]`` table of a node config; commented out (no REST API) unless ``enabled``."""
    check_rest({"address": rest.address, "port": rest.port, "api_key": rest.api_key or ""})
    table = f"""[rest]
address = "{rest.address}"
port = {rest.port}
api_key = {json.dumps(rest.api_key or "")}
"""
    if rest.battle is not None:
        table += f"# The battle declaration whose live scoreboard this node serves at /battle (BATTLE.md).\n" \
                 f"battle = {json.dumps(rest.battle.as_posix())}\n"
    if not enabled:
        table = "".join(f"# {line}\n" for line in table.splitlines())
    return f"""
# The node's REST API (sim-harness README, "Real nodes"): status, accounts, blocks, transactions, submissions and
# the node's channels; `a27 wallet` and `a27 net status` use it. Without a [rest] table the node serves none.
# address: the IPv4 address to listen on (anything but a loopback address needs an api_key); port: its TCP port.
# api_key: every request must carry it (header X-Api-Key); the channel operations, which spend the node's funds, are
# refused without one. This file holds it: keep it private (mode 0600).
{table}"""


def _integer(setting: str, value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ConfigError(f"{setting}: expected an integer from {low:,} to {high:,}, got {value!r}")
    return value


def load_genesis(path: Path) -> PosGenesis:
    """
    Read the genesis file the nodes share: chain id, optional ``[params]`` (``PosParams``), ``[[accounts]]``.

    An account with a ``stake`` is a validator; its ``balance`` is what it can spend besides. A ledger-only node
    uses the ledger part (``PosGenesis.ledger``), where the validators hold balance plus stake.

    :raises ConfigError: for anything unreadable, unknown or inconsistent.
    """
    document = read_toml(path, "genesis")
    _unknown_keys(f"genesis {path}", document, GENESIS_KEYS)
    chain_id = _string("genesis chain_id", document.get("chain_id"))
    params_table = document.get("params", {})
    accounts = document.get("accounts")
    if not isinstance(params_table, dict):
        raise ConfigError("genesis params: expected a [params] table")
    if not isinstance(accounts, list) or not accounts or not all(isinstance(table, dict) for table in accounts):
        raise ConfigError("genesis: expected [[accounts]] tables")
    if len(accounts) > 100_000:
        raise ConfigError(f"genesis: at most 100,000 accounts, got {len(accounts):,}")
    known_params = [field.name for field in attrs.fields(PosParams)]
    _unknown_keys("genesis [params]", params_table, known_params)
    balances: dict[bytes, int] = {}
    stakes: dict[bytes, int] = {}
    names: dict[bytes, str] = {}
    for index, table in enumerate(accounts):
        where = f"genesis accounts[{index}]"
        _unknown_keys(where, table, ACCOUNT_KEYS)
        text = table.get("public_key")
        if not isinstance(text, str) or len(text) != 64:
            raise ConfigError(f"{where}.public_key: expected 64 hex characters, got {text!r}")
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ConfigError(f"{where}.public_key: not hex: {text!r}") from None
        if key in balances:
            raise ConfigError(f"{where}.public_key: {text[:16]}... is listed twice")
        balances[key] = _integer(f"{where}.balance", table.get("balance"), 0, MAX_UINT64)
        if "stake" in table:
            stakes[key] = _integer(f"{where}.stake", table["stake"], 1, MAX_UINT64)
        if "name" in table:
            names[key] = _string(f"{where}.name", table["name"])
    try:
        return PosGenesis.build(chain_id, balances, stakes, PosParams(**params_table), names)
    except (PosGenesisError, GenesisError, TypeError) as error:
        raise ConfigError(f"genesis {path}: {error}") from None


def parse_fund(text: str) -> tuple[bytes, int]:
    """
    ``KEYFILE_OR_PUBKEY=AMOUNT`` (``a27 node genesis --fund``): an account (64 hex characters, or a key file whose
    public key it is) and the balance it starts with.

    :raises ConfigError: for anything else.
    """
    target, separator, amount = text.rpartition("=")
    if not separator or not target or not amount.isdigit():
        raise ConfigError(f"--fund: expected KEYFILE_OR_PUBKEY=AMOUNT, got {text!r}")
    if len(target) == 64 and _is_hex(target):
        account = bytes.fromhex(target)
    else:
        try:
            account = KeyPair.load(Path(target)).public_key
        except (OSError, ValueError) as error:
            raise ConfigError(f"--fund: {target} is neither 64 hex characters nor a readable key file ({error})") \
                from None
    return account, _integer("--fund amount", int(amount), 1, MAX_UINT64)


@attrs.frozen
class AttackerGenesis:
    """What a red node's attack asks of the genesis (``a27_harness.node.process.attacker_genesis``)."""

    stakes: Mapping[bytes, int] = attrs.field(factory=dict)
    """The stake of each attacker validator, by account, in place of the common stake."""
    validators: Sequence[tuple[str, bytes]] = ()
    """Attacker validators without a process of their own (``[behaviour_keys]``): genesis name and account."""
    params: Mapping[str, int] = attrs.field(factory=dict)
    """PoS parameters the attack needs (``Attack.scenario_changes`` that are ``PosParams`` fields)."""


def render_genesis(chain_id: str, nodes: Sequence[tuple[NodeConfig, KeyPair]], balance: int, stake: int,
                   funded: Sequence[tuple[bytes, int]] = (), *, attackers: AttackerGenesis | None = None) -> str:
    """
    The genesis file for ``nodes``: every account starts with ``balance``; each validator also bonds ``stake``.

    ``funded`` accounts (a wallet's, say) start with their own balance and no stake. ``attackers`` gives attacker
    validators their own stakes, adds those without a node, and sets the parameters their attack needs.
    """
    _integer("--balance", balance, 0, MAX_UINT64)
    _integer("--stake", stake, 1, MAX_UINT64)
    attackers = attackers or AttackerGenesis()
    params = {"block_reward": 100, **attackers.params}
    lines = ["# a27 genesis shared by every node of the network. Accounts with a stake are the validators.",
             f"chain_id = {json.dumps(_string('--chain-id', chain_id))}", "", "[params]",
             *(f"{name} = {value}" for name, value in params.items())]
    validators = [(config.name, key.public_key) for config, key in nodes if config.role == VALIDATOR]
    for config, key in nodes:
        lines += ["", "[[accounts]]", f'name = "{config.name}"', f'public_key = "{key.public_key.hex()}"',
                  f"balance = {balance}"]
        if config.role == VALIDATOR:
            lines.append(f"stake = {attackers.stakes.get(key.public_key, stake)}")
    for name, account in attackers.validators:
        if account not in {public_key for _name, public_key in validators}:
            lines += ["", "[[accounts]]", f'name = "{name}"', f'public_key = "{account.hex()}"',
                      f"balance = {balance}", f"stake = {attackers.stakes.get(account, stake)}"]
    for index, (account, amount) in enumerate(funded):
        lines += ["", "[[accounts]]", f'name = "funded-{index + 1}"', f'public_key = "{account.hex()}"',
                  f"balance = {amount}"]
    return "\n".join(lines) + "\n"
