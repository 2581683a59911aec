import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockStore

/// What the console's history endpoints read: the newest samples and decisions of a window, and
/// the serving count at each sample time, derived from the instances' transitions.
@Suite struct HistoryQueryTests {
    @Test func servingCountsFollowEachInstancesTransitions() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        try store.upsert(Instance(name: "web-parent", pool: "web", role: .parent, state: .serving, createdAt: at(0)))
        // a: serves from 10 s to 30 s, then leaves; b: serves from 20 s; c: fails before serving.
        for name in ["a", "b", "c"] {
            try store.upsert(
                Instance(name: "flock-web-\(name)", pool: "web", role: .clone, state: .requested, createdAt: at(5)))
        }
        for (name, serveAt) in [("a", 10.0), ("b", 20.0)] {
            for (step, state) in [InstanceState.cloning, .booting, .ready, .registering].enumerated() {
                try store.transition(instance: "flock-web-\(name)", to: state, at: at(serveAt - 4 + Double(step)))
            }
            try store.transition(instance: "flock-web-\(name)", to: .serving, at: at(serveAt))
        }
        try store.transition(instance: "flock-web-a", to: .draining, at: at(30))
        try store.transition(instance: "flock-web-a", to: .stopping, at: at(32))
        try store.transition(instance: "flock-web-a", to: .gone, at: at(33))
        try store.transition(instance: "flock-web-c", to: .failed, at: at(8), note: "no parent")
        // Another pool's instances never count.
        try store.upsert(Instance(name: "api-parent", pool: "api", role: .parent, state: .serving, createdAt: at(0)))

        let times = [-1.0, 0, 9.9, 10, 20, 29.9, 30, 40].map(at)
        #expect(try store.servingCounts(pool: "web", at: times) == [0, 1, 1, 2, 3, 3, 2, 2])
        #expect(try store.servingCounts(pool: "web", at: []) == [])
        // From after a left, a is not read, and the counts are the same.
        #expect(try store.servingCounts(pool: "web", at: [at(40)]) == [2])
    }

    @Test func aLimitKeepsTheNewestSamplesAndDecisionsOldestFirst() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let samples = (0..<5).map { MetricSample(metric: .queue, time: at(Double($0)), value: Double($0)) }
        try store.append(samples: samples, pool: "web")
        #expect(try store.samples(pool: "web", since: t0, limit: 2) == Array(samples.suffix(2)))
        #expect(try store.samples(pool: "web", since: t0, limit: 10) == samples)

        for (second, action) in [(0.0, Decision.Action.hold), (1, .scaleOut), (2, .hold), (3, .scaleIn), (4, .hold)] {
            try store.record(
                Decision(
                    pool: "web", time: at(second), action: action, from: 1, to: 1, recommendation: 1,
                    reason: "r\(Int(second))", votes: [], dryRun: false))
        }
        #expect(try store.decisions(pool: "web", since: t0, actions: [.hold], limit: 2).map(\.reason) == ["r2", "r4"])
        #expect(
            try store.decisions(pool: "web", since: t0, actions: [.scaleOut, .scaleIn]).map(\.reason) == ["r1", "r3"])
        #expect(try store.decisions(pool: "web", since: at(2)).map(\.reason) == ["r2", "r3", "r4"])
    }
}
