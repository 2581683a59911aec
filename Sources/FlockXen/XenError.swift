import FlockCore
import FlockSystem
import Foundation

/// Errors from the Xen driver. Each message names what was checked or called and, where it
/// helps, how to fix it, so a log line alone explains the failure.
public struct XenError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case notRunning, libxl, xenstore, invalidSpec, launch, agent, timeout, notFound, refused, unsupported, io
    }

    private let code: Code
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// This host cannot drive Xen: no hypervisor, not dom0, or the toolstack daemons are down.
    public static func notRunning(checked: String, detail: String) -> XenError {
        XenError(
            .notRunning,
            "Xen is not running on this host: \(checked): \(detail). Boot the host into the Xen hypervisor and run "
                + "Flock in dom0 as root with the Xen toolstack started (systemctl start xencommons: xenstored, "
                + "xenconsoled), or use the QEMU driver (kind: qemu, --hypervisor qemu)")
    }

    /// A libxl call returned an error code; `rc` is one of libxl's `ERROR_*` values.
    public static func libxl(_ call: String, rc: Int32, _ context: String, lastLog: String? = nil) -> XenError {
        let name = libxlErrorName(rc)
        return XenError(
            .libxl, "\(call) failed for \(context): \(name) (\(rc))" + (lastLog.map { "; libxl said: \($0)" } ?? ""))
    }

    /// A xenstore read, write or permission change failed.
    public static func xenstore(_ what: String, path: String, errno: Int32) -> XenError {
        XenError(.xenstore, "xenstore \(what) of \(path) failed: \(errnoText())")
    }

    /// A Xen VM spec that cannot be run, with every problem found.
    public static func invalidSpec(_ problems: [String]) -> XenError {
        XenError(.invalidSpec, "invalid Xen VM spec: " + problems.joined(separator: "; "))
    }

    /// A domain was created but did not come up (no ack, no answer on /healthz).
    public static func launch(_ vm: String, _ reason: String) -> XenError {
        XenError(.launch, "domain \(vm) did not start: \(reason)")
    }

    /// The guest agent answered the identity with an error or the wrong clone id.
    public static func agent(_ vm: String, _ reason: String) -> XenError {
        XenError(.agent, "agent of domain \(vm): \(reason)")
    }

    public static func timeout(_ what: String, after: Duration) -> XenError {
        XenError(.timeout, "\(what) timed out after \(after)")
    }

    public static func notFound(_ vm: String) -> XenError { XenError(.notFound, "no Flock domain named \(vm)") }

    /// Not allowed, e.g. destroying a parent or a domain Flock did not name.
    public static func refused(_ message: String) -> XenError { XenError(.refused, message) }

    /// The host or this driver lacks the feature, e.g. VM forking for lazy clones.
    public static func unsupported(_ message: String) -> XenError { XenError(.unsupported, message) }

    /// A file or system call failed (the checkpoint file, the state directory).
    public static func io(_ message: String) -> XenError { XenError(.io, message) }

    /// The core's error for what the `Hypervisor` protocol describes (missing, refused,
    /// unreachable); else self.
    var asFlockError: any Error {
        switch code {
        case .notFound: FlockError.notFound(message)
        case .refused: FlockError.conflict(message)
        case .notRunning: FlockError.unavailable(message)
        default: self
        }
    }

    public var isNotRunning: Bool { code == .notRunning }
    public var isUnsupported: Bool { code == .unsupported }
}
