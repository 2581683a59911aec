import Foundation

/// Errors from HAProxy's runtime API and the drivers built on it.
///
/// Every message names the command that failed and, where there is one, the backend/server, so
/// that a log line alone tells an operator what Flock was doing. Conflicts and missing servers
/// that the `Balancer` protocol describes are thrown as `FlockError` instead, so callers that only
/// know the core can still tell them apart.
public struct HAProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case invalidArgument
        case connect
        case timeout
        case io
        case responseTooLarge
        case rejected
        case malformed
        case notOwned
        case backendUnsupported
        case healthCheckFailed
    }

    private let code: Code
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// A name, address or option that cannot be sent safely (it would break the command line).
    public static func invalidArgument(_ message: String) -> HAProxyError { HAProxyError(.invalidArgument, message) }

    /// The stats socket could not be reached.
    public static func connect(_ endpoint: RuntimeEndpoint, _ reason: String) -> HAProxyError {
        HAProxyError(
            .connect,
            "cannot connect to HAProxy's runtime API at \(endpoint): \(reason) "
                + "(hint: haproxy.cfg needs 'stats socket \(endpoint.configHint) level admin' in 'global')"
        )
    }

    /// A command did not finish within its timeout.
    public static func timeout(_ command: String, _ endpoint: RuntimeEndpoint, after: Duration) -> HAProxyError {
        HAProxyError(.timeout, "HAProxy command '\(command)' at \(endpoint) timed out after \(after)")
    }

    /// Reading or writing the socket failed midway.
    public static func io(_ command: String, _ endpoint: RuntimeEndpoint, _ reason: String) -> HAProxyError {
        HAProxyError(.io, "HAProxy command '\(command)' at \(endpoint) failed: \(reason)")
    }

    /// The answer exceeded the client's limit; a runaway answer must not exhaust memory.
    public static func responseTooLarge(_ command: String, limit: Int) -> HAProxyError {
        HAProxyError(.responseTooLarge, "HAProxy command '\(command)' answered more than \(limit) bytes; giving up")
    }

    /// HAProxy answered with an error line instead of the expected result.
    public static func rejected(_ command: String, target: String?, response: String) -> HAProxyError {
        let line = firstLine(of: response)
        let about = target.map { " for \($0)" } ?? ""
        return HAProxyError(
            .rejected, "HAProxy refused '\(command)'\(about): \(line.isEmpty ? "(empty answer)" : line)")
    }

    /// The answer was not in the format the command produces.
    public static func malformed(_ command: String, _ reason: String) -> HAProxyError {
        HAProxyError(.malformed, "unexpected answer to HAProxy command '\(command)': \(reason)")
    }

    /// Flock only changes servers whose names carry its prefix.
    public static func notOwned(backend: String, server: String, prefix: String) -> HAProxyError {
        HAProxyError(
            .notOwned,
            "\(backend)/\(server) is not a Flock server (its name does not start with '\(prefix)'); "
                + "Flock never changes servers it does not own — change it in haproxy.cfg instead"
        )
    }

    /// The backend cannot take servers at run time.
    public static func backendUnsupported(_ message: String) -> HAProxyError {
        HAProxyError(.backendUnsupported, message)
    }

    /// A new server never passed its health check; it was never enabled.
    public static func healthCheckFailed(_ message: String) -> HAProxyError {
        HAProxyError(.healthCheckFailed, message)
    }

    public var isTimeout: Bool { code == .timeout }
    public var isConnect: Bool { code == .connect }
    public var isRejected: Bool { code == .rejected }
    public var isMalformed: Bool { code == .malformed }
    public var isInvalidArgument: Bool { code == .invalidArgument }
    public var isNotOwned: Bool { code == .notOwned }
    public var isBackendUnsupported: Bool { code == .backendUnsupported }
    public var isHealthCheckFailed: Bool { code == .healthCheckFailed }
    public var isResponseTooLarge: Bool { code == .responseTooLarge }

    /// The first non-empty line, trimmed and cut short, for messages.
    static func firstLine(of text: String, limit: Int = 200) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let printable = String(trimmed.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
        return printable.count > limit ? String(printable.prefix(limit)) + "…" : printable
    }
}
