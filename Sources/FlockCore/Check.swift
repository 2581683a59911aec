/// One rule of a policy: a metric, how to aggregate it, and how it votes.
public struct Check: Sendable, Hashable {
    /// Unique within the policy; decisions and reasons name checks by it.
    public var name: String
    public var metric: MetricName
    /// The samples considered: those newer than `now - window`.
    public var window: Duration
    public var aggregate: Aggregate
    public var rule: Rule

    public init(name: String, metric: MetricName, window: Duration, aggregate: Aggregate, rule: Rule) {
        self.name = name
        self.metric = metric
        self.window = window
        self.aggregate = aggregate
        self.rule = rule
    }

    public static let defaultWindow: Duration = .seconds(30)

    /// The target-value rule, for a check that has one: only those turn a demand into a count.
    public var targetValue: TargetValue? {
        if case .targetValue(let rule) = rule { return rule }
        return nil
    }

    public enum Rule: Sendable, Hashable {
        /// Keep the metric near `target` by resizing proportionally.
        case targetValue(TargetValue)
        /// Step by a fixed amount while the metric stays beyond a bound.
        case threshold(Threshold)
    }

    /// Target tracking: desired = ceil(serving × value / target), unless within tolerance.
    public struct TargetValue: Sendable, Hashable {
        public var target: Double
        /// Relative dead band: |value/target − 1| ≤ tolerance votes hold.
        public var tolerance: Double
        public init(target: Double, tolerance: Double = TargetValue.defaultTolerance) {
            self.target = target
            self.tolerance = tolerance
        }
        public static let defaultTolerance = 0.1
    }

    /// Step scaling: while the aggregate stays beyond `bound` for `sustain`, apply `action`.
    public struct Threshold: Sendable, Hashable {
        public var bound: Bound
        /// How long the bound must be crossed continuously; `nil` means the first evaluation suffices.
        public var sustain: Duration?
        public var action: Action
        public init(bound: Bound, sustain: Duration? = nil, action: Action) {
            self.bound = bound
            self.sustain = sustain
            self.action = action
        }

        public enum Bound: Sendable, Hashable {
            case above(Double)
            case below(Double)

            public func isCrossed(by value: Double) -> Bool {
                switch self {
                case .above(let limit): value > limit
                case .below(let limit): value < limit
                }
            }
        }

        public enum Action: Sendable, Hashable {
            case add(Int)
            /// Percent of the serving count, rounded up, at least one.
            case addPercent(Double)
            case remove(Int)
            /// Percent of the serving count, rounded up, at least one.
            case removePercent(Double)

            /// The count this action asks for, starting from `serving`.
            public func desired(from serving: Int) -> Int {
                func percent(_ p: Double) -> Int {
                    Swift.max(1, Int(Swift.min(Double(serving) * p / 100, Double(Policy.countLimit)).rounded(.up)))
                }
                switch self {
                case .add(let n): return serving + n
                case .addPercent(let p): return serving + percent(p)
                case .remove(let n): return serving - n
                case .removePercent(let p): return serving - percent(p)
                }
            }
        }
    }
}
