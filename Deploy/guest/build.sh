#!/usr/bin/env bash
# Builds the Flock guest image: Debian's cloud kernel plus an initramfs holding busybox, the
# virtio modules (and xen-netfront for Xen PV) and the two static Swift programs (flock-agent,
# flock-demo-app, with the FlockGuestKit library they share).
#
#   bash Deploy/guest/build.sh            # build if any input changed, else say it is up to date
#   bash Deploy/guest/build.sh --force    # rebuild even if the stamp matches
#
# Outputs, all under .build-guest/ at the repository root (git-ignored):
#   vmlinuz      the kernel          initrd.img   the initramfs (cpio newc, gzip)
#   manifest.txt what went in        stamp        hash of every input, for the cache check
#
# Packages come from apt only (`apt-get download` + `dpkg-deb -x`); nothing is installed on the
# host. The kernel package is the one Debian's `linux-image-cloud-amd64` currently depends on.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
guest="$repo/Deploy/guest"
out="$repo/.build-guest"
force=0
[[ ${1:-} == "--force" ]] && force=1

# The modules the guest loads (their dependencies are added from modules.dep): the PCI
# transport, the NIC, the agent's virtio-serial port, disks for VMs that have them, and the
# virtio RNG so a host-provided entropy device is used when present.
modules=(virtio_pci virtio_net virtio_console virtio_blk virtio-rng)
# Loaded by init only on Xen (a PV domU): the paravirtual NIC. The agent needs no module there:
# /dev/xen/xenbus and the hvc0 console are built into this kernel.
xen_modules=(xen-netfront)

log() { echo "guest-image: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for tool in apt-get apt-cache dpkg-deb cpio gzip sha256sum swift flock; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (bash Deploy/setup.sh installs cpio; swift must be on PATH)"
done

mkdir -p "$out"
# One build at a time: the tests and a person may both start it.
exec 9>"$out/.lock"
flock 9

# Resolve concrete package versions; refresh apt's lists once if they are missing.
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
if [[ -z $(candidate linux-image-cloud-amd64) || $(candidate linux-image-cloud-amd64) == "(none)" ]]; then
    log "apt lists missing; running apt-get update"
    apt-get update >&2 || die "apt-get update failed"
fi
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kernel_pkg ]] || die "cannot find the kernel package linux-image-cloud-amd64 depends on"
kernel_ver=$(candidate "$kernel_pkg")
busybox_ver=$(candidate busybox-static)
[[ -n $kernel_ver && $kernel_ver != "(none)" && -n $busybox_ver && $busybox_ver != "(none)" ]] ||
    die "no candidate version for $kernel_pkg or busybox-static"
