import FlockCore
import FlockQEMU
import FlockSystem
import Foundation
import Synchronization

/// One host as Flock uses it: what it reports, the snapshots it holds, the clones it runs.
///
/// Requests go over the host's one persistent session (`HostConnection`); a snapshot travels on a
/// second session of the same fixed command, so a transfer of hundreds of MiB never holds up the
/// requests of the first, and shipping needs no other way into the host.
public struct RemoteHost: Sendable {
    public let connection: HostConnection

    public init(target: SSHTarget, logPath: String) {
        connection = HostConnection(target: target, logPath: logPath)
    }

    public var target: SSHTarget { connection.target }

    /// What a snapshot's shipment to this host cost.
    public struct Transfer: Sendable, Hashable {
        /// False when the host already held it.
        public var shipped: Bool
        /// Bytes that travelled: the files' data, never their holes (nor, when held, anything
        /// but the request and its answer).
        public var bytes: Int
        public var seconds: Double
    }

    /// The host's facts; refused when it speaks another protocol version or serves another state root.
    public func hello(deadline: Duration = .seconds(20)) async throws(HostError) -> HostHello {
        let answer = try await connection.request(.hello, deadline: deadline)
        guard let hello = answer.hello else {
            throw .protocolViolation("\(target.label) answered hello without its facts")
        }
        guard hello.protocolVersion == HostProtocol.version else {
            throw .configuration(
                "\(target.label) speaks host protocol \(hello.protocolVersion), this Flock \(HostProtocol.version): "
                    + "install the same Flock version on both")
        }
        guard hello.stateRoot == target.stateRoot else {
            throw .configuration(
                "\(target.label) serves the state root \(hello.stateRoot), not \(target.stateRoot) as configured "
                    + "(does a command= in its authorized_keys pin another?)")
        }
        return hello
    }

    public func list(deadline: Duration = .seconds(20)) async throws(HostError) -> [RemoteVM] {
        try await connection.request(.list, deadline: deadline).vms ?? []
    }

    public func holds(_ snapshot: String, deadline: Duration = .seconds(20)) async throws(HostError) -> Bool {
        try await connection.request(.snapshotHas, deadline: deadline) { $0.snapshot = snapshot }.held ?? false
    }

    /// Ships `exported` unless the host holds it (asked on the session first, so a held snapshot
    /// costs one request). Refused by the host, before any data moves, when its QEMU, machine
    /// type or CPU model differs from the snapshot's.
    public func ensureSnapshot(
        _ exported: ExportedSnapshot, logPath: String, deadline: Duration = .seconds(300)
    ) async throws(HostError) -> Transfer {
        let started = ContinuousClock.now
        let before = await connection.bytesMoved
        if try await holds(exported.record.id) {
            return Transfer(
                shipped: false, bytes: await connection.bytesMoved - before, seconds: seconds(since: started))
        }
        let plan = try await Self.plan(exported)
        let moved = try await SnapshotShipment(target: target, logPath: logPath).ship(plan, deadline: deadline)
        return Transfer(
            shipped: moved.shipped, bytes: moved.bytes + (await connection.bytesMoved - before),
            seconds: seconds(since: started))
    }

    /// Restores clones there from a snapshot it holds, on its VM network.
    public func clone(
        snapshot: String, pool: String, names: [String], network: NetworkSpec, deadline: Duration = .seconds(180)
    ) async throws(HostError) -> (started: [RemoteVM], failed: [String: String]) {
        let answer = try await connection.request(.clone, deadline: deadline) {
            $0.snapshot = snapshot
            $0.pool = pool
            $0.names = names
            $0.network = network
        }
        return (answer.started ?? [], answer.failed ?? [:])
    }

    public func destroy(_ name: String, deadline: Duration = .seconds(30)) async throws(HostError) {
        _ = try await connection.request(.destroy, deadline: deadline) { $0.name = name }
    }

