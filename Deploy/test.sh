#!/usr/bin/env bash
# The test command: installs what the tests need, builds everything and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Deploy/setup.sh
bash Deploy/guest/build.sh # the guest image the VM tests boot; cached, so usually a no-op
swift build --build-tests
swift test --skip-build
