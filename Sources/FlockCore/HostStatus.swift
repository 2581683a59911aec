import Foundation

/// What an operator asks of each host a pool may place clones on: does it answer, what runs
/// there, how much room is left, which snapshots it holds, and what last went wrong
/// (`flockctl hosts`, `/v1/hosts`).
public struct HostStatus: Sendable, Codable, Equatable {
    public var name: String
    /// The pools whose placement names it.
    public var pools: [String]
    /// Whether it answered the last request sent to it.
    public var reachable: Bool
    /// Why it is lost (its grace ran out and its clones failed); nil while it is not.
    public var lost: String?
    /// Flock's VMs there, from its last answer.
    public var vms: Int?
    public var memAvailableBytes: Int?
    public var cores: Int?
    /// Its 1-minute load average.
    public var load: Double?
    /// Ids of the snapshots it holds.
    public var snapshots: [String]
    /// The last request it failed, with why; kept after it answers again, so that a flapping
    /// host shows what happened.
    public var lastError: String?
    /// When it last answered.
    public var lastAnswer: Date?

    public init(
        name: String, pools: [String], reachable: Bool, lost: String? = nil, vms: Int? = nil,
        memAvailableBytes: Int? = nil, cores: Int? = nil, load: Double? = nil, snapshots: [String] = [],
        lastError: String? = nil, lastAnswer: Date? = nil
    ) {
        self.name = name
        self.pools = pools
        self.reachable = reachable
        self.lost = lost
        self.vms = vms
        self.memAvailableBytes = memAvailableBytes
        self.cores = cores
        self.load = load
        self.snapshots = snapshots
        self.lastError = lastError
        self.lastAnswer = lastAnswer
    }

    enum CodingKeys: String, CodingKey {
        case name, pools, reachable, lost, vms, cores, load, snapshots
        case memAvailableBytes = "mem_available_bytes"
        case lastError = "last_error"
        case lastAnswer = "last_answer"
    }

    /// One status per host from several pools' views of it: the pools joined, and the freshest
    /// answer's facts.
    public static func merged(_ statuses: [HostStatus]) -> [HostStatus] {
        var byName: [String: HostStatus] = [:]
        for status in statuses {
            guard var known = byName[status.name] else {
                byName[status.name] = status
                continue
            }
            let pools = Array(Set(known.pools + status.pools)).sorted()
            if (status.lastAnswer ?? .distantPast) > (known.lastAnswer ?? .distantPast) { known = status }
            known.pools = pools
            byName[status.name] = known
        }
        return byName.values.sorted { $0.name < $1.name }
    }
}

/// A hypervisor that runs clones on other hosts and can say how each is (`PlacingHypervisor`).
public protocol HostReporting: Sendable {
    /// Every host it may place on, the parent's own (`Placement.localHost`) included when it
    /// takes clones; asks the hosts that answer, within a few seconds, and reports a lost host
    /// from what it last knew.
    func hostStatuses() async -> [HostStatus]
    /// The host each VM it knows runs on, by VM name (`/v1/pools/{pool}/instances`).
    func vmHomes() async -> [String: String]
}
