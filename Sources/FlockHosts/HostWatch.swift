import FlockCore
import Foundation

/// Which of a pool's other hosts answer, and what stands for a host's VM listing while it does not.
///
/// A host that stops answering is not given up at once: a dropped session or one slow answer is
/// common, and failing its clones then would replace servers that still serve. For its grace
/// (`lost_after`) its last listing stands in for it. Past the grace it is *lost*: its VMs are left
/// out of the listing, so the pool's reconcile fails them (with `cause(of:)` as the reason, which
/// names the host) and the next decisions place replacements on hosts that answer; destroying one
/// of them is recorded as a leftover and returns, since nothing can reach it. A host that answers
/// again is no longer lost, and what it lists is reconciled like any other VM: the store has its
/// old clones as gone, so they are orphans, and the pool's reconcile destroys them.
///
/// Pure bookkeeping, told each answer and each silence with the time it was asked, so that its
/// rules are tested without hosts.
struct HostWatch: Sendable {
    private struct State: Sendable {
        /// The host's last listing, with the clones started there since; nil until it first answers.
        var listing: [VMInfo]?
        /// When the first request that went unanswered was sent; nil while it answers.
        var silentSince: ContinuousClock.Instant?
        /// Why it is lost, once its grace has run out.
        var lost: String?
        /// Clones destroyed while it was lost, which it may still run.
        var leftovers: Set<String> = []
    }

    /// What stands for a silent host's listing.
    enum StandIn: Sendable, Equatable {
        /// Within its grace: its last listing.
        case lastListing([VMInfo])
        /// Within its grace, but it has not answered since this process started: its VMs are
        /// unknown, and leaving them out would make its clones look gone.
        case unknown
        /// Past its grace: nothing. `newly` on the first silence past it, to say so once.
        case lost(cause: String, newly: Bool)
    }

    private var hosts: [String: State] = [:]
    private let grace: [String: Duration]

    /// - Parameter lostAfter: each host's grace, by name.
    init(lostAfter: [String: Duration]) {
        grace = lostAfter
    }

    /// The host answered with `vms`. Returns the clones destroyed while it was lost when this
    /// answer ends a loss (they are reconciled now), nil otherwise.
    mutating func answered(_ host: String, vms: [VMInfo]) -> [String]? {
        let before = hosts[host]
        hosts[host] = State(listing: vms)
        guard let before, before.lost != nil else { return nil }
        return before.leftovers.sorted()
    }

    /// A request sent at `asked` got no answer (`problem` says why); `now` is when that was known.
    mutating func silent(
        _ host: String, asked: ContinuousClock.Instant, now: ContinuousClock.Instant, problem: String
    ) -> StandIn {
        var state = hosts[host] ?? State()
        defer { hosts[host] = state }
        let since = state.silentSince ?? asked
        state.silentSince = since
        if let cause = state.lost { return .lost(cause: cause, newly: false) }
        let grace = grace[host] ?? .seconds(15)
        guard now - since >= grace else {
            return state.listing.map { .lastListing($0) } ?? .unknown
        }
        let silence = String(format: "%.1fs", (now - since).seconds)
        let cause = "host \(host) lost: no answer for \(silence) (grace \(grace.flockText)): \(problem)"
        state.lost = cause
        return .lost(cause: cause, newly: true)
    }

    /// Clones a batch just started there, so that a host that drops before its next listing
    /// stands in with them too.
    mutating func started(_ vms: [VMInfo], on host: String) {
        var state = hosts[host] ?? State()
        state.listing = (state.listing ?? []).filter { vm in !vms.contains { $0.name == vm.name } } + vms
        hosts[host] = state
    }

    /// A clone on `host` was destroyed while the host was lost: it is left there until it returns.
    mutating func leftBehind(_ name: String, on host: String) {
        hosts[host]?.leftovers.insert(name)
    }

    /// How long a listing of `host` sent at `now` may wait: its grace, at most 10 s (a host that
    /// hangs must not hold the pool's tick for longer), and while it is silent what is left of the
    /// grace, at least 1 s, so that a loss is seen when the grace runs out, not a deadline later.
    func listDeadline(_ host: String, at now: ContinuousClock.Instant) -> Duration {
        let grace = min(grace[host] ?? .seconds(15), .seconds(10))
        guard let since = hosts[host]?.silentSince else { return grace }
        return max(min(grace, (self.grace[host] ?? .seconds(15)) - (now - since)), .seconds(1))
    }

    /// Why `host` is lost, nil while it is not.
    func lostCause(_ host: String) -> String? { hosts[host]?.lost }

    /// Why a VM that is no longer listed went, when a lost host explains it: the host it was last
    /// listed on, or, for a VM no host listed, the lost hosts that never answered (one may hold it).
    func cause(of vm: String) -> String? {
        let lost = hosts.filter { $0.value.lost != nil }.sorted { $0.key < $1.key }
        if let (_, state) = lost.first(where: { $0.value.listing?.contains { $0.name == vm } == true }) {
            return "\(state.lost ?? "")\(Self.leftoverNote)"
        }
        let unknown = lost.filter { $0.value.listing == nil }.compactMap(\.value.lost)
        guard !unknown.isEmpty else { return nil }
        return "its VM is not on any host that answers; \(unknown.joined(separator: "; "))\(Self.leftoverNote)"
    }

    private static let leftoverNote =
        "; what it left there is destroyed once the host answers again"
}
