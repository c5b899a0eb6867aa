"""Settings: defaults < `configs/default.toml` (or --config FILE) < environment < arguments.

Every key can come from the environment as `SPILLOVER_<SECTION>__<KEY>`, e.g.
`SPILLOVER_SCORING__THRESHOLD=0.2`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.errors import ConfigError, validation_problems
from engine.paths import config_dir
from engine.risk import RiskSettings


class ScoringSettings(BaseModel):
    """How headlines are scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(
        0.15, gt=0, le=1, description="|score| at which strategies trade a leg"
    )
    max_chars: int = Field(
        2000, ge=16, description="headlines longer than this are cut (and say so)"
    )
    max_shocks: int = Field(32, ge=1, le=512, description="most legs kept per headline")
    min_abs: float = Field(0.02, ge=0, lt=1, description="legs below this |score| are dropped")
    novelty_window_hours: float = Field(
        24.0, ge=0, description="how far back near-duplicates count"
    )
    duplicate_distance: int = Field(
        3, ge=0, le=64, description="SimHash bits apart that count as a repeat"
    )
    duplicate_factor: float = Field(0.25, ge=0, le=1, description="score multiplier for a repeat")
    novelty_ring: int = Field(4096, ge=16, description="recent headlines remembered for novelty")
    industry_peer_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="weight of the implicit peer link between same-industry companies",
    )


class MqttSettings(BaseModel):
    """The MQTT feed: broker address, topics, session and TLS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str = Field("spillover", description="also names the persistent session")
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: SecretStr | None = Field(None, description="from the environment only, never a file")
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = Field(False, description="skip host name checks (test brokers only)")
    news_topic: str = "news/#"
    ticks_topic: str = "ticks/#"
    qos: int = Field(1, ge=0, le=2, description="QoS of the news subscription (ticks use 0)")
    shared_group: str = Field(
        "", description="MQTT v5: subscribe news as $share/<group>/... so daemons split it"
    )
    session_expiry_s: int = Field(
        86_400, ge=0, description="how long the broker keeps our session (and QoS 1 news)"
    )
    keepalive_s: int = Field(30, ge=5)
    reconnect_max_s: float = Field(30.0, gt=0, description="cap of the jittered backoff")
    dead_letter_topic: str = Field("", description="also publish bad payloads here, if set")
    max_queued_messages: int = Field(
        0, ge=0, description="incoming queue bound (0: unbounded, nothing dropped)"
    )
    tcp_nodelay: bool = Field(True, description="disable Nagle: ~4 ms less at p99")


class AlpacaSettings(BaseModel):
    """Alpaca paper trading and market data. Keys come from the environment only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = Field(
        None, description="SPILLOVER_ALPACA__API_KEY (or APCA_API_KEY_ID)"
    )
    secret_key: SecretStr | None = Field(
        None, description="SPILLOVER_ALPACA__SECRET_KEY (or APCA_API_SECRET_KEY)"
    )
    paper: bool = True
    trading_url: str | None = Field(None, description="override the REST base URL (tests)")
    news_url: str | None = Field(None, description="override the news websocket URL (tests)")
    stocks_url: str | None = Field(None, description="override the stocks websocket URL")
    data_feed: Literal["iex", "sip"] = "iex"
    symbols: list[str] = Field(
        default_factory=list, description="trades to stream (empty: the strategies' universe)"
    )
    time_in_force: Literal["day", "gtc", "ioc"] = "day"
    poll_interval_s: float = Field(1.0, gt=0, description="how often open orders are checked")
    max_retries: int = Field(5, ge=0, description="retries of a call on 429/5xx/network errors")
    retry_backoff_s: float = Field(0.5, gt=0, description="first retry wait; doubles, jittered")


