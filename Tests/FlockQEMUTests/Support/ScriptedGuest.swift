import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

/// The guest image booted by QEMU directly (no driver), with the driver's command line and a
/// test-only script on the kernel command line (`rdinit=/bin/sh -- -c …`; the image is unchanged).
/// The script's output goes to the serial console; it starts the image's own `/init` (the app on
/// 8080, reached through the host forward) whenever it wants.
final class ScriptedGuest: Sendable {
    let hostPort: Int
    let arguments: [String]
    private let scratch: Scratch
    private let child: Child
    private let qmp: QMPClient

    /// `script` runs as PID 1 once /dev is mounted (a background job's stdin is /dev/null);
    /// `edit` may change QEMU's arguments, e.g. for a control run.
    init(script: String, edit: ([String]) -> [String] = { $0 }) async throws {
        scratch = try Scratch(tmpfs: "scripted")
        let paths = VMPaths(directory: scratch.dir.path)
        var spec = GuestImage.spec(name: "flock-qt-scripted", pool: SharedParent.pool)
        spec.append = "console=ttyS0 quiet rdinit=/bin/sh -- -c \"mount -t devtmpfs devtmpfs /dev; \(script)\""
        hostPort = try Networking.freePort()
        var commandLine = QEMUCommandLine(
            name: spec.name, spec: spec, accelerator: .tcg, paths: paths, memory: .anonymous,
            network: .user(hostPort: hostPort, guestPort: spec.guestPort), mac: "52:54:00:12:34:57")
        commandLine.daemonize = false
        arguments = edit(commandLine.arguments)
        let qemu = try #require(findExecutable("qemu-system-x86_64"))
        child = try await Child.start(URL(fileURLWithPath: qemu), arguments, in: scratch, name: "qemu")
        do {
            qmp = try await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(30))
        } catch {
            child.process.kill()
            throw error
        }
    }

    /// What the console ring holds now (reading empties it).
    func readConsole() async throws -> String {
        try await qmp.execute(
            "ringbuf-read", arguments: ["device": "console", "size": 1_048_576, "format": "utf8"]
        ).stringValue ?? ""
    }

    /// The console, read until it contains `marker` or `timeout` passes.
    func console(until marker: String, timeout: Duration = .seconds(150)) async throws -> String {
        var console = ""
        let deadline = ContinuousClock.now + timeout
        while !console.contains(marker), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            console += try await readConsole()
        }
        return console
    }

    func stop() {
        qmp.close()
        child.process.kill()
    }
}
