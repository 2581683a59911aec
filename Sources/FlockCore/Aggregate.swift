/// How a check folds the samples in its window into one number.
public enum Aggregate: String, CaseIterable, Sendable, Codable {
    case mean, max, min, last, p50, p90, p95, p99

    /// Folds `values` (in time order). Returns `nil` for an empty window: no data is not zero.
    ///
    /// Percentiles use the nearest-rank method, so the result is always a value that was observed.
    public func apply(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        switch self {
        case .mean:
            // Summing offsets from the first value keeps a steady series exactly steady
            // (0.1, 0.1, 0.1 has mean 0.1, not 0.10000000000000002) and loses less precision.
            let base = values[0]
            return base + values.reduce(0) { $0 + ($1 - base) } / Double(values.count)
        case .max: return values.max()
        case .min: return values.min()
        case .last: return values.last
        case .p50: return Self.percentile(50, of: values)
        case .p90: return Self.percentile(90, of: values)
        case .p95: return Self.percentile(95, of: values)
        case .p99: return Self.percentile(99, of: values)
        }
    }

    private static func percentile(_ p: Double, of values: [Double]) -> Double {
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(rank, 1) - 1]
    }
}
