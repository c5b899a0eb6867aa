"""Trade the named company only: the unhedged twin of `shock_hedge`, for comparison.

Each headline whose subject (the company it names) scores at or above the threshold opens one
position in that company, in the shock's direction, worth `notional` dollars; no spillover legs,
no hedge. Positions close after `hold_seconds` or at the stop. Run it beside the flagship to see
what the spillover legs and the hedge add:

    spillover backtest --strategy shock_hedge --strategy news_momentum ...
"""

from __future__ import annotations

from pydantic import Field

from engine.scoring import Shock
from strategies.leg_trader import LegTrader, LegTraderConfig

SUBJECT_ROLES = ("subject", "object")


class NewsMomentumConfig(LegTraderConfig):
    """Settings of `NewsMomentum`."""

    threshold: float = Field(0.2, gt=0, le=1, description="|score| of a subject needed to trade")
    max_subjects: int = Field(2, ge=1, description="subjects traded per headline, largest first")


class NewsMomentum(LegTrader):
    """Buy (sell) the company a headline names when its shock is up (down); exit by time or stop."""

    config_class = NewsMomentumConfig
    config: NewsMomentumConfig

    def on_shock(self, shock: Shock) -> None:
        legs = [leg for leg in shock.tradable(self.config.threshold) if leg.role in SUBJECT_ROLES][
            : self.config.max_subjects
        ]
        for leg in legs:
            qty = self.shares_for(leg.symbol, leg.score)
            self.open_position(shock.news_id, leg.symbol, qty, reason=f"subject {leg.score:+.2f}")
