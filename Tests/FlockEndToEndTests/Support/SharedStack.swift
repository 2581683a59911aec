import FlockCore
import FlockDemo
import FlockQEMU
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One warm parent VM for the whole suite (TCG boots are slow on two shared cores); each test
/// starts its own haproxy and flockd around it, and leaves no clone behind.
///
/// QEMU processes still running under the state root when the test process exits are killed
/// (`atexit`), and the state root removed, so a failing test cannot leak VMs into the next run.
actor SharedParent {
    static let shared = SharedParent()
    static let pool = "e2e"
    static let name = "e2e-parent"

    private var parent: DemoParent?
    private var failure: String?

    func get() async throws -> DemoParent {
        if let parent { return parent }
        if let failure { throw DemoError("the shared parent failed to start earlier: \(failure)") }
        let root = try tmpfsScratch("vms")
        ExitCleanup.register(root)
        let spec = VMSpec(
            name: Self.name, pool: Self.pool, kernel: Repo.path(".build-guest/vmlinuz"),
            initrd: Repo.path(".build-guest/initrd.img"), append: "console=ttyS0 quiet", memoryMiB: 256, cpus: 1,
            accelerator: .tcg)
        do {
            let parent = try await DemoParent(spec: spec, stateRoot: root, keys: LoadPlan.defaultKeys, log: { _ in })
            self.parent = parent
            return parent
        } catch {
            failure = "\(error)"
            throw error
        }
    }
}

extension Repo {
    /// The built flockd, next to the test bundle or in .build/debug.
    static var flockd: String? { BuiltBinary.url("flockd")?.path }
}

/// A test's haproxy and flockd around the shared parent, with helpers to look at all three
/// sources of truth: flockd's store, the hypervisor's VMs and HAProxy's servers.
final class E2E: Sendable {
    let parent: DemoParent
    let stack: DemoStack
    let directory: String
    let policy: DemoPolicy

    /// The test policy: at most 3 serving (the parent and two clones), quick to react.
    static var testPolicy: DemoPolicy {
        var policy = DemoPolicy()
        policy.maxCapacity = 3
        return policy
    }

    init(policy: DemoPolicy = E2E.testPolicy) async throws {
        guard let flockd = Repo.flockd else { throw DemoError("flockd is not built (swift build --build-tests)") }
        parent = try await SharedParent.shared.get()
        // A previous test that failed half-way must not leave clones for this one.
        await parent.destroyClones()
        directory = try tmpfsScratch("run")
        self.policy = policy
        stack = try await DemoStack(directory: directory, parent: parent, policy: policy, flockdBinary: flockd)
    }

    var pool: String { parent.pool }
    var flockd: DemoFlockd { stack.flockd }
    var haproxy: DemoHAProxy { stack.haproxy }

    func store() throws -> FlockStore { try stack.store() }

    /// Clone instances in the store that are not gone.
    func storeClones() throws -> [Instance] {
        try store().instances(pool: pool).filter { $0.role == .clone }
    }

    /// Clone VMs running under the state root.
    func vmClones() async -> Set<String> { Set(await parent.clones().map(\.name)) }

    /// `flock-` servers in the backend (empty when haproxy is down).
    func lbClones() async throws -> Set<String> {
        let table = try await haproxy.client.showStat(backend: haproxy.backend)
        return Set(table.servers(of: haproxy.backend).map(\.server).filter { $0.hasPrefix(OwnedName.prefix) })
    }

    /// True when store, VMs and HAProxy agree: every clone the store has is serving, runs as a
    /// VM and is a server; no VM or server is unknown to the store; no journal intent is open.
    func agree() async throws -> Bool {
        let clones = try storeClones()
        guard clones.allSatisfy({ $0.state == .serving }) else { return false }
        let names = Set(clones.map(\.name))
        guard try store().openIntents(pool: pool).isEmpty else { return false }
        let vms = await vmClones()
        let servers = try await lbClones()
        return vms == names && servers == names
    }

    /// A one-line picture of the three, for failure messages.
    func picture() async -> String {
        let clones = (try? storeClones().map { "\($0.name)=\($0.state.rawValue)" }) ?? ["store unreadable"]
        let intents = (try? store().openIntents(pool: pool).count) ?? -1
        let lb = (try? await lbClones().sorted()) ?? ["haproxy down"]
        return "store \(clones) open intents \(intents); VMs \(await vmClones().sorted()); haproxy \(lb)"
    }

    func wrk(connections: Int, seconds: Int, label: String) async throws -> WrkRun {
        try await WrkRun(
            url: stack.frontendURL + "/", connections: connections, seconds: seconds, script: LoadPlan().script,
            directory: directory, label: label)
    }

    /// Stops flockd, destroys clones, kills haproxy and removes the test's directory.
    func tearDown() async {
        await stack.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
