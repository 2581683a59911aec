import FlockCore
import FlockStore
import FlockSystem
import Foundation

extension PoolController {
    /// Runs one side effect between a journaled intent and its journaled result.
    ///
    /// The intent is written before anything happens, so a crash at any point leaves an open
    /// intent that `recover()` can see. `before` runs after the intent, for the state changes
    /// that belong to it; `result` describes the returned value, and may call it a failure (a
    /// drain that timed out) even though the call returned.
    @discardableResult
    func journaled<T: Sendable>(
        _ action: String, instance: String?, detail: String,
        before: () throws -> Void = {},
        result: (T) -> (succeeded: Bool, detail: String) = { _ in (true, "done") },
        _ body: () async throws -> T
    ) async throws -> T {
        let intent = try store.journalIntent(pool: pool, instance: instance, action: action, detail: detail, at: now())
        FaultPoint.reach("\(action):intent")
        do {
            try before()
            let value = try await body()
            let outcome = result(value)
            try store.journalResult(
                intentId: intent, phase: outcome.succeeded ? .done : .failed, detail: outcome.detail, at: now())
            FaultPoint.reach("\(action):done")
            return value
        } catch {
            _ = try? store.journalResult(intentId: intent, phase: .failed, detail: "\(error)", at: now())
            ControllerMetrics.error(kind: action, pool: pool)
            throw error
        }
    }
}
