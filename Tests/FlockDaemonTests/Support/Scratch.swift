import Foundation

/// The package root: this file is Tests/FlockDaemonTests/Support/Scratch.swift.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

/// A private temporary directory for one test, removed when the test lets go of it.
final class Scratch: @unchecked Sendable {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flockd-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Writes `text` to `name` in the scratch directory and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Copies Policies/web.yaml here (optionally edited) and returns its path.
    @discardableResult
    func webPolicy(_ name: String = "web.yaml", edit: (String) -> String = { $0 }) throws -> String {
        try write(name, edit(try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8)))
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; the bound only keeps a
/// broken build from hanging, no assertion depends on how fast anything is.
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
