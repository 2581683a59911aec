import FlockCLI
import FlockHosts
import Foundation

/// The results of `bench hosts`: same-host against remote lazy clones, the transfers, the bytes
/// a further clone moves, eight clones over two hosts, and the issue's targets, as a table and
/// the documented JSON.
public struct BenchHostsReport: Sendable {
    var machine: String
    var rounds: Int
    var memoryMiB: Int
    /// The parent's pause for the run's one snapshot.
    var snapshotPauseMs: Double
    var local: [HostsCloneSample]
    /// Clones on a host that already held the snapshot.
    var held: [HostsCloneSample]
    /// Each host's first clone, which waited for the snapshot's transfer.
    var firstOnHost: [HostsCloneSample]
    var transfers: [String: RemoteHost.Transfer]
    /// What the placement's own count says moved for each held trip (the request and answer).
    var heldTransferBytes: [Int]
    /// Per host: ssh and `flockctl host serve` answering its first hello, before any clone.
    var sessionStartMs: [String: Double]
    var eight: HostsBatchSample
    var eightPerHost: [String: Int]

    var eightAllServingMs: Double { eight.servingMs.max() ?? 0 }

    /// The targets of issue 13.
    static let remoteVsLocalMax = 1.5
    static let extraCloneBytesMax = 1 << 20

    var localServingMs: Double { BenchMath.median(local.map(\.servingMs)) }
    var heldServingMs: Double { BenchMath.median(held.map(\.servingMs)) }
    var firstServingMs: Double { BenchMath.median(firstOnHost.map(\.servingMs)) }
    var transferSeconds: Double { BenchMath.median(transfers.values.map(\.seconds)) }
    var transferBytes: Int { Int(BenchMath.median(transfers.values.map { Double($0.bytes) })) }
    /// The median over the held clones of the bytes on their host's veth, decision to ack.
    var extraCloneBytes: Int { Int(BenchMath.median(held.compactMap(\.vethBytes).map(Double.init))) }
    var remoteWarmMs: Double { BenchMath.median(held.flatMap(\.warmMs)) }
    var parentWarmMs: Double { BenchMath.median(held.flatMap(\.parentMs)) }
    var remoteWarmHitRatio: Double {
        let requests = held.flatMap(\.warmMs).count
        return requests == 0 ? 0 : Double(held.map(\.warmHits).reduce(0, +)) / Double(requests)
    }

    var ratios: [String: Double?] {
        [
            "remote_vs_local_serving": BenchMath.ratio(heldServingMs, localServingMs),
            "remote_warm_vs_parent": BenchMath.ratio(remoteWarmMs, parentWarmMs),
            "first_new_host_vs_local_plus_transfer": BenchMath.ratio(
                firstServingMs, localServingMs + transferSeconds * 1000),
        ]
    }

    /// Each target with whether this run met it; the second holds per host, each against its own transfer.
    var targets: [(name: String, pass: Bool, detail: String)] {
        let ratio = ratios["remote_vs_local_serving"].flatMap { $0 } ?? .infinity
        var result = [
            (
                "remote lazy on a holding host ≤ 1.5 × same-host lazy", ratio <= Self.remoteVsLocalMax,
                String(format: "%.0f ms vs %.0f ms: %.3f ×", heldServingMs, localServingMs, ratio)
            )
        ]
        for first in firstOnHost.sorted(by: { $0.host < $1.host }) {
            let transfer = (transfers[first.host]?.seconds ?? 0) * 1000
            result.append(
                (
                    "first clone on \(first.host) ≤ same-host lazy + its transfer",
                    first.servingMs <= localServingMs + transfer,
                    String(format: "%.0f ms vs %.0f + %.0f ms", first.servingMs, localServingMs, transfer)
                ))
        }
        result.append(
            (
                "bytes for one more clone on a holding host ≤ 1 MiB", extraCloneBytes <= Self.extraCloneBytesMax,
                "\(extraCloneBytes) bytes"
            ))
        return result
    }

