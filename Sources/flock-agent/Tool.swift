import Glibc

/// The guest's own programs (`ip`, `systemctl`), found in the usual directories rather than
/// through a shell's PATH, so the same agent runs `/usr/sbin/ip` (iproute2) on Debian and busybox's
/// applet links on the busybox image. Where a program is missing but busybox has it as an applet,
/// busybox runs it.
enum Tool {
    static let directories = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    static let busybox = "/bin/busybox"

    static func find(_ name: String) -> String? {
        directories.lazy.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    static func exists(_ name: String) -> Bool { find(name) != nil }

    /// Runs `name` with `arguments` (see `Spawn.run`); nil on success, else how it failed.
    static func run(_ name: String, _ arguments: [String]) -> String? {
        if let path = find(name) { return Spawn.run(path, arguments) }
        if access(busybox, X_OK) == 0 { return Spawn.run(busybox, [name] + arguments) }
        return "\(name): not found in \(directories.joined(separator: ", "))"
    }
}
