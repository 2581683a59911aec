import Foundation

/// The recent decisions of one pool, trimmed to what the engine can still use.
///
/// Cooldowns and stabilization never look further back than their own durations, and a threshold
/// streak only continues from the previous evaluation, so older decisions can be dropped. The
/// daemon and `flockctl simulate` keep one of these per pool instead of re-reading the store.
public struct DecisionHistory: Sendable {
    public private(set) var decisions: [Decision]

    public init(_ decisions: [Decision] = []) {
        self.decisions = decisions.sorted { $0.time < $1.time }
    }

    /// Appends `decision` and forgets what `policy` can no longer use.
    public mutating func record(_ decision: Decision, policy: Policy) {
        decisions.append(decision)
        let cutoff = decision.time.addingTimeInterval(-Self.horizon(policy).seconds)
        if let keep = decisions.firstIndex(where: { $0.time >= cutoff }), keep > 0 {
            decisions.removeFirst(keep)
        }
    }

    /// How far back `policy` can still use decisions: its longest cooldown or stabilization window.
    public static func horizon(_ policy: Policy) -> Duration {
        [policy.scaleIn.stabilization, policy.scaleIn.cooldown, policy.scaleOut.cooldown, policy.staleAfter].max()!
    }
}
