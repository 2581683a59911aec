import Foundation
import Testing

@testable import FlockQEMU

extension RealVMs {
    /// The guest writes its console: it lives in a fixed-size ring inside QEMU, never in a file.
    @Suite(.serialized)
    struct ConsoleTests {
        @Test func theConsoleIsABoundedRingNotAFile() async throws {
            let (root, parent) = try await SharedParent.shared.get()
            let paths = VMPaths(root: root, name: parent.name)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: paths.directory).allSatisfy {
                    !$0.hasPrefix("console")
                })
            let qmp = try await QMPClient.connect(path: paths.qmpSocket)
            defer { qmp.close() }
            // Ask for far more than the ring holds: QEMU returns at most the ring's size.
            let text = try #require(
                try await qmp.execute(
                    "ringbuf-read", arguments: ["device": "console", "size": 1_048_576, "format": "utf8"]
                ).stringValue)
            #expect(text.utf8.count <= QEMUCommandLine.consoleBytes)
            #expect(text.contains("init: flock guest up"), "\(text.suffix(300))")
        }
    }
}
