import Foundation
import Synchronization

/// A typed, concurrent-safe client for QEMU's machine protocol (QMP) on a unix socket.
///
/// One reader thread owns the receive side and routes each message: answers go to the caller
/// waiting on that command's `id`, events go to every subscriber. So any number of tasks may
/// `execute` at once, each with its own timeout, and events are never lost between a command
/// and the wait for its consequence (subscribe first, then act).
///
/// Garbage from the socket (invalid JSON, non-objects, over-long lines, unknown ids) is counted
/// and skipped; it never crashes the process or wedges other callers.
///
/// Call `close()` when done: the reader thread holds the client until the socket closes.
public final class QMPClient: Sendable {
    /// The socket path, for messages.
    public let path: String

    private let socket: UnixSocket
    private let state = Mutex(State())
    private let writeLock = Mutex(())

    private struct State {
        var nextID = 1
        var pending: [Int: Pending] = [:]
        var subscribers: [Int: AsyncStream<QMPEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var closed: QEMUError?
        var greetingWaiter: CheckedContinuation<JSONValue, any Error>?
        var greeting: JSONValue?
        var ignoredMessages = 0
    }

    private struct Pending {
        var command: String
        var continuation: CheckedContinuation<JSONValue, any Error>
    }

    /// QMP lines are small; 16 MiB bounds a runaway answer (e.g. a huge `query-*`).
    static let lineLimit = 16 << 20

    private init(socket: UnixSocket) {
        self.socket = socket
        self.path = socket.path
    }

    /// Connects, reads the greeting and negotiates capabilities, so the client is in command mode.
    ///
    /// - Parameter keepTrying: consulted between connection attempts; return false once the
    ///   QEMU process is known to have exited, to fail fast instead of waiting out `timeout`.
    public static func connect(
        path: String, timeout: Duration = .seconds(10), keepTrying: @Sendable () -> Bool = { true }
    ) async throws(QEMUError) -> QMPClient {
        let socket = try await UnixSocket.connect(path: path, timeout: timeout, keepTrying: keepTrying)
        let client = QMPClient(socket: socket)
        client.startReader()
        do {
            _ = try await client.awaitGreeting(timeout: timeout)
            _ = try await client.execute("qmp_capabilities", timeout: timeout)
        } catch {
            client.close()
            throw error as? QEMUError ?? .protocolViolation("\(path): \(error)")
        }
        return client
    }

    /// QEMU's greeting, `{"QMP": {"version": …, "capabilities": […]}}`.
    public var greeting: JSONValue { state.withLock { $0.greeting ?? .null } }

    /// How many received messages were skipped as malformed or unexpected.
    public var ignoredMessages: Int { state.withLock { $0.ignoredMessages } }

    /// Whether the connection has closed (QEMU exited, `quit`, or `close()`).
    public var isClosed: Bool { state.withLock { $0.closed != nil } }

    /// Sends a command and returns its `return` value.
    ///
    /// Throws `QEMUError.command` (naming the command, with QMP's class and description) when
    /// QEMU rejects it, `.timeout` when no answer comes within `timeout`, and `.disconnected`
    /// when QEMU goes away first. Cancelling the calling task abandons the wait.
    @discardableResult
    public func execute(
        _ command: String, arguments: JSONValue? = nil, timeout: Duration = .seconds(10)
    ) async throws(QEMUError) -> JSONValue {
        do {
            return try await executeUntyped(command, arguments: arguments, timeout: timeout)
        } catch let error as QEMUError {
            throw error
        } catch {
            throw .timeout("QMP command '\(command)' (cancelled)", after: .zero)
        }
    }

