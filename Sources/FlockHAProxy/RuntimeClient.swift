import FlockCore
import FlockSystem
import Foundation

/// A client for HAProxy's runtime API (`stats socket … level admin`), one command per connection.
///
/// The client holds no connection and no mutable state, so any number of tasks may use one
/// value at once. Blocking socket calls run on FlockSystem's bounded pool (`BlockingCalls`), never
/// on Swift's cooperative pool, and every command is bounded by `timeout` from connect to the last byte.
/// Answers are checked against what each command prints on success: anything else (HAProxy's
/// "No such backend.", "Require 'backend/server'.", a permission error, …) becomes an error that
/// names the command and the backend/server it was about.
public struct RuntimeClient: Sendable {
    public var endpoint: RuntimeEndpoint
    /// The longest one command may take, connect included.
    public var timeout: Duration
    /// The most bytes one answer may hold; `show stat` of a large config is a few hundred kB.
    public var responseLimit: Int

    /// The bound on one command unless the config says otherwise.
    public static let defaultTimeout: Duration = .seconds(5)

    public init(
        endpoint: RuntimeEndpoint, timeout: Duration = RuntimeClient.defaultTimeout,
        responseLimit: Int = 32 * 1024 * 1024
    ) {
        self.endpoint = endpoint
        self.timeout = timeout
        self.responseLimit = responseLimit
    }

    // MARK: - raw commands

    /// Sends one command made of `words` and returns HAProxy's answer as is.
    ///
    /// Words are checked so that none can end the command or start another (`;`, newlines,
    /// spaces inside a word).
    public func execute(_ words: [String]) async throws -> String {
        guard !words.isEmpty else { throw HAProxyError.invalidArgument("empty command") }
        for word in words {
            guard !word.isEmpty,
                !word.unicodeScalars.contains(where: { $0 == ";" || $0.value <= 0x20 || $0.value == 0x7f })
            else {
                throw HAProxyError.invalidArgument(
                    "the word '\(HAProxyError.firstLine(of: word, limit: 60))' cannot be sent to HAProxy's runtime API"
                )
            }
        }
        let command = words.joined(separator: " ")
        let endpoint = endpoint
        let timeout = timeout
        let limit = responseLimit
        // Blocking I/O runs on the shared bounded pool: a hung HAProxy then never starves Swift's
        // cooperative pool, nor Dispatch's, whose width is the CPU count and would queue callers.
        // The deadline starts now, so time queued for the pool counts against the command's timeout.
        let deadline = ContinuousClock.now + timeout
        return try await BlockingCalls.run {
            try SocketTransport.exchange(
                command + "\n", command: command, endpoint: endpoint, deadline: deadline, timeout: timeout,
                limit: limit)
        }
    }

    // MARK: - typed reads

    /// `show stat`, for one backend (its BACKEND row and servers) or for everything.
    public func showStat(backend: String? = nil) async throws -> StatTable {
        var words = ["show", "stat"]
        if let backend {
            try RuntimeNames.checkName(backend, kind: "backend")
            words += [backend, "6", "-1"]  // type mask 2 (backend) + 4 (servers), every server id
        }
        let command = words.joined(separator: " ")
        let answer = try await execute(words)
        if !answer.hasPrefix("# ") { try Self.throwUnexpected(answer, command: command, backend: backend) }
        try Self.requireComplete(answer, command: command)
        return try StatTable(parsing: answer, command: command)
    }

    /// `show servers state`, for one backend or for all.
    public func showServersState(backend: String? = nil) async throws -> ServersState {
        var words = ["show", "servers", "state"]
        if let backend {
            try RuntimeNames.checkName(backend, kind: "backend")
            words.append(backend)
        }
        let command = words.joined(separator: " ")
        let answer = try await execute(words)
        if !answer.hasPrefix("1\n") { try Self.throwUnexpected(answer, command: command, backend: backend) }
        try Self.requireComplete(answer, command: command)
        return try ServersState(parsing: answer, command: command)
    }

    // MARK: - server changes

    /// `add server B/S addr:port [check options…]`. The new server starts in maintenance.
    public func addServer(
        backend: String, server: String, address: String, port: Int, check: Bool = true,
        options: ServerOptions = ServerOptions()
    ) async throws {
        try RuntimeNames.checkName(backend, kind: "backend")
        try RuntimeNames.checkName(server, kind: "server")
        try RuntimeNames.checkAddress(address)
        try RuntimeNames.checkPort(port)
        var words = ["add", "server", "\(backend)/\(server)", RuntimeNames.socketAddress(address, port)]
        if check { words.append("check") }
        words += try options.words()
        try await expect(words, target: "\(backend)/\(server)", success: "New server registered.")
    }

