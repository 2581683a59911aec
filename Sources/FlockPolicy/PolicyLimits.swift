/// The bounds on a policy's times, past which a value is a mistake rather than a choice.
///
/// An evaluation every millisecond loads the balancer, the metrics source and the store without
/// reacting any sooner than the metrics change; a window, cooldown or timeout of more than a day
/// holds a pool for longer than any load pattern lasts and makes the store keep a day of history
/// per decision. The daemon's history retention is at least `longestDuration` for the same reason.
public enum PolicyLimits {
    public static let shortestEvaluationInterval: Duration = .milliseconds(100)
    public static let longestDuration: Duration = .seconds(24 * 3600)
    /// A predictive season shorter than an hour has too few minutes to tell a cycle from noise; one
    /// longer than a week needs more history than a pool keeps and than load patterns repeat over.
    public static let shortestSeason: Duration = .seconds(3600)
    public static let longestSeason: Duration = .seconds(7 * 24 * 3600)
    /// Standbys refreshed more often than once a minute pause the parent for a snapshot nearly as
    /// often as a busy scale-out would, for caches that barely changed.
    public static let shortestStandbyAge: Duration = .seconds(60)
}

extension YAMLReader {
    /// A duration at most `PolicyLimits.longestDuration` (and at least `shortest`, when given;
    /// `why` says what a shorter one would cost).
    mutating func policyDuration(
        _ fields: Fields, _ key: String, shortest: Duration? = nil, why: String = ""
    ) -> Duration? {
        guard let value = duration(fields, key) else { return nil }
        let path = "\(fields.path).\(key)"
        if let shortest, value < shortest {
            error(
                at: fields[key]?.mark, "\(path) must be at least \(shortest.flockText); got \(value.flockText)",
                hint: "\(why)write \(shortest.flockText) or more")
            return nil
        }
        guard value <= PolicyLimits.longestDuration else {
            error(
                at: fields[key]?.mark,
                "\(path) must be at most \(PolicyLimits.longestDuration.flockText); got \(value.flockText)",
                hint: "write \(PolicyLimits.longestDuration.flockText) or less")
            return nil
        }
        return value
    }
}
