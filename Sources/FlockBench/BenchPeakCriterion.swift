/// When an instance is "at peak" in `bench peak`: its throughput under the paced mix stays
/// within `fraction` of the warm parent's, measured over a sliding window.
///
/// Precisely: with the parent's rate `peak` (responses/s), a window `[t, t + window)` is good
/// when at least `fraction × peak × window` requests got a 200 whose response ended inside it.
/// Windows start every `step` seconds from the instance's first 200 (the mix starts then, as a
/// balancer sends traffic once the health check passes). The time to peak is the earliest such
/// start `T` from which every later window, up to the end of the load, is good; and a run counts
/// only if that stretch lasted `hold` seconds (the last window starts at least `hold` after `T`),
/// so a lucky window before the caches are warm is not taken for the peak. Above the parent's
/// rate is at peak too: paced clients cannot be served faster than they ask.
public struct BenchPeakCriterion: Sendable {
    public var peak: Double
    public var window: Double
    public var hold: Double
    public var fraction: Double = 0.9
    public var step: Double = 0.1

    public init(peak: Double, window: Double, hold: Double) {
        self.peak = peak
        self.window = window
        self.hold = hold
    }

    /// Responses a good window holds at least.
    var needed: Double { fraction * peak * window }

    /// The time to peak, in seconds like `served`; nil if the load, from `start` to `end`, never
    /// stayed at peak for `hold`. `served` holds the 200s' end times, sorted.
    public func timeToPeak(served: [Double], start: Double, end: Double) -> Double? {
        let windows = Int(((end - window - start) / step).rounded(.down))
        guard windows >= 0 else { return nil }
        // Scan from the last window back to the latest bad one; the peak starts a step after it.
        var good = windows + 1
        while good > 0, count(served, from: start + Double(good - 1) * step) >= needed { good -= 1 }
        let peakAt = start + Double(good) * step
        return Double(windows - good) * step >= hold ? peakAt : nil
    }

    /// 200s ending in `[from, from + window)`.
    private func count(_ served: [Double], from: Double) -> Double {
        Double(Self.index(served, atLeast: from + window) - Self.index(served, atLeast: from))
    }

    /// The first index whose value is at least `value` (binary search; `served` is sorted).
    static func index(_ sorted: [Double], atLeast value: Double) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Requests served in each whole second since 0 (the request for the instance) before `end`;
    /// a last partial second is left out, so the curve never ends in a false dip.
    public static func curve(served: [Double], end: Double) -> [Int] {
        let seconds = max(Int(end.rounded(.down)), 0)
        return (0..<seconds).map { second in
            index(served, atLeast: Double(second + 1)) - index(served, atLeast: Double(second))
        }
    }
}
