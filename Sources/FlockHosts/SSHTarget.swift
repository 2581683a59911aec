import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How Flock reaches one host: OpenSSH with the operator's key, the host pinned by a
/// `known_hosts` file, and a fixed remote command. Strict host key checking is always on.
public struct SSHTarget: Sendable, Hashable {
    public var user: String
    public var host: String
    public var port: Int
    /// The private key (`-i`, with `IdentitiesOnly`); it must be 0600.
    public var identityFile: String
    /// The only `known_hosts` ssh consults for this host.
    public var knownHostsFile: String
    /// The host's state root: the one argument of the remote command.
    public var stateRoot: String
    /// The remote program (`flockctl`, or an absolute path to it).
    public var flockctl: String
    /// Seconds between ssh's keep-alives; a host silent for three of them drops the session.
    public var serverAliveInterval: Int
    public var connectTimeout: Int
    /// The local ssh client.
    public var ssh: String

    public init(
        user: String, host: String, port: Int = 22, identityFile: String, knownHostsFile: String, stateRoot: String,
        flockctl: String = "flockctl", serverAliveInterval: Int = 5, connectTimeout: Int = 10, ssh: String = "ssh"
    ) {
        self.user = user
        self.host = host
        self.port = port
        self.identityFile = identityFile
        self.knownHostsFile = knownHostsFile
        self.stateRoot = stateRoot
        self.flockctl = flockctl
        self.serverAliveInterval = serverAliveInterval
        self.connectTimeout = connectTimeout
        self.ssh = ssh
    }

    /// `user@host:port`, for messages.
    public var label: String { "\(user)@\(host):\(port)" }

    /// The remote command, fixed: ssh hands it to the remote shell as one string, so every word
    /// must need no quoting, which `check()` makes sure of.
    public var remoteCommand: [String] { [flockctl, "host", "serve", "--state", stateRoot] }

    /// ssh's arguments; never a shell string on this side.
    public var sshArguments: [String] {
        [
            "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o",
            "UserKnownHostsFile=\(knownHostsFile)",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", identityFile,
            "-o", "ServerAliveInterval=\(serverAliveInterval)", "-o", "ServerAliveCountMax=3",
            "-o", "ConnectTimeout=\(connectTimeout)", "-F", "/dev/null", "-p", "\(port)", "\(user)@\(host)",
        ] + remoteCommand
    }

    /// Checks the set-up, then starts ssh with pipes for the session; its stderr goes to `logPath`.
    func startSession(logPath: String) async throws(HostError) -> ChildProcess.Piped {
        try check()
        do {
            return try await ChildProcess.startPiped(ssh, sshArguments, stderr: logPath, name: "ssh")
        } catch {
            throw .disconnected("cannot start ssh to \(label): \(error)")
        }
    }

    /// The start-up checks: every problem, so that an operator fixes them in one go.
    public func problems() -> [String] {
        var problems: [String] = []
        if let problem = privateKeyFileProblem(identityFile) {
            problems.append("the SSH key \(identityFile) for \(label) \(problem)")
        }
        if !FileManager.default.isReadableFile(atPath: knownHostsFile) {
            problems.append(
                "the known_hosts file \(knownHostsFile) for \(label) does not exist; add the host's key with "
                    + "ssh-keyscan -p \(port) \(host) >> \(knownHostsFile) after checking its fingerprint")
        }
        if !PlainArgument.isWord(user) { problems.append("SSH user '\(user)' must be [A-Za-z0-9._-]") }
        if !PlainArgument.isWord(host) || host.hasPrefix("-") {
            problems.append("SSH host '\(host)' must be a name or address of [A-Za-z0-9.:_-]")
        }
        if !(1...65535).contains(port) { problems.append("SSH port \(port) must be 1...65535") }
        for word in [flockctl, stateRoot] where !PlainArgument.isPath(word) || word.hasPrefix("-") {
            problems.append("'\(word)' must be a path of [A-Za-z0-9/._-]: it is part of the remote command")
        }
        return problems
    }

    public func check() throws(HostError) {
        let problems = problems()
        guard problems.isEmpty else { throw .configuration(problems.joined(separator: "; ")) }
    }

    /// What ssh's standard error says, as an operator's message: an unknown host key names the
    /// host and the known_hosts file, and says how to fix it without turning checking off.
    func explain(sshError text: String) -> String {
        let tail = text.split(whereSeparator: \.isNewline).suffix(3).joined(separator: " | ")
        if text.contains("Host key verification failed") || text.contains("host key is known")
            || text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        {
            return "the host key of \(label) is not the one in \(knownHostsFile) (unknown or changed); check its "
                + "fingerprint and add it with ssh-keyscan -p \(port) \(host) >> \(knownHostsFile) "
                + "(Flock never turns StrictHostKeyChecking off) [ssh: \(tail)]"
        }
        if text.contains("Permission denied") {
            return
                "\(label) refused the key \(identityFile) (is its public key in the host's authorized_keys?) [ssh: \(tail)]"
        }
        return tail.isEmpty ? "ssh to \(label) ended" : "ssh to \(label): \(tail)"
    }
}
