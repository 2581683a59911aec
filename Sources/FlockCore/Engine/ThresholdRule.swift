import Foundation

extension DecisionEngine {
    /// Threshold: once the bound has been crossed continuously for `for`, desired = serving ± step;
    /// a bound that is not crossed *abstains*. How long it has been crossed is read from the
    /// previous decision's vote of the same check.
    static func thresholdVote(
        _ rule: Check.Threshold, reading: CheckReading, previous: Decision?, now: Date
    ) -> CheckVote {
        let observed = reading.observed
        let boundText: String
        switch rule.bound {
        case .above(let limit): boundText = "above \(format(limit))"
        case .below(let limit): boundText = "below \(format(limit))"
        }
        guard rule.bound.isCrossed(by: reading.value) else {
            return reading.vote(.abstain, desired: nil, detail: "\(observed) not \(boundText)")
        }
        let since = previous?.votes.first { $0.check == reading.check.name }?.breachSince ?? now
        let lasted = now.timeIntervalSince(since)
        if let sustain = rule.sustain, lasted < sustain.seconds {
            let adds: Bool
            switch rule.action {
            case .add, .addPercent: adds = true
            case .remove, .removePercent: adds = false
            }
            // A pending scale-out still says "capacity is short": it vetoes scale-in meanwhile.
            return reading.vote(
                adds ? .hold : .abstain, desired: nil, breachSince: since,
                detail: "\(observed) \(boundText) for \(format(lasted))s of \(sustain.flockText)")
        }
        let desired = max(rule.action.desired(from: reading.counts.serving), 0)
        let lastedText = rule.sustain.map { "for \(format(lasted))s (≥ \($0.flockText))" } ?? "now"
        return reading.proposal(desired, because: "\(boundText) \(lastedText)", breachSince: since)
    }
}
