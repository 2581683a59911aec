import Foundation

/// A private temporary directory for one test, removed when the test lets go of it.
public final class Scratch: @unchecked Sendable {
    public let dir: URL

    /// - Parameter prefix: names the suite in the directory's name, to find a leftover.
    public convenience init(prefix: String = "flock-tests") throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        self.init(owning: dir)
    }

    /// On tmpfs, as `tmpfsScratch` makes it: for unix sockets and VM state roots.
    public convenience init(tmpfs label: String) throws {
        self.init(owning: URL(fileURLWithPath: try tmpfsScratch(label)))
    }

    private init(owning dir: URL) { self.dir = dir }

    deinit { try? FileManager.default.removeItem(at: dir) }

    public func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Writes `text` to `name` (creating its directories) and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

/// A fresh 0700 directory on tmpfs, kept until the caller removes it: short paths, because unix
/// socket paths are limited to 107 bytes, and RAM-backed, for VM state roots.
public func tmpfsScratch(_ label: String) throws -> String {
    let path = "/dev/shm/flockt-\(label)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    try FileManager.default.createDirectory(
        atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    return path
}
