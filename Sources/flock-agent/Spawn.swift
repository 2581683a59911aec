import Glibc

/// Runs a program with an argument vector via posix_spawn and waits for it. There is no shell
/// anywhere: values from the host (addresses, MACs) are single argv entries, never parsed text.
enum Spawn {
    /// Returns nil on success, or a description of how the command failed.
    static func run(_ path: String, _ arguments: [String]) -> String? {
        let argv = ([path] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        var pid: pid_t = 0
        // The child's chatter (ip's notices, say) would clutter the console; errors still go
        // to stderr, which is the console.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let rc = cArgs.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return EINVAL }
            return posix_spawn(&pid, path, &actions, nil, base, environ)
        }
        let commandText = ([path] + arguments).joined(separator: " ")
        guard rc == 0 else { return "\(commandText): spawn failed (\(String(cString: strerror(rc))))" }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return "\(commandText): waitpid failed" }
        }
        // WIFEXITED / WEXITSTATUS are macros; decode the status word by hand.
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited else { return "\(commandText): killed by signal \(status & 0x7F)" }
        return code == 0 ? nil : "\(commandText): exit status \(code)"
    }
}
