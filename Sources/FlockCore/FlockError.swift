/// Errors from the core. Each says what went wrong and, where it helps, how to fix it.
public struct FlockError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case illegalTransition
        case conflict
        case notFound
        case unavailable
    }

    private let code: Code
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func illegalTransition(instance: String, from: InstanceState, to: InstanceState) -> FlockError {
        let allowed = from.successors.map(\.rawValue).sorted().joined(separator: ", ")
        return FlockError(
            .illegalTransition,
            "instance \(instance): cannot go from \(from.rawValue) to \(to.rawValue) (allowed: \(allowed.isEmpty ? "none" : allowed))"
        )
    }

    /// The request contradicts existing state, e.g. a server name already registered at another address.
    public static func conflict(_ message: String) -> FlockError { FlockError(.conflict, message) }

    /// The named VM, server or backend does not exist.
    public static func notFound(_ message: String) -> FlockError { FlockError(.notFound, message) }

    /// A driver could not reach its hypervisor, balancer or source.
    public static func unavailable(_ message: String) -> FlockError { FlockError(.unavailable, message) }

    public var isConflict: Bool { code == .conflict }
    public var isNotFound: Bool { code == .notFound }
}
