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
