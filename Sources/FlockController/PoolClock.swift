import FlockCore
import Foundation

/// The clocks a pool controller runs on.
///
/// Cooldowns, stabilization and check windows are intervals measured inside one process. On the
/// wall clock an NTP step or an operator's `date -s` would start or skip them, so flockd's
/// controller runs on `steady()`: dates that start at the wall clock's time and then advance only
/// as real time passes (`ContinuousClock`, which counts a suspended host too). Its records drift
/// from the wall clock by whatever the wall clock was stepped by, until the next start.
public struct PoolClock: Sendable {
    /// The controller's time: decisions, cooldowns, windows and what it records in the store.
    public let now: @Sendable () -> Date
    /// The clock metrics sources stamp their samples with; a sample keeps the age it has on it.
    public let wall: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date, wall: @escaping @Sendable () -> Date) {
        self.now = now
        self.wall = wall
    }

    /// One clock for everything, as tests and simulations drive it.
    public static func single(_ now: @escaping @Sendable () -> Date) -> PoolClock {
        PoolClock(now: now, wall: now)
    }

    /// Monotonic time from the wall clock's present, over sources stamping with the wall clock.
    public static func steady() -> PoolClock {
        let start = Date()
        let origin = ContinuousClock.now
        return PoolClock(now: { start.addingTimeInterval((ContinuousClock.now - origin).seconds) }, wall: Date.init)
    }

    /// `sample` with its time moved onto `now`, keeping its age on the wall clock.
    func onControllerTime(_ samples: [MetricSample], at time: Date) -> [MetricSample] {
        let offset = time.timeIntervalSince(wall())
        guard offset != 0 else { return samples }
        return samples.map { sample in
            var moved = sample
            moved.time = sample.time.addingTimeInterval(offset)
            return moved
        }
    }
}
