import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation

@testable import FlockQEMU

/// One warm Debian parent for the whole suite: a TCG boot of systemd costs tens of seconds, so
/// every test clones this one. Warmed once: each of `warmKeys` fetched through nginx, a miss
/// that reaches the origin, then a hit.
///
/// Whatever the tests leave running is killed at process exit and the state root removed.
actor DebianParent {
    static let shared = DebianParent()
    static let pool = "dg"
    static let name = "flock-dg-parent"
    static let warmKeys = ["w1", "w2", "w3"]

    struct Started {
        var root: String
        var record: VMRecord
        /// The image's SHA-256 before the parent booted from it: VMs must never write it.
        var imageSHA: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private var started: Started?
    private var failure: String?

    func get() async throws -> Started {
        if let started { return started }
        if let failure { throw Failure(description: "the Debian parent failed to start earlier: \(failure)") }
        do {
            let started = try await start()
            self.started = started
            return started
        } catch {
            failure = "\(error)"
            throw error
        }
    }

    private func start() async throws -> Started {
        if let missing = DebianImage.missing { throw Failure(description: missing) }
        let imageSHA = try await HostFacts.sha256(DebianImage.disk)
        let root = try tmpfsScratch("deb")
        ExitCleanup.register(root)
        let driver = QEMUDriver(configuration: Self.configuration(root))
        let clock = ContinuousClock()
        let asked = clock.now
        let record = try await driver.startParent(DebianImage.spec(name: Self.name, pool: Self.pool))
        guard let port = record.port else { throw Failure(description: "the parent has no forwarded port") }
        guard try await HTTP.get(port, "/healthz").status == 200 else {
            throw Failure(description: "the parent's /healthz is not 200 after boot")
        }
        print("debian-guest: boot-to-serving \(Self.seconds(clock.now - asked)) s (startParent to /healthz 200, TCG)")
        for key in Self.warmKeys {
            let first = try await HTTP.cacheStatus(port, "/item/\(key)")
            let second = try await HTTP.cacheStatus(port, "/item/\(key)")
            guard first == "MISS", second == "HIT" else {
                throw Failure(
                    description: "warming /item/\(key): nginx said \(first ?? "nothing") then \(second ?? "nothing")")
            }
        }
        return Started(root: root, record: record, imageSHA: imageSHA)
    }

    /// A boot timeout well above the ~40 s a loaded two-core machine needs under TCG; the driver's
    /// log lines go to `log`.
    static func configuration(
        _ root: String, log: @escaping @Sendable (String) -> Void = { _ in }
    ) -> QEMUDriverConfiguration {
        QEMUDriverConfiguration(
            stateRoot: root, snapshotMaxAge: .zero, quitTimeout: .seconds(3), bootTimeout: .seconds(300),
            logger: LineLogHandler.logger(label: "test", log))
    }

    static func seconds(_ duration: Duration) -> String {
        let (s, attos) = duration.components
        return String(format: "%.1f", Double(s) + Double(attos) / 1e18)
    }
}
