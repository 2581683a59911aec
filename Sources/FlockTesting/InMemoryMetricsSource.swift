import FlockCore
import Foundation
import Synchronization

/// A `MetricsSource` that returns whatever a test set, for unit tests of the controller logic.
public final class InMemoryMetricsSource: MetricsSource {
    private let state = Mutex<[String: [MetricName: MetricSample.Reading]]>([:])
    private let clock: @Sendable () -> Date

    /// - Parameter clock: stamps each read; tests pass a fixed or stepped time.
    public init(clock: @escaping @Sendable () -> Date) {
        self.clock = clock
    }

    /// Sets what the next reads of `metric` on `backend` return.
    public func set(_ metric: MetricName, _ reading: MetricSample.Reading, backend: String) {
        state.withLock { $0[backend, default: [:]][metric] = reading }
    }

    public func read(backend: String, metrics: Set<MetricName>) async -> [MetricSample] {
        let now = clock()
        let readings = state.withLock { $0[backend] ?? [:] }
        return metrics.sorted { $0.rawValue < $1.rawValue }.map { metric in
            MetricSample(
                metric: metric, time: now,
                reading: readings[metric] ?? .error("backend \(backend) has no \(metric.rawValue)"))
        }
    }
}
