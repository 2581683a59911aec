import FlockTestSupport
import Foundation
import Testing

/// The smallest real `flock-bench hosts`: two namespace hosts with sshd, the built flockctl as
/// their remote command, one round of lazy clones under TCG. It needs root and boots VMs, so
/// Deploy/test.sh runs this target on its own line; it checks the JSON's keys and that its
/// figures are real (bytes moved, ratios of measured times, warm caches), never how fast.
@Suite(.serialized) struct BenchHostsTests {
    @Test func helpSaysHowManyHostsAndWhatItNeeds() async throws {
        let scratch = try Scratch(prefix: "flock-bench-test")
        let result = try await BenchCLI.run(["hosts", "--help"], in: scratch)
        #expect(result.status == 0, "\(result)")
        let help = result.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        for phrase in ["Makes 2 namespace hosts", "Needs root", "/usr/sbin/sshd", "the guest image", "flockctl"] {
            #expect(help.contains(phrase), "\(phrase): \(help)")
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func oneRoundMeasuresRemoteAgainstSameHostClonesAndCleansUp() async throws {
        try #require(BenchCloneTests.imageBuilt, "build the guest image first: bash Deploy/guest/build.sh")
        try #require(geteuid() == 0, "bench hosts makes network namespaces: run the tests as root")
        let scratch = try Scratch(prefix: "flock-bench-test")
        let file = scratch.path("hosts.json")
        let stateRoot = try Scratch(tmpfs: "bench-hosts")
        let state = stateRoot.dir.path
        let namespacesBefore = Self.namespaces()
        let rigsBefore = Self.rigDirectories()
        let result = try await BenchCLI.run(
            [
                "hosts", "--rounds", "1", "--memory", "256M", "--keys", "1", "--accelerator", "tcg",
                "--spec", Repo.path("Deploy/guest/parent.yaml"), "--json", file, "--state", state,
            ], in: scratch)
        try #require(result.status == 0, "\(result)")
        #expect(result.stdout.contains("target PASS") || result.stdout.contains("target FAIL"), "\(result)")

        let json = try BenchCLI.json(file)
        #expect(json["machine"] is String)
        #expect((json["command"] as? String)?.hasPrefix("flock-bench hosts --rounds 1") == true)
        let ratios = try #require(json["ratios"] as? [String: Any])
        #expect(try #require(number(ratios, "remote_vs_local_serving")) > 0)
        #expect(try #require(number(ratios, "remote_warm_vs_parent")) > 0)
        // The first transfer carries the snapshot's data: more than the 1 MiB a held host moves.
        let transfer = try #require(json["transfer"] as? [String: Any])
        #expect(try #require(number(transfer, "seconds")) > 0)
        #expect(try #require(number(transfer, "bytes")) > 1_048_576)
        let perHost = try #require(transfer["per_host"] as? [String: Any])
        #expect(Set(perHost.keys) == ["h71", "h72"])
        // A further clone still talks to its host: some bytes, and fewer than the snapshot's.
        let extra = try #require(number(json, "extra_clone_bytes"))
        #expect(extra > 0 && extra < number(transfer, "bytes") ?? 0)
        #expect(try #require(number(json, "eight_over_two_hosts_all_serving_s")) > 0)
        #expect(json["eight_over_two_hosts_per_host"] as? [String: Int] == ["h71": 4, "h72": 4])
        // Remote clones restore the parent's warm cache, like same-host ones.
        let remote = json["remote_lazy_held"] as? [String: Any]
        #expect(number(remote, "warm_hit_ratio") == 1)
        #expect(number(json, "eight_over_two_hosts_warm_hit_ratio") == 1)
        #expect(number(remote, "count") == 2 && number(json["same_host_lazy"] as? [String: Any], "count") == 1)

        // Nothing left: no namespace, no process naming the state root, no rig files.
        #expect(Self.namespaces() == namespacesBefore)
        #expect(BenchCloneTests.processes(mentioning: state).isEmpty)
        #expect(Self.rigDirectories() == rigsBefore)
    }

    /// The rigs' directories of keys and sshd configs in the temporary directory.
    static func rigDirectories() -> Set<String> {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []
        return Set(entries.filter { $0.hasPrefix("flock-bench-hosts-") })
    }

    /// The rigs' named network namespaces (`ip netns` keeps them in /run/netns); the other
    /// benches' smoke tests, which may run meanwhile, make their own (`flock-demo`).
    static func namespaces() -> Set<String> {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return Set(all.filter { $0.hasPrefix("flkhost") || $0.hasPrefix("flkpar") })
    }
}
