import Foundation

/// Sleeps even in a cancelled task (where `Task.sleep` returns at once), so that clean-up loops
/// that poll after a Ctrl-C still wait between polls instead of spinning.
func nap(_ duration: Duration) async {
    if Task.isCancelled {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        usleep(UInt32(clamping: micros))
    } else {
        try? await Task.sleep(for: duration)
    }
}

/// A demo failure with a message for the operator.
public struct DemoError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
