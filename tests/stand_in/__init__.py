"""Local stand-ins for outside services, for tests that must not reach the network."""
