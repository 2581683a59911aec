import FlockCore
import Foundation
import GRDB

extension FlockStore {
    /// How many of `pool`'s instances (its parent included) were serving at each of `times`
    /// (ascending), for the console's chart.
    ///
    /// Derived from what is already stored rather than stored per sample: each instance's
    /// recorded transitions say when it entered and left `serving`, and an instance never moved
    /// (an adopted parent) has served since it was recorded. Instances gone before the first time
    /// are not read at all, so the cost follows the window, not the pool's whole history.
    public func servingCounts(pool: String, at times: [Date]) throws -> [Int] {
        guard let first = times.first else { return [] }
        let spans: [(start: Double, end: Double)] = try read { db in
            let instances =
                try InstanceRecord
                .filter(
                    sql: "pool = ? AND (state != ? OR updatedAt >= ?)",
                    arguments: [pool, InstanceState.gone.rawValue, first.timeIntervalSince1970]
                )
                .fetchAll(db)
            let transitions = try TransitionRecord.fetchAll(
                db,
                sql: """
                    SELECT t.* FROM instanceTransition t JOIN instance i ON i.name = t.instance
                    WHERE i.pool = ? AND (i.state != ? OR i.updatedAt >= ?) ORDER BY t.id
                    """,
                arguments: [pool, InstanceState.gone.rawValue, first.timeIntervalSince1970])
            let steps = Dictionary(grouping: transitions, by: \.instance)
            return instances.flatMap { Self.servingSpans($0, steps: steps[$0.name] ?? []) }
        }
        // A sweep over the span edges: times and edges both ascending.
        let starts = spans.map(\.start).sorted(), ends = spans.map(\.end).sorted()
        var counts: [Int] = []
        var started = 0, ended = 0
        for time in times.map(\.timeIntervalSince1970) {
            while started < starts.count && starts[started] <= time { started += 1 }
            while ended < ends.count && ends[ended] <= time { ended += 1 }
            counts.append(started - ended)
        }
        return counts
    }

    /// When one instance was serving, as half-open spans of seconds since 1970.
    private static func servingSpans(
        _ instance: InstanceRecord, steps: [TransitionRecord]
    ) -> [(start: Double, end: Double)] {
        var state = steps.first?.fromState ?? instance.state
        var since = instance.createdAt.timeIntervalSince1970
        var spans: [(start: Double, end: Double)] = []
        for step in steps {
            let time = step.time.timeIntervalSince1970
            if state.isServing { spans.append((since, time)) }
            state = step.toState
            since = time
        }
        if state.isServing { spans.append((since, .infinity)) }
        return spans
    }
}
