/// A socket call that failed, with the system's reason; callers wrap it in their own located error.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The deadline passed before the peer was ready.
        case timeout
        /// The call failed; `code` says why.
        case failed
    }

    public var kind: Kind
    /// The `errno` value, or 0 when the failure is not a system call's.
    public var code: Int32
    public var message: String
    public var description: String { message }
    public var isTimeout: Bool { kind == .timeout }

    public init(_ kind: Kind, _ message: String, code: Int32 = 0) {
        self.kind = kind
        self.message = message
        self.code = code
    }
}
