import pytest

from engine.clock import LiveClock, SimClock


def test_sim_clock_fires_timers_in_order_at_their_own_time() -> None:
    clock = SimClock(100)
    seen: list[tuple[str, int, int]] = []
    clock.call_at(300, lambda t: seen.append(("b", t, clock.now_ns())))
    clock.call_at(200, lambda t: seen.append(("a", t, clock.now_ns())))
    clock.call_at(
        50, lambda t: seen.append(("late", t, clock.now_ns()))
    )  # in the past: next advance
    assert clock.next_timer_ns() == 100
    clock.advance_to(250)
    assert seen == [("late", 100, 100), ("a", 200, 200)]
    assert clock.now_ns() == 250
    clock.advance_to(1000)
    assert seen[-1] == ("b", 300, 300)


def test_sim_clock_never_goes_back() -> None:
    clock = SimClock(10)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(5)


def test_move_to_only_moves_forward_and_leaves_the_timers() -> None:
    """The runner's step to a fill that comes before the next timer."""
    clock = SimClock(100)
    fired: list[int] = []
    clock.call_at(500, fired.append)
    clock.move_to(300)
    clock.move_to(200)  # behind: stays
    assert clock.now_ns() == 300 and fired == [] and clock.next_timer_ns() == 500
    clock.advance_to(500)
    assert fired == [500]


def test_live_clock_reads_the_wall_clock() -> None:
    a = LiveClock().now_ns()
    assert a > 1_700_000_000 * 10**9


def test_engine_timers_on_a_live_clock_fire_when_due() -> None:
    from engine.runtime import Engine
    from engine.strategy import Strategy, StrategyConfig
    from tests.support.engine_parts import ManualClock

    class Timed(Strategy):
        def __init__(self, config: StrategyConfig) -> None:
            super().__init__(config)
            self.fired: list[tuple[str, int]] = []

        def on_start(self) -> None:
            self.ctx.set_timer("b", 20)
            self.ctx.set_timer("a", 10)

        def on_timer(self, name: str, ts_ns: int) -> None:
            self.fired.append((name, ts_ns))

    clock = ManualClock()
    engine = Engine(scorer=None, market=None, clock=clock, broker=None)  # type: ignore[arg-type]
    strategy = Timed(StrategyConfig(strategy_id="t"))
    engine.add_strategy(strategy)
    engine.start()
    clock.t = 15
    assert engine.fire_due_timers() == 1
    clock.t = 30
    assert engine.fire_due_timers() == 1
    assert strategy.fired == [("a", 10), ("b", 20)]