kver=${kernel_pkg#linux-image-}

# Everything that determines the image, hashed for the cache check.
sources=("$guest/build.sh" "$guest/init")
while IFS= read -r -d '' file; do sources+=("$file"); done < <(
    find "$repo/Sources/FlockGuestKit" "$repo/Sources/flock-agent" "$repo/Sources/flock-demo-app" -type f -name '*.swift' \
        -print0 | LC_ALL=C sort -z
)
inputs_hash=$(
    {
        echo "$kernel_pkg=$kernel_ver"
        echo "busybox-static=$busybox_ver"
        echo "modules=${modules[*]}"
        echo "xen_modules=${xen_modules[*]}"
        swift --version 2>/dev/null | head -1
        for file in "${sources[@]}"; do
            echo "${file#"$repo/"} $(sha256sum <"$file" | cut -d' ' -f1)"
        done
    } | sha256sum | cut -d' ' -f1
)

if ((force == 0)) && [[ -f "$out/stamp" && -f "$out/vmlinuz" && -f "$out/initrd.img" && -f "$out/manifest.txt" ]] &&
    [[ $(cat "$out/stamp") == "$inputs_hash" ]]; then
    log "up to date ($kernel_pkg $kernel_ver, busybox $busybox_ver); nothing to do"
    exit 0
fi
log "building ($kernel_pkg $kernel_ver, busybox $busybox_ver)"

# 1. Packages, downloaded once per version into .build-guest/debs.
debs="$out/debs"
mkdir -p "$debs"
# As root, apt would try to drop to the _apt user, which cannot write into the repository.
apt_sandbox=()
[[ $(id -u) -eq 0 ]] && apt_sandbox=(-o APT::Sandbox::User=root)
fetch() { # name version -> path of the .deb
    local name=$1 version=$2 file
    file=$(find "$debs" -maxdepth 1 -name "${name}_*.deb" -print | while read -r f; do
        [[ $(dpkg-deb -f "$f" Version) == "$version" ]] && echo "$f"
    done | head -1)
    if [[ -z $file ]]; then
        (cd "$debs" && apt-get "${apt_sandbox[@]}" download "$name=$version" >&2) || die "apt-get download $name=$version failed"
        file=$(find "$debs" -maxdepth 1 -name "${name}_*.deb" -print | while read -r f; do
            [[ $(dpkg-deb -f "$f" Version) == "$version" ]] && echo "$f"
        done | head -1)
    fi
    [[ -n $file ]] || die "downloaded $name=$version but cannot find its .deb"
    echo "$file"
}
kernel_deb=$(fetch "$kernel_pkg" "$kernel_ver")
busybox_deb=$(fetch busybox-static "$busybox_ver")

work="$out/work"
rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox" "$work/root"
dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
busybox="$work/busybox/bin/busybox"
[[ -x $busybox ]] || die "busybox-static did not contain bin/busybox"
[[ -f "$work/kernel/boot/vmlinuz-$kver" ]] || die "the kernel package has no boot/vmlinuz-$kver"

# 2. The two static Swift programs, in release mode, in their own scratch path so the
#    package's debug build is untouched.
for product in flock-agent flock-demo-app; do
    log "swift build $product (release, static)"
    (cd "$repo" && swift build -c release --scratch-path "$out/swift" --product "$product" \
        -Xswiftc -static-executable -Xlinker -s >&2) || die "swift build of $product failed"
done
bindir="$out/swift/release"

# 3. The initramfs tree.
root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,etc,root,usr/bin,usr/sbin,lib/modules/"$kver"}
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [[ $applet == busybox || -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$bindir/flock-agent" "$root/bin/flock-agent"
install -m 0755 "$bindir/flock-demo-app" "$root/bin/flock-demo-app"
install -m 0755 "$guest/init" "$root/init"
echo "flock-guest" >"$root/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

# Modules: depmod the whole module tree once (with busybox, as the host may lack kmod), take
# the closure of the wanted modules from modules.dep, and depmod again inside the image.
kmods="$work/kernel/lib/modules/$kver"
"$busybox" depmod -b "$work/kernel" "$kver"
declare -A wanted=()
for module in "${modules[@]}" "${xen_modules[@]}"; do
    line=$(grep -E "(^|/)${module}\.ko:" "$kmods/modules.dep" || true)
    if [[ -z $line ]]; then
        grep -qE "(^|/)${module}\.ko$" "$kmods/modules.builtin" || die "module $module is neither modular nor built in"
        continue
    fi
    for path in ${line/:/}; do wanted[$path]=1; done
done
for path in "${!wanted[@]}"; do
    mkdir -p "$root/lib/modules/$kver/$(dirname "$path")"
    cp "$kmods/$path" "$root/lib/modules/$kver/$path"
done
cp "$kmods/modules.builtin" "$kmods/modules.order" "$root/lib/modules/$kver/"
"$busybox" depmod -b "$root" "$kver"
printf '%s\n' "${modules[@]}" >"$root/etc/flock-modules"
printf '%s\n' "${xen_modules[@]}" >"$root/etc/flock-xen-modules"

# 4. Pack it reproducibly: fixed owner and mtimes, sorted names, no gzip timestamp.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >"$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"

{
    echo "# Flock guest image (built by Deploy/guest/build.sh)"
    echo "inputs_sha256 $inputs_hash"
    echo "kernel_package $kernel_pkg $kernel_ver"
    echo "kernel_release $kver"
    echo "busybox_package busybox-static $busybox_ver"
    echo "modules $(printf '%s\n' "${!wanted[@]}" | xargs -n1 basename | LC_ALL=C sort | tr '\n' ' ')"
    for file in vmlinuz initrd.img; do
        echo "file $file $(stat -c %s "$work/$file") $(sha256sum <"$work/$file" | cut -d' ' -f1)"
    done
    for file in flock-agent flock-demo-app; do
        echo "binary $file $(stat -c %s "$root/bin/$file") $(sha256sum <"$root/bin/$file" | cut -d' ' -f1)"
    done
} >"$work/manifest.txt"

# Replace the outputs only when everything succeeded; the stamp goes last.
rm -f "$out/stamp"
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.img" "$out/initrd.img"
mv -f "$work/manifest.txt" "$out/manifest.txt"
echo "$inputs_hash" >"$out/stamp"
rm -rf "$work"
log "done: $out/vmlinuz $(stat -c %s "$out/vmlinuz") bytes, $out/initrd.img $(stat -c %s "$out/initrd.img") bytes"
