import FlockSystem
import FlockTestSupport
import Foundation

@testable import FlockQEMU

/// Runs the built `flockctl` binary, as an operator would.
enum CLI {
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    static var binary: String? {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates = [runner.deletingLastPathComponent().appendingPathComponent("flockctl").path]
        candidates.append(GuestImage.root.replacingOccurrences(of: ".build-guest", with: ".build/debug/flockctl"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func run(_ arguments: [String]) async throws -> Result {
        guard let binary else { throw HTTP.Failure(description: "flockctl is not built (swift build)") }
        let directory = try tmpfsScratch("cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // posix_spawn and polling, not Foundation's Process, whose exit monitoring can miss a
        // child in a test process that also reaps its own children.
        let child = try await ChildProcess.start(
            binary, arguments, stdout: "\(directory)/out", stderr: "\(directory)/err")
        for _ in 0..<60_000 where child.isRunning {
            try await Task.sleep(for: .milliseconds(5))
        }
        if child.isRunning { child.kill() }
        return Result(
            status: child.exitStatus ?? -1,
            stdout: (try? String(contentsOfFile: "\(directory)/out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: "\(directory)/err", encoding: .utf8)) ?? "")
    }
}
