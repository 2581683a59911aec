import FlockCore
import FlockPolicy
import FlockStore
import Foundation
import Logging

/// Everything `flockd` needs to start, read from its YAML config file and the environment.
///
/// The values are already validated: a `DaemonConfig` only exists when every error in the
/// file has been ruled out, so start-up only meets problems the file cannot show (an
/// unreachable balancer, a pool with no stored policy).
public struct DaemonConfig: Sendable {
    /// The config file, for messages.
    public var file: String
    public var store: StoreSettings
    public var listen: ListenAddress
    /// Bearer token the mutating API endpoints require; without one they are refused.
    public var apiToken: String?
    public var log: LogSettings
    /// How often the policy watcher looks for versions applied with `flockctl`.
    public var policyPollInterval: Duration
    /// What start-up does with the VMs and servers of pools the store has but the config no
    /// longer names (`removed_pools`).
    public var removedPools: RemovedPools
    public var balancers: [String: DriverConfig]
    public var hypervisors: [String: DriverConfig]
    /// Other hypervisor hosts, by name, that pools with a `placement:` may put clones on; the
    /// parent's own host is implicit (`Placement.localHost`).
    public var hosts: [String: HostConfig] = [:]
    /// In the order the file lists them.
    public var pools: [PoolConfig]

    public enum RemovedPools: String, Sendable, CaseIterable {
        /// Log them and record an event, and touch nothing: the default, because a pool dropped
        /// from the file by mistake must not lose its serving clones on the next restart.
        case report
        /// Drain and remove their servers, destroy their clones, and mark their instances gone.
        case reclaim
    }

    public struct StoreSettings: Sendable, Hashable {
        public var path: String
        public var sampleRetention: Duration
        /// Decisions, events and closed journal entries; each at least a day (`PolicyLimits`).
        public var historyRetention: HistoryRetention
    }

    public struct LogSettings: Sendable, Hashable {
        public enum Format: String, Sendable, CaseIterable { case text, json }
        public var format: Format
        public var level: Logger.Level
    }

    /// A driver section, by kind: a hypervisor, a balancer, or a pool's metrics source. Its
    /// settings were checked by the kind's factory (`DriverKinds`).
    public struct DriverConfig: Sendable {
        /// The section's name: the key under `hypervisors:` or `balancers:`, or the pool's name
        /// for its `metrics:`.
        public var name: String
        public var kind: String
        public var settings: DriverSettings

        public init(name: String, kind: String, settings: DriverSettings) {
            self.name = name
            self.kind = kind
            self.settings = settings
        }
    }

    /// One pool flockd runs.
    public struct PoolConfig: Sendable {
        /// Where its policy comes from.
        public enum PolicySource: Sendable {
            /// A YAML file; stored as a new version at start-up when its text differs from the
            /// store's current one, then the store is followed like for `stored`.
            case file(PolicyDocument)
            /// The store's current version (`flockctl policy apply` put it there).
            case stored
        }

        public var name: String
        public var policy: PolicySource
        public var balancer: String
        public var hypervisor: String
        /// Where the pool's load is read: its `metrics:` section, else the balancer kind's default.
        public var metrics: DriverConfig
        /// The warm parent VM, when the config names it; it must match the policy's `parent`.
        public var parent: String?
        /// Where the pool is written in the file, for errors found at start-up.
        public var location: SourceLocation
        /// Where its `policy:` value is written.
        public var policyLocation: SourceLocation
        public var parentLocation: SourceLocation?
        /// The hosts its clones may run on, and how they are shared; nil for the parent's host only.
        public var placement: PlacementConfig?
    }

    /// A place in the config file, so that errors found after parsing still point at it.
    public struct SourceLocation: Sendable, Hashable {
        public var file: String
        public var line: Int
        public var column: Int

        /// A located error at this place, formatted like policy errors.
        public func diagnostic(_ message: String, hint: String? = nil) -> PolicyDiagnostic {
            PolicyDiagnostic(file: file, line: line, column: column, message: message, hint: hint)
        }
    }

    /// The defaults a config may leave out.
    public enum Defaults {
        /// Loopback only: the API can pause pools, so it is not exposed unless asked for.
        public static let listen = ListenAddress(host: "127.0.0.1", port: 9464)
        public static let policyPollInterval: Duration = .seconds(2)
    }
}
