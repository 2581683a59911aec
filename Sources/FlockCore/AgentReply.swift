import Foundation

/// One message of the flock-agent to the host, the other half of the protocol `CloneIdentity`
/// opens: `ready` (after a `hello`), `ack` or `error` (after an `identity`), `pong` (after a `ping`).
///
/// Every driver reads the same object, whatever carries it (a line on virtio-serial for QEMU, the
/// value of a xenstore key for Xen). A field of the wrong JSON type reads as absent, so one odd field
/// never hides the rest of a reply.
public struct AgentReply: Sendable, Hashable, Decodable {
    /// `ready`, `ack`, `error`, `pong`, …; a message without a string `type` is not a reply.
    public var type: String
    /// `ready` and `ack`: the guest's hostname.
    public var hostname: String?
    /// `ready`: the guest kernel's boot id.
    public var bootID: String?
    /// `ready` and `ack`: the clone id the agent last applied.
    public var cloneID: String?
    /// `ready` and `ack`: the generation of that identity, when the agent reports one.
    public var generation: Int?
    /// `ready`: `up` when the demo app answers `/healthz` inside the guest.
    public var app: String?
    /// `ack`: what the agent applied (`entropy`, `clock`, `hostname`, …).
    public var applied: [String]?
    /// `error`: why the agent refused or failed.
    public var message: String?
    /// `pong`: the sequence number of the `ping` it answers.
    public var seq: Int?
    /// `ack` and `error` after an identity: the clone hooks the agent ran, in order; on an
    /// `error`, the last one is the hook that failed. Absent from agents older than hooks.
    public var hooks: [Hook]?

    /// One clone hook's result, as the agent reports it (Deploy/guest/README.md, "Clone hooks").
    public struct Hook: Sendable, Hashable, Decodable {
        /// The file's name in `/etc/flock/clone.d`.
        public var name: String
        /// `exit 0`, `exit 3`, `signal 9`, `timed out after 30 s`, `not started: …`.
        public var status: String
        public var exitStatus: Int?
        public var signal: Int?
        public var milliseconds: Int?
        /// The end of what the hook wrote (at most 4 KiB), only when it failed. Guest text.
        public var output: String?

        public init(
            name: String, status: String, exitStatus: Int? = nil, signal: Int? = nil, milliseconds: Int? = nil,
            output: String? = nil
        ) {
            self.name = name
            self.status = status
            self.exitStatus = exitStatus
            self.signal = signal
            self.milliseconds = milliseconds
            self.output = output
        }

        private enum CodingKeys: String, CodingKey {
            case name, status, exitStatus = "exit_status", signal, milliseconds = "ms", output
        }
    }

    /// Why an `error` reply refused the identity: its message and, when a clone hook failed, that
    /// hook's output. Control characters are escaped: this is guest-written text, which must not
    /// reach logs or terminals raw.
    public var failure: String {
        var text = message ?? "unspecified error"
        if let failed = hooks?.last, failed.exitStatus != 0, let output = failed.output {
            text += output.isEmpty ? "; no output" : "; output: " + output
        }
        return text.escapingControlCharacters
    }

    /// The hooks as `10-flush (exit 0), 20-register (exit 0)` for a log line, escaped; nil when
    /// the agent ran none (or does not know hooks).
    public var hooksSummary: String? {
        guard let hooks, !hooks.isEmpty else { return nil }
        return hooks.map { "\($0.name) (\($0.status))" }.joined(separator: ", ").escapingControlCharacters
    }

    /// Reads one reply (a trailing newline is fine); nil for anything that is not a JSON object
    /// with a string `type`.
    public static func parse(_ data: Data) -> AgentReply? {
        try? JSONDecoder().decode(AgentReply.self, from: data)
    }

    private enum CodingKeys: String, CodingKey {
        case type, hostname, bootID = "boot_id", cloneID = "clone_id", generation, app, applied, message, seq, hooks
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        func lenient<T: Decodable>(_ key: CodingKeys) -> T? {
            (try? container.decodeIfPresent(T.self, forKey: key)) ?? nil
        }
        hostname = lenient(.hostname)
        bootID = lenient(.bootID)
        cloneID = lenient(.cloneID)
        generation = lenient(.generation)
        app = lenient(.app)
        applied = lenient(.applied)
        message = lenient(.message)
        seq = lenient(.seq)
        hooks = lenient(.hooks)
    }
}
