"""Example third-party Spillover strategy plugin: trade the echo of a shock in related companies."""

from peer_echo.strategy import PeerEcho, PeerEchoConfig

__all__ = ["PeerEcho", "PeerEchoConfig"]
