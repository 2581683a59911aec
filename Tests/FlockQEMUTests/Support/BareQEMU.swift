import FlockSystem
import FlockTestSupport
import Foundation
import Testing

/// A bare QEMU with no guest (`-machine none`, paused), to talk QMP to without booting anything.
final class BareQEMU: Sendable {
    let qmpPath: String
    private let scratch: Scratch
    private let child: Child

    init(_ label: String) async throws {
        scratch = try Scratch(tmpfs: label)
        qmpPath = scratch.path("qmp.sock")
        let qemu = try #require(findExecutable("qemu-system-x86_64"), "bash Deploy/setup.sh installs QEMU")
        child = try await Child.start(
            URL(fileURLWithPath: qemu),
            [
                "-machine", "none", "-nodefaults", "-no-user-config", "-display", "none", "-S",
                "-qmp", "unix:\(qmpPath),server=on,wait=off",
            ], in: scratch, name: "qemu")
    }

    func stop() { child.process.kill() }
}
