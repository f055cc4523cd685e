# Shell helpers shared by the benchmark scripts (sourced, not run).

# GET over bash's /dev/tcp: the bench needs no HTTP client of its own.
http_get() {
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  cat <&3
  exec 3<&-
}
# One GET timed by curl's own clock, from connecting to the last byte read: "bytes
# seconds". A `date` and a `cat` around a request would add two process starts, which
# take 10 ms or more each on a small VM. With a third argument, asks for gzip, as
# Prometheus scrapes, and counts the compressed bytes.
timed_get() {
  local gzip=()
  [[ $# -gt 2 ]] && gzip=(-H "Accept-Encoding: gzip")
  curl -sf -o /dev/null "${gzip[@]}" -w '%{size_download} %{time_total}\n' "http://127.0.0.1:$1$2"
}
wait_for() {  # FILE REGEX [TRIES of 50 ms, default 200] → first capture group
  for _ in $(seq "${3:-200}"); do
    if line=$(grep -oE "$2" "$1" | head -1) && [[ -n "$line" ]]; then
      sed -E "s#$2#\1#" <<<"$line"
      return
    fi
    sleep 0.05
  done
  echo "timed out waiting for $2 in $1" >&2
  cat "$1" >&2
  exit 1
}
# The environment topupd's systemd unit gives it (its Environment= lines): the daemon
# is benchmarked as it is deployed. The sandbox and other peers run without it. Read
# once here: a command substitution in a backgrounded command would run before its
# redirections, and a wait_for on its log would find no file yet.
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mapfile -t topupd_env < <(sed -n 's/^Environment=//p' "$bench_dir/../systemd/topupd.service")
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# A PostgreSQL 15 of the bench's own in directory $1 (initdb as the postgres user when
# run as root), with its defaults, on a free port of 127.0.0.1: sets pg_port.
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
start_postgres() {
  pg_port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  if [[ $(id -u) == 0 ]]; then chown postgres "$1"; fi
  as_postgres /usr/lib/postgresql/15/bin/initdb -D "$1/data" -U topupd -A trust -E UTF8 >/dev/null
  as_postgres /usr/lib/postgresql/15/bin/pg_ctl -D "$1/data" -l "$1/server.log" -w \
    -o "-p $pg_port -k $1 -c listen_addresses=127.0.0.1" start >/dev/null
}
stop_postgres() { as_postgres /usr/lib/postgresql/15/bin/pg_ctl -D "$1/data" -m immediate stop >/dev/null 2>&1 || true; }
