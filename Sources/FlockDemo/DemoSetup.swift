import FlockCore
import FlockHostRig
import FlockQEMU
import FlockSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The demo's steps between the command line and the library: resolving paths and binaries,
/// starting the parent, haproxy and flockd, running the load, writing the outputs, cleaning up.
/// Shared by `flockctl demo` and `flock-bench scale-out`; a failure before anything started is
/// a `DemoError` whose text the command prints as `error: …`.
public enum DemoSetup {

    /// What the run needs, resolved before anything starts.
    public final class Setup: Sendable {
        public let workdir: String
        let createdWorkdir: Bool
        public let spec: VMSpec
        let flockd: String
        public let policy: DemoPolicy
        /// How many namespace hosts the clones go to (`--hosts`); 0: the parent's host.
        public let hostCount: Int
        /// The flockctl the hosts' sshd runs as `flockctl host serve` (the namespaces share this
        /// machine's file system); nil without hosts.
        let flockctl: String?
        let started = Started()

        init(
            workdir: String, createdWorkdir: Bool, spec: VMSpec, flockd: String, policy: DemoPolicy, hostCount: Int,
            flockctl: String?
        ) {
            self.workdir = workdir
            self.createdWorkdir = createdWorkdir
            self.spec = spec
            self.flockd = flockd
            self.policy = policy
            self.hostCount = hostCount
            self.flockctl = flockctl
        }
        var bridged: Bool { spec.network.mode == .bridge }
        var stateRoot: String { "\(workdir)/qemu" }
    }

    /// What has been started so far, for the clean-up to stop (and only that).
    final class Started: Sendable {
        private let parts = Mutex<(parent: DemoParent?, stack: DemoStack?, network: DemoNetwork?, rig: DemoHosts?)>(
            (nil, nil, nil, nil))
        var parent: DemoParent? {
            get { parts.withLock { $0.parent } }
            set { parts.withLock { $0.parent = newValue } }
        }
        var stack: DemoStack? {
            get { parts.withLock { $0.stack } }
            set { parts.withLock { $0.stack = newValue } }
        }
        var network: DemoNetwork? {
            get { parts.withLock { $0.network } }
            set { parts.withLock { $0.network = newValue } }
        }
        var hosts: DemoHosts? {
            get { parts.withLock { $0.rig } }
            set { parts.withLock { $0.rig = newValue } }
        }
    }

    /// Resolves everything before anything starts. `policy` gives the pool's tuning; its pool,
    /// parent and port come from the spec, which `parentSpec` reads (the command's spec file
    /// reader, called after the tools are found). `kernelArguments` are added to the parent's
    /// command line (the demo app reads its knobs there). `network` is how the VMs are reached:
    /// `bridge` (a `DemoNetwork`, root only) or QEMU's user-mode networking. With `hosts`, the
    /// clones go to that many namespace hosts (`DemoHosts`; bridge only).
    public static func prepare(
        workdir: String?, parentSpec: () throws -> VMSpec, flockd: String?, policy: DemoPolicy,
        network: NetworkSpec.Mode = .bridge, kernelArguments: [String] = [], hosts: Int = 0
    ) throws -> Setup {
        for tool in ["haproxy", "wrk", "qemu-system-x86_64"] where findExecutable(tool) == nil {
            throw DemoError("\(tool) is not installed (hint: bash Deploy/setup.sh)")
        }
        if network == .bridge { try DemoNetwork.checkPrerequisites() }
        if hosts > 0 {
            guard network == .bridge else {
                throw DemoError("--hosts needs --network bridge: HAProxy reaches the hosts' VMs on their bridges")
            }
            if let missing = HostRig.missingPrerequisite() { throw DemoError(missing) }
        }
        let flockdPath = try flockdBinary(flockd)
        var flockctlPath: String?
        if hosts > 0 {
            // The flockctl built with flockd: the hosts run it as their remote command.
            guard let found = findSiblingExecutable("flockctl", of: flockdPath) else {
                throw DemoError("flockctl is not built (hint: swift build --product flockctl)")
            }
            flockctlPath = found
        }
        var spec = try parentSpec()
        var arguments = kernelArguments
        switch network {
        case .bridge:
            // The agent sets each VM's address from its identity, in the demo network's subnet.
            spec.network = NetworkSpec(
                mode: .bridge, bridge: DemoNetwork.bridge, cidr: DemoNetwork.subnet, gateway: DemoNetwork.gateway)
            arguments.append("flock.ip=none")
        case .user:
            spec.network = NetworkSpec(mode: .user)  // clones are reached on forwarded loopback ports
        }
        let kernelArguments = arguments
        if !kernelArguments.isEmpty {
            spec.append = ([spec.append ?? ""] + kernelArguments).filter { !$0.isEmpty }.joined(separator: " ")
        }
        var policy = policy
        policy.parent = spec.name
        policy.pool = spec.pool
        policy.guestPort = spec.guestPort
        let (directory, created) = try makeWorkdir(workdir)
        return Setup(
            workdir: directory, createdWorkdir: created, spec: spec, flockd: flockdPath, policy: policy,
            hostCount: hosts, flockctl: flockctlPath)
    }

