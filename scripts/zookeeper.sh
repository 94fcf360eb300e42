#!/usr/bin/env bash
# A throw-away ZooKeeper for tests and examples: standalone, on 127.0.0.1:$ZK_PORT, with its
# data under $ZK_DIR. Installs Debian's `zookeeper` package when the jar is missing (needs
# root and apt). No systemd: java runs in the background and is stopped by its PID.
#
# usage: scripts/zookeeper.sh start|stop|restart|status
#   start:   wipes the data dir, starts, waits until it serves
#   restart: stops, then starts again on the same data (sessions and nodes survive)
#   env: ZK_PORT (default 21810), ZK_DIR (default /tmp/ringrpc-zk)
set -euo pipefail
ZK_PORT=${ZK_PORT:-21810}
ZK_DIR=${ZK_DIR:-/tmp/ringrpc-zk}
JAR=/usr/share/java/zookeeper.jar

# A four-letter-word command; bash's /dev/tcp, since nc is often missing.
four_letter() ( exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" || exit 0; printf '%s' "$1" >&3; timeout 2 cat <&3 ) 2>/dev/null

install_zookeeper() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "zookeeper is not installed ($JAR missing) and cannot be installed here: run 'apt-get install zookeeper' as root" >&2
    exit 1
  fi
  echo "installing zookeeper from Debian packages..."
  apt-get update -qq
  # Not `zookeeperd`: that one starts a system service on port 2181.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zookeeper >/dev/null
}

running() { [ -f "$ZK_DIR/zk.pid" ] && kill -0 "$(cat "$ZK_DIR/zk.pid")" 2>/dev/null; }

start_server() {
  [ -r "$JAR" ] || install_zookeeper
  if running; then
    echo "zookeeper already running on 127.0.0.1:$ZK_PORT (pid $(cat "$ZK_DIR/zk.pid"))"
    return 0
  fi
  mkdir -p "$ZK_DIR/data"
  # tickTime 500 and minSessionTimeout 1000 let tests use 1-2 s sessions; the admin
  # server is off so that nothing binds port 8080.
  cat >"$ZK_DIR/zoo.cfg" <<CFG
tickTime=500
minSessionTimeout=1000
maxSessionTimeout=60000
dataDir=$ZK_DIR/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons
maxClientCnxns=0
CFG
  local started; started=$(date +%s%N)
  nohup java -Xms64m -Xmx256m -XX:+UseSerialGC \
    -cp "$JAR:/usr/share/java/slf4j-simple.jar" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    org.apache.zookeeper.server.ZooKeeperServerMain "$ZK_DIR/zoo.cfg" \
    >>"$ZK_DIR/zk.log" 2>&1 </dev/null &
  echo $! >"$ZK_DIR/zk.pid"
  # `ruok` answers before the server serves; `srvr` reporting its mode means it does.
  for _ in $(seq 1 300); do
    if four_letter srvr | grep -q '^Mode: standalone'; then
      echo "zookeeper ready on 127.0.0.1:$ZK_PORT (pid $(cat "$ZK_DIR/zk.pid")) after $(( ($(date +%s%N) - started) / 1000000 )) ms"
      return 0
    fi
    running || { echo "zookeeper exited:" >&2; cat "$ZK_DIR/zk.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "zookeeper not ready after 30 s:" >&2; cat "$ZK_DIR/zk.log" >&2; exit 1
}

stop_server() {
  [ -f "$ZK_DIR/zk.pid" ] || return 0
  local pid; pid=$(cat "$ZK_DIR/zk.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$ZK_DIR/zk.pid"
}

case "${1:-}" in
start)
  if ! running; then rm -rf "$ZK_DIR"; fi
  start_server ;;
stop) stop_server ;;
restart) stop_server; start_server ;;
status) four_letter srvr ;;
*) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
