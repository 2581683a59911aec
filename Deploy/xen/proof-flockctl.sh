#!/bin/bash
# The proof with Flock's own driver, run inside the test dom0 by dom0-init when the harness is
# started with `--proof proof-flockctl.sh --flockctl PATH`:
#
#   bash Deploy/xen/run-harness.sh --proof proof-flockctl.sh --flockctl .build/debug/flockctl
#
# It checks that the host-built flockctl runs in this dom0 with the shared Swift runtime, then
# runs the same proof as proof-xl.sh through the FlockXen driver: vm start -> warm ->
# vm clone --count 2 --mode eager -> check -> vm resume of a parent left paused or suspended ->
# vm destroy. Output format as proof-xl.sh:
# FLOCK-RESULT / FLOCK-SUMMARY lines, exit 0 = passed.
#
# What dom0 offers the driver (see README.md "For the FlockXen driver"):
#   /mnt/bin/flockctl, LD_LIBRARY_PATH=/mnt/bin/lib (Swift runtime), xl/libxl from xen-utils-4.17,
#   /mnt/guest/{vmlinuz,initrd.img}, bridges xenbr0 (10.88.0.1/24) and xenhold0 (no address),
#   /var/lib/flock a 900 MB tmpfs (0700) for state and checkpoints.
set -uo pipefail
umask 077

