#!/usr/bin/env bash
# Builds the Debian guest image: a bookworm root file system with systemd, journald,
# systemd-networkd, nginx (proxy_cache) in front of flock-demo-app, and the flock-agent package
# installed with dpkg -i, as an ext4 disk for direct kernel boot with root=/dev/vda.
#
#   bash Deploy/guest/build-debian.sh            # build if any input changed, else say it is up to date
#   bash Deploy/guest/build-debian.sh --force    # rebuild even if the stamp matches
#
# Outputs under .build-guest/debian/ (git-ignored), booted by Deploy/guest/debian.yaml:
#   rootfs.qcow2  the root disk (ext4 made with mke2fs -d: no loop mount; VMs run on overlays)
#   vmlinuz       the cloud kernel of the root file system
#   initrd.img    a busybox initramfs that loads virtio_blk (a module of the cloud kernel), mounts
#                 root= and starts systemd (Deploy/guest/debian/initramfs-init). Not the one
#                 update-initramfs makes: that one runs udev and initramfs-tools' scripts, and
#                 under TCG they took 48 of the boot's first 57 seconds
#   manifest.txt  what went in            stamp   hash of every input, for the cache check
# The debootstrapped base is kept in .build-guest/debian/base (redone only when its package
# list or mirror changes) and the flock-agent .deb comes from Deploy/guest/build-agent-deb.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
guest="$repo/Deploy/guest"
overlay="$guest/debian/rootfs"
initramfs_init="$guest/debian/initramfs-init"
out="$repo/.build-guest/debian"
mirror=${FLOCK_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "debian-image: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
source "$guest/debian-lib.sh"
force=0
case $# in
    0) ;;
    1) [[ $1 == --force ]] || die "unknown argument '$1' (usage: bash Deploy/guest/build-debian.sh [--force])"; force=1 ;;
    *) die "too many arguments: $* (usage: bash Deploy/guest/build-debian.sh [--force])" ;;
esac

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap chroot mke2fs qemu-img dpkg-deb sha256sum flock swift cpio gzip; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (bash Deploy/setup.sh installs it)"
done

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

# The agent package first: it is an input of the image (cached; prints the .deb's path last).
agent_deb=$(bash "$guest/build-agent-deb.sh" | tail -1)
[[ -f $agent_deb ]] || die "Deploy/guest/build-agent-deb.sh did not produce a .deb"

# Installed by debootstrap from bookworm main, with their maintainer scripts: systemd as PID 1
# with udev and D-Bus (hostnamectl, networkctl), the cloud kernel and initramfs-tools, nginx,
# iproute2 (the agent's `ip`), and busybox-static (static, so the initramfs below uses it as its
# shell and tools).
base_include=systemd,systemd-sysv,udev,dbus,linux-image-cloud-amd64,initramfs-tools,nginx-light,busybox-static,iproute2,kmod
base_hash=$(echo "bookworm minbase $mirror $base_include" | sha256sum | cut -d' ' -f1)

# Units that cost boot time and do nothing in a short-lived VM: apt's and dpkg's timers, file
# system maintenance, waiting for "online" (nginx listens on 0.0.0.0 and needs no address), and
# kernel file systems nobody here uses.
masked=(apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service
    fstrim.timer systemd-networkd-wait-online.service sys-kernel-debug.mount sys-kernel-tracing.mount
    sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount
    systemd-pstore.service proc-sys-fs-binfmt_misc.automount systemd-binfmt.service modprobe@drm.service
    modprobe@dm_mod.service modprobe@loop.service modprobe@fuse.service modprobe@configfs.service)
# Modules udev would load for emulated hardware nothing here uses; each load costs under TCG.
blacklisted=(kvm kvm_amd kvm_intel powernow_k8 pcspkr joydev evdev serio_raw bochs drm drm_kms_helper
    button i2c_i801 i2c_smbus lpc_ich intel_agp)
# The initramfs's modules: the virtio PCI transport and the disk (ext4 is built in).
initramfs_modules=(virtio_pci virtio_blk)
enabled=(systemd-networkd.service flock-network.service flock-demo-app.service)

