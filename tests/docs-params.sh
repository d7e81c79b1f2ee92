#!/usr/bin/env bash
# The docs name what the code takes, both ways, with no lab:
#  - every plugin parameter params.c accepts is in `nbdkit aoeraid --help`, in the man
#    page's PARAMETERS (=item B<name=>) and SYNOPSIS, and in the "unknown parameter"
#    error's list; each of those names only parameters params.c accepts; its other
#    spellings, -D flags, events and runs are in the man page too; a bad value is one
#    line naming the parameter; a default --help gives is the one the man page gives; a
#    parameter mistyped is named in that error;
#  - README.md's "Using it" names only parameters (or grow and speed words) the code takes;
#  - every aoeraid subcommand main() runs is in `aoeraid --help`, in its "unknown command"
#    list, in aoeraid.pod's DESCRIPTION (=item B<cmd>) and in README.md; the usage lines
#    of `aoeraid --help` are aoeraid.pod's SYNOPSIS, line for line; `aoeraid CMD --help`
#    answers for each; --version and -V print "aoeraid VERSION", as the plugin does;
#    every option of tools/' getopt tables (long and short) is in aoeraid.pod's OPTIONS;
#    every key of discover's, examine's and status's JSON is named in aoeraid.pod;
#  - every control request the plugin understands is an aoeraid subcommand, and the ones
#    refused on a read-only array are those the man page lists under readonly=.
set -euo pipefail
src=$top_srcdir
plugin=${AOERAID_PLUGIN:-$top_builddir/.libs/nbdkit-aoeraid-plugin.so}
aoeraid=$top_builddir/aoeraid
pod=$src/docs/nbdkit-aoeraid-plugin.pod
toolpod=$src/docs/aoeraid.pod
fails=0

command -v nbdkit >/dev/null || { echo "skip: nbdkit not found"; exit 77; }
[ -f "$plugin" ] || { echo "error: plugin not built: $plugin"; exit 1; }
[ -x "$aoeraid" ] || { echo "error: aoeraid not built: $aoeraid"; exit 1; }

bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# same WHAT A B: two sorted word lists must be equal; say what each lacks.
same() {
  local what=$1 only_a only_b
  only_a=$(comm -23 <(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u) \
                    <(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u) | tr '\n' ' ')
  only_b=$(comm -13 <(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u) \
                    <(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u) | tr '\n' ' ')
  [ -z "$only_a$only_b" ] && { echo "ok: $what"; return 0; }
  [ -z "$only_a" ] || bad "$what: only in the first: $only_a"
  [ -z "$only_b" ] || bad "$what: only in the second: $only_b"
}
# The =head1 section $2 of pod $1, without its heading.
section() { awk -v h="=head1 $2" '$0 == h { on = 1; next } /^=head1 / { on = 0 } on' "$1"; }

# ---- plugin parameters ------------------------------------------------------------------
# params.c: the first name each `if (!strcmp(key, "NAME")` line tests (the rest are aliases)
code=$(sed -n 's/^ *if (!strcmp(key, "\([a-z-]*\)").*/\1/p' "$src/plugin/params.c" | tr '\n' ' ')
[ "$(wc -w <<<"$code")" -ge 10 ] || bad "found only '$code' in plugin/params.c: is the pattern stale?"
# the list in the "unknown parameter" error (nbdkit stops at the key, no shelf needed)
unknownerr=$(nbdkit -f "$plugin" xyzzy=1 2>&1 || true)
unknown=$(sed -n "s/.*unknown parameter 'xyzzy': see [^(]*(\([a-z, -]*\))\$/\1/p" <<<"$unknownerr" |
  tr -d ',')
[ -n "$unknown" ] || bad "nbdkit aoeraid xyzzy=1 lists no parameters: $unknownerr"
# --help: the plugin's lines come after "plugin: aoeraid"
help=$(nbdkit "$plugin" --help 2>&1 | sed -n '/^plugin: aoeraid/,$p')
helpnames=$(sed -n 's/^\([a-z][a-z-]*\)=.*/\1/p' <<<"$help" | tr '\n' ' ')
podnames=$(section "$pod" PARAMETERS | sed -n 's/^=item B<\([a-z-]*\)=.*/\1/p' | tr '\n' ' ')
synopsis=$(section "$pod" SYNOPSIS | grep -o '[a-z][a-z-]*=' | tr -d '=' | sort -u | tr '\n' ' ')
same "params.c vs nbdkit aoeraid --help" "$code" "$helpnames"
same "params.c vs the man page's PARAMETERS" "$code" "$podnames"
same "params.c vs the man page's SYNOPSIS" "$code" "$synopsis"
same "params.c vs the 'unknown parameter' error's list" "$code" "$unknown"
# A parameter the man page gives a choice of values (=item B<name=>a|b|c) lists each of
# them in --help too, as it does (consistency-policy= named ppl alone, the others aside).
while read -r name values; do
  helpvalues=$(sed -n "s/^$name=\([^ ]*\).*/\1/p" <<<"$help")
  [ "$values" = "$helpvalues" ] ||
    bad "$name=: the man page lists '$values', --help '$helpvalues'"
