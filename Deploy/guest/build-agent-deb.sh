#!/usr/bin/env bash
# Builds the flock-agent Debian package users install in their own images: the static agent,
# its systemd unit (started before the network is configured) and /etc/flock/clone.d/ for
# clone hooks.
#
#   bash Deploy/guest/build-agent-deb.sh            # build if any input changed
#   bash Deploy/guest/build-agent-deb.sh --force    # rebuild even if the stamp matches
#
# Output under .build-guest/ (git-ignored): flock-agent_<version>_amd64.deb, and agent-deb.stamp
# (hash of every input). The last line printed on stdout is the path of the .deb.
#
# Version: 0.1.0 plus the date and commit of the last change to the agent's sources
# (0.1.0+git20261202.c7c64f6), and ".dirty" when the work tree changes them; the project has
# no release number yet.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/Deploy/guest/debian/agent"
out="$repo/.build-guest"

log() { echo "agent-deb: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
source "$repo/Deploy/guest/debian-lib.sh"
force=0
case $# in
    0) ;;
    1) [[ $1 == --force ]] || die "unknown argument '$1' (usage: bash Deploy/guest/build-agent-deb.sh [--force])"; force=1 ;;
    *) die "too many arguments: $* (usage: bash Deploy/guest/build-agent-deb.sh [--force])" ;;
esac

for tool in dpkg-deb sha256sum swift flock git; do
    command -v "$tool" >/dev/null || die "'$tool' is missing (bash Deploy/setup.sh installs dpkg-dev; swift must be on PATH)"
done

mkdir -p "$out"
# The same lock as Deploy/guest/build.sh: both build into .build-guest/swift.
exec 8>"$out/.lock"
flock 8

agent_sources=(Sources/flock-agent Sources/FlockGuestKit)
last=$(cd "$repo" && git log -1 --format='%cd.%h' --date=format:%Y%m%d -- "${agent_sources[@]}")
[[ -n $last ]] || die "no commit touches ${agent_sources[*]} (is $repo a git checkout?)"
version="0.1.0+git$last"
[[ -z $(cd "$repo" && git status --porcelain -- "${agent_sources[@]}") ]] || version+=".dirty"
deb="$out/flock-agent_${version}_amd64.deb"

sources=("$repo/Deploy/guest/build-agent-deb.sh" "$repo/Deploy/guest/debian-lib.sh")
while IFS= read -r -d '' file; do sources+=("$file"); done < <(
    find "$here" "${agent_sources[@]/#/$repo/}" -type f -print0 | LC_ALL=C sort -z
)
inputs_hash=$(
    {
        echo "version=$version"
        swift --version 2>/dev/null | head -1
        for file in "${sources[@]}"; do echo "${file#"$repo/"} $(sha256sum <"$file" | cut -d' ' -f1)"; done
    } | sha256sum | cut -d' ' -f1
)
if ((force == 0)) && [[ -f $deb && -f "$out/agent-deb.stamp" && $(cat "$out/agent-deb.stamp") == "$inputs_hash" ]]; then
    log "up to date ($(basename "$deb"))"
    echo "$deb"
    exit 0
fi

agent=$(debian_swift_static "$repo" "$out/swift" flock-agent)

tree="$out/agent-deb"
rm -rf "$tree"
install -D -m 0755 "$agent" "$tree/usr/sbin/flock-agent"
install -D -m 0644 "$here/flock-agent.service" "$tree/lib/systemd/system/flock-agent.service"
# Empty: hooks belong to the image or the application, not to this package. dpkg keeps the
# directory while any file it did not install is in it.
install -d -m 0755 "$tree/etc/flock/clone.d"
install -d -m 0755 "$tree/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$tree/DEBIAN/$script"; done
# Depends on an `ip`: the agent sets a bridge-mode clone's address with iproute2's (busybox's
# applet where the image has no iproute2); it sends the gratuitous ARP itself.
cat >"$tree/DEBIAN/control" <<CONTROL
Package: flock-agent
Version: $version
Architecture: amd64
Maintainer: Flock developers <flock@localhost>
Section: admin
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$tree" | cut -f1)
Depends: iproute2 | busybox | busybox-static
Description: Flock guest agent: identity for VMs cloned from a warm snapshot
 Runs in a guest that Flock clones. Over the virtio-serial port org.flock.agent (or xenstore
 under Xen) it answers the host's pings and, after each restore, applies the clone's own
 identity: fresh entropy, the clock, the hostname and the address, then runs the hooks in
 /etc/flock/clone.d/. A static executable: it needs no library from the image.
CONTROL

rm -f "$out"/flock-agent_*_amd64.deb "$out/agent-deb.stamp"
dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >&2 || die "dpkg-deb --build failed"
rm -rf "$tree"
echo "$inputs_hash" >"$out/agent-deb.stamp"
log "done: $deb ($(stat -c %s "$deb") bytes)"
echo "$deb"
