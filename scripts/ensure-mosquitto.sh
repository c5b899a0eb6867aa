#!/usr/bin/env bash
# Make sure the `mosquitto` binary exists and a broker answers on 127.0.0.1:1883.
# Installs it with apt-get when missing (as root), or says exactly how to.
set -euo pipefail

port_open() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing mosquitto (apt-get install mosquitto)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
  else
    echo "error: the tests need the Mosquitto MQTT broker. Install it first:" >&2
    echo "  Debian/Ubuntu: sudo apt-get install mosquitto" >&2
    echo "  macOS:         brew install mosquitto" >&2
    exit 2
  fi
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

if ! port_open; then
  echo "starting mosquitto on 127.0.0.1:1883" >&2
  conf=$(mktemp)
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n' > "$conf"
  "$MOSQUITTO" -d -c "$conf"
  for _ in $(seq 50); do port_open && break; sleep 0.1; done
  port_open || { echo "error: mosquitto did not start on 127.0.0.1:1883" >&2; exit 2; }
fi