done < <(section "$pod" PARAMETERS | sed -n 's/^=item B<\([a-z-]*\)=>\([^ ]*|[^ ]*\)$/\1 \2/p')
echo "ok: the values --help lists for a parameter are the man page's"

# The other spellings params.c takes: '_' for '-' (the man page says so once), and the
# others (write-mostly=, read-only=) each named in the man page.
for alias in $(grep -o 'strcmp(\(key\|name\), "[a-z_-]*")' "$src/plugin/params.c" |
               sed 's/.*"\(.*\)")/\1/' | sort -u); do
  grep -qw -- "$alias" <<<"$code" && continue
  [ "$alias" = "${alias//_/-}" ] || grep -q "with C<_> for C<->" "$pod" ||
    bad "$alias= is taken, the man page says nothing of '_' for '-'"
  grep -qw -- "${alias//_/-}" <<<"$code" || grep -q "C<${alias//_/-}=>" "$pod" ||
    bad "${alias//_/-}= is taken, the man page does not name it"
done
echo "ok: the man page names the other spellings of parameters"
# The -D flags (aoeraid_debug_NAME, exported) are the man page's DEBUG FLAGS, both ways.
flags=$(sed -n 's/^NBDKIT_DLL_PUBLIC int aoeraid_debug_\([a-z_]*\) .*/\1/p' "$src"/plugin/*.c |
  tr '\n' ' ')
podflags=$(section "$pod" "DEBUG FLAGS" | sed -n 's/^=item B<-D aoeraid\.\([a-z_]*\)=.*/\1/p' |
  tr '\n' ' ')
[ "$(wc -w <<<"$flags")" -ge 3 ] || bad "found only '$flags' in plugin/*.c: is the pattern stale?"
same "the plugin's -D flags vs the man page's DEBUG FLAGS" "$flags" "$podflags"

# The events the array tells (raid/events.c, and alert.c's TestMessage) are the man
# page's EVENTS, both ways (its Rebuild20 ... Rebuild80 are one Rebuild%02u), and so are
# the runs a Rebuild event names (raid/notes.c's names).
events=$(cat "$src/raid/events.c" "$src/plugin/alert.c" | grep -E '(fn|on_event) ?\(' |
  grep -o '"[A-Z][A-Za-z]*"' | tr -d '"' | sort -u | tr '\n' ' ')
podevents=$(section "$pod" EVENTS | grep '^=item ' | grep -o 'C<[A-Z][A-Za-z0-9]*>' |
  sed 's/C<\(.*\)>/\1/' | grep -vx 'Rebuild[0-9]*' | sort -u | tr '\n' ' ')
[ "$(wc -w <<<"$events")" -ge 8 ] || bad "found only '$events' in raid/events.c: is the pattern stale?"
same "the events raid/events.c tells vs the man page's EVENTS" "$events" "$podevents"
runs=$(sed -n '/names\[RAID_RUN_KINDS\]/,/};/p' "$src/raid/notes.c" | grep -o '= "[a-z]*"' |
  tr -d '="' | tr '\n' ' ')
podruns=$(section "$pod" EVENTS | tr '\n' ' ' | grep -o 'RUN is [^;]*;' | grep -o 'C<[a-z]*>' |
  sed 's/C<\(.*\)>/\1/' | tr '\n' ' ' || true)
same "the runs raid/notes.c names vs the man page's RUN" "$runs" "$podruns"

# README's "Using it" names only parameters params.c takes, or the words of aoeraid grow
# and speed (level=, size=, bitmap=, consistency-policy=, min=, max=).
readme_words=$(sed -n '/^## Using it/,/^## /p' "$src/README.md" | grep -o '[a-z][a-z-]*=' |
  tr -d '=' | sort -u)
