import FlockCore
import FlockDaemon
import FlockPolicy
import FlockQEMU
import Logging

/// `kind: qemu` in `flockd.yaml`: the QEMU driver, with its state root and timeouts.
///
/// Kept in the executable so that `FlockDaemon` does not depend on a driver; only the driver's
/// configuration is touched here.
struct QEMUHypervisorFactory: HypervisorFactory {
    let kind = "qemu"
    let settingKeys = [
        "state_root", "binary", "snapshot_max_age", "boot_timeout", "agent_timeout", "network_namespace",
        "warm_standbys",
    ]

    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        if let root = settings["state_root"], !root.hasPrefix("/") {
            problems.append(
                settings.diagnostic(
                    "state_root", "must be an absolute path; got '\(root)'", hint: "e.g. /run/flock/qemu (tmpfs)"))
        }
        if let binary = settings["binary"], binary.isEmpty {
            problems.append(settings.diagnostic("binary", "must name the QEMU binary"))
        }
        // A snapshot_max_age of 0s takes a fresh snapshot for every batch (the warmest caches).
        for key in ["snapshot_max_age", "boot_timeout", "agent_timeout"] {
            if case .failure(let list) = settings.duration(key, allowZero: key == "snapshot_max_age") {
                problems += list.diagnostics
            }
        }
        if case .failure(let list) = settings.bool("warm_standbys") { problems += list.diagnostics }
        return problems
    }

    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Hypervisor {
        var configuration = QEMUDriverConfiguration()
        if let root = settings["state_root"] { configuration.stateRoot = root }
        if let binary = settings["binary"] { configuration.qemu = binary }
        if case .success(let value?) = settings.duration("snapshot_max_age", allowZero: true) {
            configuration.snapshotMaxAge = value
        }
        if case .success(let value?) = settings.duration("boot_timeout") { configuration.bootTimeout = value }
        if case .success(let value?) = settings.duration("agent_timeout") { configuration.agentTimeout = value }
        configuration.networkNamespace = settings["network_namespace"]
        if case .success(let warm?) = settings.bool("warm_standbys") { configuration.warmStandbys = warm }
        configuration.logger = logger
        configuration.logger[metadataKey: "driver"] = "qemu"
        let driver = QEMUDriver(configuration: configuration)
        let running = try await driver.adopt()
        logger.info(
            "qemu driver ready", metadata: ["state_root": "\(configuration.stateRoot)", "vms": "\(running.count)"])
        return driver
    }
}
