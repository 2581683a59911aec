import FlockTestSupport
import Foundation
import Testing

/// What one run of a built executable (`flockctl`, `flockd`) produced.
struct Run: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }

    /// Runs the executable `swift build --build-tests` put next to the test bundle, in `directory`.
    static func built(_ name: String, _ arguments: [String], in directory: URL) throws -> Run {
        let binary = try #require(
            BuiltBinary.url(name), "\(name) is not built next to the test runner nor in .build/debug")
        let out = directory.appendingPathComponent(".\(name)-\(UUID().uuidString).out")
        let err = directory.appendingPathComponent(".\(name)-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "\(name) was killed by signal \(process.terminationStatus)")
        return Run(
            status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
