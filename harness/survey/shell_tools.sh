#!/usr/bin/env bash
# Line-protocol wrappers of shell idioms and command-line tools that write
# config files, for harness/survey.sh: one token per line on stdin, `ok` or
# `err ...` per line on stdout.
#
#   bash shell_tools.sh TOOL PATH
#
# sed-i       sed -i 's/^OPENAI_API_KEY=.*/.../' PATH                 [dotenv]
# cat         rewrite with a here-document: cat > PATH <<EOF           [dotenv]
# cp          build the new file in a temp file, then cp it over PATH  [dotenv]
# sponge      sed ... PATH | sponge PATH  (moreutils)                  [dotenv]
# jq-mv       jq '...' PATH > PATH.tmp && mv PATH.tmp PATH             [json]
# git-config  git config --file PATH DEFAULT.token TOKEN               [ini]
# crudini     crudini --set PATH DEFAULT token TOKEN                   [ini]
# gh          gh config set -h localhost oauth_token TOKEN (GitHub CLI, Go;
#             GH_CONFIG_DIR is the target's directory)                 [yaml]
set -u
tool=$1 path=$2

update() {
  local t=$1
  case $tool in
    sed-i) sed -i "s/^OPENAI_API_KEY=.*/OPENAI_API_KEY=$t/" "$path" ;;
    cat)
      local base
      base=$(grep -v '^OPENAI_API_KEY=' "$path") || return 1
      cat > "$path" <<DOC
$base
OPENAI_API_KEY=$t
DOC
      ;;
    cp)
      local tmp
      tmp=$(mktemp) || return 1
      sed "s/^OPENAI_API_KEY=.*/OPENAI_API_KEY=$t/" "$path" > "$tmp" && cp "$tmp" "$path"
      local rc=$?
      rm -f "$tmp"
      return $rc
      ;;
    sponge) sed "s/^OPENAI_API_KEY=.*/OPENAI_API_KEY=$t/" "$path" | sponge "$path" ;;
    jq-mv) jq --arg t "$t" '.env.ANTHROPIC_AUTH_TOKEN = $t' "$path" > "$path.tmp" && mv "$path.tmp" "$path" ;;
    git-config) git config --file "$path" DEFAULT.token "$t" ;;
    crudini) crudini --set "$path" DEFAULT token "$t" ;;
    gh) GH_CONFIG_DIR=$(dirname "$path") gh config set -h localhost oauth_token "$t" 2>/dev/null ;;
    *) echo "unknown tool $tool" >&2; exit 64 ;;
  esac
}

while IFS= read -r token; do
  if err=$(update "$token" 2>&1); then
    echo ok
  else
    echo "err ${err//$'\n'/ }"
  fi
done
