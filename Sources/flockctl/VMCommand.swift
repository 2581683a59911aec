import ArgumentParser
import FlockCLI
import FlockCore
import FlockQEMU
import FlockXen
import Foundation

/// `flockctl vm …`: start parent VMs, clone them, list and destroy VMs by hand, through the
/// same driver the daemon uses: QEMU (all its state is on disk) or Xen (all its state is in Xen
/// and xenstore), so both see the same VMs.
struct VMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Start, clone, list, resume and destroy QEMU VMs or Xen domains.",
        subcommands: [VMStart.self, VMClone.self, VMList.self, VMResume.self, VMDestroy.self]
    )
}

/// Which driver a `vm` subcommand uses.
enum HypervisorKind: String, ExpressibleByArgument, CaseIterable {
    case qemu, xen
}

/// Options every `vm` subcommand shares.
struct VMOptions: ParsableArguments {
    @Option(name: .long, help: "The driver: qemu, or xen (in a Xen dom0, as root).")
    var hypervisor: HypervisorKind = .qemu

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The driver's state directory (tmpfs). Default: $FLOCK_QEMU_STATE, else /run/flock/qemu for root; for xen $FLOCK_XEN_STATE, else /run/flock/xen.",
            valueName: "dir"))
    var state: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    var stateRoot: String {
        state
            ?? (hypervisor == .xen ? XenDriverConfiguration.defaultStateRoot : QEMUDriverConfiguration.defaultStateRoot)
    }

    /// Prints VMs as a table or JSON.
    func show(_ rows: [VMRow], failed: [String: String] = [:]) {
        print(json ? VMOutput.json(rows, failed: failed) : VMOutput.table(rows), terminator: "")
    }

    func driver(snapshotMaxAge: Duration = .seconds(15), lazyFreeze: LazyFreeze = .copyWhilePaused) -> QEMUDriver {
        QEMUDriver(
            configuration: QEMUDriverConfiguration(
                stateRoot: stateRoot, snapshotMaxAge: snapshotMaxAge, lazyFreeze: lazyFreeze,
                logger: LineLogHandler.logger(label: "flockctl.qemu") { printError("flockctl: \($0)") }))
    }

    /// A progress line on a terminal; silent when stderr is redirected (scripts, tests).
    func progress(_ line: String) {
        if isatty(2) == 1 { printError("… \(line)") }
    }
}

struct VMStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start a parent VM from a YAML spec and wait until its app serves.")

    @Argument(help: ArgumentHelp("The VM spec, e.g. Deploy/guest/parent.yaml.", valueName: "spec"))
    var spec: String

    @OptionGroup var options: VMOptions

    func run() async throws {
        if options.hypervisor == .xen { return try await XenVMCommands.start(specPath: spec, options: options) }
        let spec = try VMSpecFile.load(spec)
        let started = ContinuousClock.now
        options.progress(
            "starting \(spec.name) (\(spec.memoryMiB) MiB, accelerator \(spec.accelerator.rawValue)); a TCG boot takes a few seconds"
        )
        let record: VMRecord
        do {
            record = try await options.driver().startParent(spec)
        } catch {
            throw CLIFailure("error: \(error)")
        }
        options.progress("\(spec.name) serves after \(VMOutput.seconds(ContinuousClock.now - started))")
        let reports = await options.driver().list().filter { $0.record.name == record.name }
        options.show(reports.map(VMRow.init))
    }
}

struct VMClone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone", abstract: "Fork clones of a running parent VM.")

    @Argument(help: ArgumentHelp("The parent VM's name.", valueName: "parent"))
    var parent: String

    @Option(name: .long, help: "How many clones to fork in one batch (one parent pause).")
    var count = 1

    @Option(name: .long, help: "lazy (copy-on-write), eager (full copy) or cold (fresh boot).")
    var mode: CloneMode = .lazy

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Reuse a snapshot younger than this many seconds instead of pausing the parent again (0: always a fresh one).",
            valueName: "seconds"))
    var snapshotMaxAge = 15

    @Option(
        name: .long,
        help:
            "How a lazy snapshot freezes the parent's RAM: copy (copy while paused: quickest clones) or template (live-migrate into a template VM: shortest parent pause)."
    )
    var lazyFreeze: LazyFreeze = .copyWhilePaused

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Xen: a dom0 bridge without address where restored clones wait until their new identity is applied.",
            valueName: "bridge"))
    var holdBridge: String?

    @OptionGroup var options: VMOptions

    func validate() throws {
        guard (1...64).contains(count) else { throw ValidationError("--count must be 1...64") }
        if let holdBridge {
            guard options.hypervisor == .xen else { throw ValidationError("--hold-bridge is for --hypervisor xen") }
            guard XenDriverConfiguration.isValidBridgeName(holdBridge) else {
                throw ValidationError("--hold-bridge must be a Linux interface name (1-15 of [A-Za-z0-9_-])")
            }
        }
        guard snapshotMaxAge >= 0 else { throw ValidationError("--snapshot-max-age must be 0 or more") }
    }

    func run() async throws {
        if options.hypervisor == .xen {
            return try await XenVMCommands.clone(
                parent: parent, count: count, mode: mode, holdBridge: holdBridge, options: options)
        }
        let driver = options.driver(snapshotMaxAge: .seconds(snapshotMaxAge), lazyFreeze: lazyFreeze)
        guard let record = await driver.record(named: parent), record.role == .parent else {
            throw CLIFailure("error: no parent VM named \(parent) in \(options.stateRoot) (hint: flockctl vm list)")
        }
        let names = Self.cloneNames(pool: record.pool, count: count)
        let started = ContinuousClock.now
        options.progress("forking \(count) \(mode.rawValue) clone(s) of \(parent)")
        let batch: CloneBatch
        do {
            batch = try await driver.clone(CloneRequest(pool: record.pool, parent: parent, mode: mode, names: names))
        } catch {
            throw CLIFailure("error: \(error)")
        }
        options.progress(
            "\(batch.started.count) clone(s) ready after \(VMOutput.seconds(ContinuousClock.now - started))")
        let started_ = Set(batch.started.map(\.name))
        let reports = await driver.list().filter { started_.contains($0.record.name) }
        try Self.report(reports.map(VMRow.init), failed: batch.failed, options: options)
    }

    /// `count` fresh Flock names for clones of `pool`.
    static func cloneNames(pool: String, count: Int) -> [String] {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return (0..<count).map { _ in
            OwnedName.make(pool: pool, suffix: String((0..<6).map { _ in alphabet.randomElement(using: &generator)! }))
        }
    }

    /// Prints the clones that started, then each failure on stderr; exit 1 if any failed.
    static func report(_ rows: [VMRow], failed: [String: String], options: VMOptions) throws {
        options.show(rows, failed: failed)
        for (name, reason) in failed.sorted(by: { $0.key < $1.key }) { printError("error: \(name): \(reason)") }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

struct VMList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List VMs, parents and clones.")

    @OptionGroup var options: VMOptions

    func run() async throws {
        if options.hypervisor == .xen { return try await XenVMCommands.list(options: options) }
        options.show(await options.driver().list().map(VMRow.init))
    }
}

