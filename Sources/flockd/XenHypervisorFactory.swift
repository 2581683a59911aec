import FlockCore
import FlockDaemon
import FlockPolicy
import FlockXen
import Logging

/// `kind: xen` in `flockd.yaml`: the Xen driver (flockd runs in dom0), with its state root and
/// timeouts. Opening it on a host without Xen fails with the driver's "Xen is not running" error.
struct XenHypervisorFactory: HypervisorFactory {
    let kind = "xen"
    let settingKeys = ["state_root", "boot_timeout", "agent_timeout", "hold_bridge"]

    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        if let root = settings["state_root"], !root.hasPrefix("/") {
            problems.append(
                settings.diagnostic(
                    "state_root", "must be an absolute path; got '\(root)'",
                    hint: "e.g. /run/flock/xen (tmpfs: checkpoints hold a parent's whole memory)"))
        }
        for key in ["boot_timeout", "agent_timeout"] {
            if case .failure(let list) = settings.duration(key) { problems += list.diagnostics }
        }
        if let bridge = settings["hold_bridge"], !XenDriverConfiguration.isValidBridgeName(bridge) {
            problems.append(
                settings.diagnostic(
                    "hold_bridge", "must be a Linux interface name (1-15 of [A-Za-z0-9_-]); got '\(bridge)'",
                    hint: "a dom0 bridge with no address and no uplink, e.g. xenhold0"))
        }
        return problems
    }

    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Hypervisor {
        var configuration = XenDriverConfiguration(logger: logger)
        if let root = settings["state_root"] { configuration.stateRoot = root }
        if case .success(let value?) = settings.duration("boot_timeout") { configuration.bootTimeout = value }
        if case .success(let value?) = settings.duration("agent_timeout") { configuration.agentTimeout = value }
        configuration.holdBridge = settings["hold_bridge"]
        let driver = try XenDriver.connect(configuration: configuration)
        let running = try await driver.adopt()
        logger.info(
            "xen driver ready", metadata: ["state_root": "\(configuration.stateRoot)", "domains": "\(running.count)"])
        return driver
    }
}