for w in $readme_words; do
  tr ' ' '\n' <<<"$code level size bitmap consistency-policy min max" | grep -qx -- "$w" ||
    bad "README.md's Using it names $w=, which no parameter or command takes"
done
echo "ok: README.md's Using it names only parameters and command words the code takes"

# refused_in_one_line WHAT NAMED PATTERN ARGS...: nbdkit with ARGS fails with one line,
# matching PATTERN, that names NAMED.
refused_in_one_line() {
  local what=$1 named=$2 pattern=$3 out rc
  shift 3
  out=$(nbdkit -f "$plugin" "$@" 2>&1) && rc=0 || rc=$?
  if [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "$pattern" <<<"$out"; then
    echo "ok: $what: one line naming $named"
  else
    bad "$what: exit $rc, $(wc -l <<<"$out") lines, want one naming $named: $(head -n 2 <<<"$out")"
  fi
}

# A typo of a parameter is one line naming the parameter meant ('_' is '-' in a name).
for typo in shelfs:shelves levle:level writemosty:writemostly sync_sped_min:sync-speed-min \
            ifcae:iface; do
  refused_in_one_line "${typo%%:*}=" "${typo#*:}" \
    "unknown parameter '${typo%%:*}': did you mean '${typo#*:}'? See .*(shelves, " "${typo%%:*}=1"
done

# A value a parameter does not take is one line naming the parameter (chunk=abc gave
# nbdkit's 'could not parse size string (abc)', naming neither it nor what it takes).
for bad in chunk=abc chunk=1Q bitmap-chunk=12Q bitmap-chunk=64KB dead-time=soon \
           bitmap-delay=later sync-speed-max=fast level=7 poll=maybe; do
  refused_in_one_line "$bad" "${bad%%=*}" "^nbdkit: error: ${bad%%=*}: .*'${bad#*=}'" \
    shelves=e1.1,e2.1 "$bad"
done

# The defaults --help gives, "(default VALUE" (VALUE: a number with its unit, true, false
# or none), must be in the man page's paragraph of that parameter (or of the next =item,
# when two share one), beside the word default.
para() {
  section "$pod" PARAMETERS | awk -v k="=item B<$1=" '
    done { next }               # read on: an exit here could give section a SIGPIPE
    index($0, k) == 1 { on = 1; next }
    on && /^=item / && text != "" { done = 1; next }
    on && /^=(item|back)/ { next }
    on && NF { text = text " " $0 }
    END { print text }' | sed 's/[A-Z]<\([^<>]*\)>/\1/g'
}
checked=0
while read -r name value; do
  [ -n "$name" ] || continue
  checked=$((checked + 1))
  v=$(sed 's/^\([0-9][0-9.]*\)s$/\1/' <<<"$value")   # 5s: the man page says 5 seconds
  if grep -Eiq "default[^.]*[^0-9A-Za-z]$v([^0-9A-Za-z]|$)" <<<"$(para "$name")"; then
    echo "ok: $name= defaults to $value in --help and the man page"
  else
    bad "$name=: --help says default $value, the man page's paragraph does not: $(para "$name")"
  fi
done < <(sed -n 's/^\([a-z][a-z-]*\)=.*(default \([0-9][0-9.]*[A-Za-z]*\|true\|false\|none\)[;:)].*/\1 \2/p' <<<"$help")
ndefaults=$(grep -c '(default ' <<<"$help" || true)
[ "$ndefaults" -ge 8 ] || bad "--help gives only $ndefaults defaults: is the pattern stale?"
# a default the pattern above cannot read ("(default auto)") would go unchecked
[ "$checked" -eq "$ndefaults" ] ||
  bad "--help gives $ndefaults defaults, $checked checked: $(grep '(default ' <<<"$help" |
    grep -Ev '^[a-z][a-z-]*=.*\(default ([0-9][0-9.]*[A-Za-z]*|true|false|none)[;:)]')"

# ---- aoeraid subcommands ----------------------------------------------------------------
usage=$("$aoeraid" --help)
uselines=$(sed -n 's/^usage: //p; s/^       \(aoeraid \)/\1/p' <<<"$usage" | tr -s ' ')
cmds=$(sed -n 's/^aoeraid \([a-z-]*\).*/\1/p' <<<"$uselines" | sort -u | tr '\n' ' ')
main=$(sed -n 's/^ *if (!strcmp(cmd, "\([a-z-]*\)")).*/\1/p' "$src/tools/aoeraid.c" |
  grep -vx help | tr '\n' ' ')