export LD_LIBRARY_PATH=/mnt/bin/lib
flockctl=/mnt/bin/flockctl
state=/var/lib/flock/state
mkdir -p "$state"
failures=0
check() { # name ok(0/1) detail
    local detail=${3:-}
    detail=${detail//\\/\\\\}
    detail=${detail//\"/\\\"}
    detail=${detail//$'\n'/ }
    if [[ $2 == 1 ]]; then
        echo "FLOCK-RESULT {\"check\":\"$1\",\"ok\":true,\"detail\":\"$detail\"}"
    else
        echo "FLOCK-RESULT {\"check\":\"$1\",\"ok\":false,\"detail\":\"$detail\"}"
        echo "FLOCK-FAIL $1: $detail"
        failures=$((failures + 1))
    fi
}
summary() {
    local ok=false
    ((failures == 0)) && ok=true
    echo "FLOCK-SUMMARY {\"ok\":$ok,\"failures\":$failures,\"driver\":$1}"
    ((failures == 0))
}

[[ -x $flockctl ]] || {
    check flockctl_present 0 "no $flockctl (run the harness with --flockctl PATH)"
    summary false
    exit 1
}
if out=$(timeout 60 "$flockctl" --help 2>&1); then
    check flockctl_runs 1 "$(head -n 1 <<<"$out")"
else
    check flockctl_runs 0 "$(head -n 5 <<<"$out")"
    echo "missing libraries:"
    ldd "$flockctl" | grep 'not found'
    summary false
    exit 1
fi

# --- The proof through FlockXen: the same steps as proof-xl.sh, but every domain operation is
# the driver's (libxl and xenstore from Swift).
spec=/var/lib/flock/parent-xen.yaml
cat >"$spec" <<'SPEC'
name: web-parent
pool: web
kernel: /mnt/guest/vmlinuz
ramdisk: /mnt/guest/initrd.img
cmdline: console=hvc0 quiet panic=-1 flock.miss_cost_ms=50
memory_mib: 256
vcpus: 1
bridge: xenbr0
vif_script: /mnt/xen/vif-flock
address: 10.88.0.10
prefix: 24
gateway: 10.88.0.1
guest_port: 8080
SPEC
fc() { timeout 600 "$flockctl" "$@" --hypervisor xen --state "$state"; }
now() { date +%s%N; }
measure() { # name start_ns end_ns
    local ms=$((($3 - $2) / 1000000))
    echo "FLOCK-RESULT {\"measure\":\"$1\",\"seconds\":$((ms / 1000)).$(printf '%03d' $((ms % 1000)))}"
}

http_get() { # host port path (as proof-xl.sh)
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
        cat <&3' http_get "$1" "$2" "$3" 2>/dev/null | tr -d '\r'
}
# The "address:port" of every VM `vm list --json` shows in a role (parent or clone).
addresses() {
    fc vm list --json | tr -d ' \n' | grep -o '{[^{}]*}' | grep "\"role\":\"$1\"" |
        grep -o '"http":"[^"]*"' | cut -d'"' -f4
}
ok() { "$@" && echo 1 || echo 0; }

t0=$(now)
if out=$(fc vm start "$spec" 2>&1); then check vm_start 1 ""; else check vm_start 0 "$out"; fi
measure parent_start_to_serving "$t0" "$(now)"
parent_addr=$(addresses parent | head -n 1)
check parent_listed "$(ok test "$parent_addr" = 10.88.0.10:8080)" "$parent_addr"
for key in k1 k2 k3; do http_get "${parent_addr%:*}" "${parent_addr##*:}" "/item/$key" >/dev/null; done
response=$(http_get "${parent_addr%:*}" "${parent_addr##*:}" /item/k1)
check parent_warm "$(ok grep -qi '^X-Cache: hit' <<<"$response")" "$(head -n 1 <<<"$response")"

t2=$(now)
if out=$(fc vm clone web-parent --count 2 --mode eager --hold-bridge xenhold0 --json 2>&1); then
    check vm_clone 1 ""
else
    check vm_clone 0 "$out"
fi
measure clone_batch_of_2_to_acked "$t2" "$(now)"
echo "$out"
fc vm list
# The clones waited on xenhold0 until their identity was applied, then joined the parent's bridge.
ports=$(ip -o link show master xenhold0 | wc -l)
check hold_bridge_empty "$(ok test "$ports" -eq 0)" "$ports port(s) left on xenhold0"
vifs=$(ip -o link show master xenbr0 | grep -c ' vif')
check vifs_on_xenbr0 "$(ok test "$vifs" -eq 3)" "$vifs vif(s) on xenbr0 (the parent's and two clones')"
ids=""
clones=$(addresses clone)
check two_clones "$(ok test "$(wc -w <<<"$clones")" -eq 2)" "$clones"
for addr in $clones; do
    response=$(http_get "${addr%:*}" "${addr##*:}" /item/k1)
    check "clone_${addr}_warm" "$(ok grep -qi '^X-Cache: hit' <<<"$response")" "$(head -n 3 <<<"$response")"
    for _ in 1 2 3; do # a loaded machine can miss http_get's 5 s
        clone_id=$(http_get "${addr%:*}" "${addr##*:}" /identity | grep -o '"clone_id":"[^"]*"') && break
    done
    ids+="$clone_id "
done
check distinct_identities "$(ok test "$(tr ' ' '\n' <<<"$ids" | sed '/^$/d' | sort -u | wc -l)" -eq 2)" "$ids"
# Lazy clones need Xen VM forking (HVM on Intel VMX with HAP); this emulated machine offers Xen
# AMD SVM without nested paging (the driver reads "HVM yes, HAP no, CPU AMD SVM"), so the driver
# must refuse them, saying what the host has.
if out=$(fc vm clone web-parent --count 1 --mode lazy 2>&1); then
    check lazy_refused 0 "a lazy clone was accepted: $out"
else
    check lazy_refused "$(ok grep -q 'lazy clones need Xen VM forking.*this host has HVM' <<<"$out")" "$out"
fi
response=$(http_get "${parent_addr%:*}" "${parent_addr##*:}" /healthz)
check parent_still_serving "$(ok grep -q '^ok' <<<"$response")" "$(head -n 1 <<<"$response")"

# --- vm resume: the driver's resumeParent (flockd runs it every tick) by hand, on each stopped
# state made as what leaves it would: an operator's `xl pause`; `xl save -p`, which pauses the
# domain and then resumes it from its suspend (so it is left paused, not suspended); and a
# checkpoint whose process died after the guest suspended, which leaves the domain shut down
# with reason suspend: the guest is asked through xenstore (control/shutdown = suspend) as
# libxl_domain_suspend asks it, and nothing resumes it. `xl list` state letters: r(unning)
# b(locked) p(aused) s(hut down), then the shutdown reason (s: suspend), then d(ying).
xl_state() { xl list web-parent 2>/dev/null | awk 'NR == 2 {print $5}'; }
runs() { [[ ${#1} -eq 6 && ${1:2:2} == -- ]]; } # state: neither paused nor shut down
parent_serves() { # within 30 s: the guest's network carries on after a resume
    local _
    for _ in $(seq 1 30); do
        http_get "${parent_addr%:*}" "${parent_addr##*:}" /healthz | grep -q '^ok' && return 0
        sleep 1
    done
    return 1
}
# The guest suspends itself when asked through xenstore; waits (30 s) until Xen says so.
suspend_parent() {
    local domid _
    domid=$(xl domid web-parent) && xenstore-write "/local/domain/$domid/control/shutdown" suspend
    for _ in $(seq 1 60); do
        [[ $(xl_state) == ???ss? ]] && return 0
        sleep 0.5
    done
    return 1
}
resume_checks() { # name expected-output (a grep pattern)
    local out xstate
    out=$(fc vm resume web-parent 2>&1)
    check "$1_resumed" "$(ok grep -q "$2" <<<"$out")" "$out"
    xstate=$(xl_state)
    check "$1_runs" "$(ok runs "$xstate")" "xl list state $xstate"
    check "$1_serves" "$(ok parent_serves)" ""
}

xl pause web-parent
xstate=$(xl_state)
check xl_pause_paused "$(ok test "${xstate:2:2}" = p-)" "xl list state $xstate"
resume_checks xl_pause '^web-parent was paused; resumed it$'

save=/var/lib/flock/parent-xl.save
out=$(timeout 300 xl save -p web-parent "$save" 2>&1) || check xl_save_p 0 "$out"
rm -f "$save"
xstate=$(xl_state)
check xl_save_p_leaves_paused "$(ok test "${xstate:2:2}" = p-)" "xl list state $xstate"
resume_checks xl_save_p '^web-parent was paused; resumed it$'

suspend_parent
xstate=$(xl_state)
check suspend_suspended "$(ok test "${xstate:2:3}" = -ss)" "xl list state $xstate"
resume_checks suspended '^web-parent was suspended (an interrupted checkpoint); resumed it$'

# The same, with the domain also paused (a crash inside `xl save -p`, between its pause and its
# resume): resuming alone would leave it paused.
suspend_parent && xl pause web-parent
xstate=$(xl_state)
check suspended_paused_state "$(ok test "${xstate:2:3}" = pss)" "xl list state $xstate"
resume_checks suspended_paused '^web-parent was suspended (an interrupted checkpoint); resumed it$'

out=$(fc vm resume web-parent 2>&1)
check resume_running_noop "$(ok grep -q '^web-parent already runs; nothing to do$' <<<"$out")" "$out"
clone_name=$(fc vm list --json | tr -d ' \n' | grep -o '"name":"flock-[^"]*"' | head -n 1 | cut -d'"' -f4)
if out=$(fc vm resume "$clone_name" 2>&1); then
    check resume_clone_refused 0 "accepted: $out"
else
    check resume_clone_refused "$(ok grep -q "$clone_name is a clone" <<<"$out")" "$out"
fi
for addr in $clones; do
    response=$(http_get "${addr%:*}" "${addr##*:}" /healthz)
    check "resume_clone_${addr}_serves" "$(ok grep -q '^ok' <<<"$response")" "$(head -n 1 <<<"$response")"
done

for name in $(fc vm list --json | tr -d ' \n' | grep -o '"name":"flock-[^"]*"' | cut -d'"' -f4); do
    out=$(fc vm destroy "$name" 2>&1) || check "destroy_$name" 0 "$out"
done
out=$(fc vm destroy web-parent --parent 2>&1) || check destroy_parent 0 "$out"
left=$(xl list | awk 'NR > 1 {print $1}' | tr '\n' ' ')
check nothing_left "$(ok test "$left" = "Domain-0 ")" "$left"
leftover=$(find "$state" -name '*.save' | wc -l)
check no_checkpoint_left "$(ok test "$leftover" -eq 0)" "$leftover checkpoint file(s)"
if ((failures > 0)); then
    for guest in /var/log/xen/console/guest-*.log; do
        [[ -f $guest ]] && { echo "--- $guest"; tail -n 30 "$guest"; }
    done
fi
summary true
