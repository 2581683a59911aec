import FlockSystem
import Foundation
import Synchronization
import Testing

@Suite struct BlockingCallsTests {
    /// More blocking calls than cores run side by side: each of eight calls waits until all eight
    /// are running at once, which a pool as narrow as the core count (two here) never allows.
    /// (Other suites share the pool in this process, so the test waits for eight free threads,
    /// bounded, rather than timing an idle pool.)
    @Test func blockingCallsRunConcurrently() async throws {
        let running = Counter()
        let calls = 8
        let together = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<calls {
                group.addTask {
                    try await BlockingCalls.run {
                        running.value.withLock { $0 += 1 }
                        let deadline = ContinuousClock.now + .seconds(20)
                        while running.value.withLock({ $0 }) < calls && ContinuousClock.now < deadline { usleep(1_000) }
                        return running.value.withLock { $0 } >= calls
                    }
                }
            }
            var all = true
            for try await met in group { all = all && met }
            return all
        }
        #expect(together, "\(calls) blocking calls never ran at the same time")
    }

    @Test func anErrorReachesTheCaller() async throws {
        await #expect(throws: SocketError.self) {
            try await BlockingCalls.run { () throws -> Int in throw SocketError(.failed, "boom") }
        }
    }
}

/// A count the pool's threads share.
private final class Counter: Sendable {
    let value = Mutex(0)
}
