import Foundation
import Logging

/// Where the Xen driver keeps checkpoints and how patient it is.
public struct XenDriverConfiguration: Sendable {
    /// Holds `checkpoints/`, the parents' saved memory while a batch restores from it. Put it on
    /// tmpfs: a checkpoint is the parent's whole RAM.
    public var stateRoot: String
    /// How long a fresh domain (a parent or a cold clone) may take to acknowledge its identity
    /// and answer `/healthz`.
    public var bootTimeout: Duration
    /// How long a restored clone's agent may take to acknowledge its identity.
    public var agentTimeout: Duration
    /// Receives the driver's progress and libxl's own log.
    public var logger: Logger

    public init(
        stateRoot: String = XenDriverConfiguration.defaultStateRoot, bootTimeout: Duration = .seconds(120),
        agentTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "flock.xen")
    ) {
        self.stateRoot = stateRoot
        self.bootTimeout = bootTimeout
        self.agentTimeout = agentTimeout
        self.logger = logger
    }

    /// `$FLOCK_XEN_STATE` if set, else `/run/flock/xen` (tmpfs on Debian).
    public static var defaultStateRoot: String {
        if let value = ProcessInfo.processInfo.environment["FLOCK_XEN_STATE"], !value.isEmpty { return value }
        return "/run/flock/xen"
    }
}
