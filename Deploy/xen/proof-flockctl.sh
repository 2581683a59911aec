#!/bin/bash
# The proof with Flock's own driver, run inside the test dom0 by dom0-init when the harness is
# started with `--proof proof-flockctl.sh --flockctl PATH`:
#
#   bash Deploy/xen/run-harness.sh --proof proof-flockctl.sh --flockctl .build/debug/flockctl
#
# Today (no FlockXen yet) it proves that a host-built flockctl runs in this dom0 with the shared
# Swift runtime. When `flockctl vm start --help` offers `--hypervisor`, it also runs the same
# proof as proof-xl.sh through flockctl: vm start -> warm -> vm clone --count 2 -> check ->
# vm destroy. Output format as proof-xl.sh: FLOCK-RESULT / FLOCK-SUMMARY lines, exit 0 = passed.
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

if ! timeout 60 "$flockctl" vm start --help 2>&1 | grep -q -- '--hypervisor'; then
    echo "flockctl has no --hypervisor option yet (FlockXen not in this build): smoke test only"
    summary false
    exit $?
fi

# --- With FlockXen. The spec mirrors Deploy/guest/parent.yaml; adjust the keys to the
# driver's spec once it is final.
spec=/var/lib/flock/parent-xen.yaml
cat >"$spec" <<'EOF'
name: web-parent
pool: web
kernel: /mnt/guest/vmlinuz
initrd: /mnt/guest/initrd.img
append: console=hvc0 quiet
memory_mib: 256
cpus: 1
network: { mode: bridge, bridge: xenbr0, cidr: 10.88.0.0/24, gateway: 10.88.0.1 }
guest_port: 8080
EOF
fc() { timeout 600 "$flockctl" "$@" --hypervisor xen --state "$state"; }

http_get() { # host port path (as proof-xl.sh)
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
        cat <&3' http_get "$1" "$2" "$3" 2>/dev/null | tr -d '\r'
}

fc vm start "$spec" && check vm_start 1 "" || check vm_start 0 "flockctl vm start failed"
parent_addr=$(fc vm list --json | grep -o '"http":"[^"]*"' | head -n 1 | cut -d'"' -f4)
for key in k1 k2 k3; do http_get "${parent_addr%:*}" "${parent_addr##*:}" "/item/$key" >/dev/null; done
fc vm clone web-parent --count 2 && check vm_clone 1 "" || check vm_clone 0 "flockctl vm clone failed"
fc vm list
ids=""
for addr in $(fc vm list --json | grep -o '"http":"[^"]*"' | cut -d'"' -f4 | tail -n +2); do
    response=$(http_get "${addr%:*}" "${addr##*:}" /item/k1)
    grep -qi '^X-Cache: hit' <<<"$response" && check "clone_${addr}_warm" 1 "" ||
        check "clone_${addr}_warm" 0 "$(head -n 3 <<<"$response")"
    ids+="$(http_get "${addr%:*}" "${addr##*:}" /identity | grep -o '"clone_id":"[^"]*"') "
done
[[ $(tr ' ' '\n' <<<"$ids" | sed '/^$/d' | sort -u | wc -l) -eq 2 ]] &&
    check distinct_identities 1 "$ids" || check distinct_identities 0 "$ids"
for name in $(fc vm list --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4); do
    fc vm destroy "$name" --parent >/dev/null 2>&1 || fc vm destroy "$name"
done
left=$(xl list | awk 'NR > 1 {print $1}' | tr '\n' ' ')
[[ $left == "Domain-0 " ]] && check nothing_left 1 "$left" || check nothing_left 0 "$left"
summary true
