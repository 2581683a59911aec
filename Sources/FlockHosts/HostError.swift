/// What went wrong between Flock and a host, said so that the log line alone tells an operator
/// which host, what Flock was doing and, where it helps, how to fix it.
public struct HostError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The local set-up is wrong (key file, known_hosts, state root): fixed by the operator.
        case configuration
        /// The SSH session could not start or dropped; pending requests fail with it.
        case disconnected
        /// No answer within the request's deadline.
        case timeout
        /// The host answered with an error (a refusal, a missing snapshot).
        case remote
        /// The peer does not speak the protocol.
        case protocolViolation
        /// A snapshot transfer failed (short stream, checksum, no room).
        case transfer
        case io
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func configuration(_ message: String) -> HostError { HostError(.configuration, message) }
    public static func disconnected(_ message: String) -> HostError { HostError(.disconnected, message) }
    public static func timeout(_ message: String) -> HostError { HostError(.timeout, message) }
    public static func remote(_ message: String) -> HostError { HostError(.remote, message) }
    public static func protocolViolation(_ message: String) -> HostError { HostError(.protocolViolation, message) }
    public static func transfer(_ message: String) -> HostError { HostError(.transfer, message) }
    public static func io(_ message: String) -> HostError { HostError(.io, message) }
}
