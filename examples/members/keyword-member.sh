#!/bin/sh
# A council member as a command (provider "exec"): reads the request JSON on
# stdin and answers with the question's keywords and a persona's advice,
# streamed as JSON lines: {"token":"word "}... then {"final":"..."}.
#
# Usage: keyword-member.sh PERSONA
#
# Everything it echoes is lower-case letters, spaces and a few punctuation
# marks, so the lines need no JSON escaping.
set -eu
export LC_ALL=C   # [:lower:] is a-z and nothing else

persona=$(printf '%s' "${1:-member}" | tr '[:upper:]' '[:lower:]' | tr -cd '[:lower:]')
request=$(cat)

# The question, roughly: the first "question" string in the request, up to
# its first quote (an escaped quote cuts it short, which is fine here).
question=$(printf '%s\n' "$request" | grep -o '"question": *"[^"]*' | head -n 1 |
	sed 's/^"question": *"//') || question=""

# Its first few words of five letters or more, minus filler.
keywords=$(printf '%s\n' "$question" | tr '[:upper:]' '[:lower:]' | tr -c '[:lower:]' '\n' |
	grep -E '^.{5,}$' | grep -v -x -E 'should|would|could|about|which|there|their|these|those|where' |
	head -n 5 | tr '\n' ' ') || keywords=""

case $persona in
builder) advice="build the smallest version first, then measure it." ;;
operator) advice="make failures visible and restarts cheap." ;;
*) advice="weigh the trade-off before deciding." ;;
esac

if [ -n "$keywords" ]; then
	answer="as the $persona, on ${keywords}i would $advice"
else
	answer="as the $persona, i found no question; i would $advice"
fi

i=0
for word in $answer; do
	printf '{"token":"%s "}\n' "$word"
	i=$((i + 1))
	if [ $((i % 3)) -eq 0 ]; then
		sleep 0.1
	fi
done
printf '{"final":"%s"}\n' "$answer"
