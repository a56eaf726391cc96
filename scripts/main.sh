#!/usr/bin/env bash
# Tandem's main command: an editor with Tandem installed and a sample workspace (samples/workspace) open,
# completing with the default model (stories260K). Sets up (npm packages, a WebGPU adapter), builds,
# fetches the model (from ../shared/models when present, else Hugging Face) and launches:
#   - desktop VS Code (`code`) when there is one, with this checkout as a development extension;
#   - otherwise code-server on 127.0.0.1 (a free port, no auth; installed by scripts/ext-setup.sh) with the
#     .vsix of this platform installed; it prints the URL and runs until Ctrl-C.
# Usage: npm start [-- --code-server] [-- --check]
#   --code-server  use code-server even when desktop VS Code is installed
#   --check        (code-server) wait until the editor answers and Tandem's log says the model loaded,
#                  print a JSON line, stop the editor and exit 0: what CI runs (test/extension/main-command.test.ts)
# The CLI completion that used to be here: npm run complete -- --prompt "..." (scripts/complete.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0; use_code_server=0
for a in "$@"; do
  case "$a" in
    --check) check=1; use_code_server=1 ;;
    --code-server) use_code_server=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "tandem: unknown option $a (npm start -- --help); completing a prompt from the command line is now: npm run complete -- $*" >&2; exit 2 ;;
  esac
done
say() { echo "tandem: $*" >&2; }

bash scripts/setup.sh
node scripts/build.mjs
export TANDEM_CACHE_DIR="${TANDEM_CACHE_DIR:-$PWD/.cache}"
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$PWD/.cache/mesa}"

# The default model: `tandem complete` resolves the catalog name (src/models/catalog.ts), converting it
# to GGUF once into $TANDEM_CACHE_DIR/models, and says where (--json: "model"); a short completion also
# proves the engine runs on this machine's WebGPU adapter.
first=$(node dist/cli.js complete --model stories260K --prompt "Once upon a time" --max-tokens 24 --json)
model=$(node -p 'JSON.parse(process.argv[1]).model' "$first")
say "default model $model; it continues \"Once upon a time\" with: $(node -p 'JSON.stringify(JSON.parse(process.argv[1]).text)' "$first")"
[ -f "$model" ] || { say "the model file $model is missing"; exit 1; }

# The sample workspace's settings (git-ignored: they hold this machine's model path). Plain text and
# Markdown are on too, so story.txt completes (Tandem leaves them off by default).
workspace="$PWD/samples/workspace"
mkdir -p "$workspace/.vscode"
node -e 'const [file, model] = process.argv.slice(1);
  require("fs").writeFileSync(file, JSON.stringify({ "tandem.model": model, "tandem.languages": { "*": true } }, null, 2) + "\n");' \
  "$workspace/.vscode/settings.json" "$model"

# A desktop VS Code: a `code` that is neither code-server nor the remote CLI of an editor this runs inside.
desktop_code() {
  local c
  c=$(command -v code 2>/dev/null) || return 1
  c=$(readlink -f "$c")
  case "$c" in *code-server*|*remote-cli*|*/.vscode-server/*|*/.cache/ext-test/*) return 1 ;; esac
  "$c" --version >/dev/null 2>&1 && echo "$c"
}
if [ $use_code_server = 0 ] && code_bin=$(desktop_code); then
  say "opening $workspace in VS Code ($code_bin) with Tandem from $PWD (a development extension)"
  exec "$code_bin" --extensionDevelopmentPath="$PWD" "$workspace"
fi

# code-server (and, for --check, chromium + playwright-core): installed once, idempotently.
eval "$(bash scripts/ext-setup.sh --env)"
target="$(node -p 'process.platform + "-" + process.arch')"
vsix_line=$(node scripts/package.mjs --no-build --target "$target")
vsix=$(node -p 'JSON.parse(process.argv[1]).path' "$vsix_line")
say "packaged $vsix_line"
exec node scripts/editor.mjs --vsix "$vsix" --workspace "$workspace" $([ $check = 1 ] && echo --check)
