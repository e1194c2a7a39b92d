#!/usr/bin/env bash
# README.vi.md, the Vietnamese quick start, kept in step with README.md:
#   1. every command in README.vi.md's ```sh blocks (a line that is not blank and not a comment,
#      its trailing "  # comment" set aside) is a command of README.md as it stands there: a line
#      of one of its ```sh blocks (trailing comment set aside) or one of its `inline code` spans,
#      character for character;
#   2. README.md's two first commands (the first two of its "Two commands" section) are both in
#      README.vi.md's ```sh blocks;
#   3. README.md links README.vi.md;
#   4. README.vi.md is Vietnamese (words it cannot do without, with their diacritics).
# Usage: readme_vi.sh SOURCE_DIR
# Exit 0 pass, 1 fail (every problem printed, naming README.vi.md's line).
set -euo pipefail

src=${1:?usage: readme_vi.sh SOURCE_DIR}
en=$src/README.md
vi=$src/README.vi.md
export LC_ALL=C # byte-wise: Vietnamese text is compared as UTF-8 bytes
fail=0
problem() {
  echo "readme_vi: $*" >&2
  fail=1
}

for f in "$en" "$vi"; do
  [ -r "$f" ] || { echo "readme_vi: cannot read $f" >&2; exit 1; }
done

# Prints LINE<TAB>COMMAND for each command of FILE's ```sh blocks. With a SECTION, only the
# blocks under the "## SECTION..." heading, up to the next "## " heading.
sh_commands() {
  awk -v section="${2:-}" '
    function strip_comment(s,    i, c, q, out) {
      # a "#" after blank space and outside quotes starts a comment
      q = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (q != "") { if (c == q) q = "" }
        else if (c == "\"" || c == "\047") q = c
        else if (c == "#" && (i == 1 || substr(s, i - 1, 1) ~ /[ \t]/)) return substr(s, 1, i - 1)
      }
      return s
    }
    /^## / && !fence {
      if (section != "") inside = (index($0, "## " section) == 1)
    }
    /^```/ {
      if (!fence) { fence = 1; sh = ($0 ~ /^```sh[ \t]*$/) } else fence = 0
      next
    }
    fence && sh && (section == "" || inside) {
      line = strip_comment($0)
      sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
      if (line != "") printf "%d\t%s\n", NR, line
    }
  ' "$1"
}

# README.md's inline code spans on one line, one per line.
inline_spans() {
  grep -o '`[^`]*`' "$1" | sed 's/^`//; s/`$//' || true
}

known=$( { sh_commands "$en" | cut -f2-; inline_spans "$en"; } | sort -u)
vi_commands=$(sh_commands "$vi")
[ -n "$vi_commands" ] || problem "README.vi.md has no command in a \`\`\`sh block"

# 1. Every command of the Vietnamese quick start is one of README.md's.
checked=0
while IFS=$'\t' read -r n cmd; do
  [ -n "$cmd" ] || continue
  checked=$((checked + 1))
  if ! grep -qxF -e "$cmd" <<<"$known"; then
    problem "README.vi.md:$n: not a command of README.md (copy it from there, character for character): $cmd"
  fi
done <<<"$vi_commands"

# 2. README.md's two first commands are in it.
first_two=$(sh_commands "$en" "Two commands" | head -n 2 | cut -f2-)
[ "$(grep -c . <<<"$first_two")" = 2 ] || problem "README.md: its \"Two commands\" section no longer has two commands in \`\`\`sh blocks"
vi_only=$(cut -f2- <<<"$vi_commands")
while IFS= read -r cmd; do
  [ -n "$cmd" ] || continue
  grep -qxF -e "$cmd" <<<"$vi_only" || problem "README.vi.md: lacks README.md's first command: $cmd"
done <<<"$first_two"

# 3. README.md links it.
grep -qF '[README.vi.md](README.vi.md)' "$en" || problem "README.md: no link to README.vi.md ([README.vi.md](README.vi.md))"

# 4. It is Vietnamese.
for word in 'cài đặt' 'tác tử' 'máy chủ' 'cảnh báo' 'tuân thủ' 'hệ thống thông tin'; do
  grep -qF -e "$word" "$vi" || problem "README.vi.md: not the Vietnamese quick start (no \"$word\")"
done

if [ "$fail" = 0 ]; then
  echo "readme_vi: $checked commands of README.vi.md are README.md's; its two first commands, the link and the Vietnamese are there"
fi
exit "$fail"
