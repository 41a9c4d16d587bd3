# Sourced by the experiment scripts (bash, set -euo pipefail): `serve_qwen PORT` starts
# `persuasion bridge serve` of Qwen2.5-Coder-1.5B int8 on loopback PORT (0: any free port) in
# the background, waits until it listens, and sets `url` (its /v1 root); the server is stopped
# when the script exits.
serve_qwen() {
  local log
  log=$(mktemp)
  persuasion bridge serve --model qwen2.5-coder-1.5b --compute-type int8 --port "$1" > "$log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; rm -f "'"$log"'"' EXIT
  url=
  for _ in $(seq 600); do
    url=$(sed -n 's/^serving .* at \(http:[^ ]*\) .*/\1/p' "$log")
    [[ -n "$url" ]] && return 0
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 1
  done
  echo "$0: bridge serve did not start in 600 s" >&2
  exit 1
}
