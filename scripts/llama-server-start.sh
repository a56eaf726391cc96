#!/bin/sh
# Starts the llama-server installed by llama-server-setup.sh on 127.0.0.1 (exec: the caller's PID is the
# server's; stop it with kill PID). Extra arguments go to llama-server.
# usage (root): scripts/llama-server-start.sh MODEL.gguf PORT [llama-server args]   (ROOTFS from $TANDEM_LLAMA_ROOTFS)
set -eu
cd "$(dirname "$0")/.."
R=${TANDEM_LLAMA_ROOTFS:-$PWD/.cache/llama-server/rootfs}
M=$(readlink -f "$1"); P=$2; shift 2
[ -x "$R/usr/bin/llama-server" ] || { echo "llama-server-start: not installed; run scripts/llama-server-setup.sh" >&2; exit 2; }
mkdir -p "$R/models"
# Copied only when changed, so concurrent starts of the same model do not rewrite a file another server reads.
cmp -s "$M" "$R/models/$(basename "$M")" || { cp -f "$M" "$R/models/.$(basename "$M").$$" && mv -f "$R/models/.$(basename "$M").$$" "$R/models/$(basename "$M")"; }
exec chroot "$R" /usr/bin/llama-server -m "/models/$(basename "$M")" --host 127.0.0.1 --port "$P" "$@"
