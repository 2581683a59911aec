import FlockSystem
import Foundation
import Testing

@Suite struct BlockingCallsTests {
    /// Blocking calls wider than the core count run side by side: eight 300 ms sleeps take about
    /// 300 ms, not 8 × 300 ms / cores.
    @Test func blockingCallsRunConcurrently() async throws {
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                group.addTask {
                    try await BlockingCalls.run {
                        usleep(300_000)
                        return index
                    }
                }
            }
            var seen: Set<Int> = []
            for try await index in group { seen.insert(index) }
            #expect(seen == Set(0..<8))
        }
        #expect(ContinuousClock.now - started < .milliseconds(1200))
    }

    @Test func anErrorReachesTheCaller() async throws {
        await #expect(throws: SocketError.self) {
            try await BlockingCalls.run { () throws -> Int in throw SocketError(.failed, "boom") }
        }
    }
}
