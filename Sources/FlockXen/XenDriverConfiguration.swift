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
    /// A dom0 bridge with no address and no uplink, where restored clones wait until their
    /// agent has applied the new identity; the driver then moves the clone's vif to the parent's
    /// bridge. A clone resumes with the parent's address, and on the parent's bridge it announces
    /// that address with its new MAC: dom0 then sends the parent's traffic to the clone until its
    /// neighbour entry expires (about 10 s, measured in the Xen harness). nil: clones are
    /// restored straight onto the parent's bridge.
    public var holdBridge: String?
    /// Receives the driver's progress and libxl's own log.
    public var logger: Logger

    public init(
        stateRoot: String = XenDriverConfiguration.defaultStateRoot, bootTimeout: Duration = .seconds(120),
        agentTimeout: Duration = .seconds(30), holdBridge: String? = nil, logger: Logger = Logger(label: "flock.xen")
    ) {
        self.stateRoot = stateRoot
        self.bootTimeout = bootTimeout
        self.agentTimeout = agentTimeout
        self.holdBridge = holdBridge
        self.logger = logger
    }

    /// Whether `name` can be a Linux interface name (what a bridge setting must be).
    public static func isValidBridgeName(_ name: String) -> Bool {
        (1...15).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// `$FLOCK_XEN_STATE` if set, else `/run/flock/xen` (tmpfs on Debian).
    public static var defaultStateRoot: String {
        if let value = ProcessInfo.processInfo.environment["FLOCK_XEN_STATE"], !value.isEmpty { return value }
        return "/run/flock/xen"
    }
}
