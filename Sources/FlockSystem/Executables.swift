import Foundation

/// Finds an executable: an absolute or relative path as is, else the first match in `PATH`, then
/// in `/usr/sbin` and `/sbin` (where `ip` lives, often missing from a non-root user's `PATH`).
public func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    let directories: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
    for directory in directories {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// An executable built alongside `binary` (by default the running one, its symbolic links
/// resolved), else `name` in `PATH`; an absolute path either way, since one that another process
/// runs (sshd, as a host's remote command) must not depend on this one's working directory.
public func findSiblingExecutable(_ name: String, of binary: String = CommandLine.arguments[0]) -> String? {
    let next = URL(fileURLWithPath: binary).resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent(name).path
    if FileManager.default.isExecutableFile(atPath: next) { return next }
    return findExecutable(name).map { URL(fileURLWithPath: $0).standardizedFileURL.path }
}
