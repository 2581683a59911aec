import FlockCLI
import FlockCore
import Foundation

/// The results of `bench clone`, per mode, as a table for people and the documented JSON.
///
/// Across rounds: times per clone (first 200, warmed request, PSS) are pooled, and per-batch
/// figures (pause, all serving, host memory) are the median batch, so one noisy batch does
/// not swing the result.
public struct BenchCloneReport: Sendable {
    var machine: String
    var count: Int
    var rounds: Int
    var modes: [BenchCloneMode]
    var samples: [CloneBatchSample]
    /// The parent's warmed-key request before any clone existed.
    var parentIdleMs: Double

    /// The parent's warmed-key request, measured during every batch (see `parentMs`).
    var parentWarmMs: Double {
        let during = samples.flatMap(\.parentMs)
        return during.isEmpty ? parentIdleMs : BenchMath.median(during)
    }

    struct ModeResult {
        var pauseMs: Double
        var firstOKp50: Double
        var firstOKmax: Double
        var allServingMs: Double
        var batchReadyMs: Double
        /// Median clone: decision → agent ack, and decision → serving (see `servingMs`).
        var ackMs: Double
        var servingMs: Double
        var warmMs: Double
        var warmHitRatio: Double
        var repeatMs: Double
        var pssMiB: Double
        /// Standbys only: the median PSS of one waiting standby; nil for the other modes.
        var idlePssMiB: Double?
        var hostMiB: Double

        /// "hit" when every warmed-key request hit, "miss" when none did.
        var warmCache: String { warmHitRatio == 1 ? "hit" : warmHitRatio == 0 ? "miss" : "mixed" }
    }

    func result(_ mode: BenchCloneMode) -> ModeResult? {
        let batches = samples.filter { $0.mode == mode }
        guard !batches.isEmpty else { return nil }
        let firsts = batches.flatMap(\.firstOKMs)
        let warm = batches.flatMap(\.warmMs)
        let hits = batches.map(\.warmHits).reduce(0, +)
        return ModeResult(
            pauseMs: BenchMath.median(batches.map { $0.pauseMs ?? 0 }),
            firstOKp50: BenchMath.median(firsts), firstOKmax: firsts.max() ?? 0,
            allServingMs: BenchMath.median(batches.map { $0.firstOKMs.max() ?? 0 }),
            batchReadyMs: BenchMath.median(batches.map(\.batchReadyMs)),
            ackMs: BenchMath.median(batches.flatMap(\.ackMs)),
            servingMs: BenchMath.median(batches.flatMap(\.servingMs)),
            warmMs: BenchMath.median(warm), warmHitRatio: warm.isEmpty ? 0 : Double(hits) / Double(warm.count),
            repeatMs: BenchMath.median(batches.flatMap(\.repeatMs)),
            pssMiB: BenchMath.median(batches.flatMap(\.pssMiB)),
            idlePssMiB: mode == .standby ? BenchMath.median(batches.flatMap(\.idlePssMiB)) : nil,
            hostMiB: BenchMath.median(batches.map(\.hostMiB)))
    }

    /// The ratios the issue's targets are stated in; nil where a mode was not run.
    var ratios: [String: Double?] {
        let lazy = result(.lazy), eager = result(.eager), cold = result(.cold), standby = result(.standby)
        return [
            "standby_vs_lazy_serving": BenchMath.ratio(standby?.servingMs, lazy?.servingMs),
            "lazy_vs_cold_first_200": BenchMath.ratio(lazy?.firstOKp50, cold?.firstOKp50),
            "eager_vs_cold_first_200": BenchMath.ratio(eager?.firstOKp50, cold?.firstOKp50),
            "lazy_vs_eager_pss": BenchMath.ratio(lazy?.pssMiB, eager?.pssMiB),
            "lazy_warm_vs_parent": BenchMath.ratio(lazy?.warmMs, parentWarmMs),
            // Extras: the same comparisons for eager, and all-serving rather than the median clone.
            "lazy_vs_cold_all_serving": BenchMath.ratio(lazy?.allServingMs, cold?.allServingMs),
            "eager_warm_vs_parent": BenchMath.ratio(eager?.warmMs, parentWarmMs),
            "cold_warm_vs_parent": BenchMath.ratio(cold?.warmMs, parentWarmMs),
            "standby_vs_lazy_ack": BenchMath.ratio(standby?.ackMs, lazy?.ackMs),
        ]
    }