unknowncmd=$(tr -d '\n' <"$src/tools/aoeraid.c" |
  sed -n "s/.*unknown command '%s'%s%s%s: use \([a-z, \"-]*\)(.*/\1/p" | sed 's/[,"]\| or / /g')
podcmds=$(section "$toolpod" DESCRIPTION | sed -n 's/^=item B<\([a-z-]*\)>$/\1/p' | tr '\n' ' ')
same "aoeraid's main() vs aoeraid --help" "$main" "$cmds"
same "aoeraid's main() vs its 'unknown command' list" "$main" "$unknowncmd"
same "aoeraid's main() vs aoeraid.pod's DESCRIPTION" "$main" "$podcmds"
for c in $main; do
  grep -q "\`$c\`\|\`aoeraid $c\`" "$src/README.md" || bad "README.md does not name aoeraid $c"
  out=$("$aoeraid" "$c" --help 2>&1) || bad "aoeraid $c --help failed: $(head -n 1 <<<"$out")"
  # its own usage lines, those of --help, and not the other commands'
  own=$(grep "^aoeraid $c " <<<"$uselines")
  got=$(sed -n 's/^usage: //p; s/^       \(aoeraid \)/\1/p' <<<"$out" | tr -s ' ')
  [ "$got" = "$own" ] || bad "aoeraid $c --help shows usage '$got', not its own: '$own'"
  grep -q "^  $c " <<<"$out" || bad "aoeraid $c --help does not say what $c does"
done
# A typo of a command is one line on stderr, exit 2, naming the command meant: the whole
# usage after it would scroll that line away.
for typo in stauts:status exmaine:examine zero-superblocks:zero-superblock ad:add; do
  out=$("$aoeraid" "${typo%%:*}" 2>&1 >/dev/null) && rc=0 || rc=$?
  if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "did you mean '${typo#*:}'" <<<"$out"; then
    echo "ok: aoeraid ${typo%%:*}: one line, exit 2, naming ${typo#*:}"
  else
    bad "aoeraid ${typo%%:*}: exit $rc, $(wc -l <<<"$out") lines, want one naming ${typo#*:}: $(head -n 2 <<<"$out")"
  fi
done
# An option before the command (mdadm's order) says to give the command first, one line,
# exit 2 (it said "unknown command '-c'")
out=$("$aoeraid" -c /run/x.sock status 2>&1 >/dev/null) && rc=0 || rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
   grep -q "^aoeraid: '-c' before the command: give the command first" <<<"$out"; then
  echo "ok: aoeraid -c SOCKET status: $out"
else
  bad "aoeraid -c SOCKET status: exit $rc, want one line saying to give the command first: $out"
fi
# An option a command does not take is said with the program and the command (getopt
# named the command alone: "status: unrecognized option '--bogus'"), then its usage, exit 2.
for args in "status -c x --bogus" "discover -q" "probe --json" "add -c"; do
  out=$("$aoeraid" $args 2>&1 >/dev/null) && rc=0 || rc=$?
  if [ "$rc" -eq 2 ] && grep -q "^aoeraid ${args%% *}: .*option" <<<"$(head -n 1 <<<"$out")" &&
     grep -q "^usage: aoeraid ${args%% *} " <<<"$out"; then
    echo "ok: aoeraid $args: $(head -n 1 <<<"$out")"
  else
    bad "aoeraid $args: exit $rc, want 'aoeraid ${args%% *}: ...option...' and its usage: $(head -n 2 <<<"$out")"
  fi
done
# --version and -V: "aoeraid VERSION", configure.ac's version, the one the plugin gives
# nbdkit (its .version: `nbdkit aoeraid --version`).
version=$(sed -n 's/^AC_INIT(\[aoeraid\], \[\([^]]*\)\].*/\1/p' "$src/configure.ac")
[ -n "$version" ] || bad "no version in configure.ac's AC_INIT: is the pattern stale?"
for opt in --version -V; do
  out=$("$aoeraid" "$opt" 2>&1) && rc=0 || rc=$?
  [ "$rc" -eq 0 ] && [ "$out" = "aoeraid $version" ] &&
    echo "ok: aoeraid $opt: aoeraid $version" ||
    bad "aoeraid $opt: exit $rc, '$out', want 'aoeraid $version'"
done
pluginversion=$(nbdkit "$plugin" --version 2>&1 | grep '^aoeraid ' || true)
[ "$pluginversion" = "aoeraid $version" ] && echo "ok: nbdkit aoeraid --version: $pluginversion" ||
  bad "nbdkit aoeraid --version gives '$pluginversion', want 'aoeraid $version'"
