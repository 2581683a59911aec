#!/usr/bin/env bash
# The main job: Flock end to end on this machine. Installs what is missing, builds the guest
# image, flockctl and flockd, then runs 'flockctl demo --hosts 2': HAProxy with a generated config,
# the warm parent VM, two namespace hosts reached over SSH for its clones, flockd with a demo policy
# and a wrk load step (~1x → ~4x → ~1x), with live progress, a summary table, JSON and an SVG chart
# in .build-demo/. Then the policy backtest, which is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Deploy/setup.sh
bash Deploy/guest/build.sh # the guest image; cached, so usually a no-op
swift build --product flockctl
swift build --product flockd
bin=$(swift build --show-bin-path)

out=.build-demo/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
"$bin/flockctl" demo --hosts 2 --json "$out/demo-summary.json" --chart "$out/demo-chart.svg"
echo "demo: summary $out/demo-summary.json, chart $out/demo-chart.svg"

"$bin/flockctl" policy validate Policies/*.yaml
"$bin/flockctl" simulate --policy Policies/web.yaml --metrics Deploy/metrics/load-step.csv --clone-latency 1s
