#!/usr/bin/env bash
# Installs the Debian packages Flock builds and runs against, skipping any already installed,
# so that running it twice does nothing twice. Used by Deploy/test.sh and Deploy/demo.sh.
set -euo pipefail

packages=(
    libsqlite3-dev       # GRDB builds against the system SQLite
    sqlite3              # the fault suite holds the store's write lock from outside with it
    libcurl4-openssl-dev # URLSession (FoundationNetworking) of the Prometheus metrics source is libcurl
    haproxy              # the balancer the FlockHAProxy tests start for real (Debian 12 ships 2.6)
    qemu-system-x86 # the hypervisor FlockQEMU drives over QMP; its tests boot real VMs under TCG (7.2)
    qemu-utils      # qemu-img, for qcow2 overlays of VMs with a root disk
    cpio            # Deploy/guest/build.sh packs the guest initramfs (newc) with it
    iproute2        # bridge-mode VMs: TAP devices, bridges and the tests' network namespaces
    nftables        # the demo network's firewall: guests answer the balancer but cannot reach the host
    wrk             # the load generator of the demo (flockctl demo) and the end-to-end tests
    libxen-dev      # libxl and libxenstore (Xen 4.17) headers and libraries the Xen driver links
    debootstrap     # Deploy/xen/build-dom0.sh and Deploy/guest/build-debian.sh make Debian roots from packages
    e2fsprogs       # mke2fs -d turns the Debian guest's root tree into an ext4 disk without a loop mount
    openssh-client  # Flock reaches its other hypervisor hosts over ssh (FlockHosts)
    openssh-server  # the hosts tests run sshd in network namespaces, as each host does
    prometheus      # prometheus and promtool: the Deploy/prometheus rules are checked and evaluated for real (2.42)
    chromium        # the console's browser tests (ConsoleBrowserTests) run flockd's /ui in it, headless
    chromium-driver # chromedriver: the W3C WebDriver server those tests drive Chromium through
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]})); then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
