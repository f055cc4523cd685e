# Shell helpers shared by the benchmark scripts (sourced, not run).

# GET over bash's /dev/tcp: the bench needs no HTTP client of its own.
http_get() {
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  cat <&3
  exec 3<&-
}
# The same with Accept-Encoding: gzip, as Prometheus scrapes.
http_get_gzip() {
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n' "$2" >&3
  cat <&3
  exec 3<&-
}
wait_for() {  # FILE REGEX → first capture group
  for _ in $(seq 200); do
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
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
