"""Alpaca keys and errors, shared by the broker (`engine.brokers.alpaca`) and the feed
(`engine.feeds.alpaca`).

Tree::

    SpilloverError
    └── AlpacaError          Alpaca refused or could not be reached
        └── AlpacaKeysError  keys missing or refused (says which variables to set)

Keys never appear in reprs, logs or exception messages: they stay `SecretStr` until the moment
a client is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from engine.errors import SpilloverError
from engine.settings import AlpacaSettings

KEY_VARS = ("APCA_API_KEY_ID", "SPILLOVER_ALPACA__API_KEY")
SECRET_VARS = ("APCA_API_SECRET_KEY", "SPILLOVER_ALPACA__SECRET_KEY")
KEYS_HINT = (
    "set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or SPILLOVER_ALPACA__API_KEY and "
    "SPILLOVER_ALPACA__SECRET_KEY) to your Alpaca paper-trading keys"
)


class AlpacaError(SpilloverError):
    """Alpaca refused a request or could not be reached."""


class AlpacaKeysError(AlpacaError):
    """The API keys are missing or Alpaca refused them."""


@dataclass(frozen=True, slots=True)
class AlpacaKeys:
    """An API key id and secret; `repr` shows neither."""

    key_id: SecretStr
    secret: SecretStr

    def __repr__(self) -> str:
        return "AlpacaKeys(key_id='**********', secret='**********')"


def resolve_keys(settings: AlpacaSettings, environ: Mapping[str, str] | None = None) -> AlpacaKeys:
    """Take the keys from `settings`, else from `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY`.

    Raises `AlpacaKeysError` naming the variables to set when either is missing.
    """
    env = os.environ if environ is None else environ
    key = settings.api_key.get_secret_value() if settings.api_key else env.get(KEY_VARS[0], "")
    secret = (
        settings.secret_key.get_secret_value()
        if settings.secret_key
        else env.get(SECRET_VARS[0], "")
    )
    missing = [
        f"{env_name} (or {alt})"
        for (env_name, alt), value in ((KEY_VARS, key), (SECRET_VARS, secret))
        if not value
    ]
    if missing:
        raise AlpacaKeysError(
            f"Alpaca API keys missing: set {' and '.join(missing)} in the environment "
            "(your Alpaca paper-trading keys; both are needed)"
        )
    return AlpacaKeys(SecretStr(key.strip()), SecretStr(secret.strip()))
