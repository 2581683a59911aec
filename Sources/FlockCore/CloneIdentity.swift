import Foundation

/// A clone's new identity, the `identity` message of the flock-agent protocol: the agent applies
/// it (entropy, clock, hostname, network) before the clone takes traffic and answers `ack`.
///
/// Every driver sends the same object, whatever carries it (virtio-serial for QEMU, a xenstore
/// key for Xen), so the guest agent validates one format.
public struct CloneIdentity: Sendable, Hashable {
    public var cloneID: String
    public var generation: Int
    public var hostname: String
    public var entropy: [UInt8]
    public var timeUnixNanoseconds: Int64
    public var network: Network?

    /// How long the agent's clone hooks may run together after it applied an identity
    /// (`CloneHooks.totalLimitMs` in FlockGuestKit, the guest's side of the same contract): a host
    /// waits this long for the ack on top of its own agent timeout.
    public static let hookTimeBudget: Duration = .seconds(60)

    public struct Network: Sendable, Hashable {
        public var mac: String
        public var address: String
        public var prefix: Int
        public var gateway: String
        public init(mac: String, address: String, prefix: Int, gateway: String) {
            self.mac = mac
            self.address = address
            self.prefix = prefix
            self.gateway = gateway
        }
    }

    public init(
        cloneID: String, generation: Int, hostname: String, entropy: [UInt8], timeUnixNanoseconds: Int64,
        network: Network? = nil
    ) {
        self.cloneID = cloneID
        self.generation = generation
        self.hostname = hostname
        self.entropy = entropy
        self.timeUnixNanoseconds = timeUnixNanoseconds
        self.network = network
    }

    /// An identity with 256 bytes of fresh host entropy (the agent's minimum) and the current
    /// wall clock; the hostname is the clone id.
    public static func fresh(cloneID: String, generation: Int, network: Network? = nil) -> CloneIdentity {
        var generator = SystemRandomNumberGenerator()
        let entropy = (0..<256).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return CloneIdentity(
            cloneID: cloneID, generation: generation, hostname: cloneID, entropy: entropy,
            timeUnixNanoseconds: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec), network: network)
    }

    /// The message as one JSON object (no newline): `type` `identity`, `clone_id`, `generation`,
    /// `hostname`, `entropy` (base64), `time_unix_ns` (an exact integer) and, when set, `network`.
    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, integers and nested objects of them cannot fail.
        return (try? encoder.encode(Message(self))) ?? Data()
    }

    private struct Message: Encodable {
        struct Network: Encodable {
            var mac: String
            var address: String
            var prefix: Int
            var gateway: String
        }

        var type = "identity"
        var clone_id: String
        var generation: Int
        var hostname: String
        var entropy: String
        var time_unix_ns: Int64
        var network: Network?

        init(_ identity: CloneIdentity) {
            clone_id = identity.cloneID
            generation = identity.generation
            hostname = identity.hostname
            entropy = Data(identity.entropy).base64EncodedString()
            time_unix_ns = identity.timeUnixNanoseconds
            network = identity.network.map {
                Network(mac: $0.mac, address: $0.address, prefix: $0.prefix, gateway: $0.gateway)
            }
        }
    }
}
