"""Keeping the headline path warm while the daemon waits.

On this kind of machine (a shared VM) the scorer's tables, SQLite's pages and the Python code
of the path from headline to order leave the CPU's caches within a millisecond of idle time:
`python -m bench.cache_decay` took a headline to its first order in 117 µs back to back, 385 µs
after 10 ms asleep, and 182 µs when a rehearsal ran every millisecond of that wait (figures in
BENCHMARKS.md, daemon latency). So on the wall clock (a replay runs on played time and skips it),
while no headline comes, the daemon *rehearses* one every `daemon.keep_warm_ms`, and right
after each tick frame it folds (a frame pushes the path out of the caches), through the same
code, keeping nothing:

- it decodes a canned payload as the feeds do;
- writes it to the journal inside a savepoint that is rolled back (nothing reaches the file);
- scores it without novelty and without extension stages (`Scorer.rehearse`), then reads every
  cache line of the scorer's tables (`Scorer.touch`, about 20 µs for 1.2 MB): a real headline
  looks up other words and companies than the canned one;
- hands the shock to a fresh copy of each strategy that declares `rehearsal_safe = True` (its
  `on_shock` only reads its inputs and its own state and acts through its context), in a
  sandbox engine of their own: the same risk checks read the real market, and the orders they
  send go through a copy of the live risk checks and into the rolled-back journal, never to a
  broker. The real strategies, books, counters and metrics are never touched.

A rehearsal runs in stages of tens of microseconds with the event loop in between (no journal
savepoint spans two), so a message that comes in meanwhile waits for one stage at most.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import orjson

from engine.clock import Clock
from engine.feeds.decode import decode_news
from engine.journal import Journal
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import OrderIntent
from engine.risk import RiskManager, RiskSettings
from engine.runtime import Engine, RiskLimits
from engine.scoring import Scorer, Shock
from engine.strategy import Strategy, StrategyConfig

log = logging.getLogger(__name__)

# A headline that names a company, an event and its spillovers: it walks every stage of the
# scorer (entities, patterns, events, propagation over links and themes).
CANNED_PAYLOAD = orjson.dumps(
    {
        "id": "rehearsal",
        "headline": "Meta reportedly plans to sell spare AI computing capacity to other"
        " companies, a threat to CoreWeave and Nebius",
        "summary": "",  # no created_at: published "now", so names resolve on today's date
        "symbols": ["META"],
        "source": "benzinga",
    }
)


class _Scored:
    """The sandbox engine's scorer: hands over the rehearsal's shock (scored once per run)."""

    def __init__(self, universe: object) -> None:
        self.universe = universe
        self.shock: Shock | None = None

    def score(self, item: NewsItem) -> Shock:
        assert self.shock is not None
        return self.shock


class _RehearsalClock:
    """The daemon's time, but never a `SimClock`: timers a rehearsed strategy sets stay in the
    sandbox engine's own heap (never fired) instead of being scheduled on a replay clock."""

    def __init__(self, clock: Clock) -> None:
        self.now_ns = clock.now_ns


class _FirstOrderOut(BaseException):
    """Ends a rehearsal at its first order, through the strategy's handler (a BaseException:
    the engine's isolation of failing strategies catches only Exception)."""


class _RehearsalBroker:
    """Where a rehearsal's orders go: the live risk checks (a copy of their own) and the
    journal's savepoint; never a broker."""

    def __init__(self, journal: Journal, risk: RiskManager) -> None:
        self._journal = journal
        self._risk = risk
        self.orders = 0

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        self._risk.check(intent)
        with self._journal.rehearsal() as ready:
            if ready:
                self._journal.record_intent(intent, intent.ts_init)
        self.orders += 1
        raise _FirstOrderOut  # the path to the first order is what a headline waits for


class Rehearsal:
    """Runs the canned headline through the headline path; see the module's docstring."""

    def __init__(
        self,
        scorer: Scorer,
        journal: Journal,
        market: MarketState,
        clock: Clock,
        strategies: Sequence[Strategy],
        limits: RiskLimits,
        risk: RiskSettings,
    ) -> None:
        self.journal = journal
        self.market = market
        self.clock = _RehearsalClock(clock)
        self.limits = limits
        # the live checks' own copy: market hours from the same calendar, cached alike; its
        # order count is forgotten at each rehearsal
        self._risk = RiskManager(risk, self.clock)
        self._scorer = scorer
        self._scored = _Scored(scorer.universe)
        self._strategies: list[tuple[str, type[Strategy], StrategyConfig]] = []
        for i, strategy in enumerate(strategies):
            if type(strategy).rehearsal_safe:
                sid = f"rehearsal:{i}:{strategy.config.strategy_id or type(strategy).__name__}"
                config = strategy.config.model_copy(update={"strategy_id": sid})
                self._strategies.append((sid, type(strategy), config))
        self.runs = 0
        self.skipped = 0
        self.orders = 0

    @property
    def strategy_ids(self) -> list[str]:
        """Ids of the strategies rehearsed (`rehearsal:<position>:<id>`)."""
        return [sid for sid, _, _ in self._strategies]

    def run(self) -> bool:
        """One whole rehearsal at once; False when skipped (an event's transaction is open)."""
        return all(self.stages())

    def stages(self) -> Iterator[bool]:
        """One rehearsal in stages, each short (tens of microseconds): the daemon lets the
        event loop run between them, so a message that comes meanwhile waits for one stage,
        not for the whole rehearsal. No journal savepoint spans two stages. Yields False, and
        stops, when it must skip (an event's transaction is open)."""
        item = decode_news(CANNED_PAYLOAD, self.clock.now_ns())
        with self.journal.rehearsal() as ready:
            if ready:
                self.journal.record_news(item)
        if not ready:
            self.skipped += 1
            yield False
            return
        yield True
        self._scored.shock = self._scorer.rehearse(item)
        yield True
        self._scorer.touch()  # the rest of its tables, which one canned headline never reads
        for sid, kind, config in list(self._strategies):
            yield True
            self._risk.forget()
            broker = _RehearsalBroker(self.journal, self._risk)
            engine = Engine(
                self._scored,  # type: ignore[arg-type]  # duck-typed: score() and universe
                self.market, self.clock, broker, self.limits, max_failures=1, pause_s=0,
            )  # fmt: skip
            engine.add_strategy(kind(config))
            engine.start()  # a fresh copy, started as the daemon starts its strategies
            with contextlib.suppress(_FirstOrderOut):
                engine.on_news(item)  # each strategy in an engine of its own: the first
            self.orders += broker.orders  # order of one must not cut the next one short
            if engine.status(sid).state == "broken":  # logged once, then left out
                log.warning("strategy %s failed in a rehearsal: no longer rehearsed", sid)
                self._strategies.remove((sid, kind, config))
        self.runs += 1
