import FlockCore
import FlockHAProxy
import Foundation
import Synchronization

/// Reads HAProxy and flockd once a second during the run: the request rate, the servers that
/// are UP, what each clone server has served, and flockd's pool counts and new events.
public final class StatsSampler: Sendable {
    let stack: DemoStack
    let started: ContinuousClock.Instant
    private let state = Mutex(State())

    struct State {
        var lastStot: Int?
        var lastAt: ContinuousClock.Instant?
        var cloneStot: [String: Int] = [:]
        var lastEventId: Int64?
        var samples: [DemoSample] = []
        var last = DemoSample(t: 0, requestRate: 0, serving: 1, warming: 0, draining: 0, upServers: 1)
    }

    public init(stack: DemoStack, started: ContinuousClock.Instant) async {
        self.stack = stack
        self.started = started
        // Events before the run (start-up, recovery) are not news.
        let last = try? await stack.flockd.events(since: nil).lastId
        state.withLock { $0.lastEventId = last }
    }

    /// One sample; missing sources leave the previous values in place.
    public func sample() async -> (DemoSample, [FlockdEvent]) {
        let now = ContinuousClock.now
        var sample = state.withLock { $0.last }
        sample.t = (now - started).seconds
        if let table = try? await stack.haproxy.client.showStat(backend: stack.haproxy.backend) {
            let servers = table.servers(of: stack.haproxy.backend)
            sample.upServers = servers.filter(\.isServing).count
            let stot = table.backend(stack.haproxy.backend)?.integer("stot")
            state.withLock { state in
                if let stot, let lastStot = state.lastStot, let lastAt = state.lastAt {
                    sample.requestRate = max(0, Double(stot - lastStot) / max((now - lastAt).seconds, 0.001))
                }
                state.lastStot = stot
                state.lastAt = now
                for server in servers where server.server.hasPrefix(OwnedName.prefix) {
                    state.cloneStot[server.server] = max(
                        state.cloneStot[server.server] ?? 0, server.integer("stot") ?? 0)
                }
            }
        }
        if let pool = try? await stack.flockd.pool() {
            sample.serving = pool["serving"] as? Int ?? sample.serving
            sample.warming = pool["warming"] as? Int ?? sample.warming
            sample.draining = pool["draining"] as? Int ?? sample.draining
        }
        sample.p99Ms = Self.p99(stack.requestLog.entries(from: now - Self.latencyWindow, to: now))
        var events: [FlockdEvent] = []
        let since = state.withLock { $0.lastEventId }
        if let answer = try? await stack.flockd.events(since: since) {
            events = answer.events
            state.withLock { $0.lastEventId = answer.lastId }
        }
        let final = sample
        state.withLock {
            $0.samples.append(final)
            $0.last = final
        }
        return (sample, events)
    }

    /// How far back each sample's p99 looks: two seconds hold a couple of hundred requests
    /// during the step, enough for a p99 that is not just the slowest request.
    public static let latencyWindow = Duration.seconds(2)

    static func p99(_ entries: [RequestLog.Entry]) -> Double? {
        DemoSummary.percentile(entries.map(\.activeMs).sorted(), 0.99)
    }

    public var samples: [DemoSample] { state.withLock { $0.samples } }
    /// Requests HAProxy sent to clone servers, each server's last `stot` seen (deleted servers
    /// keep the count they had when drained).
    public var requestsByClones: Int { state.withLock { $0.cloneStot.values.reduce(0, +) } }
    public var cloneRequests: [String: Int] { state.withLock { $0.cloneStot } }
}
