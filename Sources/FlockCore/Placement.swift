/// Where a pool's new clones run, when it may use several hosts: pure logic over what each host
/// reported, so that every choice (and every host passed over) comes with a reason an operator
/// can read in the pool's events.
public enum Placement {
    /// How clones are shared among hosts with room.
    public enum Strategy: String, Sendable, Hashable, CaseIterable {
        /// Each clone to the host with the most headroom left: a lost host takes the fewest
        /// clones with it, and clones do not share cores while others sit idle. The default.
        case spread
        /// Fill one host before the next (the one most used first): fewer hosts hold the
        /// snapshot, and idle hosts can be drained.
        case pack
    }

    /// The name of the parent's own host in placements and reasons; no configured host may take it.
    public static let localHost = "local"

    /// What one host reported, and what the operator allows there.
    public struct HostReport: Sendable, Hashable {
        public var name: String
        /// False when the host did not answer; it is skipped, with `problem` as the reason.
        public var reachable: Bool
        /// Nil when its QEMU, machine type and CPU model can restore the snapshot; else why not.
        public var incompatibility: String?
        /// Why it could not be asked (its last error), when not reachable.
        public var problem: String?
        public var memAvailableBytes: Int
        public var cores: Int
        /// The one-minute load average.
        public var load: Double
        /// Flock's VMs running there now (clones of every pool, and parents).
        public var vms: Int
        /// Ids of the snapshots it holds.
        public var snapshots: Set<String>
        /// At most this many Flock VMs there; nil for no limit but memory.
        public var maxVMs: Int?
        /// At most this much guest memory for Flock's VMs there; nil for no limit but MemAvailable.
        public var maxMemoryBytes: Int?

        public init(
            name: String, reachable: Bool = true, incompatibility: String? = nil, problem: String? = nil,
            memAvailableBytes: Int, cores: Int, load: Double, vms: Int, snapshots: Set<String> = [],
            maxVMs: Int? = nil, maxMemoryBytes: Int? = nil
        ) {
            self.name = name
            self.reachable = reachable
            self.incompatibility = incompatibility
            self.problem = problem
            self.memAvailableBytes = memAvailableBytes
            self.cores = cores
            self.load = load
            self.vms = vms
            self.snapshots = snapshots
            self.maxVMs = maxVMs
            self.maxMemoryBytes = maxMemoryBytes
        }
    }

    /// One request: how many clones, how big, and from which snapshot.
    public struct Request: Sendable, Hashable {
        public var clones: Int
        /// Guest memory of one clone. A lazy clone maps its snapshot and touches far less at
        /// first, but a host must have room for what it may grow to.
        public var memoryBytes: Int
        /// The parent's current snapshot, if one is taken; hosts holding it are preferred.
        public var snapshot: String?
        public var strategy: Strategy

        public init(clones: Int, memoryBytes: Int, snapshot: String?, strategy: Strategy = .spread) {
            self.clones = clones
            self.memoryBytes = memoryBytes
            self.snapshot = snapshot
            self.strategy = strategy
        }
    }

    /// Where each clone goes, in request order, and the hosts left out.
    public struct Plan: Sendable, Hashable {
        public struct Choice: Sendable, Hashable {
            public var host: String
            public var reason: String
        }
        /// One per clone placed; fewer than asked when the hosts ran out of room.
        public var choices: [Choice]
        /// Hosts that took no clone because they could not, by name, with why.
        public var skipped: [String: String]
        /// Why the clones beyond `choices.count` have no host, when some have none.
        public var unplaced: String?
    }

    /// Memory a host keeps for itself and its page cache beyond the clones' (256 MiB).
    public static let memoryReserve = 256 << 20

