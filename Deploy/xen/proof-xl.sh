#!/bin/bash
# The proof on real Xen, run inside the test dom0 by dom0-init, using Xen's own `xl`:
#   warm PV parent -> `xl save -c` checkpoint -> `xl restore` two clones under new names and
#   MACs, onto the cut-off bridge xenhold0 -> a new identity for each through the xenstore
#   contract (flock/identity -> agent -> data/flock-ack) -> the clone's vif moves to xenbr0 ->
#   each clone serves, has the parent's warm cache and its own identity -> `xl destroy`
#   everything -> only Domain-0 is left.
#
# Output, on the console: FLOCK-STEP lines as it goes, one FLOCK-RESULT JSON line per check
# or measurement, a final FLOCK-SUMMARY JSON line; exit status 0 only if every check passed.
#
# Paths (mounted by dom0-init): /mnt/guest/{vmlinuz,initrd.img} the guest image.
# Network: bridge xenbr0 = 10.88.0.1/24 in dom0; parent 10.88.0.10, clone i 10.88.0.(10+i).
set -uo pipefail
umask 077 # the checkpoint holds guest memory

work=/var/lib/flock
mkdir -p "$work"
chmod 0700 "$work"
guest=/mnt/guest
bridge=xenbr0
hold_bridge=xenhold0 # clones resume here, cut off, until their identity is applied
# The vif hotplug script: our minimal one (see its header for why), or Debian's with
# FLOCK_VIF_SCRIPT=/etc/xen/scripts/vif-bridge.
vif_script=${FLOCK_VIF_SCRIPT:-/mnt/xen/vif-flock}
gateway=10.88.0.1
parent_ip=10.88.0.10
clones=2
keys=(k1 k2 k3)

