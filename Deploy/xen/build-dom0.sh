#!/usr/bin/env bash
# Builds the Xen test bed: Debian's Xen 4.17 hypervisor (decompressed, for QEMU's multiboot
# loader), Debian's standard kernel for dom0, and a dom0 root file system packed as an
# uncompressed initramfs.
#
#   bash Deploy/xen/build-dom0.sh            # build if any input changed, else do nothing
#   bash Deploy/xen/build-dom0.sh --force    # rebuild even if the stamp matches
#
# Outputs under .build-xen/ at the repository root (git-ignored):
#   xen           the hypervisor (ELF, multiboot)     vmlinuz     dom0's kernel
#   dom0.cpio     dom0's root (cpio newc, not compressed: unpacking gzip under TCG costs seconds)
#   manifest.txt  what went in                         stamp       hash of every input
#
# Where it comes from: `debootstrap --variant=minbase bookworm` from deb.debian.org for the base,
# then `apt-get download` + `dpkg-deb -x` of the Xen user space, Xen hypervisor and kernel at the
# versions the host's apt lists name (these include bookworm-security). Nothing is installed on
# the host, and no maintainer scripts of the Xen packages run: dom0's /init does their job.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/Deploy/xen"
out="$repo/.build-xen"
force=0
[[ ${1:-} == "--force" ]] && force=1
mirror=${FLOCK_XEN_MIRROR:-http://deb.debian.org/debian}

log() { echo "xen-dom0: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
source "$repo/Deploy/guest/debian-lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap)"
for tool in apt-get apt-cache dpkg-deb debootstrap cpio sha256sum flock gzip; do
    command -v "$tool" >/dev/null || die "'$tool' is missing"
done

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

if [[ -z $(debian_candidate xen-utils-4.17) || $(debian_candidate xen-utils-4.17) == "(none)" ]]; then
    log "apt lists missing; running apt-get update"
    apt-get update >&2 || die "apt-get update failed"
fi
kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kernel_pkg ]] || die "cannot find the kernel package linux-image-amd64 depends on"
kver=${kernel_pkg#linux-image-}

# Packed on top of the debootstrapped base with dpkg-deb -x (their maintainer scripts would
# start services, want udev and python; dom0's /init does what they would).
overlay_pkgs=(
    "$kernel_pkg" xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
    libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenhypfs1
    libxenmisc4.17 libxenstore4 libxentoolcore1 libxentoollog1
)
# Installed by debootstrap (all in bookworm main): what init, the proof and xl's hotplug
# scripts use, and the libraries xl and a host-built flockctl link against.
base_include=busybox,iproute2,kmod,libsqlite3-0,libyajl2,libncurses6,libtinfo6,procps,util-linux,libnl-3-200,libnl-route-3-200,libgnutls30,libcurl4,libxml2,libatomic1,libstdc++6

# The kernel modules dom0 loads (closure from modules.dep): Xen back ends and device files,
# the bridge for domU networking, 9p over virtio for the shares with the host.
modules=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-blkback bridge
    9p 9pnet_virtio virtio_pci loop)

declare -A version=()
for pkg in "${overlay_pkgs[@]}"; do
    v=$(debian_candidate "$pkg")
    [[ -n $v && $v != "(none)" ]] || die "no candidate version for $pkg"
    version[$pkg]=$v
done

base_hash=$(echo "bookworm minbase $mirror $base_include" | sha256sum | cut -d' ' -f1)
inputs_hash=$(
    {
        echo "base=$base_hash"
        for pkg in "${overlay_pkgs[@]}"; do echo "$pkg=${version[$pkg]}"; done
        echo "modules=${modules[*]}"
        for file in "$here/build-dom0.sh" "$here/dom0-init" "$repo/Deploy/guest/debian-lib.sh"; do
            echo "${file#"$repo/"} $(sha256sum <"$file" | cut -d' ' -f1)"
        done
    } | sha256sum | cut -d' ' -f1
)
if ((force == 0)) && [[ -f "$out/stamp" && -f "$out/xen" && -f "$out/vmlinuz" && -f "$out/dom0.cpio" ]] &&
    [[ $(cat "$out/stamp") == "$inputs_hash" ]]; then
    log "up to date ($kernel_pkg, xen ${version[xen-hypervisor-4.17-amd64]}); nothing to do"
    exit 0
fi

# 1. The debootstrapped base, kept between builds (it is the slow part: minutes).
debian_debootstrap "$out/base" "$base_hash" "$out/debootstrap.log" bookworm "$mirror" \
    --variant=minbase --include="$base_include"
base="$out/base"

# 2. The Xen and kernel packages, downloaded once per version into .build-xen/debs.
debs="$out/debs"

