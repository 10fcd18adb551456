#!/usr/bin/env bash
# Rebuilds the measured isolate from this checkout exactly as a release is built, and prints its
# measurement: the SHA-256 that `sealroom measure` prints, that a host reports for the isolate it
# runs, and that owners approve. The same commit gives the same bytes wherever it is checked out:
#   - a pinned toolchain (below) and the locked dependencies (Cargo.lock, --locked);
#   - the isolate built alone (`-p sealroom-isolate`), so no other crate's features leak in;
#   - every path that could be embedded (this checkout, the target directory, the cargo home)
#     remapped to a fixed prefix, for Rust (--remap-path-prefix) and for the C in aws-lc
#     (-ffile-prefix-map); no linker build id.
# Usage: scripts/reproduce-isolate.sh [TARGET_DIR]   (default: target/reproducible)
set -euo pipefail
TOOLCHAIN=1.95.0

src="$(cd "$(dirname "$0")/.." && pwd -P)"
target="${1:-$src/target/reproducible}"
mkdir -p "$target"
target="$(cd "$target" && pwd -P)"
cargo_home="$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd -P)"

if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$TOOLCHAIN" --profile minimal >&2
fi

remap="--remap-path-prefix=$src=/sealroom --remap-path-prefix=$target=/target --remap-path-prefix=$cargo_home=/cargo"
export RUSTFLAGS="$remap -C link-arg=-Wl,--build-id=none"
export CFLAGS="-ffile-prefix-map=$src=/sealroom -ffile-prefix-map=$target=/target -ffile-prefix-map=$cargo_home=/cargo"
export CXXFLAGS="$CFLAGS"
unset RUSTC_WRAPPER CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

cd "$src"
CARGO_TARGET_DIR="$target" cargo "+$TOOLCHAIN" build --release --locked -p sealroom-isolate >&2
binary="$target/release/sealroom-isolate"
echo "measurement $(sha256sum "$binary" | cut -d' ' -f1)  $binary"
