import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One persistent SSH session to a host, shared by every request to it: requests are written as
/// lines, answers matched back by id, each request bounded by its own deadline. A session that
/// drops (ssh exits, the host's sshd dies, keep-alives go unanswered) fails every pending request
/// with why; the next request starts a new session.
public actor HostConnection {
    public nonisolated let target: SSHTarget
    /// ssh's standard error, appended per session: why a session ended, and the host's logs.
    public nonisolated let logPath: String
    private var session: Session?
    private var pending: [Int: CheckedContinuation<HostAnswer, any Error>] = [:]
    private var nextID = 1
    private var generation = 0
    /// Why the last session ended, for listings.
    public private(set) var lastError: String?
    /// Bytes written to and read from sessions (requests and answers), for transfer accounting.
    public private(set) var bytesMoved = 0

    private struct Session {
        let child: ChildProcess
        let writer: ByteWriter
        let input: Int32
        let generation: Int
    }

    public init(target: SSHTarget, logPath: String) {
        self.target = target
        self.logPath = logPath
    }

    /// Sends `op` and waits for its answer, at most `deadline`; a host's refusal is thrown as
    /// `.remote` with the host's message.
    public func request(
        _ op: HostProtocol.Op, deadline: Duration = .seconds(30), _ fill: (inout HostRequest) -> Void = { _ in }
    ) async throws(HostError) -> HostAnswer {
        let session = try await connect()
        let id = nextID
        nextID += 1
        var request = HostRequest(id: id, op: op, deadline: deadline)
        fill(&request)
        let line = HostJSON.encode(request)
        bytesMoved += line.count + 1
        // Runs on this actor after the continuation below is registered; cancelled once answered.
        let timer = Task {
            try? await Task.sleep(for: deadline)
            guard !Task.isCancelled else { return }
            self.fail(id, .timeout("\(target.label) did not answer \(op.rawValue) within \(deadline) (request \(id))"))
        }
        defer { timer.cancel() }
        do {
            let answer = try await withCheckedThrowingContinuation { continuation in
                pending[id] = continuation
                Task { await self.send(line, on: session, id: id) }
            }
            guard answer.ok else {
                throw HostError.remote("\(target.label): \(answer.error ?? "refused, no reason given")")
            }
            return answer
        } catch let error as HostError {
            throw error
        } catch {
            throw .io("\(error)")
        }
    }

    /// Ends the session: EOF on the host's stdin, then ssh is stopped if it lingers.
    public func close() async {
        guard let session else { return }
        self.session = nil
        Glibc.close(session.input)
        if await session.child.waitForExit(timeout: .seconds(3)) == nil { await session.child.stop(grace: .seconds(2)) }
    }

    /// Starts ssh unless a session runs; checks the key and known_hosts first.
    private func connect() async throws(HostError) -> Session {
        if let session { return session }
        let piped = try await target.startSession(logPath: logPath)
        generation += 1
        let session = Session(
            child: piped.process, writer: ByteWriter(fd: piped.input), input: piped.input, generation: generation)
        self.session = session
        let reader = ByteReader(fd: piped.output)
        let output = piped.output
        let generation = generation
        // A thread of its own: it blocks in read() for the session's whole life.
        Thread.detachNewThread {
            while let line = try? reader.readLine() {
                Task { await self.deliver(line, generation: generation) }
            }
            Glibc.close(output)
            Task { await self.dropped(generation: generation) }
        }
        return session
    }

    private func send(_ line: Data, on session: Session, id: Int) async {
        do {
            try await BlockingCalls.run { try session.writer.writeLine(line) }
        } catch {
            fail(id, .disconnected("cannot write to the session with \(target.label): \(error)"))
        }
    }

    private func deliver(_ line: [UInt8], generation: Int) {
        bytesMoved += line.count + 1
        guard let answer = try? HostJSON.decode(HostAnswer.self, from: Data(line)) else {
            lastError =
                "\(target.label) sent a line that is not an answer: \(String(decoding: line.prefix(200), as: UTF8.self))"
            return
        }
        guard let id = answer.id else {
            // The host refused the session itself (its state root): every request fails with it.
            let message = "\(target.label): \(answer.error ?? "the session was refused")"
            lastError = message
            for id in Array(pending.keys) { fail(id, .remote(message)) }
            return
        }
        pending.removeValue(forKey: id)?.resume(returning: answer)
    }

    private func dropped(generation: Int) async {
        guard let session, session.generation == generation else { return }
        self.session = nil
        Glibc.close(session.input)
        await session.child.waitForExit(timeout: .seconds(5))
        let said = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let reason = target.explain(sshError: String(said.suffix(2000)))
        let status = session.child.exitStatus.map { " (ssh exit status \($0))" } ?? ""
        let message = "the session with \(target.label) dropped: \(reason)\(status)"
        lastError = message
        for id in Array(pending.keys) { fail(id, .disconnected(message)) }
    }

    private func fail(_ id: Int, _ error: HostError) {
        pending.removeValue(forKey: id)?.resume(throwing: error)
    }
}
