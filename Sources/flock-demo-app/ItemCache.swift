import Glibc

/// The "warm cache" the whole product is about: values that are expensive to compute the first
/// time and cheap afterwards. A VM clone inherits this dictionary with the rest of RAM, which is
/// exactly what the clone tests observe through `X-Cache: hit`.
final class ItemCache: @unchecked Sendable {
    static let maxEntries = 100_000

    private let mutex = Mutex()
    private var values: [String: UInt64] = [:]
    private(set) var hits = 0
    private(set) var misses = 0
    /// Keeps the optimiser from discarding the burn loop's result.
    private var sink: UInt64 = 0
    let missCostMs: Int

    init(missCostMs: Int) {
        self.missCostMs = missCostMs
    }

    /// Returns the value and whether it was already cached.
    func lookup(_ key: String) -> (value: UInt64, hit: Bool) {
        if let value = mutex.withLock({ () -> UInt64? in
            guard let cached = values[key] else { return nil }
            hits += 1
            return cached
        }) {
            return (value, true)
        }
        // Compute outside the lock so concurrent misses use both vCPUs.
        let value = Self.digest(key)
        let burned = burn(seed: value)
        mutex.withLock {
            misses += 1
            sink ^= burned
            if values.count < Self.maxEntries { values[key] = value }
        }
        return (value, false)
    }

    func counters() -> (hits: Int, misses: Int, entries: Int) {
        mutex.withLock { (hits, misses, values.count) }
    }

    /// The value: a deterministic function of the key alone (FNV-1a, then mixing rounds), so a
    /// cold VM, a parent and its clones all agree on it.
    static func digest(_ key: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        for _ in 0..<1024 { h = mix(h) }
        return h
    }

    /// Real CPU work for about `missCostMs`: mixing rounds, checking the clock every few
    /// thousand, so the cost tracks wall time on a fast host and under slow emulation alike.
    private func burn(seed: UInt64) -> UInt64 {
        guard missCostMs > 0 else { return seed }
        let deadline = Self.monotonicNs() + UInt64(missCostMs) * 1_000_000
        var state = seed
        repeat {
            for _ in 0..<4096 { state = Self.mix(state) }
        } while Self.monotonicNs() < deadline
        return state
    }

    /// splitmix64's finaliser.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    static func monotonicNs() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
