import FlockCore
import Foundation

/// Errors from the QEMU driver: QMP, the guest agent, VM specs, processes and snapshots.
///
/// Every message names what Flock was doing (the QMP command, the VM, the file) so that a log
/// line alone tells an operator what failed and, where it helps, how to fix it.
public struct QEMUError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case connect, timeout, disconnected, protocolViolation, command
        case invalidSpec, launch, silentRestore, agent, snapshot, notFound, refused, io
    }

    private let code: Code
    public let message: String
    /// For `command` errors: QMP's `error.class`, e.g. `GenericError` or `CommandNotFound`.
    public let qmpClass: String?

    private init(_ code: Code, _ message: String, qmpClass: String? = nil) {
        self.code = code
        self.message = message
        self.qmpClass = qmpClass
    }

    public var description: String { message }

    /// A unix socket (QMP or agent) could not be reached.
    public static func connect(_ path: String, _ reason: String) -> QEMUError {
        QEMUError(.connect, "cannot connect to \(path): \(reason)")
    }

    /// An operation did not finish within its deadline.
    public static func timeout(_ what: String, after: Duration) -> QEMUError {
        QEMUError(.timeout, "\(what) timed out after \(after)")
    }

    /// The peer closed the connection (QEMU exited or the socket was shut) before answering.
    public static func disconnected(_ what: String) -> QEMUError {
        QEMUError(.disconnected, "\(what): connection closed (did QEMU exit?)")
    }

    /// The peer sent something that is not the protocol, e.g. no QMP greeting.
    public static func protocolViolation(_ message: String) -> QEMUError { QEMUError(.protocolViolation, message) }

    /// QEMU answered a command with `{"error": {"class": …, "desc": …}}`.
    public static func command(_ command: String, qmpClass: String, desc: String) -> QEMUError {
        QEMUError(.command, "QMP command '\(command)' failed: \(desc) [\(qmpClass)]", qmpClass: qmpClass)
    }

    /// A VM spec that cannot be run, with the field and a hint.
    public static func invalidSpec(_ message: String) -> QEMUError {
        QEMUError(.invalidSpec, "invalid VM spec: \(message)")
    }

    /// QEMU did not start, with what it printed.
    public static func launch(_ vm: String, _ reason: String) -> QEMUError {
        QEMUError(.launch, "VM \(vm) did not start: \(reason)")
    }

    /// A clone restored from a snapshot whose QEMU or agent then never answered in time. Said like
    /// `launch`; kept apart because a new snapshot cures it (`retryFailedClones`).
    public static func silentRestore(_ vm: String, _ reason: String) -> QEMUError {
        QEMUError(.silentRestore, "VM \(vm) did not start: \(reason)")
    }

    /// The in-guest agent failed or answered with an error.
    public static func agent(_ vm: String, _ reason: String) -> QEMUError {
        QEMUError(.agent, "agent of VM \(vm): \(reason)")
    }

    /// A snapshot is missing, unreadable or could not be made.
    public static func snapshot(_ message: String) -> QEMUError { QEMUError(.snapshot, message) }

    /// No VM of that name is known to the driver.
    public static func notFound(_ vm: String) -> QEMUError { QEMUError(.notFound, "no VM named \(vm)") }

    /// The operation is not allowed, e.g. destroying a parent or a VM Flock does not own.
    public static func refused(_ message: String) -> QEMUError { QEMUError(.refused, message) }

    /// A file or system call failed.
    public static func io(_ message: String) -> QEMUError { QEMUError(.io, message) }

    /// The core's error for what the `Hypervisor` protocol describes (missing, refused); else self.
    public var asFlockError: any Error {
        switch code {
        case .notFound: FlockError.notFound(message)
        case .refused: FlockError.conflict(message)
        default: self
        }
    }

    public var isTimeout: Bool { code == .timeout }
    public var isDisconnected: Bool { code == .disconnected }
    public var isCommandError: Bool { code == .command }
    public var isInvalidSpec: Bool { code == .invalidSpec }
    public var isLaunch: Bool { code == .launch || code == .silentRestore }
    public var isSilentRestore: Bool { code == .silentRestore }
    public var isSnapshot: Bool { code == .snapshot }
    public var isRefused: Bool { code == .refused }
    public var isNotFound: Bool { code == .notFound }
    public var isProtocolViolation: Bool { code == .protocolViolation }
}

/// The text of the current `errno`, for messages.
