#!/usr/bin/env bash
# Register Growatt devices with GNU parallel driving curl: one curl per row, N at a time.
#
#   parallel_curl.sh --input fleet.csv --base-url URL --out results.csv \
#       [--token T | GROWATT_TOKEN=T] [--rate 50] [--concurrency 8] [--timeout 30] [--max-attempts 5]
#
# Pacing is approximated the way GNU parallel offers it: `--delay 1/RATE` waits that long between
# starting two jobs. Retries happen inside a job (a small bash function around curl: 10001 and
# curl failures such as timeouts are retried with a doubling pause), so they are not paced, and a
# job slot stays taken while its row waits out a backoff. The CSV is split on commas with the
# header naming the columns (`--header : --colsep ,`): no quoted cells.
set -euo pipefail

input= base= out= rate= conc=4 timeout=30 max_attempts=5 backoff_ms=50
token=${GROWATT_TOKEN:-}
while [ $# -gt 0 ]; do
    case $1 in
        --input) input=$2 ;;
        --base-url) base=$2 ;;
        --token) token=$2 ;;
        --rate) rate=$2 ;;
        --concurrency) conc=$2 ;;
        --out) out=$2 ;;
        --timeout) timeout=$2 ;;
        --max-attempts) max_attempts=$2 ;;
        --backoff-ms) backoff_ms=$2 ;;
        *) echo "parallel_curl.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$input" ] && [ -n "$base" ] && [ -n "$out" ] || { echo "usage: see the head of $0" >&2; exit 2; }
[ -n "$token" ] || { echo "parallel_curl.sh: no token: pass --token or set GROWATT_TOKEN" >&2; exit 2; }

# One row: prints "sn,error_code,attempts,error".
add_one() {
    local plant=$1 sn=$2 user=$3 attempt=0 code body pause=$BACKOFF_MS rc
    while :; do
        attempt=$((attempt + 1))
        code= rc=0
        body=$(curl -sS --max-time "$TIMEOUT" -H "token: $TOKEN" \
            --data-urlencode "plant_id=$plant" --data-urlencode "sn=$sn" \
            --data-urlencode "c_user_id=$user" "$URL" 2>/dev/null) || rc=$?
        if [[ $body =~ \"error_code\":(-?[0-9]+) ]]; then code=${BASH_REMATCH[1]}; fi
        if { [ -z "$code" ] || [ "$code" = 10001 ]; } && [ "$attempt" -lt "$MAX_ATTEMPTS" ]; then
            sleep "$((pause / 1000)).$(printf '%03d' $((pause % 1000)))"
            pause=$((pause * 2))
            continue
        fi
        break
    done
    local error=
    [ -n "$code" ] || error="curl exit $rc"
    printf '%s,%s,%s,%s\n' "$sn" "$code" "$attempt" "$error"
}
export -f add_one
export TOKEN=$token URL="${base%/}/v1/device/sn/add" TIMEOUT=$timeout MAX_ATTEMPTS=$max_attempts BACKOFF_MS=$backoff_ms
export PARALLEL_SHELL=bash

pace=()
if [ -n "$rate" ]; then
    pace=(--delay "$(awk -v r="$rate" 'BEGIN { printf "%.6f", 1 / r }')")
fi

{
    echo "sn,error_code,attempts,error"
    parallel --will-cite -j "$conc" "${pace[@]}" --header : --colsep , \
        add_one {plant_id} {sn} {c_user_id} :::: "$input"
} > "$out"