work="$out/work"
rm -rf "$work"
mkdir -p "$work"
root="$work/root"
log "copying the base"
cp -a "$base" "$root"
for pkg in "${overlay_pkgs[@]}"; do
    deb=$(debian_fetch "$pkg" "${version[$pkg]}" "$debs")
    # Not dpkg-deb -x: its tar would replace the merged-/usr symlinks (/lib -> usr/lib) with
    # directories, and every binary would lose its dynamic loader.
    dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$root" || die "cannot unpack $deb"
done

# 3. The hypervisor, decompressed (QEMU's multiboot loader takes an ELF, not gzip).
xen_gz=$(find "$root/boot" -maxdepth 1 -name 'xen-4.17*-amd64.gz' | head -1)
[[ -n $xen_gz ]] || die "xen-hypervisor-4.17-amd64 has no boot/xen-4.17*-amd64.gz"
gzip -dc "$xen_gz" >"$work/xen"
[[ -f "$root/boot/vmlinuz-$kver" ]] || die "$kernel_pkg has no boot/vmlinuz-$kver"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"

# 4. Trim: the hypervisor and kernel are loaded by QEMU, not from dom0's root; only the wanted
#    modules stay; docs, manuals and locales go.
rm -rf "$root/boot"/* "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" \
    "$root/usr/share/locale" "$root/var/cache/apt"/*.bin "$root/var/cache/apt/archives"/*.deb \
    "$root/var/lib/apt/lists"/*_Packages "$root/usr/share/i18n" "$root/usr/share/zoneinfo"
kmods="$root/lib/modules/$kver"
chroot "$root" /sbin/depmod "$kver" || die "depmod failed"
declare -A wanted=()
for module in "${modules[@]}"; do
    name=${module//-/[-_]}
    line=$(grep -E "(^|/)${name}\.ko(\.xz|\.zst)?:" "$kmods/modules.dep" || true)
    if [[ -z $line ]]; then
        grep -qE "(^|/)${name}\.ko(\.xz|\.zst)?$" "$kmods/modules.builtin" || die "module $module is neither modular nor built in"
        continue
    fi
    for path in ${line/:/}; do wanted[$path]=1; done
done
mv "$kmods" "$work/allmods"
mkdir -p "$kmods"
for path in "${!wanted[@]}"; do
    mkdir -p "$kmods/$(dirname "$path")"
    cp "$work/allmods/$path" "$kmods/$path"
done
cp "$work/allmods/modules.builtin" "$work/allmods/modules.order" "$kmods/"
cp "$work/allmods/modules.builtin.modinfo" "$kmods/" 2>/dev/null || true
rm -rf "$work/allmods"
chroot "$root" /sbin/depmod "$kver" || die "depmod failed"

# 5. Xen's run-time directories and dom0's init.
mkdir -p "$root"/{var/lib/xen,var/log/xen,run/xen,var/run/xen,etc/xen/auto,mnt/guest,mnt/xen,mnt/bin,var/lib/flock}
install -m 0755 "$here/dom0-init" "$root/init"
echo "flock-dom0" >"$root/etc/hostname"
# xl needs no config, but a missing xl.conf gets a warning on every call.
[[ -f "$root/etc/xen/xl.conf" ]] || : >"$root/etc/xen/xl.conf"

# Everything xl, xenstored and xenconsoled link against must be there.
xenbin="$root/usr/lib/xen-4.17/bin"
for bin in xl xenstored xenconsoled; do
    [[ -x "$xenbin/$bin" ]] || [[ $bin == xenstored && -x "$xenbin/oxenstored" ]] || die "no $bin in $xenbin"
done
missing=$(chroot "$root" /bin/sh -c 'for b in /usr/lib/xen-4.17/bin/*; do ldd "$b" 2>/dev/null; done' | grep 'not found' | sort -u || true)
[[ -z $missing ]] || die "libraries missing in dom0: $missing"

log "packing dom0.cpio"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet) >"$work/dom0.cpio"

{
    echo "# Flock Xen test bed (built by Deploy/xen/build-dom0.sh)"
    echo "inputs_sha256 $inputs_hash"
    echo "base debootstrap bookworm minbase $mirror include=$base_include"
    for pkg in "${overlay_pkgs[@]}"; do echo "package $pkg ${version[$pkg]}"; done
    echo "kernel_release $kver"
    echo "xen_image $(basename "$xen_gz")"
    echo "modules $(printf '%s\n' "${!wanted[@]}" | xargs -n1 basename | LC_ALL=C sort | tr '\n' ' ')"
    for file in xen vmlinuz dom0.cpio; do
        echo "file $file $(stat -c %s "$work/$file") $(sha256sum <"$work/$file" | cut -d' ' -f1)"
    done
} >"$work/manifest.txt"

rm -f "$out/stamp"
for file in xen vmlinuz dom0.cpio manifest.txt; do mv -f "$work/$file" "$out/$file"; done
echo "$inputs_hash" >"$out/stamp"
rm -rf "$work"
log "done: $(du -h "$out/dom0.cpio" | cut -f1) dom0.cpio, $(du -h "$out/xen" | cut -f1) xen, kernel $kver"
