from tests.support.mosquitto import mosquitto_broker, shared_broker

__all__ = ["mosquitto_broker", "shared_broker"]
