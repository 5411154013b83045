#!/usr/bin/env bash
# A production install, made the way a deployment makes one: build here, copy only what runs (no src/, no
# tests) into a temp folder, install the production dependencies there (npm ci --omit=dev: no tsx, no
# TypeScript), and run the CLI: models synth, tag, caption, imagine, verify, check (the real nsfwjs model,
# without network where this machine can take it away) and the playground of `iris start`.
# Any import that only a devDependency satisfies fails here. CI runs it after `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build
dir=$(mktemp -d "${TMPDIR:-/tmp}/iris-production-XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cp -r package.json package-lock.json .npmrc bin dist "$dir/"
mkdir "$dir/config"
cp config/default.yaml "$dir/config/"
cd "$dir"
export NODE_ENV=production
npm ci --omit=dev --no-audit --no-fund
if [ -e node_modules/tsx ] || [ -e node_modules/typescript ]; then
  echo "check-production-install: development tools were installed" >&2
  exit 1
fi
# This folder's own settings only: no config/local.yaml, no tokens, memory kept here.
unset DISCORD_TOKEN SLACK_BOT_TOKEN SLACK_APP_TOKEN SLACK_SIGNING_SECRET IRIS_CONFIG IRIS_MODELS_DIR
printf 'memory:\n  store: memory\n' > iris.yaml
iris() { node bin/iris.js --config iris.yaml "$@"; }

# Not ./models (the default models folder): `iris start` below must find none there.
iris models synth --out colour-world
node -e "require('sharp')({ create: { width: 32, height: 32, channels: 3, background: '#ff0000' } }).png().toFile('red.png')"
tags=$(iris tag red.png --labels red,green,blue --models colour-world --json)
echo "iris tag: $tags"
node -e "const r = JSON.parse(process.argv[1]); if (r.labels[0].label !== 'red') process.exit(1)" "$tags"
iris caption red.png --models colour-world
iris imagine "a red square" --size 64x64 --out drawn.png --models colour-world
verified=$(iris verify drawn.png)
echo "$verified"
echo "$verified" | grep -q 'C2PA:   signed manifest valid' || { echo 'check-production-install: no valid C2PA manifest' >&2; exit 1; }
# The safety classifier's weights and WebAssembly ship in node_modules: it must run with no network at all.
offline() {
  if unshare -rn true 2>/dev/null; then
    unshare -rn "$@"
  else
    echo "check-production-install: (no network namespace here; iris check runs with the network up)" >&2
    "$@"
  fi
}
checked=$(offline node bin/iris.js --config iris.yaml check red.png drawn.png --json)
echo "iris check: $checked"
node -e "
  const rows = process.argv[1].trim().split('\\n').map((l) => JSON.parse(l));
  if (rows.length !== 2 || !rows.every((r) => r.safe && typeof r.scores.Neutral === 'number')) process.exit(1);
" "$checked"

# iris start: the demo models by themselves (no token, no models here), and the page's files.
IRIS_PORT=0 node bin/iris.js --config iris.yaml start 2> start.log &
pid=$!
for _ in $(seq 1 120); do
  grep -q 'iris is ready' start.log && break
  kill -0 "$pid" 2>/dev/null || { cat start.log >&2; exit 1; }
  sleep 0.5
done
fail() {
  echo "check-production-install: $1" >&2
  cat start.log >&2
  exit 1
}
url=$(grep -o 'http://127.0.0.1:[0-9]*/' start.log | head -1) || fail 'iris start did not print the address'
grep -q 'DEMO MODELS' start.log || fail 'iris start did not run the demo models'
# (node's fetch, not curl: a bare machine may not have curl)
node --input-type=module -e "
  const page = await (await fetch(process.argv[1])).text();
  const app = await fetch(process.argv[1] + 'app.js');
  if (!page.includes('<title>iris playground</title>') || !app.ok) process.exit(1);
" "$url" || fail "the playground's page or app.js is not served"
kill -TERM "$pid"
wait "$pid"
pid=""
echo "check-production-install: ok (a production install runs models synth, tag, caption, imagine, verify, check and start)"