    public func table() -> String {
        var rows = [["CLONE", "HOST", "ACK_MS", "SERVING_MS", "WARM_REQ_MS", "CACHE", "VETH_BYTES"]]
        func row(_ what: String, _ samples: [HostsCloneSample]) {
            guard !samples.isEmpty else { return }
            let hits = samples.map(\.warmHits).reduce(0, +)
            let requests = samples.flatMap(\.warmMs).count
            let bytes = samples.compactMap(\.vethBytes)
            rows.append([
                what, Set(samples.map(\.host)).sorted().joined(separator: ","),
                ms(BenchMath.median(samples.map(\.ackMs))), ms(BenchMath.median(samples.map(\.servingMs))),
                String(format: "%.1f", BenchMath.median(samples.flatMap(\.warmMs))),
                hits == requests ? "hit" : hits == 0 ? "miss" : "mixed",
                bytes.isEmpty ? "-" : "\(Int(BenchMath.median(bytes.map(Double.init))))",
            ])
        }
        row("same-host lazy", local)
        row("remote lazy, held", held)
        for first in firstOnHost.sorted(by: { $0.host < $1.host }) { row("first on new host", [first]) }
        var text = "bench hosts: 2 namespace hosts, \(rounds) round(s), \(memoryMiB) MiB; \(machine)\n"
        text += FlockCLI.table(rows)
        text += String(format: "parent paused %.1f ms for the run's one snapshot\n", snapshotPauseMs)
        for (host, transfer) in transfers.sorted(by: { $0.key < $1.key }) {
            text += String(
                format: "transfer to %@: %.2f s, %d bytes (%.1f MiB)\n", host, transfer.seconds, transfer.bytes,
                Double(transfer.bytes) / 1_048_576)
        }
        let perHost = eightPerHost.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        text += String(
            format:
                "%d clones over 2 hosts (%@): acked after %.2f s, first serving %.2f s, all serving %.2f s; %d/%d warmed requests hit\n",
            eight.names.count, perHost.joined(separator: ", "), eight.ackMs / 1000,
            (eight.servingMs.min() ?? 0) / 1000, eightAllServingMs / 1000, eight.warmHits, eight.warmRequests)
        let sessions = sessionStartMs.sorted { $0.key < $1.key }.map {
            String(format: "%@ %.2f s", $0.key, $0.value / 1000)
        }
        text += "SSH session start (before the clock, not in any figure above): \(sessions.joined(separator: ", "))\n"
        text += String(
            format: "first warmed request: %.1f ms on a remote clone, %.1f ms on the parent\n", remoteWarmMs,
            parentWarmMs)
        for (key, value) in ratios.sorted(by: { $0.key < $1.key }) {
            text += "\(key): \(value.map { String(format: "%.3f", $0) } ?? "-")\n"
        }
        for target in targets { text += "target \(target.pass ? "PASS" : "FAIL"): \(target.name) (\(target.detail))\n" }
        return text
    }

    /// The schema documented in the README (issue 13), plus the figures behind the ratios.
    public func json() -> [String: Any] {
        func clones(_ samples: [HostsCloneSample]) -> [String: Any] {
            [
                "decision_to_ack_ms": BenchMath.round2(BenchMath.median(samples.map(\.ackMs))),
                "decision_to_serving_ms": BenchMath.round2(BenchMath.median(samples.map(\.servingMs))),
                "decision_to_serving_ms_each": samples.map { BenchMath.round2($0.servingMs) },
                "warm_first_request_ms": BenchMath.round2(BenchMath.median(samples.flatMap(\.warmMs))),
                "count": samples.count,
            ]
        }
        var firstPerHost: [String: Any] = [:]
        for first in firstOnHost {
            firstPerHost[first.host] = [
                "decision_to_serving_ms": BenchMath.round2(first.servingMs),
                "decision_to_ack_ms": BenchMath.round2(first.ackMs),
            ]
        }
        var remote = clones(held)
        remote["warm_hit_ratio"] = BenchMath.round2(remoteWarmHitRatio)
        return [
            "machine": machine, "rounds": rounds, "memory_mb": memoryMiB, "hosts": BenchHostsRunner.hostIndexes.count,
            "snapshot_pause_ms": BenchMath.round2(snapshotPauseMs),
            "same_host_lazy": clones(local), "remote_lazy_held": remote,
            "first_on_new_host": [
                "decision_to_serving_ms": BenchMath.round2(firstServingMs), "per_host": firstPerHost,
            ],
            "transfer": [
                "seconds": BenchMath.round3(transferSeconds), "bytes": transferBytes,
                "per_host": transfers.mapValues { ["seconds": BenchMath.round3($0.seconds), "bytes": $0.bytes] },
            ],
            "extra_clone_bytes": extraCloneBytes,
            "extra_clone_bytes_each": held.compactMap(\.vethBytes),
            "extra_clone_protocol_bytes": heldTransferBytes,
            "eight_over_two_hosts_all_serving_s": BenchMath.round3(eightAllServingMs / 1000),
            "eight_over_two_hosts_per_host": eightPerHost,
            "eight_over_two_hosts_ack_s": BenchMath.round3(eight.ackMs / 1000),
            "eight_over_two_hosts_serving_s_each": eight.servingMs.sorted().map { BenchMath.round3($0 / 1000) },
            "eight_over_two_hosts_warm_hit_ratio": BenchMath.round2(
                eight.warmRequests == 0 ? 0 : Double(eight.warmHits) / Double(eight.warmRequests)),
            "session_start_s": sessionStartMs.mapValues { BenchMath.round3($0 / 1000) },
            "parent_warm_request_ms": BenchMath.round2(parentWarmMs),
            "ratios": ratios.mapValues { BenchJSON.orNull($0) },
            "targets": Dictionary(uniqueKeysWithValues: targets.map { ($0.name, $0.pass) }),
        ]
    }

    private func ms(_ value: Double) -> String { String(format: "%.0f", value) }
}
