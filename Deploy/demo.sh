#!/usr/bin/env bash
# The main job: validates the example policies and backtests the web tier on a recorded load
# step, showing a quick scale-out and a delayed, stepwise scale-in.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Deploy/setup.sh
swift build --product flockctl
flockctl=$(swift build --show-bin-path)/flockctl

"$flockctl" policy validate Policies/*.yaml
"$flockctl" simulate --policy Policies/web.yaml --metrics Deploy/metrics/load-step.csv --clone-latency 1s
