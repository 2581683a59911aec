import Foundation
import Synchronization

/// The request mix `bench peak` replays: `keys` objects, equally popular, requested through
/// nginx's cache by `clients` clients, each starting a request every `interval` (or as soon as
/// its previous one answers, if that took longer: a slot missed is lost, never made up in a
/// burst). So a server that keeps up serves `clients / interval` requests/s, and one that cannot
/// (its cache misses cost the origin CPU) serves fewer. The keys come from a seeded generator,
/// one stream per client, so every instance, and the parent, is asked the same sequence.
public struct BenchRequestMix: Sendable {
    public var keys: Int
    public var clients: Int
    public var interval: Duration
    /// A request's limit: a cold instance's misses queue for its one vCPU.
    public var timeout: Duration = .seconds(10)
    public var seed: UInt64 = 1

    public init(keys: Int, clients: Int, interval: Duration) {
        self.keys = keys
        self.clients = clients
        self.interval = interval
    }

    /// The objects, as the guest's nginx caches them.
    public var paths: [String] { (0..<keys).map { "/item/peak-\($0)" } }

    /// What the clients ask for per second; a server that keeps up serves this.
    public var offeredPerSecond: Double { Double(clients) * 1000 / BenchMath.milliseconds(interval) }
}

/// What an instance answered under the mix, in seconds since it was asked for.
public struct BenchLoadTrace: Sendable {
    /// End times of the 200 responses, sorted.
    public var served: [Double] = []
    /// Requests that failed (no answer within the timeout, a refused connection, not 200).
    public var failed = 0
    /// 200s whose `X-Cache-Status` was not HIT: nginx asked the origin.
    public var misses = 0
    /// When the mix started and stopped.
    public var start = 0.0
    public var end = 0.0
}

/// Runs the mix against one endpoint, bounded in time and count.
struct BenchPacedLoad: Sendable {
    let mix: BenchRequestMix

    /// Replays the mix against `host:port` from now until `stop` says so (asked four times a
    /// second with the trace so far) or `limit` after `origin` has passed; times are seconds
    /// since `origin`. Each client sends at most one request per interval, so at most
    /// `clients × limit / interval` requests go out.
    func run(
        _ host: String, _ port: Int, origin: ContinuousClock.Instant, limit: Duration,
        stop: @escaping @Sendable (BenchLoadTrace) -> Bool = { _ in false }
    ) async -> BenchLoadTrace {
        let recorder = TraceRecorder()
        let stopped = BenchFlag()
        let deadline = origin + limit
        let started = ContinuousClock.now
        let since: @Sendable (ContinuousClock.Instant) -> Double = { BenchMath.milliseconds($0 - origin) / 1000 }
        recorder.trace.withLock { $0.start = since(started) }
        let paths = mix.paths
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<mix.clients {
                group.addTask { [mix] in
                    var generator = SeededGenerator(seed: mix.seed &+ UInt64(client))
                    // Spread the clients over one interval, so the requests come evenly.
                    var next = started + mix.interval * client / mix.clients
                    while !stopped.isSet, !Task.isCancelled {
                        try? await Task.sleep(until: next)
                        guard !stopped.isSet, ContinuousClock.now < deadline else { break }
                        let path = paths[Int(generator.next() % UInt64(paths.count))]
                        let response = try? await BenchHTTP.get(host, port, path, timeout: mix.timeout)
                        let now = ContinuousClock.now
                        recorder.trace.withLock { trace in
                            guard let response, response.status == 200 else { return trace.failed += 1 }
                            trace.served.append(since(now))
                            if response.headers["x-cache-status"] != "HIT" { trace.misses += 1 }
                        }
                        next = max(next + mix.interval, now)
                    }
                }
            }
            group.addTask {
                while !stopped.isSet, !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let now = ContinuousClock.now
                    var trace = recorder.trace.withLock { $0 }
                    trace.served.sort()
                    trace.end = since(now)
                    if now >= deadline || stop(trace) {
                        recorder.trace.withLock { $0.end = trace.end }
                        stopped.set()
                    }
                }
            }
            await group.waitForAll()
        }
        // The load ends when the clients were told to stop: answers still in flight then are
        // left out, so the curve and the windows cover the same span.
        var trace = recorder.trace.withLock { $0 }
        trace.served = trace.served.filter { $0 <= trace.end }.sorted()
        return trace
    }
}

/// The trace the clients add to and the monitor reads, shared between their tasks.
private final class TraceRecorder: Sendable {
    let trace = Mutex(BenchLoadTrace())
}

/// splitmix64: a small seeded generator, so every instance is asked the same keys in the same
/// order (the standard library's generator cannot be seeded).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