    private func executeUntyped(_ command: String, arguments: JSONValue?, timeout: Duration) async throws -> JSONValue {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        var message: [String: JSONValue] = ["execute": .string(command), "id": .number(Double(id))]
        if let arguments { message["arguments"] = arguments }
        var data = JSONValue.object(message).serialized()
        data.append(UInt8(ascii: "\n"))
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.fail(id: id, with: .timeout("QMP command '\(command)' on \(self?.path ?? "?")", after: timeout))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
                let closed = state.withLock { state -> QEMUError? in
                    if let closed = state.closed { return closed }
                    state.pending[id] = Pending(command: command, continuation: continuation)
                    return nil
                }
                if let closed {
                    continuation.resume(throwing: QEMUError.disconnected("QMP command '\(command)': \(closed.message)"))
                    return
                }
                do {
                    try writeLock.withLock { _ throws(QEMUError) in
                        try socket.send(data, what: "QMP command '\(command)'")
                    }
                } catch {
                    fail(id: id, with: error as? QEMUError ?? .io("\(error)"))
                }
            }
        } onCancel: {
            fail(id: id, with: .timeout("QMP command '\(command)' (cancelled)", after: .zero))
        }
    }

    /// A stream of every event received from now on; subscribe before acting to not miss one.
    ///
    /// The stream ends when the connection closes. It buffers the newest 1024 events.
    public func events() -> AsyncStream<QMPEvent> {
        let (stream, continuation) = AsyncStream<QMPEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let key = state.withLock { state -> Int? in
            guard state.closed == nil else { return nil }
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        guard let key else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    /// Runs `action`, then waits for the first event named `name` that `matching` accepts.
    ///
    /// Subscribing before `action` runs means an event caused by the action cannot slip by.
    @discardableResult
    public func waitForEvent(
        _ name: String, timeout: Duration, after action: () async throws(QEMUError) -> Void = {},
        matching: @escaping @Sendable (QMPEvent) -> Bool = { _ in true }
    ) async throws(QEMUError) -> QMPEvent {
        let stream = events()
        try await action()
        let path = self.path
        let result: QMPEvent?? = await withTaskGroup(of: QMPEvent??.self) { group in
            group.addTask {
                for await event in stream where event.name == name && matching(event) { return .some(event) }
                return .some(nil)  // stream ended: disconnected
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil  // timed out
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch result {
        case .some(.some(let event)): return event
        case .some(.none): throw .disconnected("waiting for QMP event \(name) on \(path)")
        case .none: throw .timeout("waiting for QMP event \(name) on \(path)", after: timeout)
        }
    }

    /// Closes the connection; pending commands fail with `.disconnected` and event streams end.
    public func close() {
        socket.shutdown()
    }

    // MARK: - receiving

    private func awaitGreeting(timeout: Duration) async throws -> JSONValue {
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.failGreeting(.protocolViolation("no QMP greeting from \(self?.path ?? "?") within \(timeout)"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<JSONValue, QEMUError>? in
                if let greeting = state.greeting { return .success(greeting) }
                if let closed = state.closed { return .failure(closed) }
                state.greetingWaiter = continuation
                return nil
            }
            switch ready {
            case .success(let greeting): continuation.resume(returning: greeting)
            case .failure(let error): continuation.resume(throwing: error)
            case nil: break
            }
        }
    }

    private func failGreeting(_ error: QEMUError) {
        let waiter = state.withLock { state in
            defer { state.greetingWaiter = nil }
            return state.greetingWaiter
        }
        waiter?.resume(throwing: error)
    }

    private func fail(id: Int, with error: QEMUError) {
        let pending = state.withLock { $0.pending.removeValue(forKey: id) }
        pending?.continuation.resume(throwing: error)
    }

    private func startReader() {
        let thread = Thread { [self] in readLoop() }
        thread.name = "qmp-reader"
        thread.start()
    }

    private func readLoop() {
        var splitter = LineSplitter(limit: Self.lineLimit)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = socket.readChunk(into: &buffer)
            guard count > 0 else { break }
            for item in splitter.feed(buffer[0..<count]) {
                switch item {
                case .line(let line): handle(line)
                case .tooLong: state.withLock { $0.ignoredMessages += 1 }
                }
            }
        }
        finish()
    }

    private func finish() {
        let closedError = QEMUError.disconnected("QMP connection \(path)")
        let (pending, subscribers, greeting) = state.withLock { state in
            state.closed = closedError
            defer {
                state.pending.removeAll()
                state.subscribers.removeAll()
                state.greetingWaiter = nil
            }
            return (state.pending, state.subscribers, state.greetingWaiter)
        }
        greeting?.resume(throwing: QEMUError.protocolViolation("\(path) closed before sending a QMP greeting"))
        for (_, entry) in pending {
            entry.continuation.resume(throwing: QEMUError.disconnected("QMP command '\(entry.command)' on \(path)"))
        }
        for (_, subscriber) in subscribers { subscriber.finish() }
    }

    private func handle(_ line: [UInt8]) {
        guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else { return }
        guard let message = JSONValue.parse(Data(line)), case .object(let fields) = message else {
            state.withLock { $0.ignoredMessages += 1 }
            return
        }
        if fields["QMP"] != nil {
            let waiter = state.withLock { state in
                defer { state.greetingWaiter = nil }
                if state.greeting == nil { state.greeting = message }
                return state.greetingWaiter
            }
            waiter?.resume(returning: message)
            return
        }
        if let name = fields["event"]?.stringValue {
            var time = 0.0
            if let stamp = fields["timestamp"], let seconds = stamp["seconds"]?.intValue {
                time = Double(seconds) + Double(stamp["microseconds"]?.intValue ?? 0) / 1e6
            }
            let event = QMPEvent(name: name, data: fields["data"] ?? .null, timestamp: time)
            let subscribers = state.withLock { Array($0.subscribers.values) }
            for subscriber in subscribers { subscriber.yield(event) }
            return
        }
        guard let id = fields["id"]?.intValue,
            let pending = state.withLock({ $0.pending.removeValue(forKey: id) })
        else {
            state.withLock { $0.ignoredMessages += 1 }
            return
        }
        if let value = fields["return"] {
            pending.continuation.resume(returning: value)
        } else if let error = fields["error"] {
            pending.continuation.resume(
                throwing: QEMUError.command(
                    pending.command, qmpClass: error["class"]?.stringValue ?? "UnknownError",
                    desc: error["desc"]?.stringValue ?? "no description"))
        } else {
            pending.continuation.resume(
                throwing: QEMUError.protocolViolation(
                    "QMP command '\(pending.command)': answer has neither return nor error"))
        }
    }
}
