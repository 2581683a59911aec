import FlockTestSupport
import Foundation
import Testing

/// What one run of the real `flockctl` binary produced.
struct CLIResult: CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String

    var stdoutLines: [String] { lines(of: stdout) }
    var stderrLines: [String] { lines(of: stderr) }

    var description: String {
        "flockctl \(arguments.joined(separator: " ")) → exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

extension Repo {
    static let policies = root.appendingPathComponent("Policies")
    static let loadStep = root.appendingPathComponent("Deploy/metrics/load-step.csv").path

    static func policy(_ name: String) -> String { policies.appendingPathComponent("\(name).yaml").path }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
}

/// The `flockctl` executable built by `swift test`, next to the test bundle.
enum Binary {
    static let url = BuiltBinary.url("flockctl")
}

/// A private temporary directory for one test, removed when the test lets go of it.
final class Sandbox: @unchecked Sendable {
    let dir: URL
    /// The store path every test passes with `--db`.
    var db: String { dir.appendingPathComponent("flock.db").path }
    /// `$FLOCK_DB` in the child unless a test overrides it, so that a run that forgot `--db`
    /// can never touch the user's or the system's real store.
    var fallbackDB: String { dir.appendingPathComponent("fallback-env/flock.db").path }

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("flockctl-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Writes `text` to `name` inside the sandbox and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Runs the built `flockctl` with `arguments` and waits for it.
    ///
    /// The child sees the test's environment plus `USER=tester` and a sandboxed `FLOCK_DB`;
    /// `environment` overrides those (a `nil` value removes the variable). Every run is checked
    /// for crashes: a signal, or a Swift runtime trap on stderr, is a test failure.
    func run(
        _ arguments: [String], environment: [String: String?] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        guard let binary = Binary.url else {
            Issue.record(
                "flockctl binary not found next to the test runner (\(CommandLine.arguments[0])) nor in .build/debug",
                sourceLocation: sourceLocation)
            throw CLIError.binaryNotFound
        }
        let id = UUID().uuidString
        let outURL = dir.appendingPathComponent(".out-\(id)")
        let errURL = dir.appendingPathComponent(".err-\(id)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }

        var env = ProcessInfo.processInfo.environment
        env["USER"] = "tester"
        env["FLOCK_DB"] = fallbackDB
        for (key, value) in environment { env[key] = value }

        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = env
        process.currentDirectoryURL = dir
        process.standardInput = FileHandle.nullDevice
        // Files rather than pipes: a child that writes a lot can never block on a full pipe.
        process.standardOutput = out
        process.standardError = err

        let status: (Int32, Process.TerminationReason) = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { p in
                continuation.resume(returning: (p.terminationStatus, p.terminationReason))
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try out.close()
        try err.close()
        let result = CLIResult(
            arguments: arguments, status: status.0,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        )
        #expect(
            status.1 == .exit, "flockctl was killed by signal \(status.0)\n\(result)", sourceLocation: sourceLocation)
        for trap in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction"] {
            #expect(!result.stderr.contains(trap), "flockctl crashed\n\(result)", sourceLocation: sourceLocation)
        }
        return result
    }

    enum CLIError: Error { case binaryNotFound }
}

/// Asserts a usage error: exit 2, nothing on stdout, and the last line of stderr the one-line
/// hint for `command` (e.g. "flockctl simulate").
func expectUsageError(_ result: CLIResult, command: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 2, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
    let lines = result.stderrLines
    #expect(lines.first?.hasPrefix("error: ") == true, "\(result)", sourceLocation: sourceLocation)
    #expect(lines.last == "hint: run '\(command) --help' for usage", "\(result)", sourceLocation: sourceLocation)
    #expect(lines.filter { $0.hasPrefix("hint:") }.count == 1, "\(result)", sourceLocation: sourceLocation)
}

/// The non-empty lines of `text`, split at every LF even where it follows a CR (Swift treats
/// CR LF as one Character, so `String.split(separator: "\n")` would not split there).
func lines(of text: String) -> [String] {
    text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true).map {
        String(String.UnicodeScalarView($0))
    }
}

/// The data rows of a `flockctl` table (the header dropped), each split into its cells.
func tableRows(_ output: String) -> [[String]] {
    lines(of: output).dropFirst().map { line in
        line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
}