demo_sources=()
while IFS= read -r -d '' file; do demo_sources+=("$file"); done < <(
    find "$repo/Sources/FlockGuestKit" "$repo/Sources/flock-demo-app" "$overlay" -type f -print0 | LC_ALL=C sort -z
)
inputs_hash=$(
    {
        echo "base=$base_hash"
        echo "masked=${masked[*]}"
        echo "enabled=${enabled[*]}"
        echo "blacklisted=${blacklisted[*]}"
        echo "initramfs_modules=${initramfs_modules[*]}"
        echo "agent_deb $(basename "$agent_deb") $(sha256sum <"$agent_deb" | cut -d' ' -f1)"
        swift --version 2>/dev/null | head -1
        for file in "$guest/build-debian.sh" "$guest/debian-lib.sh" "$initramfs_init" "${demo_sources[@]}"; do
            echo "${file#"$repo/"} $(stat -c %a "$file") $(sha256sum <"$file" | cut -d' ' -f1)"
        done
    } | sha256sum | cut -d' ' -f1
)
if ((force == 0)) && [[ -f "$out/stamp" && -f "$out/rootfs.qcow2" && -f "$out/vmlinuz" && -f "$out/initrd.img" ]] &&
    [[ $(cat "$out/stamp") == "$inputs_hash" ]]; then
    log "up to date ($(basename "$agent_deb")); nothing to do"
    exit 0
fi

# A running VM's overlay is backed by rootfs.qcow2 by name: replacing the file under it would
# hand its next clone a different disk below the parent's writes.
users=$(find /proc/[0-9]*/fd -lname "$out/rootfs.qcow2" 2>/dev/null | cut -d/ -f3 | sort -u | tr '\n' ' ' || true)
[[ -z $users ]] || die "$out/rootfs.qcow2 is in use by pid(s) ${users% } (VMs booted from it); destroy them first"

# 1. The debootstrapped base (minutes, cached).
debian_debootstrap "$out/base" "$base_hash" "$out/debootstrap.log" bookworm "$mirror" \
    --variant=minbase --include="$base_include"

# 2. The origin: flock-demo-app, static like the agent.
demo_app=$(debian_swift_static "$repo" "$repo/.build-guest/swift" flock-demo-app)

work="$out/work"
rm -rf "$work"
mkdir -p "$work"
root="$work/root"
log "copying the base"
cp -a "$out/base" "$root"
kver=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -1)
[[ -n $kver ]] || die "the base has no cloud kernel in /boot"

# 3. The agent, installed as a user would (its postinst enables the unit: no systemd runs here).
cp "$agent_deb" "$root/tmp/"
chroot "$root" dpkg -i "/tmp/$(basename "$agent_deb")" >&2 || die "dpkg -i $(basename "$agent_deb") failed in the image"
rm -f "$root/tmp/$(basename "$agent_deb")"
[[ -L "$root/etc/systemd/system/multi-user.target.wants/flock-agent.service" ]] ||
    die "the flock-agent package did not enable flock-agent.service"

# 4. The image's own files: nginx's site, the origin's and the network's units, the clone hook,
#    the module blacklist.
install -m 0755 "$demo_app" "$root/usr/local/bin/flock-demo-app"
cp -r --preserve=mode "$overlay/." "$root/"
rm -f "$root/etc/nginx/sites-enabled/default"
echo flock-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 flock-guest\n' >"$root/etc/hosts"
# Mounted rw by the initramfs (rw on the command line); no fsck pass: a fresh disk under TCG.
printf '/dev/vda / ext4 defaults,noatime 0 0\n' >"$root/etc/fstab"
# The predictable-names policy would rename eth0 (the agent and flock.ip= configure eth0).
ln -sf /dev/null "$root/etc/systemd/network/99-default.link"
# A fixed machine ID, from the inputs: an empty one would make every boot a "first boot" that
# applies presets and commits a new ID to disk. Clones get theirs from the agent (see README).
echo "${inputs_hash:0:32}" >"$root/etc/machine-id"
# Persistent journal: systemd's writes land on the VM's disk (its own qcow2 overlay).
mkdir -p "$root/var/log/journal"
chroot "$root" systemctl enable "${enabled[@]}" >&2 || die "systemctl enable failed in the image"
chroot "$root" systemctl mask "${masked[@]}" >&2 || die "systemctl mask failed in the image"
# No display: the boot ends at multi-user.target, not graphical.target.
chroot "$root" systemctl set-default multi-user.target >&2 || die "systemctl set-default failed in the image"
# Only the serial console gets a getty (from console=ttyS0, by systemd's getty generator).
rm -f "$root/etc/systemd/system/getty.target.wants/getty@tty1.service"
printf 'blacklist %s\n' "${blacklisted[@]}" >"$root/etc/modprobe.d/flock-blacklist.conf"
# Root logs in on the serial console without a password: a lab image, never exposed.
chroot "$root" passwd -d root >/dev/null || die "passwd -d root failed in the image"

