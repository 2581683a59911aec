import Foundation
import Synchronization
import UnixSignals

/// Runs the demo or a bench so that Ctrl-C and SIGTERM stop it cleanly: the one signal path of
/// `flockctl demo` and `flock-bench`. A signal cancels the work, and the clean-up then runs in a
/// task of its own (not cancelled), so the VMs, haproxy and flockd it started are always
/// stopped; the command decides the exit code from the outcome, so nothing exits inside a
/// signal handler. A second signal during the clean-up is ignored on purpose: leaving VMs
/// behind is worse than waiting a few more seconds.
public enum DemoSignals {
    public enum Outcome<Value> {
        case finished(Value)
        case interrupted(UnixSignal)
        case failed(any Error)
    }

    /// - Parameter interrupt: runs once, on the first signal, before the work is cancelled: for
    ///   work that waits on something cancellation does not reach (the clone bench kills its
    ///   VMs there, so the driver's waits end at once).
    public static func runCancellable<Value: Sendable>(
        _ work: @escaping @Sendable () async throws -> Value,
        interrupt: @escaping @Sendable () -> Void = {},
        cleanup: @escaping @Sendable () async -> Void
    ) async -> Outcome<Value> {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let task = Task { try await work() }
        let caught = Mutex<UnixSignal?>(nil)
        let watcher = Task {
            for await signal in signals {
                let first = caught.withLock { seen in
                    guard seen == nil else { return false }
                    seen = signal
                    return true
                }
                guard first else { continue }
                let program = URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent
                let name = signal == .sigint ? "Ctrl-C" : "SIGTERM"
                FileHandle.standardError.write(Data("\n\(program): \(name): stopping everything it started\n".utf8))
                interrupt()
                task.cancel()
            }
        }
        let outcome: Outcome<Value>
        do {
            outcome = .finished(try await task.value)
        } catch {
            outcome = caught.withLock { $0 }.map { .interrupted($0) } ?? .failed(error)
        }
        await Task { await cleanup() }.value
        watcher.cancel()
        return outcome
    }
}
