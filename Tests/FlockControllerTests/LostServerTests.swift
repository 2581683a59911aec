import FlockController
import FlockCore
import FlockStore
import Testing

/// A balancer that restarted has lost its dynamic servers; scale-in must not wait forever to
/// drain a server that is no longer there (found end to end: HAProxy restarted while a clone
/// served, and the clone stayed `draining` with every tick's drain failing).
@Suite struct LostServerTests {
    @Test func scaleInOfACloneWhoseServerTheBalancerLostStillRemovesIt() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 15)
        let clone = try #require(try h.clones(.serving).first)
        try await h.balancer.remove(backend: "app", server: clone.name)  // what a restart does
        for _ in 0..<12 {
            h.advance(2)
            await h.tick(sessionsPerServer: 1)
        }
        #expect(try h.clones(.gone).map(\.name) == [clone.name])
        #expect(try h.clones().filter { $0.state != .gone }.isEmpty)
        #expect(try await h.vmNames().isEmpty)
        let history = try h.store.stateHistory(instance: clone.name).map(\.to)
        #expect(history.suffix(3) == [.draining, .stopping, .gone], "\(history)")
    }
}
