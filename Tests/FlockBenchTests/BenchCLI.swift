import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built `flock-bench` as an operator would, and reads what a bench wrote with `--json`.
enum BenchCLI {
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The repository root, from this file's path (Tests/FlockBenchTests/BenchCLI.swift).
    static var repository: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// Next to the test runner (the build's bin directory), else the debug build in the repository.
    static var binary: String? {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            runner.deletingLastPathComponent().appendingPathComponent("flock-bench").path,
            repository + "/.build/debug/flock-bench",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A fresh directory for one test's files.
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flock-bench-test-\(UUID().uuidString)"
        )
        .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Spawns `flock-bench` with `arguments` (an argument vector, never a shell line) and waits on a
    /// GCD thread, so the blocking wait does not hold a Swift concurrency thread.
    static func run(_ arguments: [String], in directory: String) async throws -> Result {
        guard let binary else { throw Failure(description: "flock-bench is not built (swift build)") }
        let out = "\(directory)/stdout", err = "\(directory)/stderr"
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Swift.Result { try spawnAndWait(binary, arguments, out: out, err: err) })
            }
        }
        return Result(
            status: status, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    private static func spawnAndWait(_ binary: String, _ arguments: [String], out: String, err: String) throws -> Int32
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw Failure(description: "posix_spawn \(binary): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS by hand: the C macros are not imported.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    static func json(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw Failure(description: "\(path) is missing or not a JSON object") }
        return object
    }
}

/// A number from a JSON object, whether it decoded as an integer or a double.
func number(_ object: [String: Any]?, _ key: String) -> Double? {
    (object?[key] as? NSNumber)?.doubleValue
}
