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

/// A test's scratch directory, seen as the home of the `flockctl` runs a test makes.
extension Scratch {
    /// The store path every test passes with `--db`.
    var db: String { path("flock.db") }
    /// `$FLOCK_DB` in the child unless a test overrides it, so that a run that forgot `--db`
    /// can never touch the user's or the system's real store.
    var fallbackDB: String { path("fallback-env/flock.db") }

    /// Runs the built `flockctl` with `arguments` in this directory and waits for it.
    ///
    /// The child sees the test's environment plus `USER=tester` and a sandboxed `FLOCK_DB`;
    /// `environment` overrides those. Every run is checked for crashes: a signal, or a Swift
    /// runtime trap on stderr, is a test failure, and so is a run that does not end.
    func run(
        _ arguments: [String], environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        let binary = try #require(
            BuiltBinary.url("flockctl"),
            "flockctl binary not found next to the test runner (\(CommandLine.arguments[0])) nor in .build/debug",
            sourceLocation: sourceLocation)
        let run = try await Child.run(
            binary, arguments,
            environment: ["USER": "tester", "FLOCK_DB": fallbackDB].merging(environment) { $1 },
            workingDirectory: dir, in: self, timeout: .seconds(300))
        let result = CLIResult(arguments: arguments, status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr)
        #expect(run.status != nil, "flockctl did not finish\n\(result)", sourceLocation: sourceLocation)
        #expect(
            run.signal == nil, "flockctl was killed by signal \(run.signal ?? 0)\n\(result)",
            sourceLocation: sourceLocation)
        for trap in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction"] {
            #expect(!result.stderr.contains(trap), "flockctl crashed\n\(result)", sourceLocation: sourceLocation)
        }
        return result
    }
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
