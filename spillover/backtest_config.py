"""The `[backtest]` and `[venue]` tables of `spillover backtest --config FILE.toml`, checked:
a misspelt key or a value of the wrong kind is an error naming the table and key, never a
setting silently left at its default or a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.brokers.sim_venue import VenueSettings
from engine.errors import InputError

TABLES = ("backtest", "venue", "strategy", "strategies")


class BacktestTable(BaseModel):
    """`[backtest]`: the command's options, and the run's cash and news receipt latency."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    news: Path | None = None
    market: Path | None = None
    out: Path | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    cash: float = Field(1_000_000.0, gt=0, description="starting cash of each strategy")
    receipt_latency_s: float = Field(2.0, ge=0, description="publication to receipt")


_VENUE = VenueSettings()  # the defaults, as the venue has them


class VenueTable(BaseModel):
    """`[venue]`: the simulated venue's delays and costs (`VenueSettings`, the latency in ms)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(_VENUE.latency_ns / 1e6, ge=0)
    slippage_bps: float = Field(_VENUE.slippage_bps, ge=0)
    commission_per_share: float = Field(_VENUE.commission_per_share, ge=0)
    borrow_rate: float = Field(_VENUE.borrow_rate, ge=0)
    unshortable: list[str] = Field(default_factory=list)

    def settings(self) -> VenueSettings:
        """The venue's settings from this table."""
        return VenueSettings(
            latency_ns=int(self.latency_ms * 1e6), slippage_bps=self.slippage_bps,
            commission_per_share=self.commission_per_share, borrow_rate=self.borrow_rate,
            unshortable=frozenset(self.unshortable),
        )  # fmt: skip


def config_tables(cfg: dict[str, Any], path: Path | None) -> tuple[BacktestTable, VenueTable]:
    """The checked `[backtest]` and `[venue]` tables of a loaded config (defaults without)."""
    where = f"--config {path}" if path else "the config"
    unknown = [k for k in cfg if k not in TABLES]
    if unknown:
        raise InputError(
            f"{where}: unknown table(s) {', '.join(f'[{k}]' for k in unknown)}; "
            f"use {', '.join(f'[{k}]' for k in TABLES)}"
        )
    tables: list[Any] = []
    for name, model in (("backtest", BacktestTable), ("venue", VenueTable)):
        raw = cfg.get(name, {})
        if not isinstance(raw, dict):
            raise InputError(f"{where}: [{name}] must be a table")
        try:
            tables.append(model.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(x) for x in first["loc"])
            why = first["msg"]
            if first["type"] == "extra_forbidden":
                known = (f.alias or k for k, f in model.model_fields.items())
                why = f"unknown key; the keys are {', '.join(known)}"
            raise InputError(f"{where}: [{name}] {key}: {why}") from None
    return tables[0], tables[1]