/// `flockctl vm resume`: the driver's `resumeParent`, which flockd runs every tick, for an operator
/// whose flockd does not run: a crash mid-snapshot leaves the parent paused (or QEMU's
/// `postmigrate`, a suspended Xen domain), and then it serves nobody until something resumes it.
struct VMResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a parent VM left paused or suspended (by a crash mid-snapshot, or by hand).")

    @Argument(help: ArgumentHelp("The parent VM's name.", valueName: "parent"))
    var parent: String

    @OptionGroup var options: VMOptions

    func run() async throws {
        if options.hypervisor == .xen { return try await XenVMCommands.resume(parent: parent, options: options) }
        let driver = options.driver()
        guard let record = await driver.record(named: parent) else {
            throw CLIFailure("error: no VM named \(parent) in \(options.stateRoot) (hint: flockctl vm list)")
        }
        guard record.role == .parent else {
            throw CLIFailure("error: \(parent) is a clone; vm resume resumes parent VMs (hint: flockctl vm list)")
        }
        try await Self.resume(
            parent, on: driver, options: options,
            gone:
                "error: parent \(parent) does not run (no QEMU process), so there is nothing to resume; start it again with flockctl vm start SPEC"
        )
    }

    /// Runs the driver's `resumeParent` on a known parent and prints what it did; `gone` is the
    /// error for a parent that has no running VM at all.
    static func resume(_ parent: String, on driver: some Hypervisor, options: VMOptions, gone: String) async throws {
        let found: String?
        do {
            found = try await driver.resumeParent(name: parent)
        } catch let error as FlockError where error.isNotFound {
            throw CLIFailure(gone)
        } catch {
            throw CLIFailure("error: \(error)")
        }
        printResumed(parent, found: found, options: options)
    }

    /// What became of the parent: the state `resumeParent` found it in, or that it already ran.
    private static func printResumed(_ name: String, found: String?, options: VMOptions) {
        if options.json {
            print(#"{"parent":"\#(name)","found":"\#(found ?? "running")","resumed":\#(found != nil)}"#)
            return
        }
        guard let found else { return print("\(name) already runs; nothing to do") }
        let was =
            switch found {
            case "paused": "was paused"
            case "suspended": "was suspended (an interrupted checkpoint)"
            case "postmigrate": "was in postmigrate (an interrupted eager snapshot)"
            default: "was stopped (\(found))"
            }
        print("\(name) \(was); resumed it")
    }
}

struct VMDestroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy", abstract: "Stop a clone and delete its files (a parent only with --parent).")

    @Argument(help: ArgumentHelp("The VM's name.", valueName: "name"))
    var name: String

    @Flag(name: .long, help: "Confirm that NAME is a parent to stop; its clones keep running.")
    var parent = false

    @OptionGroup var options: VMOptions

    func run() async throws {
        if options.hypervisor == .xen {
            return try await XenVMCommands.destroy(name: name, parent: parent, options: options)
        }
        let driver = options.driver()
        guard let record = await driver.record(named: name) else {
            throw CLIFailure("error: no VM named \(name) in \(options.stateRoot) (hint: flockctl vm list)")
        }
        do {
            if record.role == .parent {
                guard parent else {
                    throw CLIFailure(
                        "error: \(name) is a parent VM; pass --parent to stop it (its clones keep running)")
                }
                try await driver.stopParent(name: name)
            } else {
                try await driver.destroy(name: name)
            }
        } catch let failure as CLIFailure {
            throw failure
        } catch {
            throw CLIFailure("error: \(error)")
        }
        Self.printDestroyed(name, options: options)
    }

    static func printDestroyed(_ name: String, options: VMOptions) {
        if options.json {
            print(#"{"destroyed":"\#(name)"}"#)
        } else {
            print("destroyed \(name)")
        }
    }
}
