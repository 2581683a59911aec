import FlockCore
import FlockQEMU
import FlockSystem
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `flockctl host serve`: the host's end of a session, run by sshd. Requests come one JSON line
/// at a time on stdin and run concurrently (a slow clone never holds up a `hello`); each answer
/// is one line on stdout, written whole. Logs go to stderr, never stdout, which is the protocol.
/// A line that is not a request gets an error answer; end of stdin ends the session once the
/// requests under way have answered.
public struct HostServer: Sendable {
    public struct Options: Sendable {
        public var stateRoot: String
        public var qemu: String
        /// The `-cpu` of this host's VMs; nil for QEMU's default per accelerator.
        public var cpuModel: String?

        public init(stateRoot: String, qemu: String = "qemu-system-x86_64", cpuModel: String? = nil) {
            self.stateRoot = stateRoot
            self.qemu = qemu
            self.cpuModel = cpuModel
        }
    }

    let root: HostStateRoot
    let driver: QEMUDriver
    let options: Options
    let writer: ByteWriter
    let log: @Sendable (String) -> Void

    /// Serves one session on `input`/`output` until end of input; returns the exit status
    /// (0, or 2 when the state root cannot be used, which is answered once before exiting).
    public static func serve(
        _ options: Options, input: Int32 = 0, output: Int32 = 1, log: @escaping @Sendable (String) -> Void
    ) async -> Int32 {
        let writer = ByteWriter(fd: output)
        let root: HostStateRoot
        do {
            root = try HostStateRoot(options.stateRoot)
            try root.prepare()
        } catch {
            log("refusing the session: \(error.message)")
            try? writer.writeLine(HostJSON.encode(HostAnswer.failure(nil, "host refused: \(error.message)")))
            return 2
        }
        root.sweepInterruptedTransfers(log: log)
        let driver = QEMUDriver(
            configuration: QEMUDriverConfiguration(
                stateRoot: root.path, qemu: options.qemu, cpuModel: options.cpuModel,
                logger: LineLogHandler.logger(label: "flock.host", log)))
        root.sweepUnusedImages(inUse: driver.imagesInUse(), log: log)
        let server = HostServer(root: root, driver: driver, options: options, writer: writer, log: log)
        await server.run(ByteReader(fd: input))
        return 0
    }

    private func run(_ reader: ByteReader) async {
        await withTaskGroup(of: Void.self) { group in
            while true {
                let line: [UInt8]?
                do {
                    line = try await BlockingCalls.run { try reader.readLine() }
                } catch {
                    answer(.failure(nil, "\(error)"))
                    continue
                }
                guard let line else { break }
                if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
                let request: HostRequest
                do {
                    request = try HostJSON.decode(HostRequest.self, from: Data(line))
                } catch {
                    answer(.failure(nil, "not a request (one JSON object a line with 'id' and 'op'): \(error)"))
                    continue
                }
                if request.op == HostProtocol.Op.snapshotReceive.rawValue {
                    // The data follows on the same stream, so it is read here, before the next line.
                    guard await receive(request, from: reader) else { break }
                    continue
                }
                group.addTask { answer(await handle(request)) }
            }
        }
    }

    private func answer(_ answer: HostAnswer) {
        do {
            try writer.writeLine(HostJSON.encode(answer))
        } catch {
            log("cannot answer request \(answer.id.map(String.init) ?? "-"): \(error.message)")
        }
    }

    /// Runs one request within its deadline. Past it the answer is an error; the operation
    /// itself runs on, and a retry finds what it did (requests are idempotent by name).
    private func handle(_ request: HostRequest) async -> HostAnswer {
        guard let op = HostProtocol.Op(rawValue: request.op) else {
            let known = HostProtocol.Op.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(request.id, "unknown op '\(request.op)' (this host serves \(known))")
        }
        let deadline = Duration.milliseconds(max(request.deadlineMs ?? 600_000, 1))
        let answered = Once()
        return await withCheckedContinuation { continuation in
            answered.slot.withLock { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(for: deadline)
                guard !Task.isCancelled else { return }
                answered.slot.withLock { $0.take() }?.resume(
                    returning: .failure(
                        request.id,
                        "\(op.rawValue) did not finish within its deadline of \(deadline); it may still complete"))
            }
            Task {
                let answer = await perform(op, request)
                timer.cancel()
                answered.slot.withLock { $0.take() }?.resume(returning: answer)
            }
        }
    }

    /// Whichever of the work and its deadline comes first answers; the other finds it taken.
    private final class Once: Sendable {
        let slot = Mutex<CheckedContinuation<HostAnswer, Never>?>(nil)
    }

