import Foundation

/// Something an operator should be able to see afterwards: a decision, a failure, missing data.
public struct Event: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case decision
        case metricMissing = "metric_missing"
        case policyApplied = "policy_applied"
        case instance
        case failure
        /// The predictive forecast abstained (too little history); recorded once, not every tick.
        case forecast
    }

    public var time: Date
    public var pool: String?
    public var kind: Kind
    public var message: String

    public init(time: Date, pool: String?, kind: Kind, message: String) {
        self.time = time
        self.pool = pool
        self.kind = kind
        self.message = message
    }
}
