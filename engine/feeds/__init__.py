"""Live inputs: MQTT, Alpaca streams and file replay, all speaking to a `FeedSink`."""

from engine.feeds.base import Feed, FeedSink, TradeBatch

__all__ = ["Feed", "FeedSink", "TradeBatch"]
