#!/usr/bin/env bash
# The test command: installs what the tests need, builds everything and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Deploy/setup.sh
bash Deploy/guest/build.sh # the guest image the VM tests boot; cached, so usually a no-op
bash Deploy/guest/build-debian.sh # the Debian guest (systemd, nginx, the agent's .deb); cached likewise
swift build --build-tests
# The suites that boot VMs under software emulation each get the machine to themselves: run
# side by side, TCG guests on two cores slow each other past any sane timeout. The first run
# holds everything else, the console in headless Chromium (ConsoleBrowserTests) included; the
# console's screenshot under the demo's load step runs with the end-to-end tests.
swift test --skip-build --skip 'GuestImageTests|DebianGuestTests|FlockQEMUTests|FlockHostsTests|FlockEndToEndTests|FlockBenchTests|FlockXenHarnessTests'
swift test --skip-build --filter GuestImageTests
swift test --skip-build --filter FlockQEMUTests
swift test --skip-build --filter DebianGuestTests # the Debian guest in every clone mode
# Hosts over real sshd in network namespaces, snapshots shipped to them, clones restored there.
swift test --skip-build --filter FlockHostsTests
swift test --skip-build --filter FlockBenchTests # the built flock-bench; the clone and peak smokes boot VMs
# Real haproxy, QEMU, flockd and wrk together: last, and alone.
swift test --skip-build --filter FlockEndToEndTests
# Xen 4.17 and a Debian dom0 under QEMU, the xl proof then the FlockXen proof inside it
# (Deploy/xen; the first run debootstraps the dom0 into .build-xen/).
swift test --skip-build --filter FlockXenHarnessTests
