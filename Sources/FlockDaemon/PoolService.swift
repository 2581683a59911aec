import FlockController
import FlockCore
import Foundation
import Logging
import ServiceLifecycle

/// Runs one pool's reconcile loop as a service: recover, then tick every evaluation interval,
/// and on graceful shutdown stop starting work and let in-flight work finish.
///
/// Recovery is retried each interval until it succeeds, because ticking before the store, the
/// hypervisor and the balancer agree could act on state that is not there. On graceful
/// shutdown the sleep between ticks is cut short, no further tick starts, and `settle()` waits
/// for clones, registrations and drains in flight, so they end journaled as done or failed
/// rather than as open intents. A tick never throws (the controller turns failures into events
/// and holds), so the service ends only by shutdown.
public struct PoolService: Service {
    public let runtime: PoolRuntime
    let logger: Logger
    let now: @Sendable () -> Date

    public init(runtime: PoolRuntime, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.runtime = runtime
        var logger = logger
        logger[metadataKey: "pool"] = "\(runtime.name)"
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        let started = now()
        guard await recover() else { return }
        logger.info("pool running", metadata: ["policy_version": "\(runtime.policy.version.map(String.init) ?? "-")"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let clock = ContinuousClock()
            let begin = clock.now
            let decision = await runtime.controller.tick()
            let took = clock.now - begin
            record(decision, took: took, started: started)
            await pause(until: begin + runtime.policy.policy.evaluationInterval)
        }
        logger.info("stopping: finishing the clones, registrations and drains in flight")
        await runtime.controller.settle()
        logger.info("pool stopped")
    }

    /// Retries `recover()` each evaluation interval until it works or the daemon shuts down.
    /// - Returns: false when shutdown came first.
    private func recover() async -> Bool {
        var attempt = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            attempt += 1
            let begin = ContinuousClock.now
            do {
                let report = try await runtime.controller.recover()
                runtime.state.withLock { $0.recovered = true }
                logger.info(
                    "recovered",
                    metadata: [
                        "orphan_vms": "\(report.orphanVMs.count)", "stale_servers": "\(report.staleServers.count)",
                        "reregistered": "\(report.reregistered.count)", "lost_vms": "\(report.lostVMs.count)",
                        "interrupted_intents": "\(report.interruptedIntents)",
                    ])
                return true
            } catch {
                logger.error("recovery failed; retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                if attempt == 1 || attempt % 10 == 0 {
                    _ = try? runtime.store.record(
                        Event(
                            time: now(), pool: runtime.name, kind: .failure,
                            message: "start-up reconciliation failed (attempt \(attempt)): \(error); retrying"))
                }
                await pause(until: begin + runtime.policy.policy.evaluationInterval)
            }
        }
        return false
    }

    private func record(_ decision: Decision, took: Duration, started: Date) {
        let time = now()
        runtime.state.withLock {
            $0.lastTick = time
            $0.lastDecision = decision
        }
        DaemonMetrics.tick(took, pool: runtime.name)
        let metrics = Set(runtime.policy.policy.checks.map(\.metric))
        DaemonMetrics.staleness(runtime.metrics.ages(of: metrics, now: time, since: started), pool: runtime.name)
        let paused = (try? runtime.store.pool(named: runtime.name))??.paused ?? false
        DaemonMetrics.paused(paused, pool: runtime.name)
        // A paused pool decides every tick without acting; saying so each time would drown the log.
        if decision.isAction && !paused {
            logger.info("\(decision.reason)", metadata: ["action": "\(decision.action.rawValue)"])
        } else {
            logger.debug("\(decision.reason)", metadata: ["action": "hold"])
        }
    }

    /// Sleeps until `deadline`, cut short by graceful shutdown or cancellation.
    private func pause(until deadline: ContinuousClock.Instant) async {
        guard deadline > .now else { return }
        try? await cancelWhenGracefulShutdown {
            try await Task.sleep(until: deadline, clock: .continuous)
        }
    }
}