    private func perform(_ op: HostProtocol.Op, _ request: HostRequest) async -> HostAnswer {
        do throws(HostError) {
            var answer = HostAnswer(id: request.id, ok: true)
            switch op {
            case .hello:
                answer.hello = await hello()
            case .list:
                answer.vms = await vms()
            case .clone:
                let batch = try await clone(request)
                answer.started = batch.started
                answer.failed = batch.failed
            case .destroy:
                let name = try required(request.name, "name", for: op)
                do {
                    try await driver.destroy(name: name)
                } catch {
                    throw .remote("cannot destroy \(name): \(error)")
                }
                // The last clone of a snapshot deletes it; its image may be free now too.
                root.sweepUnusedImages(inUse: driver.imagesInUse(), log: log)
            case .snapshotHas:
                let id = try required(request.snapshot, "snapshot", for: op)
                answer.held = driver.importedSnapshot(id) != nil
            case .snapshotRelease:
                let id = try required(request.snapshot, "snapshot", for: op)
                do {
                    try await driver.releaseImportedSnapshot(id)
                } catch {
                    throw .remote(error.message)
                }
                root.sweepUnusedImages(inUse: driver.imagesInUse(), log: log)
            case .snapshotReceive:
                throw .protocolViolation("snapshot-receive is handled with its data")
            }
            return answer
        } catch {
            return .failure(request.id, error.message)
        }
    }

    private func required<T>(_ value: T?, _ field: String, for op: HostProtocol.Op) throws(HostError) -> T {
        guard let value else { throw .remote("\(op.rawValue) needs '\(field)'") }
        return value
    }

    private func vms() async -> [RemoteVM] {
        ((try? await driver.ownedVMs()) ?? []).map(RemoteVM.init)
    }

    private func hello() async -> HostHello {
        let facts = await driver.facts()
        return HostHello(
            protocolVersion: HostProtocol.version, stateRoot: root.path, qemuVersion: facts.version,
            machines: facts.machines, cpuModel: options.cpuModel ?? "default",
            memAvailableBytes: HostLoad.memAvailableBytes(), cores: ProcessInfo.processInfo.activeProcessorCount,
            loadAverage: HostLoad.loadAverage(), vms: await vms(),
            snapshots: driver.importedSnapshots().map(\.id))
    }

    /// Clones from a snapshot held here. Names that already run from that snapshot are returned
    /// as they are (a retried request), so a repeated clone never starts a second VM.
    private func clone(
        _ request: HostRequest
    ) async throws(HostError) -> (started: [RemoteVM], failed: [String: String]) {
        let id = try required(request.snapshot, "snapshot", for: .clone)
        let pool = try required(request.pool, "pool", for: .clone)
        let names = try required(request.names, "names", for: .clone)
        let network = try required(request.network, "network", for: .clone)
        let running = (try? await driver.ownedVMs()) ?? []
        var existing: [RemoteVM] = []
        var fresh: [String] = []
        for name in names {
            if let vm = running.first(where: { $0.name == name }) {
                guard vm.lineage.snapshot == id else {
                    throw .remote(
                        "a VM named \(name) exists here from another snapshot (\(vm.lineage.snapshot ?? "none"))")
                }
                existing.append(RemoteVM(vm))
            } else {
                fresh.append(name)
            }
        }
        guard !fresh.isEmpty else { return (existing, [:]) }
        do {
            let batch = try await driver.cloneFromImportedSnapshot(id, pool: pool, names: fresh, network: network)
            return ((existing + batch.started.map(RemoteVM.init)).sorted { $0.name < $1.name }, batch.failed)
        } catch {
            throw .remote(error.message)
        }
    }

    /// `snapshot-receive`: checks the manifest, says `ready` (with what to skip) or `held`, then
    /// reads the data, points a disk's layers at this host's copies and installs it. Returns
    /// false when the stream can no longer be trusted (a failure mid-data): the session then
    /// ends, and the client retries on a new one.
    private func receive(_ request: HostRequest, from reader: ByteReader) async -> Bool {
        guard let manifest = request.manifest else {
            answer(.failure(request.id, "snapshot-receive needs 'manifest'"))
            return true
        }
        let receiver = SnapshotReceiver(root: root, driver: driver)
        let admission: SnapshotReceiver.Admission
        do {
            admission = try await receiver.check(manifest)
        } catch {
            // Refused before any data: the client sends none, so the stream stays in step.
            answer(.failure(request.id, error.message))
            return true
        }
        var phase = HostAnswer(id: request.id, ok: true)
        if !admission.needed {
            phase.phase = "held"
            phase.received = ReceiveReport(bytes: 0, seconds: 0)
            answer(phase)
            return true
        }
        phase.phase = "ready"
        phase.skip = admission.skip.sorted()
        answer(phase)
        do {
            let skip = admission.skip
            let staged = try await BlockingCalls.run { try receiver.stage(manifest, skip: skip, from: reader) }
            let report: ReceiveReport
            do {
                try await receiver.rebaseLayers(staged)
                report = try await BlockingCalls.run { try receiver.install(staged) }
            } catch {
                receiver.discard(staged)
                throw error
            }
            var done = HostAnswer(id: request.id, ok: true)
            done.received = report
            answer(done)
            log(
                String(
                    format: "received snapshot %@: %.1f MiB of data in %.2f s", manifest.record.id,
                    Double(report.bytes) / 1_048_576, report.seconds))
            return true
        } catch {
            let message = (error as? HostError)?.message ?? "\(error)"
            log("snapshot \(manifest.record.id) not received: \(message)")
            answer(.failure(request.id, "snapshot \(manifest.record.id) not received: \(message)"))
            return false
        }
    }
}

/// The host's room, from /proc, for placement.
enum HostLoad {
    static func memAvailableBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let words = line.split(separator: " ")
            if words.count >= 2, let kib = Int(words[1]) { return kib * 1024 }
        }
        return 0
    }

    static func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }
}
