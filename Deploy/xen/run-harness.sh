#!/usr/bin/env bash
# Boots Xen 4.17 + the Flock test dom0 inside QEMU (software emulation, TCG), lets dom0 run a
# proof script, and prints the proof's output. Exit status: 0 when the proof passed.
#
#   bash Deploy/xen/run-harness.sh [--proof NAME.sh] [--flockctl PATH] [--timeout SECONDS] [--keep DIR]
#
#   --proof NAME.sh   the script in Deploy/xen that dom0 runs (default proof-xl.sh)
#   --flockctl PATH   a host-built flockctl: copied with the Swift runtime
#                     (/opt/swift/usr/lib/swift/linux/*.so, or $FLOCK_SWIFT_RUNTIME) into
#                     .build-xen/share-bin/, which dom0 mounts read-only at /mnt/bin:
#                     /mnt/bin/flockctl, run with LD_LIBRARY_PATH=/mnt/bin/lib
#   --timeout S       hard limit for the whole QEMU run (default 1500)
#   --keep DIR        write the timestamped console log and summary there (default: a temp dir,
#                     removed afterwards; the proof lines are printed either way)
#
# It first runs Deploy/guest/build.sh and Deploy/xen/build-dom0.sh (both do nothing when their
# inputs did not change). Output lines:
#   FLOCK-TIME <event> <seconds since QEMU started>   (dom0_up, proof_begin, proof_end)
#   FLOCK-RESULT {...} / FLOCK-SUMMARY {...}            what the proof printed
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
proof=proof-xl.sh
flockctl=""
timeout_s=1500
keep=""
while (($#)); do
    case "$1" in
        --proof) proof=${2:?--proof needs a name}; shift 2 ;;
        --flockctl) flockctl=${2:?--flockctl needs a path}; shift 2 ;;
        --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
        --keep) keep=${2:?--keep needs a directory}; shift 2 ;;
        *) echo "run-harness: unknown argument $1" >&2; exit 2 ;;
    esac
done

