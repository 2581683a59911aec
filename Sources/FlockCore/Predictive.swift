/// A policy's `predictive` block: forecast the demand behind one target-value check a season
/// back, and (in `scale` mode) keep capacity ahead of a predicted rise.
extension Policy {
    public struct Predictive: Sendable, Hashable {
        public enum Mode: String, CaseIterable, Sendable, Codable {
            /// Forecast and say what it would do, in the decision's reason; change nothing.
            case forecastOnly = "forecast_only"
            /// The forecast raises the floor of the recommendation; it never lowers it.
            case scale
        }

        /// The target-value check whose demand is forecast; the parser guarantees it exists.
        public var check: String
        /// The length of one cycle of the load (a day for most web traffic).
        public var season: Duration
        /// How far ahead to forecast; `nil` means "time to serve plus one evaluation" (see `lead(measured:interval:)`).
        public var lead: Duration?
        /// `forecast_only` by default, as AWS predictive scaling's `ForecastOnly`: a forecast that has
        /// never been seen against the pool's real load should be read in the decisions' reasons before
        /// it is allowed to add instances, and switching to `scale` is one deliberate edit.
        public var mode: Mode

        public init(
            check: String, season: Duration = Predictive.defaultSeason, lead: Duration? = nil,
            mode: Mode = .forecastOnly
        ) {
            self.check = check
            self.season = season
            self.lead = lead
            self.mode = mode
        }

        public static let defaultSeason: Duration = .seconds(24 * 3600)

        /// The lead in effect. Without one in the policy it is the time a new instance takes to serve
        /// plus one evaluation interval, so capacity asked for now serves before the forecast time.
        /// The controller passes its measured clone-to-serving p95 as `measured`; with no measurement
        /// yet the fallback is 2 × `interval` + 1 s: a clone serves in about a second, and a decision
        /// can come up to one interval late and wait up to one more for its samples.
        public func lead(measured: Duration?, interval: Duration) -> Duration {
            if let lead { return lead }
            if let measured { return measured + interval }
            return interval * 2 + .seconds(1)
        }
    }
}
