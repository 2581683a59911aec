import FlockCLI
import FlockCore
import FlockXen
import Foundation
import Logging

/// `flockctl vm … --hypervisor xen`: the same subcommands and output over the Xen driver.
/// Every driver error (Xen not running here, a refused destroy) is printed as `error: …`, exit 1.
enum XenVMCommands {
    static func start(specPath: String, options: VMOptions) async throws {
        let spec = try XenSpecFile.load(specPath)
        let driver = try connect(options)
        let started = ContinuousClock.now
        options.progress("starting domain \(spec.name) (\(spec.memoryMiB) MiB, \(spec.vcpus) vCPU) on \(spec.bridge)")
        let report = try await failing { () async throws(XenError) in try await driver.startParent(spec) }
        options.progress("\(spec.name) serves after \(VMOutput.seconds(ContinuousClock.now - started))")
        options.show([VMRow(report)])
    }

    static func clone(
        parent: String, count: Int, mode: CloneMode, holdBridge: String?, options: VMOptions
    ) async throws {
        let driver = try connect(options, holdBridge: holdBridge)
        let record = try await failing { () async throws(XenError) in try await driver.report(named: parent) }
        guard let record, record.record.role == .parent else {
            throw CLIFailure("error: no parent domain named \(parent) (hint: flockctl vm list --hypervisor xen)")
        }
        let names = VMClone.cloneNames(pool: record.record.pool, count: count)
        let started = ContinuousClock.now
        options.progress("forking \(count) \(mode.rawValue) clone(s) of \(parent)")
        let batch = try await failing { () async throws(XenError) in
            try await driver.cloneBatch(
                CloneRequest(pool: record.record.pool, parent: parent, mode: mode, names: names))
        }
        options.progress(
            "\(batch.started.count) clone(s) ready after \(VMOutput.seconds(ContinuousClock.now - started))")
        let startedNames = Set(batch.started.map(\.name))
        let reports = try await failing { () async throws(XenError) in try await driver.list() }
        try VMClone.report(
            reports.filter { startedNames.contains($0.record.name) }.map(VMRow.init), failed: batch.failed,
            options: options)
    }

    static func list(options: VMOptions) async throws {
        let driver = try connect(options)
        options.show(try await failing { () async throws(XenError) in try await driver.list() }.map(VMRow.init))
    }

    static func destroy(name: String, parent: Bool, options: VMOptions) async throws {
        let driver = try connect(options)
        let report = try await failing { () async throws(XenError) in try await driver.report(named: name) }
        guard let report else {
            throw CLIFailure("error: no Flock domain named \(name) (hint: flockctl vm list --hypervisor xen)")
        }
        if report.record.role == .parent {
            guard parent else {
                throw CLIFailure(
                    "error: \(name) is a parent domain; pass --parent to stop it (its clones keep running)")
            }
            try await failing { () async throws(XenError) in try await driver.stopParent(name: name) }
        } else {
            try await failing { () async throws(XenError) in try await driver.destroyClone(name) }
        }
        VMDestroy.printDestroyed(name, options: options)
    }

    static func resume(parent: String, options: VMOptions) async throws {
        let driver = try connect(options)
        let report = try await failing { () async throws(XenError) in try await driver.report(named: parent) }
        guard let report else {
            throw CLIFailure("error: no Flock domain named \(parent) (hint: flockctl vm list --hypervisor xen)")
        }
        guard report.record.role == .parent else {
            throw CLIFailure(
                "error: \(parent) is a clone; vm resume resumes parent domains (hint: flockctl vm list --hypervisor xen)"
            )
        }
        try await VMResume.resume(
            parent, on: driver, options: options,
            gone:
                "error: parent \(parent) has shut down (not for a suspend), so it cannot be resumed; destroy it (flockctl vm destroy \(parent) --parent --hypervisor xen) and start it again"
        )
    }

    /// The driver, or `error: Xen is not running on this host: …` when this is no Xen dom0.
    private static func connect(_ options: VMOptions, holdBridge: String? = nil) throws -> XenDriver {
        var logger = Logger(label: "flockctl.xen")
        logger.logLevel = .warning
        do {
            return try XenDriver.connect(
                configuration: XenDriverConfiguration(
                    stateRoot: options.stateRoot, holdBridge: holdBridge, logger: logger))
        } catch {
            throw CLIFailure("error: \(error)")
        }
    }

    /// Runs a driver call, turning its `XenError` into `error: …` for the user.
    private static func failing<T>(_ body: () async throws(XenError) -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw CLIFailure("error: \(error)")
        }
    }
}