log() { echo "run-harness: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
[[ $proof =~ ^[A-Za-z0-9][A-Za-z0-9._-]*\.sh$ && -f "$repo/Deploy/xen/$proof" ]] || die "no proof script Deploy/xen/$proof"
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout needs whole seconds"
[[ -z $flockctl || -x $flockctl ]] || die "--flockctl $flockctl is not an executable file"
runtime=${FLOCK_SWIFT_RUNTIME:-/opt/swift/usr/lib/swift/linux}
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing"

build_start=$EPOCHREALTIME
bash "$repo/Deploy/guest/build.sh" || die "guest image build failed"
bash "$repo/Deploy/xen/build-dom0.sh" || die "dom0 build failed"
build_s=$(awk -v a="$build_start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
echo "FLOCK-TIME build $build_s"

xenb="$repo/.build-xen"
if [[ -n $keep ]]; then
    mkdir -p "$keep"
    run_dir=$(cd "$keep" && pwd)
else
    run_dir=$(mktemp -d /tmp/flock-xen.XXXXXX)
fi
qemu_pid=""
# Alive and not a zombie (QEMU is our child; it stays a zombie until waited for).
qemu_alive() {
    [[ -n $qemu_pid && -r /proc/$qemu_pid/stat ]] || return 1
    local stat
    stat=$(</proc/"$qemu_pid"/stat) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}
cleanup() {
    if qemu_alive; then
        kill "$qemu_pid" 2>/dev/null || true
        sleep 1
        kill -9 "$qemu_pid" 2>/dev/null || true
    fi
    [[ -n $keep ]] || rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Xen: dom0 gets 1.5 GiB (its root and the checkpoints live in RAM) and both vCPUs, the console is the first serial port; dom0 logs to hvc0,
# which Xen forwards to that serial port.
xen_args="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=2 loglvl=warning guest_loglvl=warning noreboot=false"
dom0_args="console=hvc0 earlyprintk=xen rdinit=/init quiet loglevel=4 flock.proof=$proof"
# The shares are 9p over virtio-pci. A PV dom0 kernel refuses virtio devices that lack
# VIRTIO_F_ACCESS_PLATFORM (it must DMA through the Xen swiotlb, as guest "physical" addresses
# are not machine addresses), so `-virtfs` is spelled out to add iommu_platform=on.
virtfs=()
share() { # tag path
    virtfs+=(-fsdev "local,id=fs_$1,path=$2,security_model=none,readonly=on"
        -device "virtio-9p-pci,fsdev=fs_$1,mount_tag=$1,disable-legacy=on,iommu_platform=on")
}
share flockxen "$repo/Deploy/xen"
share flockguest "$repo/.build-guest"
if [[ -n $flockctl ]]; then
    # 9p does not follow symlinks out of a share, so the files are copied.
    bin_dir="$xenb/share-bin"
    rm -rf "$bin_dir"
    mkdir -p "$bin_dir/lib"
    install -m 0755 "$flockctl" "$bin_dir/flockctl"
    compgen -G "$runtime/*.so" >/dev/null || die "no Swift runtime libraries in $runtime"
    cp -L "$runtime"/*.so "$bin_dir/lib/"
    share flockbin "$bin_dir"
fi

console="$run_dir/console.log"
fifo="$run_dir/console.fifo"
mkfifo "$fifo"
start=$EPOCHREALTIME
log "booting Xen under QEMU TCG (log: $console)"
qemu-system-x86_64 -accel tcg -cpu qemu64 -m 3072 -smp 2 -nographic -no-reboot -monitor none \
    -kernel "$xenb/xen" -append "$xen_args" \
    -initrd "$xenb/vmlinuz $dom0_args,$xenb/dom0.cpio" \
    "${virtfs[@]}" -net none </dev/null >"$fifo" 2>&1 &
qemu_pid=$!

# Timestamp every console line (seconds since QEMU started); stop at the proof's end marker,
# at QEMU's exit, or at the deadline.
deadline=$((${EPOCHSECONDS} + timeout_s))
rc_line=""
while true; do
    if IFS= read -r -t 5 line; then
        :
    else
        status=$?
        ((status > 128)) || break # EOF: QEMU closed its output
        qemu_alive || break
        ((EPOCHSECONDS < deadline)) || { log "timed out after ${timeout_s}s"; break; }
        continue
    fi
    line=${line//$'\r'/} # hvc0 -> Xen console -> serial ends lines with \r\r\n
    t=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
    printf '%s %s\n' "$t" "$line" >>"$console"
    case "$line" in
        *===FLOCK-DOM0-UP===*) echo "FLOCK-TIME dom0_up $t" ;;
        *===FLOCK-PROOF-BEGIN===*) echo "FLOCK-TIME proof_begin $t" ;;
        *===FLOCK-PROOF-END*)
            echo "FLOCK-TIME proof_end $t"
            rc_line=$line
            ;;
        *FLOCK-RESULT* | *FLOCK-SUMMARY* | *FLOCK-STEP* | *FLOCK-FAIL*) echo "FLOCK-${line#*FLOCK-}" ;;
    esac
    [[ -n $rc_line ]] && break
    ((EPOCHSECONDS < deadline)) || { log "timed out after ${timeout_s}s"; break; }
done <"$fifo"

# Give Xen a few seconds to power off by itself, then make sure QEMU is gone.
for _ in $(seq 1 20); do
    qemu_alive || break
    sleep 0.5
done
total=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
echo "FLOCK-TIME qemu_total $total"

if [[ -z $rc_line ]]; then
    log "no proof end marker; last console lines:"
    tail -n 40 "$console" >&2 || true
    exit 1
fi
proof_rc=${rc_line##*rc=}
proof_rc=${proof_rc%%=*}
if [[ $proof_rc != 0 ]]; then
    log "proof failed (rc=$proof_rc); last console lines:"
    tail -n 60 "$console" >&2 || true
    exit 1
fi
log "proof passed"
