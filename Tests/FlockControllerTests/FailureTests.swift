import FlockController
import FlockCore
import FlockStore
import Testing

@Suite struct FailureTests {
    @Test func repeatedCloneFailuresBackOffAndRaiseAnEvent() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.hypervisor.failEveryClone(true)
        await h.tick(sessionsPerServer: 20)
        let failed = try #require(try h.clones(.gone).first)
        #expect(try h.clones().count == 1)
        #expect(try h.store.stateHistory(instance: failed.name).map(\.to) == [.cloning, .failed, .gone])
        #expect(failed.failure?.contains("injected failure") == true)
        // Within the 10 s backoff, scale-out is postponed rather than retried.
        h.advance(2)
        await h.tick(sessionsPerServer: 20)
        #expect(try h.clones().count == 1)
        let events = try h.store.events(pool: "web", since: nil, limit: 100).map(\.event.message)
        #expect(events.contains { $0.contains("postponed") })
        h.advance(10)
        await h.tick(sessionsPerServer: 20)
        #expect(try h.clones().count == 2)
        #expect(events.count < 20, "a broken parent must not make the pool spin")
        let alarm = try h.store.events(pool: "web", since: nil, limit: 100).map(\.event.message)
        #expect(alarm.contains { $0.contains("cloning has failed 2 times in a row") })
    }

    /// Clones that start but never pass their health check count against the backoff too: a
    /// started clone is not a success until it serves.
    @Test func clonesThatNeverServeBackOffLikeFailedClones() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.balancer.failHealthChecks(true)
        await h.tick(sessionsPerServer: 20)
        let failed = try #require(try h.clones(.gone).first)
        #expect(failed.failure?.contains("registration failed") == true, "\(failed.failure ?? "-")")
        h.advance(2)
        await h.tick(sessionsPerServer: 20)
        #expect(try h.clones().count == 1, "retried within the backoff")
        let events = try h.store.events(pool: "web", since: nil, limit: 100).map(\.event.message)
        #expect(events.contains { $0.contains("postponed: cloning failed 1 time(s) in a row") }, "\(events)")
        // Past the backoff, with the balancer healthy again, the retried clone serves.
        await h.balancer.failHealthChecks(false)
        h.advance(10)
        await h.tick(sessionsPerServer: 20)
        #expect(try h.clones(.serving).count >= 1)
    }
}