    /// The parent's pause per refresh of the standbys: the median pause of the snapshots they
    /// were restored from (the bench takes a fresh one per batch, as a refresh does).
    var refreshPauseMs: Double? { result(.standby)?.pauseMs }

    public func table() -> String {
        var rows = [
            [
                "MODE", "PAUSE_MS", "FIRST_200_P50", "FIRST_200_MAX", "ALL_SERVING", "READY", "ACK_MS", "SERVING_MS",
                "WARM_REQ_MS", "REPEAT_MS", "CACHE", "PSS_MB", "IDLE_PSS_MB", "HOST_MB", "FIRST_200_VS_COLD",
            ]
        ]
        let cold = result(.cold)
        for mode in modes {
            guard let r = result(mode) else { continue }
            let vsCold = BenchMath.ratio(r.firstOKp50, cold?.firstOKp50).map { String(format: "%.3f", $0) } ?? "-"
            rows.append([
                mode.rawValue, mode == .cold ? "-" : ms(r.pauseMs), ms(r.firstOKp50), ms(r.firstOKmax),
                ms(r.allServingMs), ms(r.batchReadyMs), ms(r.ackMs), ms(r.servingMs), ms(r.warmMs), ms(r.repeatMs),
                r.warmCache, mb(r.pssMiB), r.idlePssMiB.map(mb) ?? "-", mb(r.hostMiB), vsCold,
            ])
        }
        var text = "bench clone: \(count) clone(s) per mode, \(rounds) round(s); \(machine)\n"
        text += FlockCLI.table(rows)
        text += String(
            format: "parent, warmed key: %.1f ms alongside the batches (%.1f ms before any clone)\n", parentWarmMs,
            parentIdleMs)
        if let refreshPauseMs {
            text += String(
                format: "refresh (a fresh snapshot for the standbys): parent paused %.1f ms\n", refreshPauseMs)
        }
        for (key, value) in ratios.sorted(by: { $0.key < $1.key }) {
            text += "\(key): \(value.map { String(format: "%.3f", $0) } ?? "-")\n"
        }
        return text
    }

    /// The schema documented in the README (issue 6), plus a few extra keys.
    public func json(memoryMiB: Int) -> [String: Any] {
        var modesObject: [String: Any] = [:]
        for mode in modes {
            guard let r = result(mode) else { continue }
            var object: [String: Any] =
                [
                    "parent_pause_ms": BenchMath.round2(r.pauseMs),
                    "first_200_ms": ["p50": BenchMath.round2(r.firstOKp50), "max": BenchMath.round2(r.firstOKmax)],
                    "all_serving_ms": BenchMath.round2(r.allServingMs),
                    "warm_first_request_ms": BenchMath.round2(r.warmMs),
                    "pss_mb_per_clone": BenchMath.round2(r.pssMiB),
                    "host_mb_total": BenchMath.round2(r.hostMiB),
                    "batch_ready_ms": BenchMath.round2(r.batchReadyMs),
                    "warm_cache": r.warmCache,
                    "warm_hit_ratio": BenchMath.round2(r.warmHitRatio),
                    "warm_repeat_request_ms": BenchMath.round2(r.repeatMs),
                    "parent_pause_ms_each": samples.filter { $0.mode == mode }.map {
                        BenchMath.round2($0.pauseMs ?? 0)
                    },
                    "all_serving_ms_each": samples.filter { $0.mode == mode }.map {
                        BenchMath.round2($0.firstOKMs.max() ?? 0)
                    },
                    "decision_to_ack_ms": BenchMath.round2(r.ackMs),
                    "decision_to_serving_s": BenchMath.round3(r.servingMs / 1000),
                ]
            if let idle = r.idlePssMiB { object["pss_idle_mb"] = BenchMath.round2(idle) }
            modesObject[mode.rawValue] = object
        }
        return [
            "machine": machine, "count": count, "memory_mb": memoryMiB, "rounds": rounds, "modes": modesObject,
            "parent_warm_request_ms": BenchMath.round2(parentWarmMs),
            "parent_warm_request_idle_ms": BenchMath.round2(parentIdleMs),
            "ratios": ratios.mapValues { BenchJSON.orNull($0) },
            "refresh_pause_ms": BenchJSON.orNull(refreshPauseMs.map(BenchMath.round2)),
        ]
    }

    private func ms(_ value: Double) -> String { String(format: "%.0f", value) }
    private func mb(_ value: Double) -> String { String(format: "%.1f", value) }
}
