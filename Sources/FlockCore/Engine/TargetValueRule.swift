import Foundation

extension DecisionEngine {
    /// Target value: desired = ceil(serving × value / target), or *hold* within the tolerance.
    static func targetValueVote(_ rule: Check.TargetValue, reading: CheckReading) -> CheckVote {
        let value = reading.value
        let serving = reading.counts.serving
        let band = "target \(format(rule.target)) ±\(format(rule.tolerance * 100))%"
        // Compared as |value − target| ≤ tolerance × target, with a relative epsilon, so that a
        // value exactly on the bound (110 for 100 ± 10%) holds despite binary rounding.
        if abs(value - rule.target) <= rule.tolerance * rule.target * (1 + 1e-9) {
            return reading.vote(.hold, desired: serving, detail: "\(reading.observed) within \(band)")
        }
        let desired = instances(for: Double(max(serving, 1)) * value / rule.target)
        return reading.proposal(desired, because: "vs \(band)")
    }

    /// An exact instance count, rounded up: 28.000000000000004 is 28, and an absurd reading must not
    /// overflow Int, so it is bounded first.
    static func instances(for exact: Double) -> Int {
        Int(min(exact * (1 - 1e-12), Double(Policy.countLimit)).rounded(.up))
    }
}
