#!/usr/bin/env bash
# Runs a command with a Redis and a PostgreSQL it can use, exported as REDIS_URL and
# DATABASE_URL.
#
#   scripts/services.sh [--reuse-local] [--server-binaries] -- COMMAND...
#
# 1. REDIS_URL / DATABASE_URL already set: used as they are.
# 2. --reuse-local and a server answers on 127.0.0.1:6379 / :5432 (user postgres): reused.
# 3. Otherwise a throwaway server is started in a temporary directory on a free loopback
#    port and removed when COMMAND exits. Missing server packages are installed with apt
#    on Debian/Ubuntu; elsewhere the script names what to install.
# --server-binaries: install redis-server and PostgreSQL's initdb/pg_ctl even when the
#    servers are reused (the chaos tests start, stall and restart servers of their own).
set -euo pipefail

reuse_local=0
server_binaries=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reuse-local) reuse_local=1; shift ;;
    --server-binaries) server_binaries=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--reuse-local] [--server-binaries] -- COMMAND..." >&2; exit 2; }

log() { echo "[services] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_install() {
  if command -v apt-get >/dev/null; then
    log "installing $* with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    log "please install: $* (Redis server and PostgreSQL server with initdb/pg_ctl)"
    exit 1
  fi
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /usr/pgsql-*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 20000 ))
    port_free "$p" && { echo "$p"; return 0; }
  done
  log "no free port found"; return 1
}

if [ $server_binaries = 1 ]; then
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
  pg_bin >/dev/null || apt_install postgresql
fi

tmp=""
cleanup() {
  local rc=$?
  if [ -n "$tmp" ]; then
    [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true
    if [ -d "$tmp/pg" ]; then
      if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
      else "$PG_BIN/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true; fi
    fi
    rm -rf "$tmp"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

ensure_tmp() { [ -n "$tmp" ] || { tmp=$(mktemp -d "${TMPDIR:-/tmp}/pitstop-services.XXXXXX"); chmod 755 "$tmp"; }; }

if [ -z "${REDIS_URL:-}" ]; then
  if [ $reuse_local = 1 ] && command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; then
    export REDIS_URL=redis://127.0.0.1:6379
    log "reusing Redis on 127.0.0.1:6379"
  else
    command -v redis-server >/dev/null || apt_install redis-server
    ensure_tmp
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --dir "$tmp" --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
    # Ready when it answers, not when its port opens (it loads before serving); a server
    # that never does is an error here rather than "Connection refused" in the command.
    up=0
    for _ in $(seq 1 100); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then up=1; break; fi
      sleep 0.1
    done
    [ $up = 1 ] || { log "Redis did not answer on 127.0.0.1:$port within 10 s"; cat "$tmp/redis.log" >&2; exit 1; }
    export REDIS_URL="redis://127.0.0.1:$port"
    log "started throwaway Redis on 127.0.0.1:$port"
  fi
fi

if [ -z "${DATABASE_URL:-}" ]; then
  if [ $reuse_local = 1 ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 -U postgres \
     && psql "postgres://postgres@127.0.0.1:5432/postgres" -qtAc 'select 1' >/dev/null 2>&1; then
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    log "reusing PostgreSQL on 127.0.0.1:5432"
  else
    PG_BIN=$(pg_bin) || { apt_install postgresql; PG_BIN=$(pg_bin); }
    ensure_tmp
    port=$(free_port)
    run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    # initdb refuses to run as root: the server runs as the postgres user the package created.
    mkdir -p "$tmp/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$tmp/pg"
    run_pg "$PG_BIN/initdb" -D "$tmp/pg" -U postgres --auth=trust -E UTF8 >"$tmp/initdb.log" 2>&1 \
      || { cat "$tmp/initdb.log" >&2; exit 1; }
    run_pg "$PG_BIN/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/server.log" -w \
      -o "-p $port -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null \
      || { cat "$tmp/pg/server.log" >&2; exit 1; }
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    log "started throwaway PostgreSQL on 127.0.0.1:$port"
  fi
fi

"$@"
