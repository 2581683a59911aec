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

    /// Reads one reply (a trailing newline is fine); nil for anything that is not a JSON object
    /// with a string `type`.
    public static func parse(_ data: Data) -> AgentReply? {
        try? JSONDecoder().decode(AgentReply.self, from: data)
    }

    private enum CodingKeys: String, CodingKey {
        case type, hostname, bootID = "boot_id", cloneID = "clone_id", generation, app, applied, message, seq
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
    }
}
