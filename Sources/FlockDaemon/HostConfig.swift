import FlockCore

extension DaemonConfig {
    /// One host under `hosts:`: how flockd reaches it over SSH, where its Flock state lives, the
    /// VM network its clones join there, and what the operator lets Flock use of it.
    public struct HostConfig: Sendable, Hashable {
        public var name: String
        public var user: String
        /// Its name or address, as ssh connects to it and `known_hosts` lists it.
        public var address: String
        public var port: Int
        /// The private key (0600), checked when the config is read.
        public var identityFile: String
        /// The only `known_hosts` consulted for it: its key is always checked.
        public var knownHostsFile: String
        /// The remote `flockctl host serve --state` root.
        public var stateRoot: String
        /// The remote flockctl (`flockctl` in the host's PATH by default).
        public var flockctl: String
        /// Its clones' bridge and subnet, which the balancer must be able to route to.
        public var bridge: String
        public var cidr: String
        /// The VMs' gateway there; the subnet's first address when absent.
        public var gateway: String?
        public var maxVMs: Int?
        public var maxMemoryMiB: Int?
        /// How long it may go unanswered before it is lost: its clones then fail and are
        /// replaced on other hosts.
        public var lostAfter: Duration
        public var location: SourceLocation
    }

    /// A pool's `placement:`.
    public struct PlacementConfig: Sendable, Hashable {
        /// Names under `hosts:`, or `local` for the parent's own host.
        public var hosts: [String]
        public var strategy: Placement.Strategy
        public var location: SourceLocation
    }
}
