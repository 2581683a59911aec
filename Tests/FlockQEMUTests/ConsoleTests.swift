import FlockTestSupport
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

        /// A guest that writes about 1.3 MB to its console: QEMU keeps only the last 64 KiB, and
        /// no file grows. The guest starts its app once done, so the forward answering says when.
        @Test func aFloodedConsoleKeepsOnlyItsTail() async throws {
            let guest = try await ScriptedGuest(
                script: "i=0; while [ $i -lt 20000 ]; do echo FLOCKLINE-$i-0123456789abcdefghijklmnopqrstuvwxyz; "
                    + "i=$((i+1)); done; exec /init")
            defer { guest.stop() }
            let port = guest.hostPort
            #expect(
                await eventually(timeout: .seconds(240), every: .seconds(1)) {
                    (try? await HTTP.get("127.0.0.1", port, "/healthz", timeout: .seconds(2)).status) == 200
                }, "the guest never finished writing and started its app")
            let tail = try await guest.readConsole()
            #expect(tail.utf8.count <= QEMUCommandLine.consoleBytes, "\(tail.utf8.count) bytes")
            #expect(tail.contains("FLOCKLINE-19999-"), "the newest output is kept: \(tail.suffix(300))")
            #expect(!tail.contains("FLOCKLINE-0-"), "the oldest output is gone")
        }
    }
}
