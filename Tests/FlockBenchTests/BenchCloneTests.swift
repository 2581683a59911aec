import FlockTestSupport
import Foundation
import Testing

/// The smallest real `flock-bench clone`: one lazy clone, one standby and one cold boot of the
/// guest image built by `Deploy/guest/build.sh`, under TCG. It boots VMs, so Deploy/test.sh runs
/// this target on its own line; it checks the JSON's shape and what the caches say, never how
/// long it took.
@Suite(.serialized) struct BenchCloneTests {
    static var imageBuilt: Bool {
        FileManager.default.fileExists(atPath: Repo.path(".build-guest/vmlinuz"))
            && FileManager.default.fileExists(atPath: Repo.path(".build-guest/initrd.img"))
    }

    @Test(.timeLimit(.minutes(10)))
    func lazyCloneAndStandbyInheritTheWarmCacheAndColdBootDoesNot() async throws {
        try #require(Self.imageBuilt, "build the guest image first: bash Deploy/guest/build.sh")
        let scratch = try Scratch(prefix: "flock-bench-test")
        let file = scratch.path("clone.json")
        // A state root of the test's own on tmpfs, to check afterwards that nothing is left running.
        let stateRoot = try Scratch(tmpfs: "bench")
        let state = stateRoot.dir.path
        let result = try await BenchCLI.run(
            [
                "clone", "--modes", "lazy,cold,standby", "--count", "1", "--memory", "256M", "--keys", "1",
                "--accelerator", "tcg", "--spec", Repo.path("Deploy/guest/parent.yaml"), "--json", file,
                "--state", state,
            ], in: scratch)
        try #require(result.status == 0, "\(result)")

        let json = try BenchCLI.json(file)
        #expect(json["machine"] is String)
        #expect(number(json, "count") == 1)
        #expect(number(json, "memory_mb") == 256)
        #expect(try #require(number(json, "parent_warm_request_ms")) > 0)
        let modes = try #require(json["modes"] as? [String: Any])
        #expect(Set(modes.keys) == ["lazy", "cold", "standby"])
        for (name, value) in modes {
            let mode = try #require(value as? [String: Any], "\(name)")
            for key in [
                "parent_pause_ms", "all_serving_ms", "warm_first_request_ms", "pss_mb_per_clone", "host_mb_total",
            ] {
                #expect(number(mode, key) != nil, "\(name).\(key)")
            }
            let first = mode["first_200_ms"] as? [String: Any]
            let p50 = try #require(number(first, "p50"), "\(name).first_200_ms.p50")
            #expect(p50 > 0 && number(first, "max") ?? 0 >= p50)
            #expect(try #require(number(mode, "pss_mb_per_clone")) > 1, "\(name)")
            let ack = try #require(number(mode, "decision_to_ack_ms"), "\(name).decision_to_ack_ms")
            let serving = try #require(number(mode, "decision_to_serving_s"), "\(name).decision_to_serving_s")
            // Serving is rounded to the millisecond, the ack to a hundredth of one.
            #expect(ack > 0 && serving * 1000 + 0.5 >= ack, "\(name): serving is never before the ack")
        }
        let lazy = modes["lazy"] as? [String: Any]
        let cold = modes["cold"] as? [String: Any]
        // A standby is activated from a snapshot taken for it (the refresh), idles at some PSS
        // before the decision, and serves the parent's warm cache like a lazy clone.
        let standby = modes["standby"] as? [String: Any]
        #expect(standby?["warm_cache"] as? String == "hit")
        #expect(try #require(number(standby, "pss_idle_mb")) > 1)
        #expect(lazy?["pss_idle_mb"] == nil, "only standbys idle before the decision")
        #expect(try #require(number(json, "refresh_pause_ms")) > 0)
        // The point of cloning: the lazy clone's first request for a key the parent warmed is a
        // hit; the cold VM must compute it.
        #expect(lazy?["warm_cache"] as? String == "hit")
        #expect(cold?["warm_cache"] as? String == "miss")
        #expect(try #require(number(lazy, "parent_pause_ms")) > 0)
        #expect(number(cold, "parent_pause_ms") == 0)
        let ratios = try #require(json["ratios"] as? [String: Any])
        #expect(try #require(number(ratios, "standby_vs_lazy_serving")) > 0)
        for key in ["lazy_vs_cold_first_200", "eager_vs_cold_first_200", "lazy_vs_eager_pss", "lazy_warm_vs_parent"] {
            #expect(ratios.keys.contains(key), "ratios.\(key)")
        }
        #expect(try #require(number(ratios, "lazy_vs_cold_first_200")) > 0)
        // No mode without eager: its ratios are null, not made up.
        #expect(ratios["lazy_vs_eager_pss"] is NSNull)
        // Every VM the bench started is gone: no VM directory, no QEMU naming the state root.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "\(state)/vms")) ?? []
        #expect(left.isEmpty, "left behind: \(left)")
        #expect(Self.processes(mentioning: state).isEmpty)
    }

    /// Pids whose command line mentions `marker`.
    static func processes(mentioning marker: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { pid in
            guard pid.allSatisfy(\.isNumber), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            return String(decoding: data, as: UTF8.self).contains(marker)
        }
    }
}