    public func releaseSnapshot(_ id: String, deadline: Duration = .seconds(30)) async throws(HostError) {
        _ = try await connection.request(.snapshotRelease, deadline: deadline) { $0.snapshot = id }
    }

    public func close() async { await connection.close() }

    private static func plan(_ exported: ExportedSnapshot) async throws(HostError) -> SnapshotSender.Plan {
        do {
            return try await BlockingCalls.run { try SnapshotSender.plan(exported) }
        } catch {
            throw error as? HostError ?? .io("\(error)")
        }
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// One snapshot's trip: a second ssh session of the same fixed command, whose only request is
/// `snapshot-receive`, followed by the data once the host says `ready`. Killed at its deadline;
/// the host then removes its staging directory and the next attempt starts over.
struct SnapshotShipment {
    let target: SSHTarget
    let logPath: String

    func ship(_ plan: SnapshotSender.Plan, deadline: Duration) async throws(HostError) -> (shipped: Bool, bytes: Int) {
        let piped = try await target.startSession(logPath: logPath)
        let child = piped.process
        let expired = Expired()
        let watchdog = Task {
            try await Task.sleep(for: deadline)
            expired.flag.withLock { $0 = true }
            child.kill()
        }
        defer { watchdog.cancel() }
        let target = target
        let logPath = logPath
        let outcome: Result<(Bool, Int), any Error>
        do {
            outcome = .success(
                try await BlockingCalls.run { () throws -> (Bool, Int) in
                    try Self.exchange(plan, input: piped.input, output: piped.output, target: target, logPath: logPath)
                })
        } catch {
            outcome = .failure(error)
        }
        // End of input ends the host's session, and with it ssh: closed before waiting for it.
        close(piped.input)
        close(piped.output)
        switch outcome {
        case .success(let result):
            await child.waitForExit(timeout: .seconds(5))
            return result
        case .failure(let error):
            child.kill()
            await child.waitForExit(timeout: .seconds(5))
            if expired.flag.withLock({ $0 }) {
                throw .timeout("shipping snapshot \(plan.manifest.record.id) to \(target.label) took over \(deadline)")
            }
            throw error as? HostError ?? .transfer("\(error)")
        }
    }

    /// Set when the deadline killed ssh, to tell that from a failure of its own.
    private final class Expired: Sendable {
        let flag = Mutex(false)
    }

    /// Blocking: the request line, the host's `ready`/`held`, the data, the final answer.
    static func exchange(
        _ plan: SnapshotSender.Plan, input: Int32, output: Int32, target: SSHTarget, logPath: String
    ) throws(HostError) -> (Bool, Int) {
        let writer = ByteWriter(fd: input)
        let reader = ByteReader(fd: output)
        var request = HostRequest(id: 1, op: .snapshotReceive, deadline: .seconds(3600))
        request.manifest = plan.manifest
        let line = HostJSON.encode(request)
        try writer.writeLine(line)
        var moved = line.count + 1
        func answer() throws(HostError) -> HostAnswer {
            guard let line = try reader.readLine() else {
                let said = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw .disconnected(
                    "shipping snapshot \(plan.manifest.record.id): \(target.explain(sshError: String(said.suffix(2000))))"
                )
            }
            moved += line.count + 1
            guard let answer = try? HostJSON.decode(HostAnswer.self, from: Data(line)) else {
                throw .protocolViolation(
                    "\(target.label) answered a transfer with: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            guard answer.ok else { throw .remote("\(target.label): \(answer.error ?? "refused the snapshot")") }
            return answer
        }
        let phase = try answer()
        if phase.phase == "held" { return (false, moved) }
        guard phase.phase == "ready" else { throw .protocolViolation("\(target.label) did not say ready: \(phase)") }
        let skip = Set(phase.skip ?? [])
        moved += try SnapshotSender.send(plan, skipping: skip, to: input)
        moved += 32 * plan.manifest.files.filter { !skip.contains($0.name) }.count
        _ = try answer()
        return (true, moved)
    }
}
