import FlockCore
import Foundation
import Synchronization

/// What the run reports while it goes, for the terminal.
public enum DemoUpdate: Sendable {
    /// A phase of the load began (`calm`, `step`, `tail`).
    case phase(String, connections: Int)
    /// flockd recorded an event (a decision with its reason, a clone serving, a failure).
    case event(FlockdEvent)
    /// One second's sample.
    case sample(DemoSample)
}

/// Drives the load step through HAProxy's frontend while sampling once a second, then builds
/// the summary. The base load runs for the whole plan, the surge for the step only.
public enum LoadStepRun {
    public struct Result: Sendable {
        public var summary: DemoSummary
        public var samples: [DemoSample]
        public var wrk: WrkReport
        public var cloneRequests: [String: Int]
    }

    private enum Piece: Sendable {
        case base(WrkReport)
        case surge(WrkReport)
        case sampling
    }

    public static func run(
        stack: DemoStack, plan: LoadPlan, directory: String,
        progress: @escaping @Sendable (DemoUpdate) -> Void
    ) async throws -> Result {
        let startDate = Date()
        let started = ContinuousClock.now
        let sampler = await StatsSampler(stack: stack, started: started)
        let done = DoneFlag()
        let url = stack.frontendURL + "/"
        var base = WrkReport()
        var surge = WrkReport()
        progress(.phase("calm", connections: plan.baseConnections))
        try await withThrowingTaskGroup(of: Piece.self) { group in
            group.addTask {
                defer { done.set() }
                return .base(
                    try await Wrk.run(
                        url: url, connections: plan.baseConnections, seconds: plan.total, script: plan.script,
                        directory: directory, label: "wrk-base"))
            }
            group.addTask {
                try await Task.sleep(until: started + .seconds(plan.calm), clock: .continuous)
                progress(.phase("step", connections: plan.baseConnections + plan.surgeConnections))
                let report = try await Wrk.run(
                    url: url, connections: plan.surgeConnections, seconds: plan.step, script: plan.script,
                    directory: directory, label: "wrk-surge")
                progress(.phase("tail", connections: plan.baseConnections))
                return .surge(report)
            }
            group.addTask {
                var next = started + .seconds(1)
                while !done.isSet {
                    try await Task.sleep(until: next, clock: .continuous)
                    next += .seconds(1)
                    let (sample, events) = await sampler.sample()
                    for event in events { progress(.event(event)) }
                    progress(.sample(sample))
                }
                return .sampling
            }
            for try await piece in group {
                switch piece {
                case .base(let report): base = report
                case .surge(let report): surge = report
                case .sampling: break
                }
            }
        }
        let wrk = base + surge
        let stepEntries = stack.requestLog.entries(
            from: started + .seconds(plan.calm), to: started + .seconds(plan.calm + plan.step))
        let store = try stack.store()
        let policy = stack.flockd.settings.policy
        let summary = try DemoSummary.make(
            store: store, pool: policy.pool, since: startDate, plan: plan, wrk: wrk,
            failedInStep: stepEntries.filter { $0.status >= 500 }.count,
            requestsByClones: sampler.requestsByClones, samples: sampler.samples, policy: policy,
            duration: (ContinuousClock.now - started).seconds)
        return Result(summary: summary, samples: sampler.samples, wrk: wrk, cloneRequests: sampler.cloneRequests)
    }
}

/// A one-way flag shared by the run's tasks: set when the base load has finished.
final class DoneFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