    /// The given directory (created if missing), else a fresh one on tmpfs: the QEMU state root
    /// inside it holds the parent's RAM and lazy snapshots, which tmpfs keeps cheap to freeze.
    private static func makeWorkdir(_ given: String?) throws -> (String, Bool) {
        let path: String
        var created = false
        if let given {
            path = URL(fileURLWithPath: given).standardizedFileURL.path
            if !FileManager.default.fileExists(atPath: path) { created = true }
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } else {
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            var template = Array("\(base)/flock-demo-XXXXXX".utf8CString)
            guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
                throw DemoError("cannot create a work directory under \(base)")
            }
            path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            created = true
        }
        // The state root goes into QEMU option strings unquoted; the driver refuses anything else.
        guard
            path.unicodeScalars.allSatisfy({
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "/._-".unicodeScalars.contains($0))
            })
        else {
            throw DemoError(
                "the work directory '\(path)' must be a path of [A-Za-z0-9/._-] (QEMU takes it unquoted)")
        }
        return (path, created)
    }

    private static func flockdBinary(_ given: String?) throws -> String {
        if let given {
            guard let found = findExecutable(given) else {
                throw DemoError("flockd binary '\(given)' not found")
            }
            return found
        }
        guard let found = findSiblingExecutable("flockd") else {
            throw DemoError("flockd is not built (hint: swift build --product flockd)")
        }
        return found
    }

    /// Boots, starts, drives and reports; the clean-up is the caller's (`DemoSignals`).
    public static func execute(
        _ setup: Setup, plan: LoadPlan, json: String?, chart: String?, view: DemoView
    ) async throws
        -> DemoSummary
    {
        let result = try await runLoad(setup, plan: plan, view: view)
        var summary = result.summary
        if let chart {
            let svg = SVGChart.render(
                samples: result.samples, stepStart: Double(plan.calm), stepEnd: Double(plan.calm + plan.step),
                title: "flockctl demo: \(setup.policy.mode.rawValue) clones under a ~\(plan.factor)x load step")
            try write(svg, to: chart)
            summary.chart = URL(fileURLWithPath: chart).standardizedFileURL.path
        }
        // Through the same unbuffered handle as the live lines, so the order on screen is right.
        FileHandle.standardOutput.write(Data(("\n" + summary.table + "\n").utf8))
        if let json { try write(String(decoding: summary.json, as: UTF8.self) + "\n", to: json) }
        return summary
    }

    /// Boots the parent and warms it, starts haproxy and flockd, and drives the load step.
    public static func runLoad(_ setup: Setup, plan: LoadPlan, view: DemoView) async throws -> LoadStepRun.Result {
        view.note("work directory \(setup.workdir)")
        view.note(
            "booting the parent VM \(setup.spec.name) (\(setup.spec.memoryMiB) MiB) and warming \(plan.keys.count) keys"
        )
        if setup.bridged {
            setup.started.network = try await DemoNetwork.create(log: "\(setup.workdir)/network.log")
            view.note(
                "VM network: bridge \(DemoNetwork.bridge) on \(DemoNetwork.subnet) in namespace \(DemoNetwork.namespace)"
            )
        }
        let parent = try await DemoParent(
            spec: setup.spec, stateRoot: setup.stateRoot, keys: plan.keys,
            networkNamespace: setup.bridged ? DemoNetwork.namespace : nil,
            log: { line in view.note("qemu: \(line)") })
        setup.started.parent = parent
        var hosts: [DemoFlockd.Settings.Host] = []
        if setup.hostCount > 0, let flockctl = setup.flockctl {
            let rig = DemoHosts()
            setup.started.hosts = rig
            hosts = try await rig.create(indexes: Array(1...setup.hostCount), flockctl: flockctl)
            for host in hosts {
                view.note("host \(host.name): sshd at \(host.ssh), VMs on \(host.cidr) (a network namespace)")
            }
        }
        view.note("parent serving on \(parent.host):\(parent.port); starting haproxy and flockd")
        let stack = try await DemoStack(
            directory: setup.workdir, parent: parent, policy: setup.policy, flockdBinary: setup.flockd, hosts: hosts)
        setup.started.stack = stack
        view.note(
            "haproxy frontend \(stack.frontendURL), flockd API 127.0.0.1:\(stack.flockd.port); policy: "
                + "session_rate_per_server target \(Int(setup.policy.targetRate)), capacity 1...\(setup.policy.maxCapacity), \(setup.policy.mode.rawValue) clones"
        )
        view.note(
            "load: \(plan.calm)s at ~1x (\(plan.baseConnections) connections), \(plan.step)s at ~\(plan.factor)x, \(plan.tail)s at ~1x; keys warmed in the parent"
        )
        let result = try await LoadStepRun.run(
            stack: stack, plan: plan, directory: setup.workdir, progress: view.update)
        view.finishLive()
        return result
    }

    private static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// The files and directories the demo writes into its work directory, besides the store and wrk's.
    static let written: Set<String> = [
        "qemu", "haproxy.cfg", "haproxy.log", "haproxy.sock", "flockd.yaml", "flockd.log", "policy.yaml",
        "network.log",
    ]

    /// Stops what was started, in order: flockd (SIGTERM, so drains finish), the clones, haproxy,
    /// the parent; then removes the work directory unless `keep`.
    public static func cleanUp(_ setup: Setup, keep: Bool, view: DemoView) async {
        view.finishLive()
        if let stack = setup.started.stack {
            view.note("stopping flockd, destroying clones, stopping haproxy")
            if let status = await stack.flockd.stop(grace: .seconds(60)), status != 0 {
                view.note("flockd exited with status \(status); its log: \(setup.workdir)/flockd.log")
            }
            await stack.parent.destroyClones()
            await stack.haproxy.stop()
            stack.requestLog.stop()
        }
        if let parent = setup.started.parent {
            view.note("stopping the parent VM")
            await parent.stop()
        }
        if let hosts = setup.started.hosts {
            view.note("removing the namespace hosts and their VMs")
            await hosts.destroy()
        }
        if let network = setup.started.network {
            view.note("removing the VM network")
            await network.destroy()
        }
        if keep {
            view.note("kept \(setup.workdir) (configs, logs, store)")
        } else if setup.createdWorkdir {
            try? FileManager.default.removeItem(atPath: setup.workdir)
        } else {
            // A directory the user gave is theirs: remove only what the demo wrote.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: setup.workdir)) ?? []
            where written.contains(name) || name.hasPrefix("flock.db") || name.hasPrefix("wrk-") {
                try? FileManager.default.removeItem(atPath: "\(setup.workdir)/\(name)")
            }
        }
    }
}
