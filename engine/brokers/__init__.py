"""Execution: the simulated venue model, the live simulated broker and Alpaca paper."""

from engine.brokers.base import BrokerSnapshot, LiveBroker, OrderEvents

__all__ = ["BrokerSnapshot", "LiveBroker", "OrderEvents"]
