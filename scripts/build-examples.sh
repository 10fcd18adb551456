#!/usr/bin/env bash
# Builds the example Wasm programs (examples/) reproducibly and puts them in examples/modules/;
# with --check, rebuilds them elsewhere and fails unless the bytes equal the committed modules.
# The same source gives the same module wherever it is checked out:
#   - a pinned toolchain (below) with the wasm32-unknown-unknown target, locked dependencies;
#   - the sources built from a copy at one fixed path: cargo hashes the absolute path of a path
#     dependency outside the workspace (crates/guest) into the symbol names, and those decide the
#     function order, so a checkout elsewhere would otherwise give other bytes;
#   - that copy, the target directory and the cargo home remapped to fixed prefixes.
# Usage: scripts/build-examples.sh [--check]
set -euo pipefail
TOOLCHAIN=1.95.0

src="$(cd "$(dirname "$0")/.." && pwd -P)"
check=false
if [ "${1:-}" = "--check" ]; then check=true; fi

if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$TOOLCHAIN" --profile minimal >&2
fi
rustup target add --toolchain "$TOOLCHAIN" wasm32-unknown-unknown >&2

# Cargo reads .cargo/config.toml in every folder above the build: under /tmp, another user
# could plant one there (a compiler wrapper, a linker) to run code in this build. (The cargo
# home's own configuration is read wherever one builds.)
cargo_home="$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd -P)"
for planted in /tmp/.cargo /.cargo; do
    if [ -e "$planted/config.toml" ] || [ -e "$planted/config" ]; then
        if [ "$(cd "$planted" && pwd -P)" != "$cargo_home" ]; then
            echo "refusing to build: cargo would read the configuration in $planted" >&2
            exit 1
        fi
    fi
done
# One build at a time owns the fixed path: creating it (mode 700, never an existing folder) is
# the lock; it is removed when this script exits.
build=/tmp/sealroom-examples-build
for _ in $(seq 120); do
    if mkdir -m 700 "$build" 2>/dev/null; then
        break
    fi
    sleep 1
done
if [ ! -O "$build" ] || [ -L "$build" ] || [ -n "$(ls -A "$build")" ]; then
    echo "another build holds $build (or someone else created it); remove it if it is stale" >&2
    exit 1
fi
trap 'rm -rf "$build"' EXIT
mkdir "$build/src"
tar -C "$src" --exclude=examples/target --exclude=examples/modules -cf - Cargo.toml examples crates/guest | tar -C "$build/src" -xf -
target="$build/target"
export RUSTFLAGS="--remap-path-prefix=$build/src=/sealroom --remap-path-prefix=$target=/target --remap-path-prefix=$cargo_home=/cargo -C link-arg=-zstack-size=131072"
unset RUSTC RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_INCREMENTAL
for var in $(env | sed -n 's/^\(CARGO_PROFILE_[A-Z0-9_]*\)=.*/\1/p'); do unset "$var"; done

cd "$build/src/examples"
CARGO_TARGET_DIR="$target" cargo "+$TOOLCHAIN" build --release --locked --target wasm32-unknown-unknown >&2
status=0
for built in "$target"/wasm32-unknown-unknown/release/*.wasm; do
    name="$(basename "$built" .wasm | tr _ -)"
    committed="$src/examples/modules/$name.wasm"
    if $check; then
        if cmp -s "$built" "$committed"; then
            echo "$name: $(sha256sum "$built" | cut -d' ' -f1) (the committed module)"
        else
            echo "$name: rebuilding gives $(sha256sum "$built" | cut -d' ' -f1), the committed module is $(sha256sum "$committed" 2>/dev/null | cut -d' ' -f1)" >&2
            status=1
        fi
    else
        mkdir -p "$src/examples/modules"
        cp "$built" "$committed"
        echo "$name: $(sha256sum "$committed" | cut -d' ' -f1)"
    fi
done
exit $status
