#!/usr/bin/env bash
# Lighthouse (mobile, simulated slow 4G) on the sample site built and served on
# 127.0.0.1, with Debian's chromium. A measurement for docs/BENCHMARKS.md, not a test.
#
# Usage: bash bench/lighthouse.sh [PATH ...]
#   default PATHs: the home page, a news article, a model, the gallery.
#   LH_FLAGS adds lighthouse options, e.g. LH_FLAGS=--throttling.cpuSlowdownMultiplier=1
# First use installs lighthouse (pinned: 12.2.3; 13 needs Node 22) into bench/.lighthouse/.
# JSON reports are kept in test-artifacts/lighthouse/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=12.2.3
lh="$root/bench/.lighthouse/node_modules/.bin/lighthouse"
if [ ! -x "$lh" ]; then
  npm install --prefix "$root/bench/.lighthouse" --no-audit --no-fund --save-exact \
    "lighthouse@$version" >/dev/null
fi
paths=("$@")
if [ ${#paths[@]} -eq 0 ]; then
  paths=("" "tin-tuc/phat-dong-nam-dan-van-kheo-2020-voi-noi-dung-04-khong/"
    "mo-hinh/doi-rac-thai-nhua-lay-khau-trang-y-te/" "mo-hinh/")
fi
work=$(mktemp -d)
reports="$root/test-artifacts/lighthouse"
mkdir -p "$reports"
"$root/.venv/bin/pelican" "$root/content" -o "$work/output" -s "$root/pelicanconf.py" \
  -e CACHE_PATH="\"$work/cache\"" >/dev/null
port=$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/.venv/bin/python" -m http.server --bind 127.0.0.1 --directory "$work/output" "$port" \
  >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
echo "| page | performance | accessibility | best practices | SEO | FCP | LCP | TBT | CLS | bytes |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for path in "${paths[@]}"; do
  name=$(echo "${path:-home}" | tr '/' '_')
  report="$reports/${name%_}.json"
  CHROME_PATH=/usr/bin/chromium "$lh" "http://127.0.0.1:$port/$path" --quiet \
    --only-categories=performance,accessibility,best-practices,seo \
    --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking" \
    --output=json --output-path="$report" ${LH_FLAGS:-}
  "$root/.venv/bin/python" - "$report" "/$path" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c, a = r["categories"], r["audits"]
score = lambda k: round(c[k]["score"] * 100)
print(f"| {sys.argv[2]} | {score('performance')} | {score('accessibility')} | "
      f"{score('best-practices')} | {score('seo')} | "
      f"{a['first-contentful-paint']['displayValue']} | "
      f"{a['largest-contentful-paint']['displayValue']} | "
      f"{a['total-blocking-time']['displayValue']} | "
      f"{a['cumulative-layout-shift']['displayValue']} | "
      f"{a['total-byte-weight']['numericValue']:,.0f} |")
PY
done
