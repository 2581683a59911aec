import FlockCore
import FlockDemo
import FlockSystem
import FlockTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension E2E {
    /// The fault suite's policy: quick ticks and a short drain, so each case converges in
    /// seconds; the counts come from manual desired counts, so no check or cooldown waits.
    static var faultPolicy: DemoPolicy {
        var policy = testPolicy
        policy.evaluationInterval = "500ms"
        policy.drainTimeout = "3s"
        policy.scaleOutCooldown = "1s"
        policy.scaleInCooldown = "1s"
        policy.stabilization = "1s"
        return policy
    }

    /// Restarts flockd so that it SIGKILLs itself at `step` (`FaultPoint`).
    func restartFlockd(killingAt step: String) async throws {
        await flockd.stop(grace: .seconds(30))
        try await flockd.start(environment: [FaultPoint.variable: step])
    }

    /// Waits (bounded) for flockd to die of SIGKILL; false if it still runs or ended otherwise.
    func awaitFaultKill(timeout: Duration = .seconds(120)) async -> Bool {
        _ = await eventually(timeout: timeout, every: .milliseconds(20)) { !flockd.isRunning }
        return flockd.child?.terminatingSignal == SIGKILL
    }

    /// Sets a manual desired count and waits for convergence at `count - 1` clones.
    func scale(to count: Int, timeout: Duration = .seconds(120)) async throws -> String? {
        let response = try await flockd.setDesired(count)
        guard response.status == 200 else { return "PUT desired \(count): HTTP \(response.status) \(response.text)" }
        return await convergence(clones: count - 1, timeout: timeout)
    }
}

/// Runs `body` on a test stack with the fault policy (with `standby` standbys), torn down
/// whatever the body does.
func withFaultStack(standby: Int? = nil, _ body: (E2E) async throws -> Void) async throws {
    var policy = E2E.faultPolicy
    policy.standby = standby
    let e2e = try await E2E(policy: policy)
    do {
        try await body(e2e)
    } catch {
        await e2e.tearDown()
        throw error
    }
    await e2e.tearDown()
}

/// Requests through HAProxy's frontend one after another until stopped (bounded), counting the
/// ones that failed; alongside, every 100 ms, it looks for a `flock-` server that HAProxy can
/// route to (UP or DRAIN) while no QEMU runs for it: a VM destroyed while routed.
final class LoadLoop: Sendable {
    struct Report: Sendable, CustomStringConvertible {
        var requests = 0
        var failures: [String] = []
        var routedWithoutVM: Set<String> = []
        var description: String {
            let failed = "\(failures.count) failed \(failures.prefix(5))"
            return "\(requests) requests, \(failed); routed without a VM: \(routedWithoutVM.sorted())"
        }
    }

    /// What the two loops share: the report so far, and whether to stop.
    private final class Shared: Sendable {
        let report = Mutex(Report())
        let stopping = Atomic(false)
        var stopped: Bool { stopping.load(ordering: .relaxed) }
    }

    private let shared = Shared()
    private let tasks: [Task<Void, Never>]

    init(e2e: E2E, key: String = LoadPlan.defaultKeys.first ?? "a", bound: Duration = .seconds(120)) {
        let shared = self.shared
        let deadline = ContinuousClock.now + bound
        let port = e2e.haproxy.frontendPort
        let requests = Task {
            while !shared.stopped, ContinuousClock.now < deadline {
                let outcome: String?
                do {
                    let response = try await PlainHTTP.get(port: port, "/item/\(key)", timeout: .seconds(10))
                    outcome = response.status == 200 ? nil : "HTTP \(response.status)"
                } catch {
                    outcome = "\(error)"
                }
                shared.report.withLock {
                    $0.requests += 1
                    if let outcome { $0.failures.append(outcome) }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let monitor = Task {
            while !shared.stopped, ContinuousClock.now < deadline {
                if let table = try? await e2e.haproxy.client.showStat(backend: e2e.haproxy.backend) {
                    let running = E2E.qemuProcesses(stateRoot: e2e.parent.stateRoot)
                    for row in table.servers(of: e2e.haproxy.backend) where row.server.hasPrefix(OwnedName.prefix) {
                        let status = row["status"] ?? ""
                        let routable = status.hasPrefix("UP") || status.hasPrefix("DRAIN")
                        if routable, running[row.server] == nil {
                            shared.report.withLock { _ = $0.routedWithoutVM.insert(row.server) }
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        tasks = [requests, monitor]
    }

    func finish() async -> Report {
        shared.stopping.store(true, ordering: .relaxed)
        for task in tasks { await task.value }
        return shared.report.withLock { $0 }
    }
}

/// An HTTP request kept in flight through HAProxy: the head of a POST is sent at once, its body
/// a byte every second, so the backend server keeps a session open until `close()` or `bound`.
final class HeldSession: Sendable {
    private final class Flag: Sendable {
        let closed = Atomic(false)
        var isSet: Bool { closed.load(ordering: .relaxed) }
    }

    private let fd: Int32
    private let flag = Flag()
    private let trickle: Task<Void, Never>

    init(port: Int, bound: Duration = .seconds(60)) throws {
        let fd = try SocketIO.streamSocket(family: AF_INET)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let deadline = ContinuousClock.now + .seconds(5)
        do {
            try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(SocketError) in
                    try SocketIO.connect(
                        fd, to: raw, length: socklen_t(MemoryLayout<sockaddr_in>.size), deadline: deadline)
                }
            }
            let head = "POST /item/held HTTP/1.1\r\nHost: fault\r\nContent-Length: 4000\r\n\r\n"
            try SocketIO.sendAll(fd, Array(head.utf8), until: deadline)
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
        let flag = self.flag
        let end = ContinuousClock.now + bound
        trickle = Task {
            while !flag.isSet, ContinuousClock.now < end {
                try? await Task.sleep(for: .seconds(1))
                guard !flag.isSet else { return }
                _ = try? SocketIO.sendAll(fd, [UInt8(ascii: "x")], until: .now + .seconds(1))
            }
        }
    }

    func close() async {
        guard !flag.closed.exchange(true, ordering: .relaxed) else { return }
        await trickle.value
        Glibc.close(fd)
    }
}