failures=0
declare -A timing=()
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
step() { echo "FLOCK-STEP $*"; }
check() { # name ok(0/1) detail
    local name=$1 ok=$2 detail=${3:-}
    detail=${detail//\\/\\\\}
    detail=${detail//\"/\\\"}
    if [[ $ok == 1 ]]; then
        echo "FLOCK-RESULT {\"check\":\"$name\",\"ok\":true,\"detail\":\"$detail\"}"
    else
        echo "FLOCK-RESULT {\"check\":\"$name\",\"ok\":false,\"detail\":\"$detail\"}"
        echo "FLOCK-FAIL $name: $detail"
        failures=$((failures + 1))
    fi
}
measure() { # name seconds
    timing[$1]=$2
    echo "FLOCK-RESULT {\"measure\":\"$1\",\"seconds\":$2}"
}

# GET http://host:port/path with bash's /dev/tcp (busybox wget segfaulted in this dom0):
# body on stdout, status line and headers in $work/headers; at most 10 s. The arguments reach
# the inner bash as positional parameters, never as code.
http_get() { # host port path
    local response
    response=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
        cat <&3' http_get "$1" "$2" "$3" 2>/dev/null | tr -d '\r') || true
    printf '%s\n' "${response%%$'\n\n'*}" >"$work/headers"
    [[ $response == *$'\n\n'* ]] && printf '%s' "${response#*$'\n\n'}"
    head -n 1 "$work/headers" | grep -q ' 200 '
}
# Waits until /healthz at host answers 200, at most $2 seconds; returns 1 on timeout.
wait_http() {
    local host=$1 limit=$2 start
    start=$(now)
    while ! http_get "$host" 8080 /healthz >/dev/null; do
        awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN {exit !(b - a < l)}' || return 1
        sleep 0.2
    done
}
# GET host /identity, retried (a loaded TCG host can stall a single request for seconds).
get_identity() { # host
    local body
    for _ in 1 2 3; do
        body=$(http_get "$1" 8080 /identity) && [[ -n $body ]] && break
        sleep 1
    done
    echo "$body"
}
json_field() { # json name -> value of a string or number field (flat objects only)
    sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$1"
}

guest_cfg() { # name mac ip [bridge] -> config file path
    local name=$1 mac=$2 ip=$3 file="$work/$1.cfg" on_bridge=${4:-$bridge}
    cat >"$file" <<EOF
name = "$name"
type = "pv"
kernel = "$guest/vmlinuz"
ramdisk = "$guest/initrd.img"
extra = "console=hvc0 quiet panic=-1 flock.ip=$ip/24 flock.gw=$gateway flock.miss_cost_ms=50"
memory = 256
vcpus = 1
vif = [ "mac=$mac,bridge=$on_bridge,script=$vif_script" ]
on_crash = "destroy"
on_reboot = "destroy"
EOF
    echo "$file"
}

diagnose() { # name ip: what a failed guest left behind
    xl list
    echo "--- console of $1"
    tail -n 40 "/var/log/xen/console/guest-$1.log" 2>&1
    echo "--- xl log of $1"
    tail -n 20 "/var/log/xen/xl-$1.log" 2>&1
    echo "--- network"
    ip -br link
    ip -br addr
    ip neigh
    bridge fdb show br "$bridge" 2>&1 | grep -v permanent
    busybox ping -c 2 -W 1 "$2" 2>&1 | tail -n 2
}

identity_json() { # clone_id generation mac ip entropy_bytes -> the identity object
    local entropy
    entropy=$(head -c "$5" /dev/urandom | base64 -w0)
    printf '{"type":"identity","clone_id":"%s","generation":%s,"hostname":"%s","entropy":"%s","time_unix_ns":%s,"network":{"mac":"%s","address":"%s","prefix":24,"gateway":"%s"}}' \
        "$1" "$2" "$1" "$entropy" "$(date +%s%N)" "$3" "$4" "$gateway"
}

# The contract (Deploy/guest/README.md, "On Xen"): flock/identity under the domain's home,
# owned by dom0, readable by the domain; any previous reply is removed first.
give_identity() { # domid json
    local home="/local/domain/$1"
    xenstore-rm "$home/data/flock-ack" 2>/dev/null
    xenstore-write "$home/flock" "" && xenstore-chmod "$home/flock" n0 "r$1" &&
        xenstore-write "$home/flock/identity" "$2" && xenstore-chmod "$home/flock/identity" n0 "r$1"
}

# Waits (at most 60 s) for data/flock-ack to hold a reply of `type` (and, if given, naming
# clone_id); prints it, or nothing on timeout.
wait_reply() { # domid type clone_id
    local reply
    for _ in $(seq 1 600); do
        reply=$(xenstore-read "/local/domain/$1/data/flock-ack" 2>/dev/null) || reply=""
        if [[ -n $reply && $(json_field "$reply" type) == "$2" ]] &&
            [[ -z $3 || $(json_field "$reply" clone_id) == "$3" ]]; then
            echo "$reply"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

learned_macs() { # the bridge's dynamic forwarding entries: "mac@port ..."
    bridge fdb show br "$bridge" 2>/dev/null | awk '!/permanent/ && $1 ~ /^00:16:3e/ {printf "%s@%s ", $1, $3}'
}

cleanup_domains() {
    local name
    for name in $(xl list | awk 'NR > 1 && $1 != "Domain-0" {print $1}'); do
        timeout 60 xl destroy "$name" || true
    done
}

if [[ ${FLOCK_DOM0_SETUP_FAILED:-0} != 0 ]]; then
    check dom0_setup 0 "dom0-init reported a setup failure (see its log above)"
fi
[[ -f $guest/vmlinuz && -f $guest/initrd.img ]] || {
    check guest_image 0 "no $guest/vmlinuz or initrd.img (flockguest share missing?)"
    echo "FLOCK-SUMMARY {\"ok\":false}"
    exit 1
}
xl info | grep -E '^(xen_version|total_memory|free_memory|nr_cpus)' | sed 's/^/xl-info: /'

# 1. The parent: boot, wait until it serves, warm the cache.
step "creating the parent"
start=$(now)
if timeout 120 xl create -q "$(guest_cfg flock-parent 00:16:3e:88:00:10 $parent_ip)"; then
    if wait_http "$parent_ip" 120; then
        measure parent_boot_to_serving "$(since "$start")"
        check parent_serves 1 "healthz 200 from $parent_ip"
    else
        check parent_serves 0 "no /healthz from $parent_ip within 120 s"
        diagnose flock-parent "$parent_ip"
    fi
else
    check parent_created 0 "xl create failed"
fi
warm_ok=1
for key in "${keys[@]}"; do
    http_get "$parent_ip" 8080 "/item/$key" >/dev/null || warm_ok=0
done
http_get "$parent_ip" 8080 "/item/k1" >/dev/null
grep -qi 'X-Cache: hit' "$work/headers" || warm_ok=0
check parent_warm "$warm_ok" "keys ${keys[*]} fetched; k1 then a hit on the parent"
parent_identity=$(get_identity "$parent_ip")
echo "parent /identity: $parent_identity"

# 2. The checkpoint: the parent keeps running (-c).
step "checkpointing the parent (xl save -c)"
save="$work/parent.save"
start=$(now)
if timeout 300 xl save -c flock-parent "$save"; then
    chmod 0600 "$save"
    measure checkpoint "$(since "$start")"
    check checkpoint_saved 1 "$(stat -c '%s bytes, mode %a' "$save")"
else
    check checkpoint_saved 0 "xl save -c failed"
fi
# The parent must keep serving after the checkpoint.
if wait_http "$parent_ip" 30; then
    check parent_serves_after_checkpoint 1 ""
else
    check parent_serves_after_checkpoint 0 "parent stopped answering after xl save -c"
fi

# 3. The clones: restore under a new name and MAC, give each its identity, wait for the ack.
declare -A clone_identity=()
for i in $(seq 1 "$clones"); do
    name="flock-clone-$i"
    ip="10.88.0.$((10 + i))"
    mac=$(printf '00:16:3e:88:01:%02x' "$i")
    step "restoring $name ($ip, $mac)"
    [[ -f $save ]] || break
    start=$(now)
    if ! timeout 300 xl restore "$(guest_cfg "$name" "$mac" "$parent_ip" "$hold_bridge")" "$save"; then
        check "${name}_restored" 0 "xl restore failed"
        continue
    fi
    restored=$(since "$start")
    measure "${name}_restore" "$restored"
    domid=$(xl domid "$name")
    echo "$name restored as domain $domid on $hold_bridge"
    home="/local/domain/$domid"
    identity=$(identity_json "$name" "$i" "$mac" "$ip" 256)
    give_identity "$domid" "$identity" || check "${name}_identity_written" 0 "xenstore-write/chmod failed"
    ack=$(wait_reply "$domid" ack "$name")
    echo "$name ack: $ack"
    # Identity applied: join the real bridge.
    ip link set dev "vif$domid.0" nomaster && ip link set dev "vif$domid.0" master "$bridge" ||
        check "${name}_joined_bridge" 0 "cannot move vif$domid.0 to $bridge"
    echo "$name on $bridge; learned MACs there: $(learned_macs)"
    if [[ -n $ack ]]; then
        measure "${name}_restore_to_ack" "$(since "$start")"
        check "${name}_ack" 1 "$ack"
    else
        check "${name}_ack" 0 "no ack naming $name in data/flock-ack within 60 s: '$(xenstore-read "/local/domain/$domid/data/flock-ack" 2>&1)'"
    fi
    if wait_http "$ip" 90; then
        measure "${name}_restore_to_serving" "$(since "$start")"
        check "${name}_serves" 1 "healthz 200 from $ip"
    else
        check "${name}_serves" 0 "no /healthz from $ip within 90 s"
        diagnose "$name" "$ip"
    fi
    http_get "$ip" 8080 "/item/k1" >/dev/null
    if grep -qi 'X-Cache: hit' "$work/headers"; then
        check "${name}_warm_cache_hit" 1 "k1 is a hit on the first request to the clone"
    else
        check "${name}_warm_cache_hit" 0 "k1 was not a hit: $(tr '\n' ' ' <"$work/headers")"
    fi
    clone_identity[$name]=$(get_identity "$ip")
    echo "$name /identity: ${clone_identity[$name]}"
    if [[ $(json_field "${clone_identity[$name]}" clone_id) == "$name" &&
        $(json_field "${clone_identity[$name]}" hostname) == "$name" ]]; then
        check "${name}_identity" 1 "clone_id and hostname are $name"
    else
        check "${name}_identity" 0 "identity is ${clone_identity[$name]}"
    fi
    if [[ $i == 1 ]]; then
        # The contract's other paths, on a running clone: a refused identity gets an error
        # reply and changes nothing; a later generation is applied again.
        give_identity "$domid" "$(identity_json "$name" 5 "$mac" "$ip" 16)"
        reply=$(wait_reply "$domid" error "")
        generation=$(json_field "$(get_identity "$ip")" generation)
        if [[ -n $reply && $generation == 1 ]]; then
            check "${name}_bad_identity_refused" 1 "$reply"
        else
            check "${name}_bad_identity_refused" 0 "reply '$reply', generation now '$generation'"
        fi
        give_identity "$domid" "$(identity_json "$name" 6 "$mac" "$ip" 256)"
        reply=$(wait_reply "$domid" ack "$name")
        generation=$(json_field "$(get_identity "$ip")" generation)
        if [[ -n $reply && $generation == 6 ]]; then
            check "${name}_new_generation_applied" 1 "generation 6 acked and served"
        else
            check "${name}_new_generation_applied" 0 "reply '$reply', generation now '$generation'"
        fi
    fi
done

# Distinct identities: clone ids and the per-request randomness differ between siblings and
# from the parent.
ids=""
randoms=""
for name in "${!clone_identity[@]}"; do
    ids+="$(json_field "${clone_identity[$name]}" clone_id) "
    randoms+="$(json_field "${clone_identity[$name]}" random) "
done
distinct_ids=$(tr ' ' '\n' <<<"$ids" | sed '/^$/d' | sort -u | wc -l)
distinct_randoms=$(tr ' ' '\n' <<<"$randoms" | sed '/^$/d' | sort -u | wc -l)
if [[ $distinct_ids -eq $clones && $distinct_randoms -eq $clones ]]; then
    check distinct_identities 1 "clone ids: $ids"
else
    check distinct_identities 0 "clone ids: '$ids' randoms: '$randoms'"
fi
# The parent is untouched by its clones' identities, and still reachable.
start=$(now)
if wait_http "$parent_ip" 5; then
    measure parent_reachable_after_clones "$(since "$start")"
fi
parent_after=$(get_identity "$parent_ip")
if [[ -n $parent_after && $(json_field "$parent_after" clone_id) == "$(json_field "$parent_identity" clone_id)" ]]; then
    check parent_identity_unchanged 1 "$parent_after"
else
    check parent_identity_unchanged 0 "before: $parent_identity after: $parent_after"
fi
xl list

# 4. Destroy everything; only Domain-0 may be left, with no vif on the bridge.
step "destroying all guests"
start=$(now)
cleanup_domains
measure destroy_all "$(since "$start")"
rm -f "$save"
sleep 1
left=$(xl list | awk 'NR > 1 {print $1}' | tr '\n' ' ')
if [[ $left == "Domain-0 " ]]; then
    check nothing_left 1 "xl list: $left"
else
    check nothing_left 0 "xl list: $left"
fi
vifs=$(ls /sys/class/net/$bridge/brif 2>/dev/null | tr '\n' ' ')
if [[ -z $vifs ]]; then
    check no_vifs_left 1 "bridge $bridge has no ports"
else
    check no_vifs_left 0 "bridge $bridge still has: $vifs"
fi

ok=false
((failures == 0)) && ok=true
timings=""
for name in "${!timing[@]}"; do timings+="\"$name\":${timing[$name]},"; done
echo "FLOCK-SUMMARY {\"ok\":$ok,\"failures\":$failures,\"clones\":$clones,\"seconds\":{${timings%,}}}"
((failures == 0))
