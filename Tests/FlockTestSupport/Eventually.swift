/// Polls `condition` every `interval` until it holds or `timeout` passes, then asks once more.
/// The bound only keeps a broken build from hanging; no assertion depends on how fast anything
/// is. An error from `condition` ends the wait and is thrown.
public func eventually(
    timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// `eventually` for conditions that throw while the system under test restarts (a crashed
/// flockd, a balancer that is down): an error counts as "not yet", not as the end of the wait.
public func eventuallyRetryingErrors(
    timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async -> Bool {
    await eventually(timeout: timeout, every: interval) { (try? await condition()) == true }
}