grep -q 'B<aoeraid --version> (or B<-V>)' "$toolpod" || bad "aoeraid.pod does not name --version"
podsyn=$(section "$toolpod" SYNOPSIS | sed -n 's/^ \(aoeraid \)/\1/p' | tr -s ' ')
if [ "$uselines" = "$podsyn" ]; then
  echo "ok: aoeraid --help's usage is aoeraid.pod's SYNOPSIS"
else
  bad "aoeraid --help's usage differs from aoeraid.pod's SYNOPSIS:"
  diff <(echo "$uselines") <(echo "$podsyn") || true
fi

# The long options of tools/ (getopt_long tables) are those aoeraid.pod's OPTIONS lists
# (=item ... B<--NAME>), each with its short one when it has one (B<-X>).
longopts=$(cat "$src"/tools/*.c | grep -o '{ "[a-z-]*", [a-z_]*argument, NULL, '"'"'[a-zA-Z]'"'"' }' |
  sed 's/{ "\([a-z-]*\)".*/\1/' | sort -u | tr '\n' ' ')
[ "$(wc -w <<<"$longopts")" -ge 6 ] || bad "found only '$longopts' in tools/*.c: is the pattern stale?"
podopts=$(section "$toolpod" OPTIONS | sed -n 's/^=item .*B<--\([a-z-]*\)>.*/\1/p' | tr '\n' ' ')
same "tools' long options vs aoeraid.pod's OPTIONS" "$longopts" "$podopts"
for short in $(cat "$src"/tools/*.c | sed -n 's/.*getopt_long(argc, argv, \(.*\), longopts.*/\1/p' |
               grep -o '"[^"]*"' | grep -o '[a-z]' | sort -u); do
  section "$toolpod" OPTIONS | grep -q "B<-$short>" || bad "aoeraid.pod's OPTIONS lacks -$short"
done

# Every key of the JSON that discover, examine and status print is named in aoeraid.pod.
keys=$(cat "$src/tools/aoeraid.c" "$src/tools/examine.c" "$src/plugin/status.c" |
  grep -o '\\"[a-z_]*\\":\|json_u64_or_null("[a-z_]*"' |
  sed 's/^json_u64_or_null("\(.*\)"$/\1/; s/^\\"\(.*\)\\":$/\1/' | sort -u)
[ "$(wc -w <<<"$keys")" -ge 60 ] || bad "found only $(wc -w <<<"$keys") JSON keys: is the pattern stale?"
for k in $keys; do
  grep -q "C<$k>\|\"$k\":" "$toolpod" || bad "the JSON key $k is not in aoeraid.pod"
done
echo "ok: aoeraid.pod names the $(wc -w <<<"$keys") JSON keys of discover, examine and status"

# ---- control requests -------------------------------------------------------------------
body=$(sed -n '/^static int command_request(/,/^}/p' "$src/plugin/aoeraid.c")
requests=$(grep -o 'request, "[a-z]*' <<<"$body" | sed 's/.*"//' | sort -u | tr '\n' ' ')
requests="$requests$(grep -o 'strcmp(request, "[a-z]*' "$src/plugin/status.c" | sed 's/.*"//' |
  sort -u | tr '\n' ' ')"
[ "$(wc -w <<<"$requests")" -ge 6 ] || bad "found only '$requests' in command_request (aoeraid.c's dispatch): is the pattern stale?"
for r in $requests; do
  grep -qw "$r" <<<"$main" || bad "the control request '$r' has no aoeraid subcommand"
done
echo "ok: every control request ($requests) has an aoeraid subcommand"
changing=$(sed -n '/^static bool changes_array(/,/^}/p' "$src/plugin/aoeraid.c" |
  sed -n 's/.*verbs\[\] = { \(.*\) };/\1/p' | tr -d '",')
readonly_para=$(para readonly)
listed=$(grep -o 'would change the array ([^)]*)' <<<"$readonly_para" | grep -o '[a-z]*' |
  grep -vx -e would -e change -e the -e array | tr '\n' ' ')
same "requests refused when read-only: changes_array() vs the man page's readonly=" \
  "$changing" "$listed"

[ "$fails" -eq 0 ] || { echo "$fails mismatches between the docs and the code"; exit 1; }
echo "ok: the docs name every parameter and command the code takes, and only those"
