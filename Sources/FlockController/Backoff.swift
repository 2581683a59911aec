import Foundation

/// Consecutive failures of one kind of attempt, and when the next may be made: the wait doubles
/// with each failure, from `Settings.initialBackoff` up to `maximumBackoff`, so that a broken
/// parent or driver does not make the pool spin.
struct Backoff {
    private(set) var failures = 0
    private(set) var retryAfter: Date?

    /// Records an attempt's outcome; returns the wait it starts, nil after a success.
    @discardableResult
    mutating func note(failed: Bool, at time: Date, _ settings: PoolController.Settings) -> Duration? {
        guard failed else {
            failures = 0
            retryAfter = nil
            return nil
        }
        failures += 1
        let wait = min(settings.initialBackoff * (1 << min(failures - 1, 20)), settings.maximumBackoff)
        retryAfter = time.addingTimeInterval(wait.seconds)
        return wait
    }

    /// True while the wait after the last failure runs.
    func holds(at time: Date) -> Bool { retryAfter.map { time < $0 } ?? false }
}
