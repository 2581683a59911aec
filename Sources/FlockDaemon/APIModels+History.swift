import FlockCore
import FlockStore
import Foundation

/// The JSON shapes of the history endpoints the console's pool page draws from
/// (`/v1/pools/{pool}/samples`, `/decisions`, `/policy`); other tools can read them too.
extension APIModels {
    /// One stored reading: a number, or why there was none.
    struct SampleView: Encodable {
        var time: Date
        var metric: String
        var value: Double?
        var error: String?

        /// A non-finite number is reported as no number, as the engine treats it.
        init(_ sample: MetricSample) {
            time = sample.time
            metric = sample.metric.rawValue
            value = sample.value
            switch sample.reading {
            case .value: error = sample.value == nil ? "not a finite number" : nil
            case .error(let text): error = text
            }
        }
    }

    /// How many instances served at one sample time (derived from their transitions).
    struct ServingPoint: Encodable {
        var time: Date
        var count: Int
    }

    struct SampleList: Encodable {
        var pool: String
        var since: Date
        var samples: [SampleView]
        /// One point per distinct sample time.
        var serving: [ServingPoint]
        /// True when the window held more than `limit` samples and only the newest are listed.
        var truncated: Bool
    }

    /// Each decision in the shape of a pool's `last_decision`.
    struct DecisionList: Encodable {
        var pool: String
        var since: Date
        var decisions: [DecisionSummary]
        var truncated: Bool
    }

    /// One stored policy version; `source` only for the current and the previous one.
    struct PolicyVersionView: Encodable {
        var version: Int
        var checksum: String
        var appliedAt: Date
        var appliedBy: String
        var note: String?
        var source: String?

        enum CodingKeys: String, CodingKey {
            case version, checksum, note, source
            case appliedAt = "applied_at"
            case appliedBy = "applied_by"
        }

        init(_ v: PolicyVersion, withSource: Bool) {
            version = v.version
            checksum = v.checksum
            appliedAt = v.appliedAt
            appliedBy = v.appliedBy
            note = v.note
            source = withSource ? v.source : nil
        }
    }

    /// A check of the running policy, with the line the chart draws for it: the target of a
    /// target-value check, the bound of a threshold check.
    struct CheckView: Encodable {
        var name: String
        var metric: String
        var aggregate: String
        var window: String
        var target: Double?
        var above: Double?
        var below: Double?

        init(_ check: Check) {
            name = check.name
            metric = check.metric.rawValue
            aggregate = check.aggregate.rawValue
            window = check.window.flockText
            switch check.rule {
            case .targetValue(let rule): target = rule.target
            case .threshold(let rule):
                switch rule.bound {
                case .above(let limit): above = limit
                case .below(let limit): below = limit
                }
            }
        }
    }

    struct PolicyView: Encodable {
        var pool: String
        var runningVersion: Int?
        var checks: [CheckView]
        var current: PolicyVersionView?
        /// The newest version older than the current one, for the console's diff.
        var previous: PolicyVersionView?
        /// The newest `APIServer.policyVersionsListed`, newest first, without their text.
        var versions: [PolicyVersionView]

        enum CodingKeys: String, CodingKey {
            case pool, checks, current, previous, versions
            case runningVersion = "running_version"
        }
    }
}
