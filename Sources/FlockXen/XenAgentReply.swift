import FlockCore
import Foundation

/// What the value at `XenIdentityKeys.ack` says about one identity hand-over.
enum XenAgentReply: Sendable, Hashable {
    /// No reply yet, or a reply to another identity (e.g. a clone id left from earlier).
    case pending
    /// The agent applied the identity; what it applied (`entropy`, `clock`, `hostname`, …).
    case acknowledged(applied: [String])
    /// The agent refused or failed to apply it, with its message.
    case failed(String)

    /// Reads the agent's reply line: `{"type":"ack","clone_id":…}` for this identity's clone id
    /// (and generation, if the reply carries one), or `{"type":"error","message":…}`.
    init(_ value: Data?, for identity: CloneIdentity) {
        guard let value, let reply = AgentReply.parse(value) else {
            self = .pending
            return
        }
        switch reply.type {
        case "ack":
            guard reply.cloneID == identity.cloneID, reply.generation.map({ $0 == identity.generation }) ?? true else {
                self = .pending
                return
            }
            self = .acknowledged(applied: reply.applied ?? [])
        case "error":
            self = .failed(reply.failure)
        default:
            self = .pending
        }
    }
}
