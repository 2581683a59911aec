import NIOPosix

/// Runs blocking system calls (a socket exchange bounded by its own timeout) off Swift's
/// cooperative pool, on one shared, bounded pool of threads instead of a new `Thread` per call.
///
/// swift-nio's `NIOThreadPool` is the ecosystem's pool for this. Its `singleton` has one thread
/// per core (two here), which would queue a bench's concurrent health checks behind one slow
/// guest; this pool is wider, and each call on it is bounded by its caller's timeout, so a hung
/// peer holds one thread for at most that long. Callers start their deadline before submitting,
/// so time spent queued counts against the same timeout. Work is submitted without cancellation,
/// as a thread per call was: clean-up after a Ctrl-C (a cancelled task) still reaches HAProxy and
/// flockd.
public enum BlockingCalls {
    /// Threads in the pool: how many blocking calls may wait on peers at once; more queue. A
    /// thread here is parked in `poll()`, not spinning, so the width is cheap; it lets that many
    /// peers hang at once (each up to its caller's timeout) before calls to healthy ones queue.
    static let width = 64

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: width)
        pool.start()
        return pool
    }()

    /// Runs `body` on the pool and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pool.submit { state in
                switch state {
                case .active: continuation.resume(with: Result(catching: body))
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        }
    }
}
