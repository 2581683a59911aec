import FlockCore
import Foundation

/// The host side of the flock-agent protocol: JSON lines over the VM's virtio-serial socket.
///
/// The host always opens the conversation with `hello`, because a guest restored from a
/// snapshot cannot know that a new host connected; anything the guest sent earlier is ignored.
/// Replies of other types (a late `ready` or `pong`) are skipped while waiting for the one
/// expected, so repeated hellos during a cold boot cannot confuse a later exchange.
public final class AgentClient: Sendable {
    /// What the guest reports in `ready`.
    public struct Ready: Sendable, Hashable {
        public var hostname: String
        public var bootID: String
        public var cloneID: String?
        public var generation: Int
        /// True when the demo app answers `/healthz` inside the guest.
        public var appUp: Bool
    }

    private let socket: UnixSocket
    private let vm: String
    private let splitter = Locked(LineSplitter(limit: 64 * 1024))
    private let queued = Locked<[AgentReply]>([])

    private init(socket: UnixSocket, vm: String) {
        self.socket = socket
        self.vm = vm
    }

    /// Connects to the agent socket QEMU serves for `vm`.
    public static func connect(
        path: String, vm: String, timeout: Duration = .seconds(10)
    ) async throws(QEMUError) -> AgentClient {
        AgentClient(socket: try await UnixSocket.connect(path: path, timeout: timeout), vm: vm)
    }

    /// Sends `hello` until the guest answers `ready` (and, if asked, its app is up).
    ///
    /// During a cold boot the agent is not running yet, so hello is repeated every `interval`.
    public func waitReady(
        requireApp: Bool, timeout: Duration, interval: Duration = .seconds(1)
    ) async throws(QEMUError) -> Ready {
        let deadline = ContinuousClock.now + timeout
        var last: Ready?
        while ContinuousClock.now < deadline {
            try sendHello()
            let slice = min(interval, deadline - ContinuousClock.now)
            if let ready = try await receiveReady(timeout: slice) {
                last = ready
                if ready.appUp || !requireApp { return ready }
            }
        }
        if last != nil {
            throw .agent(vm, "the guest agent is up but its app did not answer /healthz within \(timeout)")
        }
        throw .timeout("waiting for the agent of VM \(vm) to say ready", after: timeout)
    }

    /// Sends one `hello` without waiting for the answer: activating a standby queues it, and the
    /// identity, before the guest runs, so that the guest finds both as soon as it wakes.
    public func sendHello() throws(QEMUError) {
        try send(["type": "hello"])
    }

    /// The `ready` that answers a hello already sent; nil if none came within `timeout`.
    public func receiveReady(timeout: Duration) async throws(QEMUError) -> Ready? {
        guard let message = try await receive(type: "ready", until: ContinuousClock.now + timeout) else { return nil }
        return Ready(
            hostname: message.hostname ?? "", bootID: message.bootID ?? "", cloneID: message.cloneID,
            generation: message.generation ?? 0, appUp: message.app == "up")
    }

    /// Sends the clone's identity and waits for `ack`, which comes after the guest's clone hooks
    /// ran: the wait is `timeout` plus `CloneIdentity.hookTimeBudget`. An `error` reply (a failed
    /// step or hook) is thrown with its message, escaped.
    public func applyIdentity(_ identity: CloneIdentity, timeout: Duration) async throws(QEMUError) -> AgentReply {
        try sendIdentity(identity)
        return try await acknowledgement(of: identity, timeout: timeout)
    }

    /// Sends an identity without waiting; `acknowledgement(of:timeout:)` waits for its `ack`.
    public func sendIdentity(_ identity: CloneIdentity) throws(QEMUError) {
        try send(line: identity.json)
    }

    /// The `ack` of an identity already sent, as `applyIdentity(_:timeout:)` waits for it.
    public func acknowledgement(of identity: CloneIdentity, timeout: Duration) async throws(QEMUError) -> AgentReply {
        let wait = timeout + CloneIdentity.hookTimeBudget
        guard let reply = try await receive(type: "ack", until: ContinuousClock.now + wait, failOnError: true) else {
            throw .timeout("waiting for the agent of VM \(vm) to acknowledge its identity", after: wait)
        }
        guard reply.cloneID == identity.cloneID else {
            let acknowledged = reply.cloneID.map { "\"\($0)\"" } ?? "none"
            throw .agent(vm, "acknowledged clone id \(acknowledged), expected \(identity.cloneID)")
        }
        return reply
    }

    /// A liveness check: `ping` with a sequence number, answered by `pong` with the same number.
    public func ping(seq: Int, timeout: Duration) async throws(QEMUError) {
        try send(["type": "ping", "seq": .number(Double(seq))])
        let deadline = ContinuousClock.now + timeout
        while let reply = try await receive(type: "pong", until: deadline) {
            if reply.seq == seq { return }
        }
        throw .timeout("ping of the agent of VM \(vm)", after: timeout)
    }

    public func close() { socket.shutdown() }

    private func send(_ message: JSONValue) throws(QEMUError) {
        try send(line: message.serialized())
    }

    private func send(line: Data) throws(QEMUError) {
        var data = line
        data.append(UInt8(ascii: "\n"))
        try socket.send(data, what: "agent of VM \(vm)")
    }

    /// The next message of `type`, skipping others; nil at the deadline.
    private func receive(
        type: String, until deadline: ContinuousClock.Instant, failOnError: Bool = false
    ) async throws(QEMUError) -> AgentReply? {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            while let message = queued.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                if message.type == type { return message }
                if failOnError && message.type == "error" {
                    throw .agent(vm, message.failure)
                }
            }
            // Poll in short slices so a cancelled task or a passed deadline is noticed promptly.
            let slice = min(deadline, ContinuousClock.now + .milliseconds(50))
            if !socket.waitReadable(until: slice) {
                if ContinuousClock.now >= deadline { return nil }
                await Task.yield()
                continue
            }
            let count = socket.readChunk(into: &buffer)
            guard count > 0 else { throw .disconnected("agent of VM \(vm)") }
            let items = splitter.withLock { $0.feed(buffer[0..<count]) }
            for item in items {
                guard case .line(let line) = item, let message = AgentReply.parse(Data(line)) else { continue }
                queued.withLock { $0.append(message) }
            }
        }
    }
}
