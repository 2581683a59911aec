import Dispatch
import FlockDemo
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the demo so that Ctrl-C and SIGTERM stop it cleanly: the signals cancel the work, and
/// the clean-up then runs in a task of its own (not cancelled), so the VMs, haproxy and flockd
/// it started are always stopped. A second signal during the clean-up is ignored on purpose:
/// leaving VMs behind is worse than waiting a few more seconds.
enum DemoSignals {
    enum Outcome<Value> {
        case finished(Value)
        case interrupted
        case failed(any Error)
    }

    static func runCancellable<Value: Sendable>(
        _ work: @escaping @Sendable () async throws -> Value,
        cleanup: @escaping @Sendable () async -> Void
    ) async -> Outcome<Value> {
        let task = Task { try await work() }
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                printError("\nflockctl: \(number == SIGINT ? "Ctrl-C" : "SIGTERM"): stopping everything it started")
                task.cancel()
            }
            source.resume()
            sources.append(source)
        }
        let outcome: Outcome<Value>
        do {
            outcome = .finished(try await task.value)
        } catch {
            outcome = task.isCancelled ? .interrupted : .failed(error)
        }
        await Task { await cleanup() }.value
        for source in sources { source.cancel() }
        return outcome
    }
}
