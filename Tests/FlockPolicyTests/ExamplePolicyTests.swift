import FlockCore
import FlockPolicy
import Foundation
import Testing

/// The policies shipped in `Policies/` are documentation; they must stay valid.
@Suite struct ExamplePolicyTests {
    static let policiesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Policies")

    static func path(_ name: String) -> String { policiesDirectory.appendingPathComponent(name).path }

    @Test func everyShippedPolicyIsValidAndPoolsAreUnique() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.policiesDirectory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map(Self.path)
        #expect(files.count >= 3)
        let documents = try PolicyDocument.load(files: files)
        #expect(Set(documents.map(\.policy.pool)) == ["api", "shop", "web", "worker"])
    }

    @Test func shopScalesAheadOfItsDailyCycle() throws {
        let policy = try #require(try PolicyDocument.load(files: [Self.path("shop.yaml")]).first).policy
        #expect(policy.checks.map(\.metric) == [.sessionRatePerServer])
        #expect(policy.predictive == Policy.Predictive(check: "rate", season: .seconds(86_400), lead: nil, mode: .scale))
    }

    @Test func webTierTracksSessionsPerServer() throws {
        let policy = try #require(try PolicyDocument.load(files: [Self.path("web.yaml")]).first).policy
        #expect(policy.capacity == Policy.Capacity(min: 1, max: 16))
        #expect(policy.evaluationInterval == .seconds(2))
        #expect(policy.checks.count == 1)
        #expect(policy.checks[0].metric == .sessionsPerServer)
        #expect(policy.checks[0].rule == .targetValue(.init(target: 20, tolerance: 0.1)))
        #expect(policy.scaleOut == Policy.ScaleOut(cooldown: .seconds(5), maxStep: 8))
        #expect(policy.scaleIn.stabilization == .seconds(60))
        #expect(policy.cloneMode == .lazy)
    }

    @Test func apiTierStepsOnLatency() throws {
        let policy = try #require(try PolicyDocument.load(files: [Self.path("api.yaml")]).first).policy
        let slow = try #require(policy.checks.first { $0.name == "slow" })
        #expect(slow.aggregate == .p95)
        #expect(slow.rule == .threshold(.init(bound: .above(250), sustain: .seconds(6), action: .add(2))))
        let fast = try #require(policy.checks.first { $0.name == "fast" })
        #expect(fast.rule == .threshold(.init(bound: .below(80), sustain: .seconds(60), action: .remove(1))))
        #expect(policy.scaleIn.stabilization == .seconds(120))
    }

    @Test func workerTierFollowsTheQueue() throws {
        let policy = try #require(try PolicyDocument.load(files: [Self.path("worker.yaml")]).first).policy
        #expect(policy.checks.map(\.metric) == [.queue, .queue])
        #expect(policy.checks[0].rule == .threshold(.init(bound: .above(10), action: .addPercent(50))))
        #expect(policy.cloneMode == .eager)
    }
}
