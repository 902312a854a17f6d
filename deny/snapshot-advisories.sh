#!/usr/bin/env bash
# Refreshes deny/advisory-db/ from a clone of https://github.com/rustsec/advisory-db:
# the advisories of every crate named in Cargo.lock or fuzz/Cargo.lock, and the clone's
# commit and date (the test suite checks against this snapshot offline, as CI cannot
# reach GitHub). Usage: deny/snapshot-advisories.sh <advisory-db clone>
set -euo pipefail
source=${1:?usage: $0 <advisory-db clone>}
root=$(cd "$(dirname "$0")/.." && pwd)
target=$root/deny/advisory-db
rm -rf "$target/crates"
mkdir -p "$target/crates"
for lock in "$root/Cargo.lock" "$root/fuzz/Cargo.lock"; do
    sed -n 's/^name = "\(.*\)"$/\1/p' "$lock"
done | sort -u | while read -r crate; do
    if [ -d "$source/crates/$crate" ]; then
        cp -r "$source/crates/$crate" "$target/crates/"
    fi
done
cp "$source/LICENSE.txt" "$target/LICENSE.txt"
rm -rf "$target/LICENSES" && cp -r "$source/LICENSES" "$target/LICENSES"
git -C "$source" log -1 --format='%H %cI' > "$target/SNAPSHOT"
echo "deny/advisory-db: $(ls "$target/crates" | wc -l) crates' advisories as of $(cat "$target/SNAPSHOT")"