class ReplaySettings(BaseModel):
    """The embedded default feed: history replayed in real time, sped up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    news: Path | None = Field(None, description="news file (default: a generated sample)")
    trades: Path | None = Field(None, description="trades file (default: a generated sample)")
    speed: float = Field(60.0, gt=0, description="replayed seconds per wall-clock second")
    seed: int = 7
    days: int = Field(1, ge=1, description="days of generated sample")
    symbols: int = Field(40, ge=4, description="symbols in the generated sample")
    batch_ms: float = Field(50.0, gt=0, description="wall-clock interval of tick batches")


class BrokerSettings(BaseModel):
    """Where orders go and, for the simulator, what they cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["sim", "alpaca"] = "sim"
    latency_ms: float = Field(0.0, ge=0, description="simulated order latency (live: 0)")
    slippage_bps: float = Field(2.0, ge=0)
    commission_per_share: float = Field(0.005, ge=0)
    unshortable: list[str] = Field(default_factory=list)
    max_symbol_notional: float = Field(250_000.0, gt=0)
    max_gross_notional: float = Field(2_000_000.0, gt=0)


class HttpSettings(BaseModel):
    """The status face."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535, description="0: any free port")
    kill_token: SecretStr | None = Field(
        None, description="SPILLOVER_HTTP__KILL_TOKEN enables POST /api/kill"
    )


class StrategyEntry(BaseModel):
    """One strategy the daemon runs: a registered name or module:Class, and its settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "shock_hedge"
    settings: dict[str, Any] = Field(default_factory=dict)
    cash: float = 1_000_000.0


class DaemonSettings(BaseModel):
    """What `spillover run` runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    feeds: tuple[Literal["replay", "mqtt", "alpaca"], ...] = Field(
        ("replay",), description="replay (embedded sample), mqtt, alpaca; several may run"
    )
    state_dir: Path = Field(Path(".spillover"), description="journal, dead letters, samples")
    view: Literal["live", "log", "off"] = Field(
        "live", description="live: terminal dashboard; log: log lines; off: quiet"
    )
    stale_lag_s: float = Field(
        30.0, gt=0, description="/healthz turns 503 when feeds lag more than this"
    )
    shutdown_timeout_s: float = Field(4.0, gt=0, description="in-flight work gets this long")
    extra_symbols: list[str] = Field(
        default_factory=lambda: ["SPY", "QQQ", "IWM", "DIA"],
        description="symbols tracked besides the universe's companies (index hedges)",
    )
    strategy_pause_s: float = Field(
        60.0, ge=0, description="a strategy that raises is paused this long (0: not paused)"
    )
    strategy_max_failures: int = Field(
        3, ge=0, description="failures after which a strategy is stopped for good (0: never)"
    )
    flatten_on_kill: bool = Field(False, description="the kill switch also closes positions")
    keep_warm_ms: float = Field(
        1.0,
        ge=0,
        description="while no headline comes, rehearse one this often (ms) so its path stays in"
        " the CPU caches: lower news-to-order latency for 15-20% of a core (0: off; live"
        " feeds only, a replay skips it)",
    )


class Settings(BaseSettings):
    """All engine settings."""

    model_config = SettingsConfigDict(
        env_prefix="SPILLOVER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )
    toml_path: ClassVar[Path | None] = None

    scoring: ScoringSettings = ScoringSettings()
    daemon: DaemonSettings = DaemonSettings()
    strategies: list[StrategyEntry] = Field(default_factory=lambda: [StrategyEntry()])
    replay: ReplaySettings = ReplaySettings()
    mqtt: MqttSettings = MqttSettings()
    alpaca: AlpacaSettings = AlpacaSettings()
    broker: BrokerSettings = BrokerSettings()
    risk: RiskSettings = RiskSettings()
    http: HttpSettings = HttpSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = cls.toml_path or config_dir() / "default.toml"
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path))


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `path` (default `configs/default.toml`), the environment and overrides."""
    Settings.toml_path = path
    try:
        return Settings(**overrides)
    finally:
        Settings.toml_path = None


def settings_from(path: Path | None = None, **overrides: Any) -> Settings:
    """`load_settings`, with a wrong setting reported as a `ConfigError` naming file and fields."""
    try:
        return load_settings(path, **overrides)
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise ConfigError(f"settings: {problems}", path=str(path) if path else None) from None
