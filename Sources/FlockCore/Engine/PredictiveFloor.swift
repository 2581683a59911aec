import Foundation

/// What the predictive block said in one decision. Stored with the decision and shown by
/// `flockctl status` and `/v1/pools` under `last_decision.forecast`, in these JSON keys.
public struct ForecastNote: Sendable, Hashable, Codable {
    public var check: String
    /// The demand metric that was forecast: the check's backend total.
    public var metric: MetricName
    public var leadSeconds: Double
    /// The forecast demand, or `nil` when the forecast abstained.
    public var value: Double?
    /// The count the check would want at that demand, clamped to capacity.
    public var wants: Int?
    /// Why the forecast abstained.
    public var abstained: String?
    /// The first abstention after a forecast (or the first evaluation): worth one event, not one
    /// per tick. Only the engine's: not stored, so a note read back never announces again.
    public var announce = false
    /// One line for the decision's reason.
    public var detail: String

    public init(
        check: String, metric: MetricName, leadSeconds: Double, value: Double?, wants: Int?, abstained: String?,
        announce: Bool = false, detail: String
    ) {
        self.check = check
        self.metric = metric
        self.leadSeconds = leadSeconds
        self.value = value
        self.wants = wants
        self.abstained = abstained
        self.announce = announce
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case check, metric, value, wants, abstained, detail
        case leadSeconds = "lead_s"
    }
}

extension DecisionEngine {
    /// The predictive block's forecast and the count it implies: ceil(demand ÷ target), clamped to
    /// capacity. The caller lets it only raise the recommendation, and only in `scale` mode.
    static func forecastNote(
        _ predictive: Policy.Predictive, policy: Policy, samples: [MetricSample], demand: DemandHistory?,
        timeToServe: Duration?, previous: Decision?, now: Date
    ) -> ForecastNote? {
        // The parser guarantees the check exists and is a target-value check.
        guard let check = policy.checks.first(where: { $0.name == predictive.check }), let rule = check.targetValue
        else { return nil }
        let metric = check.metric.perServerBase ?? check.metric
        let lead = predictive.lead(measured: timeToServe, interval: policy.evaluationInterval)
        let history = demand ?? DemandHistory(samples: samples, check: check)
        var note = ForecastNote(
            check: check.name, metric: metric, leadSeconds: lead.seconds, value: nil, wants: nil, abstained: nil,
            announce: false, detail: "")
        switch DemandForecast.forecast(history, season: predictive.season, lead: lead, now: now) {
        case .abstains(let why):
            note.abstained = why
            note.announce = previous?.forecast.map { $0.abstained == nil } ?? true
            note.detail = "forecast of \(metric.rawValue) abstains: \(why)"
        case .value(let value):
            let wants = policy.capacity.clamp(instances(for: value / rule.target))
            note.value = value
            note.wants = wants
            let would = predictive.mode == .scale ? "wants" : "would want"
            note.detail =
                "forecast \(metric.rawValue) \(format(value)) in \(lead.flockText) → \(would) \(wants)"
                + (predictive.mode == .forecastOnly ? " (forecast_only)" : "")
        }
        return note
    }
}
