import Glibc

/// The clone hooks: executables in `/etc/flock/clone.d/` that the agent runs, in lexical order,
/// after it has applied a new identity and before it acks. Applications use them for what a
/// clone inherits and must not keep: connections to a database or an upstream opened by the
/// parent, secrets the siblings must not share, a registration under the parent's name.
///
/// Which files run, like run-parts: regular files (or links to them) with an execute bit, except
/// dotfiles, editor backups (`name~`) and dpkg's conffile leftovers (`.dpkg-old`, `.dpkg-dist`,
/// `.dpkg-new`, `.dpkg-tmp`), so that an upgrade of the package that installed a hook never
/// runs a stale copy of it beside the new one. Names sort by their bytes (`LC_ALL=C`).
///
/// Each hook gets `/dev/null` as stdin, a pipe as stdout and stderr (the last `outputLimit`
/// bytes are kept), its own process group, default signal dispositions (the agent ignores
/// SIGPIPE; a hook must not inherit that) and only the environment `environment(for:)` builds.
/// A hook that runs longer than `timeLimitMs`, or past the `totalLimitMs` all hooks share, is
/// killed with its whole process group. The first hook that fails (a non-zero exit, a signal,
/// the time limit, or a spawn error) stops the rest: a clone whose hook failed is not fit to serve.
public enum CloneHooks {
    public static let directory = "/etc/flock/clone.d"
    /// How long one hook may run.
    public static let timeLimitMs = 30_000
    /// How long all hooks of one identity may run together. The host waits this long on top of
    /// its agent timeout for the ack (`CloneIdentity.hookTimeBudget` in FlockCore; keep the two equal).
    public static let totalLimitMs = 60_000
    /// How much of a hook's output (stdout and stderr, interleaved) is kept: the end of it, where
    /// the reason for a failure usually is.
    public static let outputLimit = 2048
    /// The hooks' PATH: the usual directories of a Debian system and of the busybox image.
    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// How one hook ended.
    public enum Outcome: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)
        /// Killed (SIGKILL to its process group) after running for the given milliseconds.
        case timedOut(Int)
        /// posix_spawn failed with this errno (for example ENOEXEC: no `#!` line).
        case notStarted(Int32)

        public var succeeded: Bool { self == .exited(0) }

        /// `exit 0`, `exit 3`, `signal 9`, `timed out after 30 s`, `not started: Exec format error`.
        public var description: String {
            switch self {
            case .exited(let code): return "exit \(code)"
            case .signaled(let signal): return "signal \(signal)"
            case .timedOut(let ms): return "timed out after \(Self.seconds(ms)) s"
            case .notStarted(let code): return "not started: " + String(cString: strerror(code))
            }
        }

        private static func seconds(_ ms: Int) -> String {
            ms % 1000 == 0 ? String(ms / 1000) : String(Double(ms) / 1000)
        }
    }

    public struct Result: Equatable, Sendable {
        public var name: String
        public var outcome: Outcome
        public var milliseconds: Int
        /// The end of what the hook wrote, decoded as UTF-8 (invalid bytes replaced).
        public var output: String

        public init(name: String, outcome: Outcome, milliseconds: Int, output: String) {
            self.name = name
            self.outcome = outcome
            self.milliseconds = milliseconds
            self.output = output
        }
    }

    /// The names of the hooks in `directory` that would run, in order; empty when the directory
    /// does not exist.
    public static func runnable(in directory: String = directory) -> [String] {
        let names = (Files.entries(directory) ?? []).filter { name in
            var info = stat()
            return isHookName(name) && stat(directory + "/" + name, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
                && info.st_mode & 0o111 != 0
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Whether a file of this name is a hook at all (before looking at its type and mode).
    public static func isHookName(_ name: String) -> Bool {
        let leftovers = [".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-tmp"]
        return !name.isEmpty && !name.hasPrefix(".") && !name.hasSuffix("~")
            && !leftovers.contains(where: { name.hasSuffix($0) })
    }

    /// The hooks' environment: `PATH` and the identity as `FLOCK_*` variables. The network ones
    /// are set only when the host assigned a network (bridge mode); in user mode the clone keeps
    /// the parent's address and they are absent.
    public static func environment(
        cloneID: String, generation: Int64, hostname: String,
        network: (mac: String, address: String, prefix: Int, gateway: String)?
    ) -> [(String, String)] {
        var variables = [
            ("PATH", path),
            ("FLOCK_CLONE_ID", cloneID),
            ("FLOCK_GENERATION", String(generation)),
            ("FLOCK_HOSTNAME", hostname),
            ("FLOCK_IDENTITY_FILE", IdentityFile.path),
        ]
        if let network {
            variables += [
                ("FLOCK_MAC", network.mac),
                ("FLOCK_ADDRESS", network.address),
                ("FLOCK_PREFIX", String(network.prefix)),
                ("FLOCK_GATEWAY", network.gateway),
            ]
        }
        return variables
    }

    /// Runs the hooks of `directory` in order until one fails; returns what each did (the last
    /// entry is the failure, if any).
    public static func run(
        in directory: String = directory, environment: [(String, String)], timeLimitMs: Int = timeLimitMs,
        totalLimitMs: Int = totalLimitMs
    ) -> [Result] {
        var results: [Result] = []
        let started = HookProcess.monotonicMs()
        for name in runnable(in: directory) {
            let left = totalLimitMs - (HookProcess.monotonicMs() - started)
            let result = HookProcess.run(
                name: name, path: directory + "/" + name, environment: environment,
                timeLimitMs: max(0, min(timeLimitMs, left)))
            results.append(result)
            guard result.outcome.succeeded else { break }
        }
        return results
    }
}
