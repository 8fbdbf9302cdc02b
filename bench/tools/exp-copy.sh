#!/bin/sh
# Makes bench/.exp/{supervisor,router}: copies of the built packages to try a change on (A/B), wired so
# the copied supervisor uses the copied router. Run:  OPENSHELL_BENCH_SUPERVISOR=$PWD/bench/.exp/supervisor/dist/index.js node bench/run.mjs ...
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
exp="$root/bench/.exp"
rm -rf "$exp/supervisor" "$exp/router"
mkdir -p "$exp/supervisor/node_modules/@openshell" "$exp/router"
cp -r "$root/packages/router/dist" "$root/packages/router/package.json" "$exp/router/"
ln -s "$root/packages/router/node_modules" "$exp/router/node_modules"
cp -r "$root/packages/supervisor/dist" "$root/packages/supervisor/package.json" "$root/packages/supervisor/preload" "$root/packages/supervisor/relay" "$exp/supervisor/"
for dep in "$root"/packages/supervisor/node_modules/* "$root"/packages/supervisor/node_modules/@*/*; do
  name=${dep#"$root"/packages/supervisor/node_modules/}
  case "$name" in @openshell|@*[!/]) [ -d "$dep" ] && [ "${name#@*/}" = "$name" ] && continue ;; esac
  [ "$name" = "@openshell/router" ] && continue
  mkdir -p "$(dirname "$exp/supervisor/node_modules/$name")"
  ln -s "$(readlink -f "$dep")" "$exp/supervisor/node_modules/$name"
done
ln -s "$exp/router" "$exp/supervisor/node_modules/@openshell/router"
echo "$exp"
