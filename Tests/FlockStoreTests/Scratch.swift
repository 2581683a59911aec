import FlockCore
import Foundation

@testable import FlockStore

/// A unique temporary directory for one test, removed when the test lets go of it.
final class Scratch {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flockstore-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    /// A store in a directory that does not exist yet, so opening it also creates the directory.
    func store(_ relative: String = "state/flock.db") throws -> FlockStore { try FlockStore(path: path(relative)) }
}

/// A fixed, exactly representable instant, so stored times compare equal after a round trip.
let t0 = Date(timeIntervalSince1970: 1_700_000_000)

func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

func change(_ pool: String, _ source: String, backend: String? = nil) -> PolicyChange {
    PolicyChange(pool: pool, backend: backend ?? "be_\(pool)", source: source, checksum: "sum:\(source)")
}
