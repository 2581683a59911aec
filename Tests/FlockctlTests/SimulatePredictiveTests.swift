import FlockTestSupport
import Foundation
import Testing

/// `flockctl simulate` scoring and `--compare-predictive`, on the bundled three-day trace.
@Suite("flockctl simulate scores provisioning and compares predictive")
struct SimulatePredictiveTests {
    static let trace = Repo.root.appendingPathComponent("Deploy/metrics/daily-3d.csv").path

    /// The summary line of a json run: the policy's own, and the one without its predictive block.
    private func summaries(_ result: CLIResult) -> (SimulationSummary?, SimulationSummary?) {
        let last = result.stdoutLines.last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        return (
            (last?["summary"] as? [String: Any]).flatMap(SimulationSummary.init),
            (last?["without_predictive"] as? [String: Any]).flatMap(SimulationSummary.init)
        )
    }

    @Test("on the daily trace, predictive cuts under-provisioned seconds by 80 % for at most 10 % more instances")
    func comparePredictive() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("shop"), "--metrics", Self.trace, "--score-from", "24h",
            "--compare-predictive", "--format", "json",
        ])
        #expect(result.status == 0, "\(result)")
        let (with, without) = summaries(result)
        let predictive = try #require(with, "\(result.stdoutLines.last ?? "")")
        let reactive = try #require(without, "\(result.stdoutLines.last ?? "")")
        #expect(reactive.underProvisionedSeconds > 0)
        #expect(
            Double(predictive.underProvisionedSeconds) <= 0.2 * Double(reactive.underProvisionedSeconds),
            "\(predictive) vs \(reactive)")
        #expect(
            Double(predictive.instanceSeconds) <= 1.1 * Double(reactive.instanceSeconds), "\(predictive) vs \(reactive)"
        )
        // Two days are scored, and the pool never drops below capacity.min = 2.
        #expect(reactive.instanceSeconds >= 2 * 2 * 86_400)
    }

    @Test("--score-from leaves the start of the trace out of both counts")
    func scoreFrom() async throws {
        let sandbox = try Scratch()
        func run(_ from: String) async throws -> SimulationSummary {
            let result = try await sandbox.run([
                "simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep, "--format", "json",
                "--score-from", from,
            ])
            #expect(result.status == 0, "\(result)")
            return try #require(summaries(result).0, "\(result)")
        }
        let all = try await run("0s")
        let late = try await run("200s")
        let never = try await run("24h")
        #expect(all.underProvisionedSeconds > 0, "the load step outruns the reactive policy at first")
        #expect(late.instanceSeconds < all.instanceSeconds)
        #expect(late.underProvisionedSeconds < all.underProvisionedSeconds)
        #expect(never.instanceSeconds == 0 && never.underProvisionedSeconds == 0)
    }

    @Test("table output prints the summary without predictive beside it")
    func compareTable() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("shop"), "--metrics", Self.trace, "--score-from", "24h",
            "--compare-predictive",
        ])
        #expect(result.status == 0, "\(result)")
        let last = result.stdoutLines.suffix(2)
        #expect(last.first?.hasSuffix("instance-s (scored from 24h)") == true, "\(result.stdoutLines.suffix(3))")
        #expect(last.last?.hasPrefix("without predictive: ") == true, "\(result.stdoutLines.suffix(3))")
    }

    @Test("--compare-predictive on a policy without a predictive block fails before simulating")
    func compareNeedsPredictive() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep, "--compare-predictive",
        ])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("has none; nothing was simulated"), "\(result)")
    }
}
