import FlockCore
import FlockTestSupport
import Foundation
import Synchronization

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

/// One warm parent VM for the whole test process: TCG boots are slow on 2 shared cores, so the
/// VM tests share it and clone from it rather than each booting their own.
///
/// Whatever the tests leave running is killed at process exit (`atexit`), and the state root
/// removed, so a failing test cannot leak QEMU processes into the next run.
actor SharedParent {
    static let shared = SharedParent()
    static let pool = "qt"
    static let name = "flock-qt-parent"

    private var started: (root: String, record: VMRecord)?
    private var failure: String?

    /// The state root and the running parent, started on first use.
    func get() async throws -> (root: String, record: VMRecord) {
        if let started { return started }
        if let failure { throw HTTP.Failure(description: "the shared parent failed to start earlier: \(failure)") }
        let root = try tmpfsScratch("vms")
        ExitCleanup.register(root)
        let driver = QEMUDriver(configuration: SharedParent.configuration(root))
        do {
            let record = try await driver.startParent(GuestImage.spec(name: Self.name, pool: Self.pool))
            started = (root, record)
            return (root, record)
        } catch {
            failure = "\(error)"
            throw error
        }
    }

    static func configuration(_ root: String, maxAge: Duration = .zero) -> QEMUDriverConfiguration {
        QEMUDriverConfiguration(
            stateRoot: root, snapshotMaxAge: maxAge, quitTimeout: .seconds(3),
            logger: LineLogHandler.logger(label: "test") { _ in })
    }
}

/// Files under a state root, relative, for "nothing left behind" checks.
func filesUnder(_ root: String) -> Set<String> {
    Set((FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? [])
}

/// Hits `/healthz` on a VM in a loop until stopped, counting successes and failures: proves the
/// parent keeps serving while it is being cloned.
final class HealthProbe: Sendable {
    private let counts = Mutex((ok: 0, failed: 0, lastFailure: ""))
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(port: Int) {
        let task = Task { [weak self] in
            for _ in 0..<10_000 {
                if Task.isCancelled { break }
                var failure: String?
                do {
                    let response = try await HTTP.get("127.0.0.1", port, "/healthz", timeout: .seconds(10))
                    if response.status != 200 { failure = "status \(response.status)" }
                } catch {
                    failure = "\(error)"
                }
                self?.counts.withLock { counts in
                    if let failure {
                        counts.failed += 1
                        counts.lastFailure = failure
                    } else {
                        counts.ok += 1
                    }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        self.task.withLock { $0 = task }
    }

    func stop() async -> (ok: Int, failed: Int, lastFailure: String) {
        let task = self.task.withLock { $0 }
        task?.cancel()
        await task?.value
        return counts.withLock { $0 }
    }
}
