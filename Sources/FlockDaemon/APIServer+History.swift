import FlockCore
import FlockStore
import Foundation
import Hummingbird

/// The history the console's pool page draws: samples with the serving count at each, decisions,
/// and the policy's text. Every answer is bounded twice, by a window (`since`, at most
/// `maxWindow`) and by a row `limit` with a maximum, so no client can make flockd read or send a
/// day of samples at once by accident.
extension APIServer {
    /// The longest window a history query may ask for: the store keeps a day of samples.
    static let maxWindow: Duration = .seconds(24 * 3600)
    static let defaultWindow: Duration = .seconds(3600)
    /// A 1 h window of a pool ticking every 500 ms with two metrics is 14 400 samples.
    static let sampleLimits = (default: 20_000, max: 50_000)
    /// A pool records a hold every tick: 1 h at 2 s is 1800 decisions.
    static let decisionLimits = (default: 2_000, max: 10_000)
    static let policyVersionsListed = 50

    func samples(_ request: Request, pool: String) throws -> Response {
        let query = request.uri.queryParameters
        let since = try Self.window(query["since"].map(String.init))
        let limit = try Self.limit(query["limit"].map(String.init), limits: Self.sampleLimits)
        // One more than asked shows whether the window held more.
        var samples = try storeCall { try store.samples(pool: pool, since: since, limit: limit + 1) }
        let truncated = samples.count > limit
        if truncated { samples.removeFirst() }
        var times: [Date] = []
        for sample in samples where times.last != sample.time { times.append(sample.time) }
        let counts = try storeCall { try store.servingCounts(pool: pool, at: times) }
        return try json(
            APIModels.SampleList(
                pool: pool, since: since, samples: samples.map(APIModels.SampleView.init),
                serving: zip(times, counts).map { APIModels.ServingPoint(time: $0, count: $1) }, truncated: truncated))
    }

    func decisions(_ request: Request, pool: String) throws -> Response {
        let query = request.uri.queryParameters
        let since = try Self.window(query["since"].map(String.init))
        let limit = try Self.limit(query["limit"].map(String.init), limits: Self.decisionLimits)
        let actions = try query["action"].map { try Self.actions(String($0)) }
        var decisions = try storeCall {
            try store.decisions(pool: pool, since: since, actions: actions, limit: limit + 1)
        }
        let truncated = decisions.count > limit
        if truncated { decisions.removeFirst() }
        return try json(
            APIModels.DecisionList(
                pool: pool, since: since, decisions: decisions.map(DecisionSummary.init), truncated: truncated))
    }

    func policy(pool: String) throws -> Response {
        guard let runtime = pools[pool] else { throw Self.unknownPool(pool, known: poolOrder) }
        let (running, version) = runtime.policy
        let history = try storeCall { try store.policyHistory(pool: pool) }
        let current = try storeCall { try store.currentPolicy(pool: pool) }
        let previous = current.flatMap { current in history.last { $0.version < current.version } }
        return try json(
            APIModels.PolicyView(
                pool: pool, runningVersion: version, checks: running.checks.map(APIModels.CheckView.init),
                current: current.map { .init($0, withSource: true) },
                previous: previous.map { .init($0, withSource: true) },
                versions: history.suffix(Self.policyVersionsListed).reversed().map { .init($0, withSource: false) }))
    }

    // MARK: query values

    /// `since` as a duration back from now (`15m`, `1h`), from 1 s to `maxWindow`; 1 h when absent.
    static func window(_ text: String?) throws -> Date {
        let now = Date()
        guard let text else { return now.addingTimeInterval(-defaultWindow.seconds) }
        guard let window = Duration(flockText: text), window >= .seconds(1), window <= maxWindow else {
            throw APIError.badRequest(
                "since must be a duration back from now from 1s to \(maxWindow.flockText), such as 15m or 1h; got '\(text)'"
            )
        }
        return now.addingTimeInterval(-window.seconds)
    }

    /// `limit` as a whole number from 1 to `limits.max`; `limits.default` when absent.
    static func limit(_ text: String?, limits: (default: Int, max: Int)) throws -> Int {
        guard let text else { return limits.default }
        guard let value = Int(text), (1...limits.max).contains(value) else {
            throw APIError.badRequest("limit must be a whole number from 1 to \(limits.max); got '\(text)'")
        }
        return value
    }

    /// `action` as one or more of `scale_out`, `scale_in`, `hold`, comma-separated.
    static func actions(_ text: String) throws -> Set<Decision.Action> {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let parsed = names.compactMap(Decision.Action.init(rawValue:))
        guard !names.isEmpty, parsed.count == names.count else {
            let known = Decision.Action.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.badRequest("action must be one or more of \(known), comma-separated; got '\(text)'")
        }
        return Set(parsed)
    }
}
