import FlockCore
import FlockTestSupport
import Foundation

@testable import FlockStore

extension Scratch {
    /// A store in a directory that does not exist yet, so opening it also creates the directory.
    func store(_ relative: String = "state/flock.db") throws -> FlockStore { try FlockStore(path: path(relative)) }
}

/// A fixed, exactly representable instant, so stored times compare equal after a round trip.
let t0 = Date(timeIntervalSince1970: 1_700_000_000)

func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

func change(_ pool: String, _ source: String, backend: String? = nil) -> PolicyChange {
    PolicyChange(pool: pool, backend: backend ?? "be_\(pool)", source: source, checksum: "sum:\(source)")
}
