import Glibc

/// A service whose requests wait on something slower than its CPU (a database call, say): each
/// `/item` request holds one of `workers` slots for `waitMs`, sleeping, not computing.
///
/// One VM then answers at most `workers × 1000 / waitMs` requests per second however fast the
/// host is, and each added clone adds as much again. That is how real web servers run out of
/// capacity, and it lets `flock-bench scale-out` show latency recovering as clones join on
/// a 2-core host, where CPU-bound guests would only share the same two cores.
final class BackendWait: Sendable {
    let workers: Slots
    let waitMs: Int

    /// nil unless both settings are positive (the default app has no backend wait).
    init?(workers: Int, waitMs: Int) {
        guard workers > 0, waitMs > 0 else { return nil }
        self.workers = Slots(workers)
        self.waitMs = waitMs
    }

    func wait() {
        workers.acquire()
        usleep(UInt32(waitMs) * 1000)
        workers.release()
    }
}