    /// Chooses a host per clone. Each step scores every host with room for one more clone:
    /// its free memory and CPU share after the clone, a bonus for holding the snapshot (no
    /// transfer, shared pages), and, for `pack`, how full it already is.
    public static func plan(_ request: Request, hosts: [HostReport]) -> Plan {
        var skipped: [String: String] = [:]
        var candidates: [Candidate] = []
        for host in hosts {
            if let reason = refusal(host) {
                skipped[host.name] = reason
            } else {
                candidates.append(Candidate(report: host))
            }
        }
        var choices: [Plan.Choice] = []
        var unplaced: String?
        for _ in 0..<max(request.clones, 0) {
            var best: (index: Int, score: Double)?
            for index in candidates.indices {
                guard candidates[index].room(for: request.memoryBytes) == nil else { continue }
                let score = candidates[index].score(request)
                if best == nil || score > best!.score
                    || (score == best!.score && candidates[index].report.name < candidates[best!.index].report.name)
                {
                    best = (index, score)
                }
            }
            guard let best else {
                unplaced =
                    candidates.isEmpty
                    ? "no host can take a clone" : "no host has room for another clone of \(mib(request.memoryBytes))"
                break
            }
            choices.append(
                Plan.Choice(host: candidates[best.index].report.name, reason: candidates[best.index].reason(request)))
            candidates[best.index].placed += 1
        }
        let used = Set(choices.map(\.host))
        for candidate in candidates where !used.contains(candidate.report.name) {
            if let full = candidate.room(for: request.memoryBytes) { skipped[candidate.report.name] = full }
        }
        return Plan(choices: choices, skipped: skipped, unplaced: unplaced)
    }

    /// Why a host cannot take any clone at all, whatever the request.
    static func refusal(_ host: HostReport) -> String? {
        if !host.reachable { return "unreachable: \(host.problem ?? "it does not answer")" }
        if let incompatibility = host.incompatibility { return "incompatible: \(incompatibility)" }
        return nil
    }

    /// A host as the plan fills it.
    struct Candidate {
        let report: HostReport
        /// Clones this plan has put there so far.
        var placed = 0

        var vms: Int { report.vms + placed }

        /// Nil when one more clone fits; else why not.
        func room(for memory: Int) -> String? {
            if let limit = report.maxVMs, vms >= limit {
                return "full: \(vms) VM(s), its limit is \(limit)"
            }
            let free = report.memAvailableBytes - placed * memory - Placement.memoryReserve
            if free < memory {
                return "no room: \(mib(max(report.memAvailableBytes - placed * memory, 0))) available, "
                    + "a clone needs \(mib(memory)) and \(mib(Placement.memoryReserve)) stay free"
            }
            if let limit = report.maxMemoryBytes, (vms + 1) * memory > limit {
                return "full: \(vms + 1) VM(s) of \(mib(memory)) would pass its memory limit of \(mib(limit))"
            }
            return nil
        }

        /// Free memory after the clone, in clones' worth (capped, so that a huge host does not
        /// win every clone), plus idle cores after it, plus locality; pack rewards fullness instead.
        func score(_ request: Request) -> Double {
            let memory = Double(report.memAvailableBytes - (placed + 1) * request.memoryBytes)
            let memoryRoom = min(memory / Double(max(request.memoryBytes, 1)), 8)
            let cpuRoom = Double(report.cores) - report.load - Double(vms + 1) * 0.5
            let holds = request.snapshot.map { report.snapshots.contains($0) } ?? false
            let locality = holds ? 2.0 : 0
            switch request.strategy {
            case .spread: return memoryRoom + cpuRoom * 2 + locality - Double(vms) * 4
            case .pack: return Double(vms) * 4 + locality + min(memoryRoom, 1) + min(cpuRoom, 1)
            }
        }

        func reason(_ request: Request) -> String {
            let holds = request.snapshot.map { report.snapshots.contains($0) } ?? false
            let free = report.memAvailableBytes - placed * request.memoryBytes
            var words = [
                "\(request.strategy.rawValue): \(vms) VM(s) there before this one",
                "\(mib(free)) available",
                "\(report.cores) core(s) at load \(String(format: "%.2f", report.load))",
            ]
            words.append(holds ? "holds the snapshot" : "the snapshot must ship there")
            return words.joined(separator: ", ")
        }
    }

    static func mib(_ bytes: Int) -> String { "\(bytes >> 20) MiB" }
}
