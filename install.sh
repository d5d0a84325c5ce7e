#!/bin/sh
# Build the static vigild and install it with its links, manual pages,
# completions and example configurations. Run ./install.sh --help.
set -eu

usage() {
    cat <<'EOF'
usage: ./install.sh [-h|--help]

Builds the static musl binary (cargo build --release --target TARGET),
strips it and installs:

  PREFIX/sbin/vigild                        the binary
  PREFIX/sbin/vigild-import                 the importer (vigild import),
                                            from beside the binary
  PREFIX/sbin/vigilctl, PREFIX/sbin/vigil-log
                                            relative symlinks to vigild
  PREFIX/share/man/man5, man8               the pages of man/
  PREFIX/share/bash-completion/completions/vigilctl
  PREFIX/share/zsh/site-functions/_vigilctl the completions of completions/
  PREFIX/share/doc/vigild/                  README.md, CHANGELOG.md, the
                                            licences, conf/*.conf and
                                            conf/services/*.conf (examples)

Environment:
  PREFIX    where to install (default /usr/local; an absolute path)
  DESTDIR   staging directory put before PREFIX (packaging; default none)
  CARGO     the cargo to run (default cargo)
  TARGET    the Rust target (default ARCH-unknown-linux-musl, ARCH the
            machine's, from uname -m); install it with rustup target add
  BIN       install this already built binary instead of building one
            (and the vigild-import beside it, if there is one)
  STRIP     the strip program (default strip; for another architecture
            the llvm-strip of rustup's llvm-tools if installed);
            STRIP=true installs the binary unstripped

Exits 0 once everything is installed, 2 on a usage error, 1 on any other
failure (nothing is rolled back).
EOF
}

case ${1-} in
    -h | --help) usage; exit 0 ;;
    '') ;;
    *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "install.sh: too many arguments (see --help)" >&2; exit 2; }

# DESTDIR and BIN may be relative to where the script was called from:
# made absolute before it moves into the source tree.
DESTDIR=${DESTDIR:-}
case $DESTDIR in
    '' | /*) ;;
    *) DESTDIR=$PWD/$DESTDIR ;;
esac
case ${BIN:-} in
    '' | /*) ;;
    *) BIN=$PWD/$BIN ;;
esac
cd -- "$(dirname -- "$0")"
PREFIX=${PREFIX:-/usr/local}
CARGO=${CARGO:-cargo}
host_arch=$(uname -m)
TARGET=${TARGET:-$host_arch-unknown-linux-musl}
case $PREFIX in
    /*) ;;
    *) echo "install.sh: PREFIX must be an absolute path: $PREFIX" >&2; exit 2 ;;
esac

if [ -n "${BIN:-}" ]; then
    binary=$BIN
else
    echo "building: $CARGO build --release --target $TARGET"
    "$CARGO" build --release --target "$TARGET"
    binary=${CARGO_TARGET_DIR:-target}/$TARGET/release/vigild
fi
[ -f "$binary" ] || { echo "install.sh: no binary at $binary" >&2; exit 1; }

# The host's strip does not know another architecture's binaries; rustup's
# llvm-tools component brings one that knows them all.
if [ -z "${STRIP:-}" ]; then
    STRIP=strip
    case $TARGET in
        "$host_arch"-*) ;;
        *)
            sysroot=$(rustc --print sysroot 2>/dev/null || true)
            for s in "$sysroot"/lib/rustlib/*/bin/llvm-strip; do
                if [ -x "$s" ]; then STRIP=$s; fi
            done
            ;;
    esac
fi

root=$DESTDIR${PREFIX%/}
sbin=$root/sbin
doc=$root/share/doc/vigild

# put MODE SOURCE DEST: install one file (DEST a file path), saying so.
put() {
    install -d -m 0755 "$(dirname -- "$3")"
    install -m "$1" "$2" "$3"
    echo "installed $3"
}

put 0755 "$binary" "$sbin/vigild"
"$STRIP" "$sbin/vigild"
# `vigild import` executes vigild-import from vigild's own directory.
importer=$(dirname -- "$binary")/vigild-import
if [ -f "$importer" ]; then
    put 0755 "$importer" "$sbin/vigild-import"
    "$STRIP" "$sbin/vigild-import"
else
    echo "install.sh: no $importer: vigild import will not work" >&2
fi
# Relative links, so that the tree works wherever DESTDIR puts it.
for name in vigilctl vigil-log; do
    ln -sf vigild "$sbin/$name"
    echo "installed $sbin/$name -> vigild"
done

for page in man/*.5 man/*.8; do
    [ -f "$page" ] || continue
    put 0644 "$page" "$root/share/man/man${page##*.}/${page##*/}"
done

for completion in completions/*; do
    [ -f "$completion" ] || continue
    case ${completion##*/} in
        *.bash) put 0644 "$completion" "$root/share/bash-completion/completions/$(basename "$completion" .bash)" ;;
        _*) put 0644 "$completion" "$root/share/zsh/site-functions/${completion##*/}" ;;
        *) echo "install.sh: not a completion this script knows: $completion" >&2; exit 1 ;;
    esac
done

for text in README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE; do
    put 0644 "$text" "$doc/$text"
done
for example in conf/*.conf conf/services/*.conf; do
    [ -f "$example" ] || continue
    put 0644 "$example" "$doc/$example"
done