# 5. The initramfs: static busybox, the disk's modules in load order, and /init.
initramfs="$work/initramfs"
mkdir -p "$initramfs/bin" "$initramfs/etc"
install -m 0755 "$root/bin/busybox" "$initramfs/bin/busybox"
install -m 0755 "$initramfs_init" "$initramfs/init"
: >"$initramfs/etc/flock-modules"
for module in "${initramfs_modules[@]}"; do
    chroot "$root" modprobe -S "$kver" --show-depends "$module" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r path; do
    [[ -f "$root$path" ]] || die "modprobe listed $path, which is not in the image"
    install -D -m 0644 "$root$path" "$initramfs$path"
    echo "$path" >>"$initramfs/etc/flock-modules"
done
[[ -s "$initramfs/etc/flock-modules" ]] || die "no modules for ${initramfs_modules[*]} in kernel $kver"
find "$initramfs" -exec touch -h -d @0 {} +
(cd "$initramfs" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >"$work/initrd.img"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"

# 6. Trim what a VM never reads: the kernel and initrd are loaded by QEMU; docs, manuals,
#    locales, apt's caches and lists go.
rm -rf "$root/boot"/* "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info" \
    "$root/usr/share/locale" "$root/var/cache/apt"/*.bin "$root/var/cache/apt/archives"/*.deb \
    "$root/var/lib/apt/lists"/*_Packages "$root/var/cache/debconf"/*-old "$root/var/log"/*.log
mkdir -p "$root/usr/share/doc"

# 7. The disk: ext4 filled from the tree by mke2fs -d (no loop mount, no root-only mount), with
#    room to grow (the journal, nginx's temp files), then qcow2 so it is small on the host.
used_mib=$(($(du -sm "$root" | cut -f1)))
size_mib=$((used_mib * 3 / 2 + 256))
log "mke2fs -d: ${used_mib} MiB of files into a ${size_mib} MiB ext4"
mke2fs -q -t ext4 -L flock-root -d "$root" -F "$work/rootfs.raw" "${size_mib}M" >&2 || die "mke2fs -d failed"
qemu-img convert -f raw -O qcow2 "$work/rootfs.raw" "$work/rootfs.qcow2" || die "qemu-img convert failed"
rm -f "$work/rootfs.raw"

{
    echo "# Flock Debian guest image (built by Deploy/guest/build-debian.sh)"
    echo "inputs_sha256 $inputs_hash"
    echo "base debootstrap bookworm minbase $mirror include=$base_include"
    echo "kernel_release $kver"
    echo "agent_package $(basename "$agent_deb")"
    chroot "$root" dpkg-query -W -f='package ${Package} ${Version}\n' systemd nginx-light flock-agent "linux-image-$kver"
    echo "initramfs_modules $(tr '\n' ' ' <"$initramfs/etc/flock-modules")"
    echo "root_mib $used_mib of $size_mib"
    for file in vmlinuz initrd.img rootfs.qcow2; do
        echo "file $file $(stat -c %s "$work/$file") $(sha256sum <"$work/$file" | cut -d' ' -f1)"
    done
} >"$work/manifest.txt"

rm -f "$out/stamp"
for file in vmlinuz initrd.img rootfs.qcow2 manifest.txt; do mv -f "$work/$file" "$out/$file"; done
echo "$inputs_hash" >"$out/stamp"
rm -rf "$work"
log "done: $out/rootfs.qcow2 $(du -h "$out/rootfs.qcow2" | cut -f1), kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1)"
