import Foundation
import Testing
@testable import FlockStore

@Test func tmpRace() throws {
    for round in 0..<20 {
        let scratch = try Scratch()
        let path = scratch.path("r\(round)/flock.db")
        let failures = LockedCount()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do { _ = try FlockStore(path: path) } catch { failures.add("\(error)") }
        }
        #expect(failures.values.isEmpty, "\(failures.values)")
    }
}
final class LockedCount: @unchecked Sendable {
    let lock = NSLock(); var values: [String] = []
    func add(_ s: String) { lock.lock(); values.append(s); lock.unlock() }
}
