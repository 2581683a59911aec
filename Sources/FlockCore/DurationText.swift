/// Durations as operators write them in policies and flags: `500ms`, `2s`, `1m`, `1h`.
///
/// One integer and one unit keeps the syntax unambiguous; compound forms such as `1m30s`
/// are rejected rather than guessed at, and `90s` says the same thing.
extension Duration {
    /// Parses `<digits><unit>` where the unit is `ms`, `s`, `m` or `h`.
    /// Returns `nil` for anything else, including signs, fractions and a missing unit.
    public init?(flockText text: String) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "ms": self = .milliseconds(value)
        case "s": self = .seconds(value)
        case "m" where value <= Int64.max / 60: self = .seconds(value * 60)
        case "h" where value <= Int64.max / 3600: self = .seconds(value * 3600)
        default: return nil
        }
    }

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