    /// `enable health B/S`: starts the health checks of a server added with `check`.
    public func enableHealth(backend: String, server: String) async throws {
        try await serverCommand(["enable", "health"], backend: backend, server: server)
    }

    /// `enable server B/S`: takes a server out of maintenance.
    public func enableServer(backend: String, server: String) async throws {
        try await serverCommand(["enable", "server"], backend: backend, server: server)
    }

    /// The admin states `set server B/S state …` accepts.
    public enum AdminTarget: String, Sendable {
        case ready, drain, maint
    }

    /// `set server B/S state ready|drain|maint`.
    public func setState(_ state: AdminTarget, backend: String, server: String) async throws {
        try RuntimeNames.checkName(backend, kind: "backend")
        try RuntimeNames.checkName(server, kind: "server")
        try await expect(
            ["set", "server", "\(backend)/\(server)", "state", state.rawValue], target: "\(backend)/\(server)",
            success: nil
        )
    }

    /// `del server B/S`: HAProxy only deletes a server in maintenance with no connections.
    public func deleteServer(backend: String, server: String) async throws {
        try RuntimeNames.checkName(backend, kind: "backend")
        try RuntimeNames.checkName(server, kind: "server")
        try await expect(
            ["del", "server", "\(backend)/\(server)"], target: "\(backend)/\(server)", success: "Server deleted.")
    }

    /// How many streams `show sess` lists on server `B/S`: those with a connection to it, and those
    /// between two connection attempts to it, which no `show stat` counter includes.
    public func streams(backend: String, server: String) async throws -> Int {
        try RuntimeNames.checkName(backend, kind: "backend")
        try RuntimeNames.checkName(server, kind: "server")
        let answer = try await execute(["show", "sess"])
        try Self.requireComplete(answer, command: "show sess")
        let marker = " be=\(backend) srv=\(server) "
        return answer.split(separator: "\n").filter { $0.hasPrefix("0x") && $0.contains(marker) }.count
    }

    /// `shutdown sessions server B/S`: closes every connection still open on a server, which a
    /// drain that timed out leaves and `del server` refuses to delete under.
    public func shutdownSessions(backend: String, server: String) async throws {
        try await serverCommand(["shutdown", "sessions", "server"], backend: backend, server: server)
    }

    private func serverCommand(_ verb: [String], backend: String, server: String) async throws {
        try RuntimeNames.checkName(backend, kind: "backend")
        try RuntimeNames.checkName(server, kind: "server")
        try await expect(verb + ["\(backend)/\(server)"], target: "\(backend)/\(server)", success: nil)
    }

    /// Runs a command whose success is one known line (or no output at all when `success` is nil).
    private func expect(_ words: [String], target: String, success: String?) async throws {
        let answer = try await execute(words)
        let text = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        let command = words.joined(separator: " ")
        if let success, text == success { return }
        if success == nil, text.isEmpty { return }
        if Self.isNoSuchBackend(text) {
            throw FlockError.notFound("HAProxy has no backend for \(target) ('\(command)')")
        }
        if Self.isNoSuchServer(text) { throw FlockError.notFound("HAProxy has no server \(target) ('\(command)')") }
        throw HAProxyError.rejected(command, target: target, response: answer)
    }

    /// HAProxy ends every `show` answer with an empty line; without it the connection closed early
    /// and the last rows may be missing, which would make servers look absent.
    private static func requireComplete(_ answer: String, command: String) throws {
        guard answer.hasSuffix("\n\n") else {
            throw HAProxyError.malformed(command, "the answer is cut short (no closing empty line)")
        }
    }

    static func isNoSuchBackend(_ text: String) -> Bool {
        text.hasPrefix("No such backend.") || text.hasPrefix("Can't find backend.") || text.hasPrefix("No such proxy.")
    }

    static func isNoSuchServer(_ text: String) -> Bool { text.hasPrefix("No such server.") }

    /// Turns a "no such backend" answer into `FlockError.notFound` and any other into `rejected`.
    private static func throwUnexpected(_ answer: String, command: String, backend: String?) throws -> Never {
        let text = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        if let backend, isNoSuchBackend(text) {
            throw FlockError.notFound(
                "HAProxy has no backend '\(backend)' (hint: declare 'backend \(backend)' in haproxy.cfg, or fix the policy's balancer.backend)"
            )
        }
        // Anything else: a permission error, an unknown command, or an answer cut short.
        throw HAProxyError.rejected(command, target: backend, response: answer)
    }
}
