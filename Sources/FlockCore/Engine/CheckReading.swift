import Foundation

/// A check's aggregated window once the data guard has let it through: the value its rule judges.
struct CheckReading {
    var check: Check
    var counts: CapacityCounts
    var value: Double
    /// "name: metric aggregate value", the start of every detail a rule writes.
    var observed: String

    /// A vote on this reading that asks for no count, or for one its rule has already judged.
    func vote(_ kind: CheckVote.Kind, desired: Int?, breachSince: Date? = nil, detail: String) -> CheckVote {
        CheckVote(
            check: check.name, metric: check.metric, value: value, kind: kind, desired: desired,
            breachSince: breachSince, detail: detail)
    }

    /// A rule's desired count, compared with capacity (serving plus warming): more is a scale-out,
    /// fewer a scale-in, the same a hold.
    func proposal(_ desired: Int, because rule: String, breachSince: Date? = nil) -> CheckVote {
        let kind: CheckVote.Kind
        let wants: String
        if desired > counts.total {
            kind = .scaleOut
            wants = "wants \(desired)"
        } else if desired < counts.total {
            kind = .scaleIn
            wants = "wants \(desired)"
        } else {
            kind = .hold
            wants = "wants \(desired), already asked for"
        }
        return vote(kind, desired: desired, breachSince: breachSince, detail: "\(observed) \(rule), \(wants)")
    }
}
