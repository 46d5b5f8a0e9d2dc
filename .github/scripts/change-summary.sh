#!/usr/bin/env bash
# The credential-free change summary of a pull request: renders base and head for each
# stack and writes the Markdown of `python -m components.diff` to <out>/summary.md.
#
#   change-summary.sh <base checkout> <head checkout> <out dir> <pr number>
#
# Each side renders with its own code and requirements (a venv per side), unless
# CHANGE_SUMMARY_PYTHON names an interpreter to use for both (the tests do this).
# Exit status: 0 when every head renders, 1 when a head render is refused (the
# summary then shows the error, so the PR comment explains the failure).
set -uo pipefail

base="$(realpath "$1")"
head="$(realpath "$2")"
mkdir -p "$3"
out="$(realpath "$3")"
pr="$4"
stacks="${CHANGE_SUMMARY_STACKS:-dev prod prod-longterm operator}"
summary="$out/summary.md"
echo "$pr" > "$out/pr-number"

interpreter() {  # interpreter <side> <checkout>: prints the python to render that side with
  if [ -n "${CHANGE_SUMMARY_PYTHON:-}" ]; then echo "$CHANGE_SUMMARY_PYTHON"; return 0; fi
  [ -f "$2/requirements.txt" ] || return 1
  python3 -m venv "$out/venv-$1" >&2 && "$out/venv-$1/bin/pip" install --quiet -r "$2/requirements.txt" >&2 || return 1
  echo "$out/venv-$1/bin/python"
}

render() {  # render <python> <checkout> <stack> <dest> <errfile>
  (cd "$2" && "$1" -m components.render --stack "$3" --out "$4") >/dev/null 2>"$5"
}

fence() { echo '```'; cat "$1"; echo '```'; }

head_python="$(interpreter head "$head")" || { echo "cannot install the head's requirements" >&2; exit 1; }
base_python=""
if [ -f "$base/components/render.py" ]; then base_python="$(interpreter base "$base")" || base_python=""; fi

status=0
{
  echo "# Change summary"
  echo
  echo "What this pull request changes in the rendered configuration, per stack, computed"
  echo "without credentials. Credentials are never shown."
} > "$summary"

for stack in $stacks; do
  echo >> "$summary"
  if ! render "$head_python" "$head" "$stack" "$out/head/$stack" "$out/head-$stack.err"; then
    status=1
    { echo "## $stack"; echo; echo "**The head does not render**; \`pulumi preview\` and \`up\` will refuse it too:"; echo
      fence "$out/head-$stack.err"; } >> "$summary"
    continue
  fi
  if [ -z "$base_python" ] || ! render "$base_python" "$base" "$stack" "$out/base/$stack" "$out/base-$stack.err"; then
    { echo "## $stack"; echo; echo "The base does not render, so there is nothing to compare against;"
      echo "the head renders cleanly."; } >> "$summary"
    continue
  fi
  (cd "$head" && "$head_python" -m components.diff "$out/base/$stack" "$out/head/$stack" --title "$stack") >> "$summary" \
    || status=1
done

cat "$summary"
exit "$status"
