/// Durations as operators write them in policies and flags: `500ms`, `2s`, `1m`, `1h`.
///
/// One integer and one unit keeps the syntax unambiguous; compound forms such as `1m30s`
/// are rejected rather than guessed at, and `90s` says the same thing.
extension Duration {
    /// Parses `<digits><unit>` where the unit is `ms`, `s`, `m` or `h`, up to `flockTextLimit`.
    /// Returns `nil` for anything else, including signs, fractions and a missing unit.
    public init?(flockText text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let unitSeconds: Int64
        switch text.dropFirst(digits.count) {
        case "ms":
            guard value <= Self.flockTextLimitSeconds * 1000 else { return nil }
            self = .milliseconds(value)
            return
        case "s": unitSeconds = 1
        case "m": unitSeconds = 60
        case "h": unitSeconds = 3600
        default: return nil
        }
        guard value <= Self.flockTextLimitSeconds / unitSeconds else { return nil }
        self = .seconds(value * unitSeconds)
    }

    /// The longest duration a policy may write, about 31 years: longer than any sensible cooldown
    /// or window, and far enough from Int64's range that printing and arithmetic cannot overflow.
    public static let flockTextLimitSeconds: Int64 = 1_000_000_000

    /// The shortest exact form in the same syntax, so that a parsed value prints as it was written.
    public var flockText: String {
        let parts = components  // integer arithmetic: going through Double would lose milliseconds
        let ms = parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
        if ms % 3_600_000 == 0, ms != 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms != 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    /// The duration in (fractional) seconds, for arithmetic with `Date` and `TimeInterval`.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
