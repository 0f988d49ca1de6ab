"""
A client of a node's REST API (standard library ``urllib``), for ``a27 wallet`` and ``a27 net status``.

``NodeClient.at`` takes a URL, or a node's folder or config file (whose ``[rest]`` table gives the URL and the key).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .node.config import ConfigError, load_config

API_PREFIX = "/a27"


class ClientError(Exception):
    """A request that failed: the node's JSON error (``status`` > 0), or no answer at all (``status`` 0)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        """Describe the failure."""
        super().__init__(f"{error}: {message}" if status == 0 else f"{status} {error}: {message}")
        self.status = status
        self.error = error


class NodeClient:
    """Requests to one node's ``/a27`` API."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 40.0) -> None:
        """Talk to the API at ``url`` (``http://HOST:PORT``), sending ``api_key`` if given."""
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    @classmethod
    def at(cls, where: str, api_key: str | None = None) -> NodeClient:
        """
        A client for ``where``: a URL, or a node's folder or config file (its ``[rest]`` table).

        :raises ConfigError: for a config that cannot be read or has no ``[rest]`` table.
        """
        if where.startswith(("http://", "https://")):
            return cls(where, api_key)
        path = Path(where)
        config = load_config(path / "node.toml" if path.is_dir() else path)
        if config.rest is None:
            raise ConfigError(f"{config.path}: no [rest] table: the node serves no REST API")
        return cls(config.rest.url, api_key if api_key is not None else config.rest.api_key)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        """The JSON answer to ``method /a27<path>``; ClientError for an error answer or none."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["X-Api-Key"] = self.api_key
        request = urllib.request.Request(self.url + API_PREFIX + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            try:
                document = json.loads(error.read())
            except ValueError:
                document = {}
            raise ClientError(error.code, str(document.get("error", error.reason)),
                              str(document.get("message", ""))) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise ClientError(0, "no answer", f"{self.url}: {reason}") from None

    def status(self) -> dict[str, Any]:
        """The node's status."""
        return dict(self.request("GET", "/status"))

    def account(self, account: bytes) -> dict[str, Any]:
        """An account's balance and next nonce."""
        return dict(self.request("GET", f"/accounts/{account.hex()}"))

    def balance(self, account: bytes) -> int:
        """An account's balance; 0 for an account the ledger never saw."""
        try:
            return int(self.account(account)["balance"])
        except ClientError as error:
            if error.status == 404:
                return 0
            raise
