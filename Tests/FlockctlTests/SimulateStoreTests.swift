import FlockCore
import FlockStore
import FlockTestSupport
import Foundation
import Testing

/// `flockctl simulate --pool P --since D` replays the store's samples as it replays a CSV.
@Suite("flockctl simulate replays the store's samples")
struct SimulateStoreTests {
    /// Five minutes of `sessions`: calm, an 8× surge for two minutes, calm again.
    static let sessions: [Double] = (0..<300).map { $0 >= 60 && $0 < 180 ? 120 : 15 }

    @Test("the store's samples give the same decisions as the same values in a CSV")
    func sameAsCSV() async throws {
        let sandbox = try Scratch()
        let start = Date().addingTimeInterval(-400)
        let store = try FlockStore(path: sandbox.db)
        try store.append(
            samples: Self.sessions.enumerated().map {
                MetricSample(metric: .sessions, time: start.addingTimeInterval(Double($0.offset)), value: $0.element)
            }, pool: "web")
        let csv = try sandbox.write(
            "m.csv", "time_s,sessions\n" + Self.sessions.enumerated().map { "\($0.offset),\($0.element)\n" }.joined())

        let fromStore = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--pool", "web", "--since", "1h", "--db", sandbox.db,
            "--format", "json",
        ])
        let fromCSV = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--metrics", csv, "--format", "json",
        ])
        #expect(fromStore.status == 0, "\(fromStore)")
        #expect(fromStore.stdoutLines.count > 1, "at least one change and the summary\n\(fromStore)")
        #expect(fromStore.stdout == fromCSV.stdout, "\(fromStore)\n\(fromCSV)")
    }

    @Test("a pool without samples in the window fails and names the store")
    func noSamples() async throws {
        let sandbox = try Scratch()
        let store = try FlockStore(path: sandbox.db)
        try store.append(
            samples: [MetricSample(metric: .sessions, time: Date().addingTimeInterval(-7200), value: 1)], pool: "web")
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--pool", "web", "--since", "1h", "--db", sandbox.db,
        ])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(
            result.stderr.contains("pool 'web' has no samples in the last 1h in \(sandbox.db); nothing was simulated"),
            "\(result)")
    }

    @Test("--metrics and --pool together are a usage error")
    func both() async throws {
        let sandbox = try Scratch()
        let result = try await sandbox.run([
            "simulate", "--policy", Repo.policy("web"), "--metrics", Repo.loadStep, "--pool", "web",
        ])
        expectUsageError(result, command: "flockctl simulate")
        #expect(result.stderr.contains("exactly one of --metrics FILE"), "\(result)")
    }
}
