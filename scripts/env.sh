# Shared by scripts/dev and scripts/test: one target dir and one set of flags,
# so the two never rebuild each other's work.
BAZAAR_CACHE="${BAZAAR_CACHE:-$HOME/.cache/bazaar}"
export PATH="$BAZAAR_CACHE/venv/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bazaar-target}"
if command -v mold >/dev/null && [ -z "${RUSTFLAGS:-}" ]; then
    export RUSTFLAGS="-C link-arg=-fuse-ld=mold"
fi
